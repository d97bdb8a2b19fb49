use super::*;

/// A stand-in for wasi-libc with names: `getenv("PWD")` answers "/data", `chdir` counts its
/// calls at address 0 and keeps its argument at 4, `getcwd` answers its buffer. `globals`
/// adds a global section of its own (the hook adds one where there is none).
fn fake_libc(globals: &str) -> Vec<u8> {
    wat::parse_str(fake_libc_text("module", globals)).unwrap()
}

/// The text of [`fake_libc`], opened by `head` ("module", or "core module" in a component).
fn fake_libc_text(head: &str, globals: &str) -> String {
    format!(
        r#"({head}
            (memory (export "memory") 1)
            (data (i32.const 100) "/data\00")
            {globals}
            (func $getenv (param i32) (result i32)
              (if (result i32) (i32.eq (i32.load (local.get 0)) (i32.const 0x00445750))
                (then (i32.const 100)) (else (i32.const 0))))
            (func $chdir (param i32) (result i32)
              (i32.store (i32.const 0) (i32.add (i32.load (i32.const 0)) (i32.const 1)))
              (i32.store (i32.const 4) (local.get 0))
              (i32.const 0))
            (func $getcwd (param i32 i32) (result i32) (local.get 0))
            (func (export "getcwd") (param i32 i32) (result i32)
              (call $getcwd (local.get 0) (local.get 1)))
            (func (export "chdir") (param i32) (result i32) (call $chdir (local.get 0)))
            (func (export "chdirs") (result i32) (i32.load (i32.const 0)))
            (func (export "last_dir") (result i32) (i32.load (i32.const 4))))"#
    )
}

struct Libc {
    store: wasmtime::Store<()>,
    instance: wasmtime::Instance,
}

impl Libc {
    fn new(module: &[u8]) -> Libc {
        let engine = wasmtime::Engine::default();
        let module = wasmtime::Module::new(&engine, module).unwrap();
        let mut store = wasmtime::Store::new(&engine, ());
        let instance = wasmtime::Instance::new(&mut store, &module, &[]).unwrap();
        Libc { store, instance }
    }

    fn call(&mut self, name: &str, args: &[i32]) -> i32 {
        let func = self.instance.get_func(&mut self.store, name).unwrap();
        let args: Vec<_> = args.iter().map(|a| wasmtime::Val::I32(*a)).collect();
        let mut result = [wasmtime::Val::I32(0)];
        func.call(&mut self.store, &args, &mut result).unwrap();
        result[0].unwrap_i32()
    }
}

#[test]
fn the_first_getcwd_moves_to_pwd_once() {
    for globals in ["", "(global $other (mut i32) (i32.const 7))"] {
        let hooked = hook_module(&fake_libc(globals)).expect("the fake libc was not hooked");
        let mut libc = Libc::new(&hooked);
        assert_eq!(libc.call("getcwd", &[200, 64]), 200);
        assert_eq!(libc.call("chdirs", &[]), 1, "with globals {globals:?}");
        assert_eq!(
            libc.call("last_dir", &[]),
            100,
            "chdir was not given PWD's value"
        );
        libc.call("getcwd", &[200, 64]);
        assert_eq!(libc.call("chdirs", &[]), 1, "the move was repeated");
    }
}

#[test]
fn a_guest_that_moves_first_is_not_moved_back() {
    let hooked = hook_module(&fake_libc("")).unwrap();
    let mut libc = Libc::new(&hooked);
    libc.call("chdir", &[300]);
    libc.call("getcwd", &[200, 64]);
    assert_eq!(libc.call("chdirs", &[]), 1);
    assert_eq!(libc.call("last_dir", &[]), 300);
}

#[test]
fn no_room_or_no_buffer_waits_for_a_later_call() {
    let hooked = hook_module(&fake_libc("")).unwrap();
    let mut libc = Libc::new(&hooked);
    libc.call("getcwd", &[0, 64]);
    libc.call("getcwd", &[200, 3]);
    assert_eq!(libc.call("chdirs", &[]), 0);
    libc.call("getcwd", &[200, 4]);
    assert_eq!(libc.call("chdirs", &[]), 1);
}

#[test]
fn modules_without_the_named_functions_are_left_alone() {
    let unnamed = wat::parse_str(
        r#"(module (func (export "getcwd") (param i32 i32) (result i32) (local.get 0)))"#,
    )
    .unwrap();
    assert!(hook_module(&unnamed).is_none());
    let chdir_without_result = wat::parse_str(
        r#"(module
            (func $getenv (param i32) (result i32) (i32.const 0))
            (func $chdir (param i32))
            (func $getcwd (param i32 i32) (result i32) (local.get 0)))"#,
    )
    .unwrap();
    assert!(hook_module(&chdir_without_result).is_none());
}

#[test]
fn a_components_libc_module_is_hooked_and_the_rest_copied() {
    let component = wat::parse_str(format!(
        r#"(component
            (core module $other (func (export "f")))
            {}
            (core instance (instantiate $other)))"#,
        fake_libc_text("core module $libc", "")
    ))
    .unwrap();
    let hooked = hook_component_getcwd(&component);
    assert!(
        matches!(hooked, Cow::Owned(_)),
        "the component was not hooked"
    );
    wasmparser::Validator::new()
        .validate_all(&hooked)
        .expect("the hooked component is invalid");
    assert!(hooked.len() > component.len());

    let plain = wat::parse_str(r#"(component (core module (func (export "f"))))"#).unwrap();
    assert!(matches!(hook_component_getcwd(&plain), Cow::Borrowed(_)));
    assert!(matches!(
        hook_component_getcwd(&fake_libc("")),
        Cow::Borrowed(_)
    ));
}
