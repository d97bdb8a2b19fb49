//! The Docker Engine API service (`wharf system service`) driven by the stock docker CLI, on
//! a socket in the test's own directory: what `docker` does reaches the same containers and
//! images as `wharf`, errors read as Docker's, and a killed service loses nothing.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{guest, Ran, TestRoot};

/// A wharf root with its API service running, and `docker` pointed at it.
pub(crate) struct Api {
    pub(crate) env: TestRoot,
    service: Option<Child>,
}

impl Api {
    pub(crate) fn start() -> Api {
        let mut api = Api {
            env: TestRoot::new(),
            service: None,
        };
        api.restart();
        api
    }

    pub(crate) fn socket(&self) -> PathBuf {
        self.env.tmp.path().join("docker.sock")
    }

    /// Starts the service (again), and waits until it answers.
    pub(crate) fn restart(&mut self) {
        let socket = self.socket();
        let child = self
            .env
            .command(&["system", "service", "--socket", socket.to_str().unwrap()])
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.service = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.docker(&["version"]).code != 0 {
            assert!(Instant::now() < deadline, "the service did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// kill -9 of the service.
    pub(crate) fn kill_service(&mut self) {
        if let Some(mut child) = self.service.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub(crate) fn docker_command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("docker");
        cmd.env("DOCKER_HOST", format!("unix://{}", self.socket().display()))
            .env("DOCKER_CONFIG", self.env.docker_config())
            .env_remove("DOCKER_CONTEXT")
            .args(args)
            .stdin(Stdio::null());
        cmd
    }

    pub(crate) fn docker(&self, args: &[&str]) -> Ran {
        self.docker_command(args)
            .output()
            .expect("docker (the CLI) not found: scripts/install-deps.sh installs it")
            .into()
    }

    /// `docker ARGS`, which must succeed; its stdout.
    pub(crate) fn ok(&self, args: &[&str]) -> String {
        let ran = self.docker(args);
        assert_eq!(ran.code, 0, "docker {args:?}: {ran:?}");
        ran.stdout
    }

    /// Builds guest `file` into image `name` with `wharf build`.
    pub(crate) fn build(&self, name: &str, file: &str) {
        let ctx = self.env.tmp.path().join(format!("ctx-{name}"));
        std::fs::create_dir_all(&ctx).unwrap();
        std::fs::copy(guest(file), ctx.join(file)).unwrap();
        std::fs::write(
            ctx.join("Dockerfile"),
            format!("FROM scratch\nCOPY {file} /\nENTRYPOINT [\"/{file}\"]\n"),
        )
        .unwrap();
        let built = self
            .env
            .wharf(&["build", "-q", "-t", name, ctx.to_str().unwrap()]);
        assert_eq!(built.code, 0, "{built:?}");
    }
}

impl Drop for Api {
    fn drop(&mut self) {
        self.kill_service();
        // The containers' monitors outlive the service by design; the test's must not.
        let ids = self.env.wharf(&["ps", "-aq"]).stdout;
        for id in ids.split_whitespace() {
            let _ = self.env.wharf(&["rm", "-f", id]);
        }
    }
}

#[test]
fn the_docker_cli_runs_containers_through_the_service() {
    let api = Api::start();
    api.build("hello:1", "hello.wasm");
    api.build("exit3:1", "exit3.wasm");
    api.build("sleep:1", "sleep.wasm");

    let version = api.ok(&[
        "version",
        "--format",
        "{{.Server.APIVersion}} {{.Server.Os}}",
    ]);
    assert_eq!(version.trim(), format!("{} linux", wharf_api::API_VERSION));
    assert!(api.ok(&["info"]).contains("Images: 3"));
    assert!(api.ok(&["images"]).contains("hello"));

    // Attached: the guest's output and its exit code, also when removed at once (--rm).
    let ran = api.docker(&["run", "--rm", "hello:1", "a1", "a2"]);
    assert_eq!(ran.code, 0, "{ran:?}");
    assert!(
        ran.stdout
            .contains("hello from wasm\narg[0]=/hello.wasm\narg[1]=a1\narg[2]=a2\n"),
        "{ran:?}"
    );
    // --platform: a WASI platform runs; a Linux one is refused with a sentence.
    let ran = api.docker(&["run", "--rm", "--platform", "wasi/wasm", "hello:1"]);
    assert!(
        ran.code == 0 && ran.stdout.contains("hello from wasm"),
        "{ran:?}"
    );
    let ran = api.docker(&["run", "--rm", "--platform", "linux/amd64", "hello:1"]);
    assert_eq!(ran.code, 125, "{ran:?}");
    assert!(ran.stderr.contains("is not WebAssembly"), "{ran:?}");
    // -i: what is piped in is the guest's stdin, its end the guest's end-of-file.
    api.build("stdin:1", "stdin.wasm");
    let mut piped = api
        .docker_command(&["run", "-i", "--rm", "stdin:1"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut input = piped.stdin.take().unwrap();
        input.write_all(b"piped in\n").unwrap();
    }
    let out = piped.wait_with_output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "PIPED IN\nread 9 bytes\n"
    );
    let closed = api.docker(&["run", "--rm", "stdin:1"]);
    assert_eq!(closed.stdout, "read 0 bytes\n", "{closed:?}");

    // -t: one raw stream (no frames), stderr in it too, as Docker's TTY containers.
    let ran = api.docker(&["run", "--rm", "-t", "exit3:1"]);
    assert_eq!(ran.code, 3, "{ran:?}");
    assert!(
        ran.stderr.is_empty() && ran.stdout.lines().count() >= 2,
        "{ran:?}"
    );
    let ran = api.docker(&["run", "--name", "three", "exit3:1"]);
    assert_eq!(ran.code, 3, "{ran:?}");
    assert!(!ran.stdout.is_empty() && !ran.stderr.is_empty(), "{ran:?}");

    // Detached: the same containers for docker and wharf.
    let id = api.ok(&[
        "run", "-d", "--name", "sleeper", "-e", "A=B", "--label", "app=demo", "sleep:1",
    ]);
    let id = id.trim();
    assert_eq!(id.len(), 64, "{id}");
    let ps = api.ok(&["ps", "--format", "{{.Names}} {{.Status}}"]);
    assert!(ps.lines().any(|l| l.starts_with("sleeper Up")), "{ps}");
    assert!(api.env.wharf(&["ps"]).stdout.contains("sleeper"));
    let filtered = api.ok(&["ps", "-a", "--filter", "label=app=demo", "-q"]);
    assert_eq!(filtered.trim(), &id[..12]);
    let state = api.ok(&[
        "inspect",
        "-f",
        "{{.State.Status}} {{index .Config.Env 0}}",
        "sleeper",
    ]);
    assert_eq!(state.trim(), "running A=B");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !api.ok(&["logs", "sleeper"]).contains("sleeping") {
        assert!(Instant::now() < deadline, "no output in docker logs");
        std::thread::sleep(Duration::from_millis(50));
    }
    let exec = api.docker(&["exec", "sleeper", "ls"]);
    assert_eq!(exec.code, 1);
    assert!(
        exec.stderr
            .contains("Error response from daemon: exec is not supported by wharf"),
        "{exec:?}"
    );
    assert_eq!(api.ok(&["stop", "-t", "1", "sleeper"]).trim(), "sleeper");
    assert_eq!(api.ok(&["wait", "sleeper"]).trim(), "143");
    assert_eq!(
        api.ok(&["inspect", "-f", "{{.State.ExitCode}}", "sleeper"])
            .trim(),
        "143"
    );

    // A wharf container shows in docker ps; Docker's errors come back as Docker's.
    api.env.run_d(&["--name", "from-wharf", "sleep:1"]);
    assert!(api.ok(&["ps"]).contains("from-wharf"));
    let taken = api.docker(&["create", "--name", "from-wharf", "sleep:1"]);
    assert_eq!(taken.code, 1, "{taken:?}");
    assert!(
        taken.stderr.contains(
            "Error response from daemon: the container name \"from-wharf\" is already in use"
        ),
        "{taken:?}"
    );
    let missing = api.docker(&["inspect", "nosuch"]);
    assert_eq!(missing.code, 1);
    assert!(
        missing.stderr.contains("No such object: nosuch"),
        "{missing:?}"
    );
    let running = api.docker(&["rm", "from-wharf"]);
    assert_eq!(running.code, 1, "{running:?}");
    api.ok(&["kill", "from-wharf"]);
    assert_eq!(api.ok(&["wait", "from-wharf"]).trim(), "137");
    api.ok(&["restart", "-t", "1", "from-wharf"]);
    assert!(api.ok(&["ps"]).contains("from-wharf"));
    // rename: seen by wharf, a taken name refused.
    api.ok(&["rename", "from-wharf", "renamed"]);
    assert!(api.env.wharf(&["ps"]).stdout.contains("renamed"));
    assert_eq!(api.env.wharf(&["rename", "renamed", "from-wharf"]).code, 0);
    let taken = api.docker(&["rename", "from-wharf", "sleeper"]);
    assert_eq!(taken.code, 1, "{taken:?}");
    assert!(taken.stderr.contains("already in use"), "{taken:?}");
    api.ok(&["rm", "-f", "from-wharf"]);
    assert!(!api.env.wharf(&["ps", "-a"]).stdout.contains("from-wharf"));
    let pruned = api.ok(&["container", "prune", "-f"]);
    assert!(
        pruned.contains(&id[..12]) || pruned.contains(id),
        "{pruned}"
    );
    assert!(!api.ok(&["ps", "-a"]).contains("sleeper"));
}

#[test]
fn a_killed_service_loses_nothing_and_the_next_serves_the_same_containers() {
    let mut api = Api::start();
    api.build("chatty:1", "chatty.wasm");
    api.build("sleep:1", "sleep.wasm");
    api.ok(&["run", "-d", "--name", "long", "sleep:1"]);
    let mut follower = api
        .docker_command(&["logs", "-f", "long"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    api.kill_service();
    // The follower ends with the service; the container runs on.
    let deadline = Instant::now() + Duration::from_secs(20);
    while follower.try_wait().unwrap().is_none() {
        assert!(
            Instant::now() < deadline,
            "docker logs -f outlived the service"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(api.env.wharf(&["ps"]).stdout.contains("long"));
    assert_ne!(api.docker(&["ps"]).code, 0, "nothing serves the socket now");

    api.restart();
    let ps = api.ok(&["ps", "--format", "{{.Names}} {{.Status}}"]);
    assert!(ps.lines().any(|l| l.starts_with("long Up")), "{ps}");
    assert!(api.ok(&["logs", "long"]).contains("sleeping"));
    let ran = api.docker(&["run", "--rm", "chatty:1", "4", "2"]);
    assert_eq!(ran.code, 2, "{ran:?}");
    assert_eq!(ran.stdout, "out 0\nout 2\n");
    assert_eq!(ran.stderr, "err 1\nerr 3\n");
}

#[test]
fn named_volumes_and_networks_are_shared_by_docker_and_wharf() {
    let api = Api::start();
    api.build("files:1", "files.wasm");
    api.build("sleep:1", "sleep.wasm");

    // A volume made on first use keeps what one container wrote for the next.
    let wrote = api.docker(&[
        "run",
        "--rm",
        "-v",
        "shared:/data",
        "files:1",
        "write",
        "/data/note",
        "kept",
    ]);
    assert_eq!(wrote.code, 0, "{wrote:?}");
    let read = api.docker(&[
        "run",
        "--rm",
        "--mount",
        "type=volume,source=shared,target=/v,readonly",
        "files:1",
        "read",
        "/v/note",
    ]);
    assert!(read.stdout.contains("kept"), "{read:?}");
    assert!(api
        .env
        .wharf(&["volume", "ls", "-q"])
        .stdout
        .contains("shared"));
    let read = api.env.wharf(&[
        "run",
        "--rm",
        "-v",
        "shared:/data",
        "files:1",
        "read",
        "/data/note",
    ]);
    assert!(read.stdout.contains("kept"), "{read:?}");
    let mountpoint = api.ok(&["volume", "inspect", "-f", "{{.Mountpoint}}", "shared"]);
    assert!(
        mountpoint.trim().ends_with("volumes/shared/_data"),
        "{mountpoint}"
    );

    // In use: refused; unused: removed. An anonymous volume goes with rm -v.
    api.ok(&[
        "run",
        "-d",
        "--name",
        "user",
        "-v",
        "shared:/data",
        "-v",
        "/scratch",
        "sleep:1",
    ]);
    let refused = api.docker(&["volume", "rm", "shared"]);
    assert_eq!(refused.code, 1, "{refused:?}");
    assert!(refused.stderr.contains("in use"), "{refused:?}");
    let volumes = api.ok(&["volume", "ls", "-q"]);
    assert_eq!(volumes.lines().count(), 2, "{volumes}");

    // Networks: made by wharf, seen by docker, joined, refused while in use.
    assert_eq!(
        api.env
            .wharf(&["network", "create", "--label", "a=b", "backend"])
            .code,
        0
    );
    assert!(api.ok(&["network", "ls"]).contains("backend"));
    api.ok(&["network", "connect", "--alias", "cache", "backend", "user"]);
    let members = api.ok(&[
        "network",
        "inspect",
        "-f",
        "{{range .Containers}}{{.Name}}{{end}}",
        "backend",
    ]);
    assert_eq!(members.trim(), "user");
    let aliases = api.ok(&[
        "inspect",
        "-f",
        "{{json .NetworkSettings.Networks.backend.Aliases}}",
        "user",
    ]);
    assert_eq!(aliases.trim(), r#"["cache"]"#);
    let in_use = api.docker(&["network", "rm", "backend"]);
    assert_eq!(in_use.code, 1, "{in_use:?}");
    assert!(in_use.stderr.contains("active endpoints"), "{in_use:?}");
    assert_eq!(api.docker(&["network", "rm", "bridge"]).code, 1);

    api.ok(&["rm", "-f", "-v", "user"]);
    assert_eq!(
        api.ok(&["volume", "ls", "-q"]).trim(),
        "shared",
        "rm -v removes only the anonymous volume"
    );
    api.ok(&["network", "rm", "backend"]);
    // prune takes anonymous volumes (Docker 23+), -a the unused named ones too.
    api.ok(&["create", "-v", "/anon", "sleep:1"]);
    api.ok(&["container", "prune", "-f"]);
    assert_eq!(api.ok(&["volume", "ls", "-q"]).lines().count(), 2);
    let pruned = api.ok(&["volume", "prune", "-f"]);
    assert!(pruned.contains("Total reclaimed space"), "{pruned}");
    assert_eq!(api.ok(&["volume", "ls", "-q"]).trim(), "shared");
    let pruned = api.ok(&["volume", "prune", "-a", "-f"]);
    assert!(pruned.contains("shared"), "{pruned}");
    assert!(api.ok(&["volume", "ls", "-q"]).trim().is_empty());
}

#[test]
fn the_socket_is_owner_only_and_tcp_is_loopback_unless_forced() {
    use std::os::unix::fs::PermissionsExt;
    let api = Api::start();
    let mode = std::fs::metadata(api.socket())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "socket mode {mode:o}");
    // A second service on the same socket is refused; the first keeps serving.
    let second = api.env.wharf(&[
        "system",
        "service",
        "--socket",
        api.socket().to_str().unwrap(),
    ]);
    assert_eq!(second.code, 125, "{second:?}");
    assert!(
        second.stderr.contains("another service is listening"),
        "{second:?}"
    );
    assert_eq!(api.docker(&["version"]).code, 0);

    let port = crate::support::free_port();
    let socket = api.env.tmp.path().join("tcp.sock");
    let refused = api.env.wharf(&[
        "system",
        "service",
        "--socket",
        socket.to_str().unwrap(),
        "--tcp",
        &format!("0.0.0.0:{port}"),
    ]);
    assert_eq!(refused.code, 125, "{refused:?}");
    assert!(refused.stderr.contains("--tcp-any"), "{refused:?}");
    let tcp = api
        .env
        .command(&[
            "system",
            "service",
            "--socket",
            socket.to_str().unwrap(),
            "--tcp",
            &format!("127.0.0.1:{port}"),
        ])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let host = format!("tcp://127.0.0.1:{port}");
    loop {
        let ran: Ran = Command::new("docker")
            .args(["-H", &host, "version", "-f", "{{.Server.APIVersion}}"])
            .env("DOCKER_CONFIG", api.env.docker_config())
            .output()
            .unwrap()
            .into();
        if ran.code == 0 {
            assert_eq!(ran.stdout.trim(), wharf_api::API_VERSION);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the TCP service did not answer: {ran:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // SAFETY: kill has no memory preconditions.
    unsafe { libc::kill(tcp.id() as i32, libc::SIGTERM) };
    let out = tcp.wait_with_output().unwrap();
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("WARNING"),
        "no TCP warning"
    );
    assert!(!socket.exists(), "the stopped service left its socket");
}

#[test]
fn memory_limits_restart_policies_publish_all_and_prune_through_the_docker_cli() {
    let api = Api::start();
    api.build("memhog:1", "memhog.wasm");
    api.build("exit3:1", "exit3.wasm");
    api.build("hello:1", "hello.wasm");
    let ctx = api.env.tmp.path().join("ctx-exposed");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::copy(guest("sleep.wasm"), ctx.join("sleep.wasm")).unwrap();
    std::fs::write(
        ctx.join("Dockerfile"),
        "FROM scratch\nCOPY sleep.wasm /\nEXPOSE 7000\nENTRYPOINT [\"/sleep.wasm\"]\n",
    )
    .unwrap();
    assert_eq!(
        api.env
            .wharf(&["build", "-q", "-t", "exposed:1", ctx.to_str().unwrap()])
            .code,
        0
    );

    // -m: the guest dies of the limit, 137, OOMKilled.
    let hog = api.docker(&["run", "--name", "hog", "-m", "16m", "memhog:1", "64"]);
    assert_eq!(hog.code, 137, "{hog:?}");
    assert_eq!(
        api.ok(&["inspect", "-f", "{{.State.OOMKilled}}", "hog"])
            .trim(),
        "true"
    );

    // --cpus, --read-only and --stop-timeout reach the core through HostConfig and Config.
    api.ok(&[
        "create",
        "--name",
        "limited",
        "--cpus",
        "0.5",
        "--read-only",
        "--stop-timeout",
        "4",
        "memhog:1",
    ]);
    let shown = api.ok(&[
        "inspect",
        "-f",
        "{{.HostConfig.NanoCpus}} {{.HostConfig.ReadonlyRootfs}} {{.Config.StopTimeout}}",
        "limited",
    ]);
    assert_eq!(shown.trim(), "500000000 true 4");

    // --restart on-failure:2: two restarts, then it stays exited.
    api.ok(&[
        "run",
        "-d",
        "--name",
        "flaky",
        "--restart",
        "on-failure:2",
        "exit3:1",
    ]);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let state = api.ok(&[
            "inspect",
            "-f",
            "{{.RestartCount}} {{.State.Status}}",
            "flaky",
        ]);
        if state.trim() == "2 exited" {
            break;
        }
        assert!(Instant::now() < deadline, "flaky is {state}");
        std::thread::sleep(Duration::from_millis(50));
    }

    // -P: the image's EXPOSEd port gets a free host port.
    api.ok(&["run", "-d", "--name", "pub", "-P", "exposed:1"]);
    let port = api.ok(&["port", "pub", "7000"]);
    assert!(port.trim().starts_with("0.0.0.0:"), "{port}");
    api.ok(&["rm", "-f", "pub", "hog", "flaky", "limited"]);

    // image prune -a: every image no container uses goes.
    api.ok(&[
        "run",
        "-d",
        "--name",
        "keeper",
        "--restart",
        "no",
        "exposed:1",
    ]);
    let pruned = api.ok(&["image", "prune", "-a", "-f"]);
    assert!(pruned.contains("untagged: hello:1"), "{pruned}");
    let left = api.ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    assert_eq!(left.trim(), "exposed:1", "{left}");
}
