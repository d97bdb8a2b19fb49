//! The shim under a real containerd (Debian's 1.6) driven by `ctr`: an image wharf built and
//! pushed to a real registry is pulled by containerd and run by `containerd-shim-wharf-v1`.
//! containerd, its state and the registry live in a temporary directory and go at the end.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::{start, text, wait_for, NetNs, GUEST, SPIN};

/// Grows its memory by 100 pages (6.4 MiB); exits 7 when refused, 0 otherwise.
const GROW: &str = r#"(module
    (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
    (memory (export "memory") 1)
    (func (export "_start")
        (if (i32.eq (memory.grow (i32.const 100)) (i32.const -1))
            (then (call $exit (i32.const 7))))
        (call $exit (i32.const 0))))"#;

#[test]
fn ctr_runs_wharf_images_through_the_shim() {
    let services = start();
    let image = services.push_image("guest", GUEST);
    let run = |flags: &[&str], rest: &[&str]| {
        let mut args = vec!["run"];
        args.extend_from_slice(flags);
        args.extend(["--runtime", "io.containerd.wharf.v1"]);
        args.extend_from_slice(rest);
        services.ctr(&args)
    };

    // Events the shim publishes, as containerd relays them.
    let mut events = Command::new("ctr")
        .arg("-a")
        .arg(services.socket())
        .arg("events")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(200));

    // Output through containerd's FIFOs, the guest's exit code as the task's.
    let ran = run(&["--rm"], &[&image, "one"]);
    assert_eq!(ran.status.code(), Some(0), "{ran:?}\n{}", services.log());
    assert_eq!(text(&ran.stdout), "out from wasm\n");
    assert_eq!(text(&ran.stderr), "err from wasm\n");
    let compiled = services.cache_entries();
    assert!(!compiled.is_empty(), "the shim cached no compiled code");
    let ran = run(&["--rm"], &[&image, "two", "/app.wat", "3"]);
    assert_eq!(ran.status.code(), Some(3), "{ran:?}");
    // The second run of the module loaded what the first compiled.
    assert_eq!(services.cache_entries(), compiled);
    std::thread::sleep(Duration::from_millis(200));
    events.kill().unwrap();
    let seen = text(&events.wait_with_output().unwrap().stdout);
    for topic in [
        "/tasks/create",
        "/tasks/start",
        "/tasks/exit",
        "/tasks/delete",
    ] {
        assert!(
            seen.lines()
                .any(|l| l.contains(topic) && l.contains("\"two\"")),
            "no {topic} event for task two in:\n{seen}"
        );
    }
    assert!(
        seen.lines()
            .any(|l| l.contains("/tasks/exit") && l.contains("\"exit_status\":3")),
        "{seen}"
    );

    // The spec's memory limit is the guest's cap.
    let grow = services.push_image("grow", GROW);
    let ran = run(&["--rm"], &[&grow, "grow-free"]);
    assert_eq!(ran.status.code(), Some(0), "{ran:?}");
    let ran = run(
        &["--rm", "--memory-limit", "1048576"],
        &[&grow, "grow-capped"],
    );
    assert_eq!(ran.status.code(), Some(7), "{ran:?}");

    // A detached task: listed, exec refused with a reason, killed.
    let spin = services.push_image("spin", SPIN);
    let ran = run(&["-d", "--memory-limit", "4194304"], &[&spin, "spinner"]);
    assert!(ran.status.success(), "{ran:?}");
    let running = |state: &str| {
        text(&services.ctr(&["task", "ls"]).stdout)
            .lines()
            .any(|l| l.starts_with("spinner") && l.contains(state))
    };
    assert!(running("RUNNING"), "{:?}", services.ctr(&["task", "ls"]));
    // The guest's own numbers: one page of linear memory, the spec's limit, CPU time spent.
    let metric_of = |metrics: &std::process::Output, name: &str| -> u64 {
        text(&metrics.stdout)
            .lines()
            .find_map(|l| l.strip_prefix(name).map(|v| v.trim().parse().unwrap()))
            .unwrap_or_else(|| panic!("no {name} in {metrics:?}"))
    };
    // Polled: the guest runs a moment after `run -d` returns.
    let mut metrics = services.ctr(&["task", "metrics", "spinner"]);
    for _ in 0..200 {
        assert!(metrics.status.success(), "{metrics:?}");
        if metric_of(&metrics, "memory.usage_in_bytes") > 0
            && metric_of(&metrics, "cpuacct.usage") > 0
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
        metrics = services.ctr(&["task", "metrics", "spinner"]);
    }
    let metric = |name: &str| metric_of(&metrics, name);
    assert_eq!(metric("memory.usage_in_bytes"), 65536);
    assert_eq!(metric("memory.limit_in_bytes"), 4 << 20);
    assert!(metric("cpuacct.usage") > 0, "{metrics:?}");
    let exec = services.ctr(&["task", "exec", "--exec-id", "x", "spinner", "/app.wat"]);
    assert!(!exec.status.success());
    assert!(text(&exec.stderr).contains("not supported"), "{exec:?}");
    let killed = services.ctr(&["task", "kill", "-s", "SIGKILL", "spinner"]);
    assert!(killed.status.success(), "{killed:?}");
    wait_for("the killed task's stop", || running("STOPPED"));
    let deleted = services.ctr(&["task", "delete", "spinner"]);
    assert!(deleted.status.success(), "{deleted:?}");
    let removed = services.ctr(&["containers", "rm", "spinner"]);
    assert!(removed.status.success(), "{removed:?}");

    // SIGTERM interrupts the guest: Docker's 143, as the attached `task start` reports it.
    let created = services.ctr(&[
        "containers",
        "create",
        "--runtime",
        "io.containerd.wharf.v1",
        &spin,
        "stopper",
    ]);
    assert!(created.status.success(), "{created:?}");
    let mut attached = Command::new("ctr")
        .arg("-a")
        .arg(services.socket())
        .args(["-n", "wharf-test", "task", "start", "stopper"])
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    wait_for("the task's start", || {
        text(&services.ctr(&["task", "ls"]).stdout)
            .lines()
            .any(|l| l.starts_with("stopper") && l.contains("RUNNING"))
    });
    let killed = services.ctr(&["task", "kill", "stopper"]);
    assert!(killed.status.success(), "{killed:?}");
    assert_eq!(attached.wait().unwrap().code(), Some(143));
    // The attached `task start` deleted the task once it ended.
    let removed = services.ctr(&["containers", "rm", "stopper"]);
    assert!(removed.status.success(), "{removed:?}");
}

#[test]
fn a_wasi_http_component_serves_inside_its_network_namespace() {
    let services = start();
    let server = std::fs::read(wharf_test_guests::guest("http-server.wasm")).unwrap();
    let image = services.push_program("http", "server.wasm", &server);
    let run = |flags: &[&str], id: &str| {
        let mut args = vec!["run", "-d", "--runtime", "io.containerd.wharf.v1"];
        args.extend_from_slice(flags);
        args.extend([image.as_str(), id]);
        let ran = services.ctr(&args);
        assert!(ran.status.success(), "{ran:?}");
    };
    let status = |id: &str| -> String {
        text(&services.ctr(&["task", "ls"]).stdout)
            .lines()
            .find(|l| l.starts_with(id))
            .map(|l| l.split_whitespace().last().unwrap_or_default().to_string())
            .unwrap_or_default()
    };

    // A pod's namespace, named by path: traffic reaches the guest only inside it.
    let pod = NetNs::new("wharf-shim-pod");
    let with_ns = format!("network:{}", pod.path());
    run(&["--with-ns", &with_ns], "web");
    wait_for("the server's answer inside the namespace", || {
        pod.get("http://127.0.0.1:8080/")
            .is_ok_and(|b| b == "hello from wasi:http\n")
    });
    let outside = std::net::TcpStream::connect("127.0.0.1:8080").map(|mut s| {
        use std::io::{Read, Write};
        let _ = s.write_all(b"GET / HTTP/1.0\r\n\r\n");
        let mut answer = String::new();
        let _ = s.read_to_string(&mut answer);
        answer
    });
    assert!(
        !outside
            .as_deref()
            .unwrap_or_default()
            .contains("hello from wasi:http"),
        "the guest answered on the host's network: {outside:?}"
    );

    // Containers with namespaces of their own (ctr's default) each have their own port 8080.
    run(&[], "own-1");
    run(&[], "own-2");
    wait_for("both servers' start", || {
        status("own-1") == "RUNNING" && status("own-2") == "RUNNING"
    });
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        (status("own-1"), status("own-2")),
        ("RUNNING".to_string(), "RUNNING".to_string()),
        "a server stopped (its port taken?): {}",
        services.log()
    );

    for id in ["web", "own-1", "own-2"] {
        assert!(services
            .ctr(&["task", "kill", "-s", "SIGKILL", id])
            .status
            .success());
        wait_for("the task's stop", || status(id) == "STOPPED");
        assert!(services.ctr(&["task", "delete", id]).status.success());
        assert!(services.ctr(&["containers", "rm", id]).status.success());
    }
}

/// The PIDs of processes whose command line holds all of `words`.
fn processes_with(words: &[&str]) -> Vec<i32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| {
            let pid = e.file_name().to_string_lossy().parse::<i32>().ok()?;
            let cmdline = std::fs::read(e.path().join("cmdline")).ok()?;
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            words.iter().all(|w| cmdline.contains(w)).then_some(pid)
        })
        .collect()
}

#[test]
fn a_shim_killed_mid_run_leaves_nothing_running_or_mounted() {
    let services = start();
    let spin = services.push_image("spin", SPIN);
    let ran = services.ctr(&[
        "run",
        "-d",
        "--runtime",
        "io.containerd.wharf.v1",
        &spin,
        "victim",
    ]);
    assert!(ran.status.success(), "{ran:?}");
    let socket = services.socket().to_string_lossy().into_owned();
    let shims = processes_with(&["containerd-shim-wharf-v1", "-id victim", &socket]);
    assert_eq!(shims.len(), 1, "{shims:?}");
    let rootfs = services
        .tmp
        .path()
        .join("state/io.containerd.runtime.v2.task/wharf-test/victim/rootfs");
    let mounted = || {
        std::fs::read_to_string("/proc/self/mounts")
            .unwrap()
            .lines()
            .any(|l| l.split(' ').nth(1) == Some(rootfs.to_str().unwrap()))
    };
    assert!(mounted(), "the task's rootfs is not mounted");

    // SAFETY: kill has no memory preconditions.
    unsafe { libc::kill(shims[0], libc::SIGKILL) };
    // containerd notices, runs `shim delete` (which unmounts) and reports the task ended.
    wait_for("containerd's report of the dead task", || {
        let ls = text(&services.ctr(&["task", "ls"]).stdout);
        !ls.lines()
            .any(|l| l.starts_with("victim") && l.contains("RUNNING"))
    });
    wait_for("the rootfs's unmount", || !mounted());
    // Nothing of it runs (containerd's `shim delete` run may take a moment to end).
    wait_for("the end of every process of the task", || {
        processes_with(&["containerd-shim-wharf-v1", "-id victim", &socket]).is_empty()
    });
    let address = containerd_shim::socket_address(&socket, "wharf-test", "victim");
    let shim_socket = address.strip_prefix("unix://").unwrap().to_string();
    assert!(
        !std::path::Path::new(&shim_socket).exists(),
        "the dead shim's socket {shim_socket} stayed"
    );
    let _ = services.ctr(&["task", "delete", "victim"]);
    let removed = services.ctr(&["containers", "rm", "victim"]);
    assert!(removed.status.success(), "{removed:?}");
}

#[test]
fn the_spec_s_args_env_cwd_mounts_and_stdin_reach_the_guest() {
    let services = start();
    let mut programs = Vec::new();
    for guest in ["hello", "files", "stdin"] {
        let bytes = std::fs::read(wharf_test_guests::guest(&format!("{guest}.wasm"))).unwrap();
        programs.push(services.push_program(guest, &format!("{guest}.wasm"), &bytes));
    }
    let [hello, files, stdin] = [&programs[0], &programs[1], &programs[2]];
    let run = |flags: &[&str], rest: &[&str]| {
        let mut args = vec!["run", "--rm", "--runtime", "io.containerd.wharf.v1"];
        args.extend_from_slice(flags);
        args.extend_from_slice(rest);
        services.ctr(&args)
    };

    // Args and env from the spec.
    let ran = run(
        &["--env", "GREETING=hi"],
        &[hello, "h", "/hello.wasm", "a b"],
    );
    assert_eq!(ran.status.code(), Some(0), "{ran:?}");
    let out = text(&ran.stdout);
    assert!(
        out.contains("arg[1]=a b\n") && out.contains("env GREETING=hi\n"),
        "{out}"
    );

    // Bind mounts: read-only enforced, read-write writable, the host beyond them unreachable.
    let data = services.tmp.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("msg.txt"), "from the host\n").unwrap();
    let ro = format!(
        "type=bind,src={},dst=/data,options=rbind:ro",
        data.display()
    );
    let rw = format!(
        "type=bind,src={},dst=/data,options=rbind:rw",
        data.display()
    );
    let ran = run(
        &["--mount", &ro],
        &[files, "r", "/files.wasm", "read", "/data/msg.txt"],
    );
    assert_eq!(text(&ran.stdout), "from the host\n", "{ran:?}");
    let ran = run(
        &["--mount", &ro],
        &[files, "w", "/files.wasm", "write", "/data/new.txt", "x"],
    );
    assert_ne!(ran.status.code(), Some(0), "{ran:?}");
    assert!(
        !data.join("new.txt").exists(),
        "a read-only mount was written"
    );
    let ran = run(
        &["--mount", &rw],
        &[files, "w2", "/files.wasm", "write", "/data/new.txt", "x"],
    );
    assert_eq!(ran.status.code(), Some(0), "{ran:?}");
    assert_eq!(std::fs::read_to_string(data.join("new.txt")).unwrap(), "x");
    let secret = services.tmp.path().join("containerd.toml");
    let ran = run(
        &[],
        &[files, "s", "/files.wasm", "read", secret.to_str().unwrap()],
    );
    assert_ne!(
        ran.status.code(),
        Some(0),
        "the host's files were reachable: {ran:?}"
    );

    // The working directory: relative paths resolve in it. (getcwd() still says "/": the
    // core's -w has the same gap, issue 15's.)
    let ran = run(
        &["--mount", &ro, "--cwd", "/data"],
        &[files, "c", "/files.wasm", "read", "msg.txt"],
    );
    assert_eq!(text(&ran.stdout), "from the host\n", "{ran:?}");

    // Stdin from containerd's FIFO.
    let mut child = Command::new("ctr")
        .arg("-a")
        .arg(services.socket())
        .args([
            "-n",
            "wharf-test",
            "run",
            "--rm",
            "--runtime",
            "io.containerd.wharf.v1",
        ])
        .args([stdin.as_str(), "in"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"piped in\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(text(&out.stdout).starts_with("PIPED IN\n"), "{out:?}");
}
