//! The core's container lifecycle, pinned without the CLI: create, start, wait, stop, kill,
//! rm, inspect, logs and restart policies through `wharf_core::Wharf` directly, with the error
//! kinds every front end maps. Guests are WAT, so nothing but this crate's binaries is needed.

use std::path::PathBuf;
use std::time::Duration;

use wharf_core::{
    ContainerQuery, ContainerSpec, ContainerStatus, ErrorKind, LogItem, LogQuery, RestartPolicy,
    Root, RunTarget, Wharf,
};

/// Writes "hi\n" and exits 0.
const HELLO: &str = r#"(module
    (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
    (memory (export "memory") 1)
    (data (i32.const 16) "hi\n")
    (func (export "_start")
        (i32.store (i32.const 0) (i32.const 16))
        (i32.store (i32.const 4) (i32.const 3))
        (drop (call $write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))"#;

/// Exits 3.
const EXIT3: &str = r#"(module
    (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
    (memory (export "memory") 1)
    (func (export "_start") (call $exit (i32.const 3))))"#;

/// Runs until stopped.
const SPIN: &str = r#"(module (func (export "_start") (loop (br 0))))"#;

/// A wharf on a temporary root whose monitor is this package's `wharf-monitor`.
struct TestWharf {
    tmp: tempfile::TempDir,
    wharf: Wharf,
}

impl TestWharf {
    fn new() -> TestWharf {
        let tmp = tempfile::tempdir().unwrap();
        let wharf = Wharf::open(Root::open(tmp.path().join("root")).unwrap())
            .unwrap()
            .with_monitor(env!("CARGO_BIN_EXE_wharf-monitor"));
        TestWharf { tmp, wharf }
    }

    /// A guest file holding `wat`.
    fn guest(&self, name: &str, wat: &str) -> PathBuf {
        let path = self.tmp.path().join(format!("{name}.wat"));
        std::fs::write(&path, wat).unwrap();
        path
    }

    /// Creates a container `name` of the guest `wat`.
    fn create(&self, name: &str, wat: &str, restart: RestartPolicy) -> String {
        let spec = ContainerSpec {
            name: Some(name.to_string()),
            target: RunTarget::File(self.guest(name, wat)),
            restart,
            ..Default::default()
        };
        self.wharf.create_container(&spec).unwrap().id
    }

    fn status(&self, name: &str) -> (ContainerStatus, Option<i32>) {
        let (c, _) = self.wharf.container(name).unwrap();
        (c.state.status, c.state.exit_code)
    }
}

#[test]
fn a_container_goes_from_create_to_rm() {
    let t = TestWharf::new();
    let id = t.create("hello", HELLO, RestartPolicy::No);
    assert_eq!(t.status("hello"), (ContainerStatus::Created, None));
    assert_eq!(t.wharf.start_container("hello").unwrap(), id);
    assert_eq!(t.wharf.wait_container("hello").unwrap(), 0);
    assert_eq!(t.status("hello"), (ContainerStatus::Exited, Some(0)));
    let lines: Vec<String> = t
        .wharf
        .logs("hello", LogQuery::default())
        .unwrap()
        .map(|item| match item.unwrap() {
            LogItem::Entry(e) => format!("{}: {}", e.stream, e.log),
            LogItem::Waiting => unreachable!("not following"),
        })
        .collect();
    assert_eq!(lines, ["stdout: hi\n"]);
    let (inspect, _) = t.wharf.inspect_container(&id[..12]).unwrap();
    assert_eq!(inspect.name.as_deref(), Some("/hello"));
    assert_eq!(inspect.state.unwrap().exit_code, Some(0));
    t.wharf.remove_container("hello", false).unwrap();
    let gone = t.wharf.container("hello").unwrap_err();
    assert_eq!(gone.kind(), ErrorKind::NotFound);
}

#[test]
fn stop_and_kill_end_a_running_guest_with_docker_s_codes() {
    let t = TestWharf::new();
    t.create("spin-a", SPIN, RestartPolicy::No);
    t.create("spin-b", SPIN, RestartPolicy::No);
    t.wharf.start_container("spin-a").unwrap();
    t.wharf.start_container("spin-b").unwrap();
    assert_eq!(t.status("spin-a").0, ContainerStatus::Running);
    t.wharf
        .stop_container("spin-a", Some(Duration::from_secs(5)))
        .unwrap();
    assert_eq!(t.wharf.wait_container("spin-a").unwrap(), 143);
    t.wharf.kill_container("spin-b", libc::SIGKILL).unwrap();
    assert_eq!(t.wharf.wait_container("spin-b").unwrap(), 137);
    // Killing a stopped container is a conflict, as Docker's 409.
    let err = t.wharf.kill_container("spin-b", libc::SIGKILL).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict);
}

#[test]
fn the_error_kinds_front_ends_map() {
    let t = TestWharf::new();
    t.create("spin", SPIN, RestartPolicy::No);
    // A name in use.
    let spec = ContainerSpec {
        name: Some("spin".into()),
        target: RunTarget::File(t.guest("other", HELLO)),
        ..Default::default()
    };
    assert_eq!(
        t.wharf.create_container(&spec).unwrap_err().kind(),
        ErrorKind::Conflict
    );
    // A bad name, a bad combination, a bad filter.
    let bad_name = ContainerSpec {
        name: Some("-nope".into()),
        ..spec.clone()
    };
    assert_eq!(
        t.wharf.create_container(&bad_name).unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
    let rm_and_restart = ContainerSpec {
        name: None,
        auto_remove: true,
        restart: RestartPolicy::Always,
        ..spec.clone()
    };
    assert_eq!(
        t.wharf
            .create_container(&rm_and_restart)
            .unwrap_err()
            .kind(),
        ErrorKind::InvalidArgument
    );
    let filter = ContainerQuery::from_pairs(false, &["colour=red".to_string()]);
    assert_eq!(filter.unwrap_err().kind(), ErrorKind::InvalidArgument);
    // A running container is not removed without force.
    t.wharf.start_container("spin").unwrap();
    let err = t.wharf.remove_container("spin", false).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict);
    t.wharf.remove_container("spin", true).unwrap();
    // A missing file, and a file that is not Wasm.
    let missing = ContainerSpec {
        name: None,
        target: RunTarget::File(t.tmp.path().join("none.wasm")),
        ..spec.clone()
    };
    assert_eq!(
        t.wharf.create_container(&missing).unwrap_err().kind(),
        ErrorKind::NotFound
    );
    let text = t.tmp.path().join("text.wasm");
    std::fs::write(&text, "#!/bin/sh\n").unwrap();
    let not_wasm = ContainerSpec {
        name: Some("text".into()),
        target: RunTarget::File(text),
        ..spec
    };
    t.wharf.create_container(&not_wasm).unwrap();
    let err = t.wharf.start_container("text").unwrap_err();
    assert_eq!(
        (err.kind(), err.start_exit_code()),
        (ErrorKind::NotRunnable, 126)
    );
}

#[test]
fn restart_policies_and_auto_remove() {
    let t = TestWharf::new();
    t.create("flaky", EXIT3, RestartPolicy::OnFailure { max: Some(2) });
    t.wharf.start_container("flaky").unwrap();
    assert_eq!(t.wharf.wait_container("flaky").unwrap(), 3);
    let (c, _) = t.wharf.container("flaky").unwrap();
    assert_eq!(c.state.restart_count, 2);
    // Removed when it ends, and its exit code still known to wait.
    let spec = ContainerSpec {
        name: Some("once".into()),
        target: RunTarget::File(t.guest("once", EXIT3)),
        auto_remove: true,
        ..Default::default()
    };
    let id = t.wharf.create_container(&spec).unwrap().id;
    t.wharf.start_container(&id).unwrap();
    // By ID: the name may be gone with the container already, the exit code is not.
    let code = t.wharf.wait_container(&id).unwrap();
    assert_eq!(code, 3);
    assert_eq!(
        t.wharf.container("once").unwrap_err().kind(),
        ErrorKind::NotFound
    );
}

#[test]
fn the_image_list_is_docker_s_with_labels_and_users() {
    let t = TestWharf::new();
    let ctx = t.tmp.path().join("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(ctx.join("app.wat"), HELLO).unwrap();
    // A .wat is copied as it is (only .wasm files are validated).
    let options = wharf_core::BuildOptions {
        dockerfile: "FROM scratch\nCOPY app.wat /\nLABEL tier=web\nENTRYPOINT [\"/app.wat\"]\n"
            .into(),
        tags: vec![
            wharf_core::Reference::parse("app:1").unwrap(),
            wharf_core::Reference::parse("app:latest").unwrap(),
        ],
        ..Default::default()
    };
    t.wharf.build(&ctx, &options, &mut |_| {}).unwrap();
    let spec = ContainerSpec {
        target: RunTarget::Image("app:1".into()),
        ..Default::default()
    };
    t.wharf.create_container(&spec).unwrap();
    let list = t.wharf.images().unwrap();
    assert_eq!(list.len(), 1, "{list:?}");
    let image = &list[0];
    assert_eq!(image.repo_tags, ["app:1", "app:latest"]);
    assert_eq!(image.labels.get("tier").map(String::as_str), Some("web"));
    assert_eq!(image.containers, 1);
    assert!(image.size > 0 && image.id.starts_with("sha256:"));
}

#[test]
fn a_damaged_config_is_refused_not_run_with_other_grants() {
    let t = TestWharf::new();
    let id = t.create("damaged", HELLO, RestartPolicy::No);
    let path = t
        .tmp
        .path()
        .join("root/containers")
        .join(&id)
        .join("config.json");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replace("\"bridge\"", "\"bogus\"")).unwrap();
    let err = t.wharf.start_container("damaged").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Internal);
    assert!(err.to_string().contains("damaged"), "{err}");
    // Nothing claims it ran.
    assert_ne!(t.status("damaged").0, ContainerStatus::Running);
}
