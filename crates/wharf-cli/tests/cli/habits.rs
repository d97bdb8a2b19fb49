//! Docker habits on `run`: `--platform`, `--runtime`, Linux-only flags, `-w` made inside the
//! container's filesystem, `--read-only`, `--stop-timeout`.

use crate::support::{guest, script_guest, Ran, TestRoot as Env};

fn ok(ran: Ran) -> Ran {
    assert_eq!(ran.code, 0, "{ran:?}");
    ran
}

/// Builds `files:1`: the files guest at /bin/files.wasm, in a root filesystem of its own.
fn build_files_image(env: &Env) {
    let ctx = env.root().join("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::copy(guest("files.wasm"), ctx.join("files.wasm")).unwrap();
    std::fs::write(
        ctx.join("Dockerfile"),
        "FROM scratch\nCOPY files.wasm /bin/\nENTRYPOINT [\"/bin/files.wasm\"]\n",
    )
    .unwrap();
    ok(env.wharf(&["build", "-q", "-t", "files:1", ctx.to_str().unwrap()]));
}

#[test]
fn platform_runtime_and_linux_flags_are_never_silent() {
    let env = Env::new();
    let hello = guest("hello.wasm");
    let hello = hello.to_str().unwrap();
    for platform in ["wasi/wasm", "wasip1/wasm", "wasip2/wasm"] {
        let ran = ok(env.wharf(&["run", "--platform", platform, hello]));
        assert!(ran.stdout.contains("hello from wasm"), "{ran:?}");
    }
    let linux = env.wharf(&["run", "--platform", "linux/amd64", hello]);
    assert_eq!(linux.code, 125, "{linux:?}");
    assert!(linux.stderr.contains("not WebAssembly"), "{linux:?}");
    assert!(linux.stdout.is_empty(), "{linux:?}");
    let ctx = env.root().join("ctx-platform");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(ctx.join("Dockerfile"), "FROM scratch\n").unwrap();
    let build = env.wharf(&["build", "--platform", "linux/amd64", ctx.to_str().unwrap()]);
    assert_eq!(build.code, 125, "{build:?}");
    assert!(build.stderr.contains("not WebAssembly"), "{build:?}");
    let create = env.wharf(&["create", "--platform", "windows/amd64", hello]);
    assert_eq!(create.code, 125, "{create:?}");
    let pull = env.wharf(&["pull", "--platform", "linux/arm64", "localhost:1/x"]);
    assert_ne!(pull.code, 0);
    assert!(pull.stderr.contains("not WebAssembly"), "{pull:?}");

    let ran = ok(env.wharf(&["run", "--runtime", "io.containerd.wasmtime.v1", hello]));
    assert!(ran.stdout.contains("hello from wasm"), "{ran:?}");
    assert!(
        ran.stderr.contains("wharf runs WebAssembly itself"),
        "{ran:?}"
    );

    let ran = ok(env.wharf(&["run", "--user", "1000", "--cap-add", "NET_ADMIN", hello]));
    assert!(ran.stderr.contains("--user is ignored"), "{ran:?}");
    assert!(ran.stderr.contains("--cap-add is ignored"), "{ran:?}");
    let privileged = env.wharf(&["run", "--privileged", hello]);
    assert_eq!(privileged.code, 125, "{privileged:?}");
    assert!(privileged.stderr.contains("refused"), "{privileged:?}");
}

#[test]
fn workdir_is_made_in_the_container_and_read_only_keeps_the_image_intact() {
    let env = Env::new();
    build_files_image(&env);

    // A working directory the image lacks is created, and relative paths land in it.
    let id = env.run_d(&["-w", "/work/deep", "files:1", "write", "note.txt", "hi"]);
    assert_eq!(env.wait(&id), 0);
    let ran = ok(env.wharf(&["start", "-a", &id]));
    assert_eq!(ran.stdout, "wrote note.txt\n");
    let root = env.inspect(&id);
    assert_eq!(root["Config"]["WorkingDir"], "/work/deep", "{root}");
    let ran = ok(env.wharf(&["run", "-w", "/srv/x", "files:1", "ls", "/srv"]));
    assert_eq!(ran.stdout, "x\n");
    // getcwd() reports the working directory (wasi-libc keeps it in the guest; wharf calls
    // the guest's chdir before main).
    let ran = ok(env.wharf(&["run", "-w", "/work/deep", "files:1", "cwd"]));
    assert_eq!(ran.stdout, "/work/deep\n");
    let ran = ok(env.wharf(&["run", "files:1", "cwd"]));
    assert_eq!(ran.stdout, "/\n");
    // The guest's own chdir then works from there.
    let ran = ok(env.wharf(&["run", "-w", "/work/deep", "files:1", "chdir", "/bin"]));
    assert_eq!(ran.stdout, "/bin\n");

    // --read-only: the image's files cannot be written; a volume still can.
    let ran = env.wharf(&["run", "--read-only", "files:1", "write", "/bin/new", "x"]);
    assert_eq!(ran.code, 1, "{ran:?}");
    assert!(ran.stdout.contains("failed"), "{ran:?}");
    let data = env.root().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let volume = format!("{}:/data", data.display());
    let ran = ok(env.wharf(&[
        "run",
        "--read-only",
        "-v",
        &volume,
        "files:1",
        "write",
        "/data/out",
        "x",
    ]));
    assert_eq!(ran.stdout, "wrote /data/out\n");
    assert_eq!(std::fs::read_to_string(data.join("out")).unwrap(), "x");
    // A file's run too: getcwd() and relative paths agree.
    let files = guest("files.wasm");
    let files = files.to_str().unwrap();
    let ran = ok(env.wharf(&["run", "-v", &volume, "-w", "/data", files, "cwd"]));
    assert_eq!(ran.stdout, "/data\n");
    let ran = ok(env.wharf(&["run", "-v", &volume, "-w", "/data", files, "read", "out"]));
    assert_eq!(ran.stdout, "x");
    // And a component's: its libc's getcwd is hooked at compile time, and moves to PWD (this
    // C guest links getenv, which the hook calls: one that never reads its environment
    // starts in /).
    let component = guest("files.component.wasm");
    let component = component.to_str().unwrap();
    let ran = ok(env.wharf(&["run", "-v", &volume, "-w", "/data", component, "cwd"]));
    assert_eq!(ran.stdout, "/data\n");
    std::fs::create_dir_all(data.join("sub")).unwrap();
    let ran = ok(env.wharf(&[
        "run",
        "-v",
        &volume,
        "-w",
        "/data",
        component,
        "chdir",
        "/data/sub",
    ]));
    assert_eq!(
        ran.stdout, "/data/sub\n",
        "the guest's own chdir was undone"
    );
    let ran = ok(env.wharf(&[
        "run",
        "-e",
        "PWD=/elsewhere",
        "-w",
        "/data",
        component,
        "env",
        "PWD",
    ]));
    assert_eq!(ran.stdout, "/data\n", "-w did not set the component's PWD");

    let id = env.run_d(&[
        "--stop-timeout",
        "3",
        "--read-only",
        "--cpus",
        "0.5",
        "files:1",
        "cwd",
    ]);
    let inspected = env.inspect(&id);
    assert_eq!(inspected["Config"]["StopTimeout"], 3, "{inspected}");
    assert_eq!(
        inspected["HostConfig"]["ReadonlyRootfs"], true,
        "{inspected}"
    );
    assert_eq!(
        inspected["HostConfig"]["NanoCpus"], 500_000_000i64,
        "{inspected}"
    );
}

#[test]
fn a_multi_stage_dockerfile_builds_and_runs() {
    let env = Env::new();
    let ctx = env.root().join("ctx-multi");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::copy(guest("hello.wasm"), ctx.join("hello.wasm")).unwrap();
    std::fs::write(
        ctx.join("Dockerfile"),
        "FROM scratch AS build\nCOPY hello.wasm /out/\n\
         FROM scratch\nCOPY --from=build /out/hello.wasm /bin/hello.wasm\n\
         ENTRYPOINT [\"/bin/hello.wasm\"]\n",
    )
    .unwrap();
    ok(env.wharf(&["build", "-q", "-t", "multi:1", ctx.to_str().unwrap()]));
    let ran = ok(env.wharf(&["run", "multi:1", "x"]));
    assert!(ran.stdout.contains("hello from wasm"), "{ran:?}");
    assert!(ran.stdout.contains("arg[1]=x"), "{ran:?}");
    // Only the last stage is in the image: the build stage's /out is not.
    let layers = env.inspect("multi:1")["RootFS"]["Layers"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(layers, 1);
}

#[test]
fn single_files_are_bind_mounted_read_only_or_read_write() {
    let env = Env::new();
    let host = env.root().join("host");
    std::fs::create_dir_all(&host).unwrap();
    std::fs::write(host.join("config.toml"), "port = 80").unwrap();
    std::fs::write(host.join("secret"), "not granted").unwrap();
    std::fs::write(host.join("journal.txt"), "a").unwrap();
    let config = format!("{}:/etc/app.toml:ro", host.join("config.toml").display());
    let journal = format!("{}:/var/journal.txt", host.join("journal.txt").display());
    let files = guest("files.wasm");
    let files = files.to_str().unwrap();

    // A file run: the file is there, alone in its directory, and :ro holds.
    let ran = ok(env.wharf(&["run", "-v", &config, files, "read", "/etc/app.toml"]));
    assert_eq!(ran.stdout, "port = 80");
    let ran = ok(env.wharf(&["run", "-v", &config, files, "ls", "/etc"]));
    assert_eq!(
        ran.stdout, "app.toml\n",
        "siblings of the host file stay hidden"
    );
    let ran = env.wharf(&["run", "-v", &config, files, "write", "/etc/app.toml", "x"]);
    assert_eq!(ran.code, 1, "{ran:?}");
    assert_eq!(
        std::fs::read_to_string(host.join("config.toml")).unwrap(),
        "port = 80"
    );
    // Read-write: the guest's writes reach the host file.
    let ran = ok(env.wharf(&[
        "run",
        "-v",
        &journal,
        files,
        "append",
        "/var/journal.txt",
        "b",
    ]));
    assert_eq!(ran.stdout, "ab\n");
    assert_eq!(
        std::fs::read_to_string(host.join("journal.txt")).unwrap(),
        "ab"
    );

    // In an image's root filesystem, beside the image's own files.
    build_files_image(&env);
    let mounts = ["-v", &config, "-v", &journal];
    let mut args = vec!["run"];
    args.extend(mounts);
    args.extend(["files:1", "read", "/etc/app.toml"]);
    assert_eq!(ok(env.wharf(&args)).stdout, "port = 80");
    let id = env.run_d(&[&mounts[..], &["files:1", "append", "/var/journal.txt", "c"]].concat());
    assert_eq!(env.wait(&id), 0);
    assert_eq!(
        std::fs::read_to_string(host.join("journal.txt")).unwrap(),
        "abc"
    );
    let ran = ok(env.wharf(&["run", "-v", &config, "files:1", "ls", "/bin"]));
    assert_eq!(ran.stdout, "files.wasm\n");
}

#[test]
fn cpython_reports_the_working_directory_it_was_given() {
    let env = Env::new();
    let data = env.root().join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("a.txt"), "a").unwrap();
    let volume = format!("{}:/data", data.display());
    let python = script_guest("python-cli");
    let python = python.to_str().unwrap();
    // os.getcwd() and a relative listing agree; a PWD given with -e does not mislead it.
    for env_args in [&[][..], &["-e", "PWD=/elsewhere"][..]] {
        let mut args = vec!["run", "--rm", "-v", &volume, "-w", "/data"];
        args.extend_from_slice(env_args);
        args.push(python);
        let ran = ok(env.wharf(&args));
        assert_eq!(ran.stdout, "cwd /data\nfiles a.txt\n", "{env_args:?}");
    }
}
