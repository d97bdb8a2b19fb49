//! What a new user trusts wharf with: a container's files live from `create` to `rm`, images stay
//! while containers use them, `rm -f` leaves nothing running, and bad input or a closed pipe
//! gets one clear sentence. Each test failed on the code before the fix it guards.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::support::{guest, noise, wharf_in, Ran, TestRoot as Env};

/// A root and a built image `files-app:1` (the `files` guest with `/data/msg.txt`).
impl Env {
    /// A root with the image `files-app:1` built: the `files` guest, `/data/msg.txt`, and
    /// `read msg.txt` as its command.
    fn with_files_app() -> Env {
        let env = Env::new();
        let ctx = env.tmp.path().join("ctx");
        std::fs::create_dir_all(ctx.join("data")).unwrap();
        std::fs::copy(guest("files.wasm"), ctx.join("files.wasm")).unwrap();
        std::fs::write(ctx.join("data/msg.txt"), "from the image\n").unwrap();
        std::fs::write(
            ctx.join("Dockerfile"),
            "FROM scratch\nCOPY files.wasm /bin/\nCOPY data /data/\nWORKDIR /data\n\
             ENTRYPOINT [\"/bin/files.wasm\"]\nCMD [\"read\", \"msg.txt\"]\n",
        )
        .unwrap();
        ok(&env.wharf(&["build", "-t", "files-app:1", ctx.to_str().unwrap()]));
        env
    }

    /// Processes whose command line names this root: monitors and foreground runs.
    fn processes(&self) -> Vec<String> {
        let root = self.root().to_string_lossy().into_owned();
        std::fs::read_dir("/proc")
            .unwrap()
            .flatten()
            .filter(|e| {
                e.file_name()
                    .to_string_lossy()
                    .bytes()
                    .all(|b| b.is_ascii_digit())
            })
            .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
            .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
            .filter(|c| c.contains(&root) && c.contains("wharf-monitor"))
            .collect()
    }
}

fn ok(ran: &Ran) {
    assert_eq!(ran.code, 0, "{ran:?}");
}

/// Sets the modification time of everything under `dir` to two hours ago, as if wharf had been
/// running that long (its sweepers remove temporaries older than 15 minutes).
fn age_everything(dir: &Path) {
    let status = std::process::Command::new("find")
        .arg(dir)
        .args(["-exec", "touch", "-h", "-d", "2 hours ago", "{}", "+"])
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn running_containers_keep_their_files_however_old() {
    let env = Env::with_files_app();
    // A detached container and a foreground run, both reading a file of their image for 3 s.
    let loop_args = ["readloop", "/data/msg.txt", "30", "100"];
    let mut detached = vec!["run", "-d", "--name", "reader", "files-app:1"];
    detached.extend(loop_args);
    ok(&env.wharf(&detached));
    let foreground = wharf_in(&env.root())
        .args(["run", "files-app:1"])
        .args(loop_args)
        .stdout(Stdio::piped())
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let run_dir = env.root().join("run");
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::fs::read_dir(&run_dir).map_or(0, |d| d.count()) == 0 {
        assert!(
            Instant::now() < deadline,
            "the foreground run never unpacked"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    // What a run killed long ago left: no owner holds its lock.
    let abandoned = run_dir.join("rootfs.1.1.tmp");
    std::fs::create_dir_all(abandoned.join("data/bin")).unwrap();
    std::fs::write(abandoned.join("lock"), b"").unwrap();
    age_everything(&env.root());
    // Any image run sweeps.
    let other = env.wharf(&["run", "files-app:1"]);
    assert_eq!(other.stdout, "from the image\n", "{other:?}");
    assert!(!abandoned.exists(), "an abandoned root filesystem was kept");

    let out = foreground.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        text, "30 reads, 0 failed\n",
        "the foreground run lost its files"
    );
    assert_eq!(env.wait("reader"), 0);
    let logs = env.wharf(&["logs", "reader"]);
    assert_eq!(logs.stdout, "30 reads, 0 failed\n", "{logs:?}");
    ok(&env.wharf(&["rm", "reader"]));
}

#[test]
fn writes_survive_stop_and_start_and_start_attach_shows_only_the_new_run() {
    let env = Env::with_files_app();
    let id = env.wharf(&[
        "create",
        "--name",
        "counter",
        "files-app:1",
        "append",
        "/data/n",
        "x",
    ]);
    ok(&id);
    let dir = env.root().join("containers").join(id.stdout.trim());
    // The container owns its files from create on.
    assert!(dir.join("rootfs/bin/files.wasm").is_file());
    let first = env.wharf(&["start", "-a", "counter"]);
    assert_eq!((first.code, first.stdout.as_str()), (0, "x\n"), "{first:?}");
    let second = env.wharf(&["start", "-a", "counter"]);
    assert_eq!(
        (second.code, second.stdout.as_str()),
        (0, "xx\n"),
        "{second:?}"
    );
    ok(&env.wharf(&["restart", "counter"]));
    assert_eq!(env.wait("counter"), 0);
    let logs = env.wharf(&["logs", "counter"]);
    assert_eq!(logs.stdout, "x\nxx\nxxx\n", "{logs:?}");
    // A restart policy's runs share the files too: each run appends, and fails until three
    // runs have written.
    let policy = env.wharf(&[
        "run",
        "-d",
        "--name",
        "again",
        "--restart",
        "on-failure:5",
        "files-app:1",
        "append",
        "/data/n",
        "y",
        "3",
    ]);
    ok(&policy);
    assert_eq!(env.wait("again"), 0);
    let logs = env.wharf(&["logs", "again"]);
    assert_eq!(logs.stdout, "y\nyy\nyyy\n", "{logs:?}");
    ok(&env.wharf(&["rm", "again"]));
    // Only rm removes them.
    ok(&env.wharf(&["rm", "counter"]));
    assert!(!dir.exists());
}

#[test]
fn images_that_containers_use_are_kept() {
    let env = Env::with_files_app();
    ok(&env.wharf(&["create", "--name", "user", "files-app:1"]));
    let refused = env.wharf(&["rmi", "files-app:1"]);
    assert_ne!(refused.code, 0, "{refused:?}");
    assert!(
        refused
            .stderr
            .contains("conflict: unable to remove repository reference")
            && refused.stderr.contains("is using its referenced image"),
        "{refused:?}"
    );
    ok(&env.wharf(&["image", "prune", "-a", "-f"]));
    assert!(env.wharf(&["images"]).stdout.contains("files-app"));

    // Another tag may go; the last one only with -f, and the image stays for the container.
    ok(&env.wharf(&["tag", "files-app:1", "other:1"]));
    ok(&env.wharf(&["rmi", "files-app:1"]));
    assert_ne!(env.wharf(&["rmi", "other:1"]).code, 0);
    let forced = env.wharf(&["rmi", "-f", "other:1"]);
    ok(&forced);
    assert!(
        forced.stdout.contains("Untagged: ") && !forced.stdout.contains("Deleted"),
        "{forced:?}"
    );
    let started = env.wharf(&["start", "-a", "user"]);
    assert_eq!(started.stdout, "from the image\n", "{started:?}");

    // By ID, an image a running container uses cannot be deleted, even forced.
    let inspect = env.wharf(&["inspect", "user"]);
    let value: serde_json::Value = serde_json::from_str(&inspect.stdout).unwrap();
    let image_id = value[0]["Image"].as_str().unwrap().to_string();
    let short = image_id.trim_start_matches("sha256:")[..12].to_string();
    ok(&env.wharf(&[
        "run",
        "-d",
        "--name",
        "busy",
        &short,
        "readloop",
        "/data/msg.txt",
        "100",
        "100",
    ]));
    let running = env.wharf(&["rmi", "-f", &short]);
    assert!(running.stderr.contains("cannot be forced"), "{running:?}");

    ok(&env.wharf(&["rm", "-f", "user", "busy"]));
    let pruned = env.wharf(&["image", "prune", "-a", "-f"]);
    ok(&pruned);
    assert!(pruned.stdout.contains("deleted"), "{pruned:?}");
    assert_eq!(env.wharf(&["images", "-q"]).stdout.trim(), "");
}

#[test]
fn rm_f_racing_run_d_leaves_nothing_running() {
    let env = Env::with_files_app();
    let sleep = guest("sleep.wasm");
    let sleep = sleep.to_str().unwrap();
    let races: Vec<_> = (0..20)
        .map(|i| {
            let root = env.root();
            let sleep = sleep.to_string();
            std::thread::spawn(move || {
                let name = format!("mix{i}");
                let mut run = wharf_in(&root)
                    .args(["run", "-d", "--name", &name, &sleep, "30"])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .unwrap();
                std::thread::sleep(Duration::from_millis((i * 37 % 91) as u64));
                let rm = wharf_in(&root)
                    .args(["rm", "-f", &name])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .unwrap();
                let _ = run.wait();
                (name, rm.success())
            })
        })
        .collect();
    let results: Vec<(String, bool)> = races.into_iter().map(|t| t.join().unwrap()).collect();
    // Those an `rm -f` came too early for are still there, visible: remove them now.
    let left = env.wharf(&["ps", "-a", "-q"]);
    let ids: Vec<&str> = left.stdout.split_whitespace().collect();
    for (name, removed) in &results {
        if *removed {
            assert_ne!(
                env.wharf(&["inspect", name]).code,
                0,
                "{name} was removed but is listed"
            );
        }
    }
    if !ids.is_empty() {
        let mut rm = vec!["rm", "-f"];
        rm.extend(ids);
        ok(&env.wharf(&rm));
    }
    // Nothing of any of them runs: no monitor (which holds the guest) is left.
    let running = env.processes();
    assert!(running.is_empty(), "invisible guests: {running:#?}");
}

#[test]
fn a_large_file_that_is_not_wasm_is_refused_without_reading_it() {
    let env = Env::with_files_app();
    let big = env.tmp.path().join("big.wasm");
    let file = std::fs::File::create(&big).unwrap();
    std::io::Write::write_all(&mut &file, b"\x7fELF\x02\x01\x01").unwrap();
    file.set_len(2 << 30).unwrap();
    // Reaped by wait4 below, which also reports its peak memory.
    #[allow(clippy::zombie_processes)]
    let child = wharf_in(&env.root())
        .args(["run", big.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut status = 0;
    // SAFETY: a zeroed rusage is a valid value for wait4 to fill.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waits for our own child, writing into locals we own.
    let pid = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    assert_eq!(pid, child.id() as i32);
    assert_eq!(libc::WEXITSTATUS(status), 126);
    let max_rss_mb = usage.ru_maxrss / 1024;
    assert!(
        max_rss_mb < 300,
        "wharf read the file: {max_rss_mb} MB resident"
    );
}

#[test]
fn a_closed_stdout_ends_wharf_quietly() {
    let env = Env::with_files_app();
    for n in 0..5 {
        ok(&env.wharf(&["tag", "files-app:1", &format!("copy:{n}")]));
    }
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = wharf_in(&env.root())
        .args([
            "image", "inspect", "copy:0", "copy:1", "copy:2", "copy:3", "copy:4",
        ])
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.is_empty(), "{stderr}");
    use std::os::unix::process::ExitStatusExt;
    assert!(
        out.status.signal() == Some(libc::SIGPIPE) || out.status.code() == Some(0),
        "{:?}",
        out.status
    );
}

#[test]
fn a_guest_that_cannot_start_detached_is_one_clear_sentence() {
    let env = Env::with_files_app();
    let script = env.tmp.path().join("script.wasm");
    std::fs::write(&script, "#!/bin/sh\necho hi\n").unwrap();
    let ran = env.wharf(&["run", "-d", script.to_str().unwrap()]);
    assert_eq!(ran.code, 126, "{ran:?}");
    assert_eq!(ran.stderr.matches("cannot run").count(), 1, "{ran:?}");
    assert_eq!(
        ran.stderr.trim(),
        format!(
            "wharf: cannot run {}: it is not a WebAssembly file (no \\0asm header, and not WAT text)",
            script.display()
        )
    );
    let missing = env.wharf(&["run", "-d", "--entrypoint", "/nope.wasm", "files-app:1"]);
    assert_eq!(missing.code, 127, "{missing:?}");
    assert_eq!(
        missing.stderr.matches("cannot run").count(),
        1,
        "{missing:?}"
    );
    assert!(
        missing.stderr.contains("/nope.wasm (in image files-app:1)"),
        "{missing:?}"
    );
}

#[test]
fn a_killed_save_leaves_no_temporary_behind() {
    let env = Env::with_files_app();
    // A bigger image, so that the save can be caught half-way.
    let ctx = env.tmp.path().join("big-ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::copy(guest("files.wasm"), ctx.join("files.wasm")).unwrap();
    std::fs::write(ctx.join("noise.bin"), noise(16 << 20, 7)).unwrap();
    std::fs::write(
        ctx.join("Dockerfile"),
        "FROM scratch\nCOPY files.wasm noise.bin /\nENTRYPOINT [\"/files.wasm\"]\n",
    )
    .unwrap();
    ok(&env.wharf(&["build", "-t", "big:1", ctx.to_str().unwrap()]));
    let out_dir = env.tmp.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let out = out_dir.join("big.tar");
    for delay in [0, 5, 10, 20, 40, 80] {
        let mut save = wharf_in(&env.root())
            .args(["save", "-o", out.to_str().unwrap(), "big:1"])
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay));
        let _ = save.kill();
        let _ = save.wait();
        let names: Vec<String> = std::fs::read_dir(&out_dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n != "big.tar")
            .collect();
        assert!(names.is_empty(), "after a kill at {delay} ms: {names:?}");
    }
    ok(&env.wharf(&["save", "-o", out.to_str().unwrap(), "big:1"]));
    ok(&env.wharf(&["rmi", "big:1"]));
    ok(&env.wharf(&["load", "-i", out.to_str().unwrap()]));
    assert!(env.wharf(&["images"]).stdout.contains("big"));
}
