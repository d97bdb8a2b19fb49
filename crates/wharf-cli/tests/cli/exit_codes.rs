//! Exit codes and messages as Docker users expect them.

use crate::support::{guest, run, run_guest};

#[test]
fn hello_prints_args_and_only_the_granted_env() {
    for file in ["hello.wasm", "hello.component.wasm"] {
        let ran = run_guest(
            &["-e", "GREETING=hi there", "-e", "EMPTY="],
            file,
            &["one", "--two", "-e"],
        );
        assert_eq!(ran.code, 0, "{file}: {ran:?}");
        assert!(
            ran.stdout.starts_with("hello from wasm\n"),
            "{file}: {ran:?}"
        );
        assert!(
            ran.stdout.contains(&format!(
                "arg[0]={file}\narg[1]=one\narg[2]=--two\narg[3]=-e\n"
            )),
            "{file}: {ran:?}"
        );
        let env: Vec<&str> = ran
            .stdout
            .lines()
            .filter(|l| l.starts_with("env "))
            .collect();
        assert_eq!(
            env,
            ["env GREETING=hi there", "env EMPTY="],
            "{file}: host env leaked"
        );
    }
}

#[test]
fn env_from_the_host_and_from_files() {
    let tmp = tempfile::tempdir().unwrap();
    let env_file = tmp.path().join("app.env");
    std::fs::write(&env_file, "# settings\nFROM_FILE=1\nPASSED_THROUGH\n").unwrap();
    let ran = crate::support::wharf()
        .env("PASSED_THROUGH", "from host")
        .env("NOT_GRANTED", "secret")
        .args([
            "run",
            "--env-file",
            env_file.to_str().unwrap(),
            "-e",
            "PASSED_THROUGH",
            "-e",
            "UNSET_ON_HOST_XYZ",
        ])
        .arg(guest("hello.wasm"))
        .output()
        .unwrap();
    let ran = crate::support::Ran::from(ran);
    assert_eq!(ran.code, 0, "{ran:?}");
    let env: Vec<&str> = ran
        .stdout
        .lines()
        .filter(|l| l.starts_with("env "))
        .collect();
    assert_eq!(
        env,
        [
            "env FROM_FILE=1",
            "env PASSED_THROUGH=from host",
            "env PASSED_THROUGH=from host"
        ]
    );
}

#[test]
fn the_guest_exit_code_is_wharfs() {
    let ran = run_guest(&[], "exit3.wasm", &[]);
    assert_eq!(ran.code, 3, "{ran:?}");
    assert_eq!(ran.stdout, "about to exit 3\n");
    assert_eq!(ran.stderr, "to stderr\n");
    // Through the preview1 adapter a component can only say success or failure.
    let ran = run_guest(&[], "exit3.component.wasm", &[]);
    assert_ne!(ran.code, 0, "{ran:?}");
    assert_eq!(ran.stdout, "about to exit 3\n");
}

#[test]
fn a_missing_file_is_127() {
    let ran = run(&["run", "/nonexistent/app.wasm"]);
    assert_eq!(ran.code, 127, "{ran:?}");
    assert_eq!(
        ran.stderr,
        "wharf: cannot run /nonexistent/app.wasm: no such file\n"
    );
}

#[test]
fn files_that_cannot_run_are_126_with_the_reason() {
    let tmp = tempfile::tempdir().unwrap();
    let script = tmp.path().join("script.wasm");
    std::fs::write(&script, "#!/bin/sh\necho hi\n").unwrap();
    let truncated = tmp.path().join("truncated.wasm");
    let hello = std::fs::read(guest("hello.wasm")).unwrap();
    std::fs::write(&truncated, &hello[..hello.len() / 2]).unwrap();
    let bad_text = tmp.path().join("bad.wat");
    std::fs::write(&bad_text, "(module (func (i32.bogus)))").unwrap();
    let cases: [(&std::path::Path, &str); 6] = [
        (&script, "not a WebAssembly file"),
        (&truncated, "invalid WebAssembly"),
        (&bad_text, "does not parse"),
        (&guest("reactor.wat"), "reactor"),
        (&guest("needs-env.wat"), "env::emscripten_memcpy_big"),
        (tmp.path(), "is a directory"),
    ];
    for (file, reason) in cases {
        let ran = run(&["run", file.to_str().unwrap()]);
        assert_eq!(ran.code, 126, "{file:?}: {ran:?}");
        assert!(ran.stderr.contains(reason), "{file:?}: {ran:?}");
        assert_eq!(
            ran.stderr.lines().count(),
            1,
            "{file:?}: not one line: {ran:?}"
        );
    }
    let ran = run(&["run", guest("needs-env.wat").to_str().unwrap()]);
    assert!(ran.stderr.contains("WASI preview1"), "{ran:?}");
    assert!(
        !ran.stderr.contains("fd_write"),
        "fd_write is provided: {ran:?}"
    );
}

#[test]
fn components_that_are_not_commands_are_126() {
    let tmp = tempfile::tempdir().unwrap();
    let empty = tmp.path().join("empty.wat");
    std::fs::write(&empty, "(component)").unwrap();
    let ran = run(&["run", empty.to_str().unwrap()]);
    assert_eq!(ran.code, 126, "{ran:?}");
    assert!(
        ran.stderr.contains("does not export wasi:cli/run"),
        "{ran:?}"
    );

    let foreign = tmp.path().join("foreign.wat");
    std::fs::write(
        &foreign,
        r#"(component (import "acme:magic/api@1.0.0" (instance (export "f" (func)))))"#,
    )
    .unwrap();
    let ran = run(&["run", foreign.to_str().unwrap()]);
    assert_eq!(ran.code, 126, "{ran:?}");
    assert!(ran.stderr.contains("acme:magic/api@1.0.0"), "{ran:?}");
}

#[test]
fn a_trap_is_134_with_a_named_backtrace() {
    let ran = run_guest(&[], "trap.wat", &[]);
    assert_eq!(ran.code, 134, "{ran:?}");
    assert!(
        ran.stderr
            .contains("trapped: wasm trap: integer divide by zero"),
        "{ran:?}"
    );
    let divide = ran.stderr.find("divide").expect("backtrace names divide");
    let compute = ran.stderr.find("compute").expect("backtrace names compute");
    assert!(divide < compute, "innermost frame first: {ran:?}");
}

#[test]
fn wharf_errors_are_125() {
    let hello = guest("hello.wasm");
    let hello = hello.to_str().unwrap();
    for (flags, reason) in [
        (vec!["--memory", "lots"], "invalid size"),
        (vec!["--timeout", "soon"], "invalid duration"),
        (vec!["--bogus"], "--bogus"),
        (vec!["-v", "/nonexistent-dir:/data"], "cannot be used"),
        (vec!["-v", "/tmp:relative"], "must be absolute"),
        (vec!["-w", "relative"], "absolute"),
        (vec!["-e", "=x"], "name is empty"),
    ] {
        let mut args = vec!["run"];
        args.extend(&flags);
        args.push(hello);
        let ran = run(&args);
        assert_eq!(ran.code, 125, "{flags:?}: {ran:?}");
        assert!(ran.stderr.contains(reason), "{flags:?}: {ran:?}");
        assert!(ran.stdout.is_empty(), "{flags:?}: the guest ran: {ran:?}");
    }
    let ran = run(&["run"]);
    assert_eq!(ran.code, 125, "{ran:?}");
    let ran = run(&["--help"]);
    assert_eq!(ran.code, 0, "{ran:?}");
}

#[test]
fn stdin_is_closed_unless_interactive() {
    use std::io::Write;
    use std::process::Stdio;
    for (flags, expected) in [
        (vec![], "read 0 bytes\n"),
        (vec!["-i"], "WASM IN\nread 8 bytes\n"),
        (vec!["-it"], "WASM IN\nread 8 bytes\n"),
    ] {
        for file in ["stdin.wasm", "stdin.component.wasm"] {
            let mut child = crate::support::wharf()
                .arg("run")
                .args(&flags)
                .arg(guest(file))
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .unwrap();
            let mut stdin = child.stdin.take().unwrap();
            let _ = stdin.write_all(b"wasm in\n");
            drop(stdin);
            let out = child.wait_with_output().unwrap();
            assert_eq!(
                String::from_utf8_lossy(&out.stdout),
                expected,
                "{file} {flags:?}"
            );
        }
    }
}

#[test]
fn cpu_bound_work_matches_a_native_build() {
    let tmp = tempfile::tempdir().unwrap();
    let native = tmp.path().join("cpu");
    let source = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/guests/cpu.c");
    let status = std::process::Command::new("cc")
        .args(["-O2", "-o"])
        .arg(&native)
        .arg(&source)
        .status()
        .unwrap();
    assert!(status.success());
    let expected = std::process::Command::new(&native)
        .arg("3")
        .output()
        .unwrap();
    let ran = run_guest(&[], "cpu.wasm", &["3"]);
    assert_eq!(ran.code, 0, "{ran:?}");
    assert_eq!(ran.stdout, String::from_utf8_lossy(&expected.stdout));
    assert!(ran.stdout.starts_with("checksum "));
}

#[test]
fn a_module_with_initialize_and_a_default_export_runs_both_in_order() {
    let ran = run(&["run", guest("default-export.wat").to_str().unwrap()]);
    assert_eq!(ran.code, 42, "{ran:?}");
    assert_eq!(ran.stdout, "default export ran\n");
}
