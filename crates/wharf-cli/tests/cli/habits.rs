//! Docker habits on `run`: `--platform`, `--runtime`, Linux-only flags, `-w` made inside the
//! container's filesystem, `--read-only`, `--stop-timeout`.

use crate::support::{guest, Ran, TestRoot as Env};

fn ok(ran: Ran) -> Ran {
    assert_eq!(ran.code, 0, "{ran:?}");
    ran
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
    let ctx = env.root().join("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::copy(guest("files.wasm"), ctx.join("files.wasm")).unwrap();
    std::fs::write(
        ctx.join("Dockerfile"),
        "FROM scratch\nCOPY files.wasm /bin/\nENTRYPOINT [\"/bin/files.wasm\"]\n",
    )
    .unwrap();
    ok(env.wharf(&["build", "-q", "-t", "files:1", ctx.to_str().unwrap()]));

    // A working directory the image lacks is created, and relative paths land in it.
    let id = env.run_d(&["-w", "/work/deep", "files:1", "write", "note.txt", "hi"]);
    assert_eq!(env.wait(&id), 0);
    let ran = ok(env.wharf(&["start", "-a", &id]));
    assert_eq!(ran.stdout, "wrote note.txt\n");
    let root = env.inspect(&id);
    assert_eq!(root["Config"]["WorkingDir"], "/work/deep", "{root}");
    let ran = ok(env.wharf(&["run", "-w", "/srv/x", "files:1", "ls", "/srv"]));
    assert_eq!(ran.stdout, "x\n");

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
