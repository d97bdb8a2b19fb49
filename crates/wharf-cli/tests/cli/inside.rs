//! `wharf cp` in and out of a container's filesystem and volumes, `top`, `attach`.

use crate::support::{guest, Ran, TestRoot as Env};

fn ok(ran: Ran) -> Ran {
    assert_eq!(ran.code, 0, "{ran:?}");
    ran
}

#[test]
fn cp_copies_in_and_out_and_never_leaves_the_container() {
    let env = Env::new();
    let ctx = env.root().join("ctx");
    std::fs::create_dir_all(ctx.join("conf")).unwrap();
    std::fs::copy(guest("files.wasm"), ctx.join("files.wasm")).unwrap();
    std::fs::write(ctx.join("conf/app.toml"), "port = 80").unwrap();
    std::fs::write(
        ctx.join("Dockerfile"),
        "FROM scratch\nCOPY files.wasm /bin/\nCOPY conf /etc/app/\nENTRYPOINT [\"/bin/files.wasm\"]\n",
    )
    .unwrap();
    ok(env.wharf(&["build", "-q", "-t", "files:1", ctx.to_str().unwrap()]));
    let data = env.root().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let volume = format!("{}:/data", data.display());
    let id = env.run_d(&[
        "--name",
        "box",
        "-v",
        &volume,
        "files:1",
        "write",
        "/etc/app/made",
        "by guest",
    ]);
    assert_eq!(env.wait(&id), 0);

    // Out: a file, and a directory into an existing host directory.
    let out = env.root().join("out");
    std::fs::create_dir_all(&out).unwrap();
    ok(env.wharf(&[
        "cp",
        "box:/etc/app/made",
        out.join("made.txt").to_str().unwrap(),
    ]));
    assert_eq!(
        std::fs::read_to_string(out.join("made.txt")).unwrap(),
        "by guest"
    );
    ok(env.wharf(&["cp", "box:/etc/app", out.to_str().unwrap()]));
    assert_eq!(
        std::fs::read_to_string(out.join("app/app.toml")).unwrap(),
        "port = 80"
    );

    // In: into the root filesystem and into a volume; the guest sees both.
    let note = env.root().join("note.txt");
    std::fs::write(&note, "from host").unwrap();
    ok(env.wharf(&["cp", note.to_str().unwrap(), "box:/etc/app/"]));
    ok(env.wharf(&["cp", note.to_str().unwrap(), "box:/data/n.txt"]));
    assert_eq!(
        std::fs::read_to_string(data.join("n.txt")).unwrap(),
        "from host"
    );
    let ran = ok(env.wharf(&["start", "-a", "box"]));
    assert_eq!(ran.stdout, "wrote /etc/app/made\n");

    // Refusals: a missing path, a path out of the container, a symlink out of it.
    let missing = env.wharf(&["cp", "box:/nope", out.to_str().unwrap()]);
    assert_eq!(missing.code, 1, "{missing:?}");
    assert!(missing.stderr.contains("no such file"), "{missing:?}");
    let escape = env.wharf(&["cp", "box:/../../../etc/passwd", out.to_str().unwrap()]);
    assert_eq!(escape.code, 1, "{escape:?}");
    let rootfs = env.root().join("containers").join(&id).join("rootfs");
    std::os::unix::fs::symlink("/etc", rootfs.join("hostetc")).unwrap();
    let through = env.wharf(&["cp", "box:/hostetc/hostname", out.to_str().unwrap()]);
    assert_eq!(through.code, 1, "{through:?}");
    assert!(through.stderr.contains("leads out"), "{through:?}");
    let write_through = env.wharf(&["cp", note.to_str().unwrap(), "box:/hostetc/"]);
    assert_eq!(write_through.code, 1, "{write_through:?}");
    assert!(!std::path::Path::new("/etc/note.txt").exists());
}

#[test]
fn top_and_attach_show_a_running_container() {
    let env = Env::new();
    let files = guest("files.wasm");
    let id = env.run_d(&[files.to_str().unwrap(), "readloop", "/missing", "10", "300"]);
    let top = ok(env.wharf(&["top", &id]));
    let lines: Vec<&str> = top.stdout.lines().collect();
    assert!(
        lines[0].starts_with("PID") && lines[0].ends_with("CMD"),
        "{top:?}"
    );
    assert!(lines[1].contains("readloop /missing 10 300"), "{top:?}");
    // Attached while it runs: its output from then on, then its exit code.
    let attached = env.wharf(&["attach", &id]);
    assert_eq!(attached.code, 1, "{attached:?}");
    assert!(
        attached.stdout.ends_with("10 reads, 10 failed\n"),
        "{attached:?}"
    );
    let stopped = env.wharf(&["attach", &id]);
    assert_eq!(stopped.code, 1, "{stopped:?}");
    assert!(stopped.stderr.contains("start it first"), "{stopped:?}");
    let not_running = env.wharf(&["top", &id]);
    assert!(
        not_running.stderr.contains("not running"),
        "{not_running:?}"
    );
}
