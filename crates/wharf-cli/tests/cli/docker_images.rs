//! Images through the API service with the stock docker CLI: pull, tag, push (with a login),
//! rmi, save and load, `docker build` on the legacy builder's endpoint; and a service killed
//! in the middle of a pull. (The harness is `docker_api`'s.)

use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::docker_api::Api;
use crate::services::Registry;
use crate::support::{guest, Ran};

#[test]
fn the_docker_cli_pulls_tags_pushes_and_removes_images() {
    let api = Api::start();
    let registry = Registry::start();
    api.build("hello:1", "hello.wasm");
    let remote = format!("{}/team/hello:2", registry.addr);
    api.ok(&["tag", "hello:1", &remote]);
    // `docker images REPOSITORY` and --filter reach the core's image query.
    let listed = api.ok(&["images", "--format", "{{.Repository}}:{{.Tag}}", "hello"]);
    assert_eq!(listed.trim(), "hello:1", "{listed}");
    let none = api.ok(&["images", "-q", "--filter", "label=nosuch"]);
    assert!(none.trim().is_empty(), "{none}");
    let bad = api.docker(&["images", "--filter", "color=red"]);
    assert_ne!(bad.code, 0, "{bad:?}");
    assert!(bad.stderr.contains("invalid filter"), "{bad:?}");
    let pushed = api.ok(&["push", &remote]);
    assert!(pushed.contains("2: digest: sha256:"), "{pushed}");
    let removed = api.ok(&["rmi", &remote]);
    assert!(
        removed.contains(&format!("Untagged: {remote}")),
        "{removed}"
    );
    api.ok(&["rmi", "hello:1"]);
    assert!(!api.ok(&["images"]).contains("hello"));

    let pulled = api.ok(&["pull", &remote]);
    assert!(
        pulled.contains("Status: Downloaded newer image"),
        "{pulled}"
    );
    let ran = api.docker(&["run", "--rm", &remote]);
    assert_eq!(ran.code, 0, "{ran:?}");
    assert!(ran.stdout.contains("hello from wasm"), "{ran:?}");
    // `docker run` of an image not in the store pulls it first (404 on create, then a pull).
    api.ok(&["rmi", &remote]);
    let ran = api.docker(&["run", "--rm", &remote, "again"]);
    assert_eq!(ran.code, 0, "{ran:?}");
    assert!(ran.stdout.contains("arg[1]=again"), "{ran:?}");
    let missing = api.docker(&["pull", &format!("{}/nosuch:1", registry.addr)]);
    assert_ne!(missing.code, 0, "{missing:?}");
}

#[test]
fn save_load_login_port_top_stats_df_and_events_through_the_docker_cli() {
    let api = Api::start();
    let registry = Registry::with_login("tester", "s3cret");
    api.build("hello:1", "hello.wasm");
    api.build("sleep:1", "sleep.wasm");
    let since = api.ok(&["version", "-f", "{{.Server.Version}}"]);
    assert!(!since.trim().is_empty());
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .to_string();

    // save and load round-trip.
    let archive = api.env.tmp.path().join("hello.tar");
    api.ok(&["save", "-o", archive.to_str().unwrap(), "hello:1"]);
    api.ok(&["rmi", "hello:1"]);
    let loaded = api.ok(&["load", "-i", archive.to_str().unwrap()]);
    assert!(loaded.contains("Loaded image: hello:1"), "{loaded}");
    let missing = api.docker(&["save", "-o", "/dev/null", "nosuch:1"]);
    assert_eq!(missing.code, 1, "{missing:?}");

    // login, then a push that needs the credentials.
    let refused = api.docker(&["login", "-u", "tester", "-p", "wrong", &registry.addr]);
    assert_ne!(refused.code, 0, "{refused:?}");
    let login = api.docker(&["login", "-u", "tester", "--password-stdin", &registry.addr]);
    assert_ne!(login.code, 0, "stdin is /dev/null: {login:?}");
    let ok = api.docker(&["login", "-u", "tester", "-p", "s3cret", &registry.addr]);
    assert!(ok.stdout.contains("Login Succeeded"), "{ok:?}");
    let remote = format!("{}/private/hello:1", registry.addr);
    api.ok(&["tag", "hello:1", &remote]);
    let pushed = api.ok(&["push", &remote]);
    assert!(pushed.contains("digest: sha256:"), "{pushed}");

    // port, top, stats, df of a running container.
    let host_port = crate::support::free_port().to_string();
    api.ok(&[
        "run",
        "-d",
        "--name",
        "ported",
        "-p",
        &format!("{host_port}:80"),
        "sleep:1",
    ]);
    let port = api.ok(&["port", "ported"]);
    assert!(
        port.contains(&format!("80/tcp -> 0.0.0.0:{host_port}")),
        "{port}"
    );
    let top = api.ok(&["top", "ported"]);
    assert!(top.contains("/sleep.wasm"), "{top}");
    let stats = api.ok(&[
        "stats",
        "--no-stream",
        "--format",
        "{{.Name}} {{.MemUsage}}",
        "ported",
    ]);
    assert!(stats.starts_with("ported "), "{stats}");
    // Streamed: a sample a second until the client goes.
    let mut streamed = api
        .docker_command(&["stats", "--format", "{{.Name}} {{.PIDs}}", "ported"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let (lines, got) = std::sync::mpsc::channel();
    let stdout = streamed.stdout.take().unwrap();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if line.contains("ported") && lines.send(line).is_err() {
                break;
            }
        }
    });
    for sample in 0..2 {
        let line = got
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|_| panic!("docker stats streamed {sample} samples, not 2"));
        // Each sample redraws the screen: escapes around "NAME PIDS".
        let mut words = line.split_whitespace();
        let pids = words.find(|w| w.ends_with("ported")).and(words.next());
        let pids = pids.unwrap_or_default();
        assert!(pids.parse::<u32>().is_ok_and(|n| n > 0), "{line:?}");
    }
    streamed.kill().unwrap();
    let _ = streamed.wait();
    let df = api.ok(&["system", "df"]);
    assert!(
        df.contains("Images") && df.contains("Containers") && df.contains("Local Volumes"),
        "{df}"
    );
    api.ok(&["rm", "-f", "ported"]);

    // The events of all that, ending at --until.
    let until = (started.parse::<u64>().unwrap() + 600).to_string();
    let events = api
        .docker_command(&[
            "events",
            "--since",
            &started,
            "--until",
            &until,
            "--filter",
            "type=container",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(1));
    let mut events = events;
    let _ = events.kill();
    let out = events.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    for action in ["create", "start", "kill", "die", "destroy"] {
        assert!(
            text.contains(&format!("container {action} ")),
            "no {action} in:\n{text}"
        );
    }
}

#[test]
fn a_service_killed_mid_pull_leaves_a_whole_store() {
    let mut api = Api::start();
    let registry = Registry::start();
    api.build("hello:1", "hello.wasm");
    api.build("sleep:1", "sleep.wasm");
    let remote = format!("{}/slow/hello:1", registry.addr);
    api.ok(&["tag", "hello:1", &remote]);
    api.ok(&["push", &remote]);
    let inspect = api.ok(&[
        "image",
        "inspect",
        "-f",
        "{{index .RootFS.Layers 0}}",
        &remote,
    ]);
    let layer = inspect.trim().to_string();
    api.ok(&["rmi", &remote, "hello:1"]);
    api.ok(&["run", "-d", "--name", "bystander", "sleep:1"]);

    // The layer trickles: the pull is mid-way when the service dies.
    let proxy = crate::services::trickling_proxy(registry.addr.clone(), layer);
    let slow = format!("{proxy}/slow/hello:1");
    let mut pull = api
        .docker_command(&["pull", &slow])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        pull.try_wait().unwrap().is_none(),
        "the pull ended before the kill"
    );
    api.kill_service();
    let deadline = Instant::now() + Duration::from_secs(20);
    while pull.try_wait().unwrap().is_none() {
        assert!(
            Instant::now() < deadline,
            "docker pull outlived the service"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_ne!(pull.wait().unwrap().code(), Some(0));

    // Nothing half-pulled is named, the bystander runs on, and the image pulls whole.
    api.restart();
    assert!(!api.ok(&["images"]).contains("slow/hello"));
    let ps = api.ok(&["ps", "--format", "{{.Names}} {{.Status}}"]);
    assert!(ps.lines().any(|l| l.starts_with("bystander Up")), "{ps}");
    api.ok(&["pull", &remote]);
    let ran = api.docker(&["run", "--rm", &remote]);
    assert!(ran.stdout.contains("hello from wasm"), "{ran:?}");
}

#[test]
fn docker_build_uses_the_legacy_builder_endpoint() {
    let api = Api::start();
    let ctx = api.env.tmp.path().join("build-ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::copy(guest("hello.wasm"), ctx.join("hello.wasm")).unwrap();
    std::fs::write(
        ctx.join("Dockerfile"),
        "FROM scratch\nARG GREETING=x\nENV GREETING=$GREETING\nCOPY hello.wasm /\nENTRYPOINT [\"/hello.wasm\"]\n",
    )
    .unwrap();
    let build = |args: &[&str]| {
        let mut all = vec!["build"];
        all.extend_from_slice(args);
        api.docker_command(&all)
            .env("DOCKER_BUILDKIT", "0")
            .output()
            .map(Ran::from)
            .unwrap()
    };
    let ctx_arg = ctx.to_str().unwrap();
    let built = build(&["-t", "built:1", "--build-arg", "GREETING=hi", ctx_arg]);
    assert_eq!(built.code, 0, "{built:?}");
    assert!(
        built.stdout.contains("Step 3/4 : COPY hello.wasm /"),
        "{built:?}"
    );
    assert!(
        built.stdout.contains("Successfully tagged built:1"),
        "{built:?}"
    );
    let ran = api.docker(&["run", "--rm", "built:1"]);
    assert!(ran.stdout.contains("env GREETING=hi"), "{ran:?}");

    // -q prints the ID alone; a Dockerfile outside the context is sent inside it.
    let quiet = build(&["-q", "-t", "built:2", ctx_arg]);
    assert!(
        quiet.stdout.trim().starts_with("sha256:") && quiet.stdout.trim().lines().count() == 1,
        "{quiet:?}"
    );
    let outside = api.env.tmp.path().join("elsewhere.Dockerfile");
    std::fs::write(
        &outside,
        "FROM scratch\nCOPY hello.wasm /\nENTRYPOINT [\"/hello.wasm\"]\n",
    )
    .unwrap();
    let built = build(&["-f", outside.to_str().unwrap(), "-t", "built:3", ctx_arg]);
    assert_eq!(built.code, 0, "{built:?}");

    // A failed step: its sentence, exit 1.
    std::fs::write(ctx.join("Dockerfile"), "FROM scratch\nCOPY nosuch /\n").unwrap();
    let failed = build(&[ctx_arg]);
    assert_eq!(failed.code, 1, "{failed:?}");
    assert!(failed.stderr.contains("nosuch"), "{failed:?}");
}

#[test]
fn docker_cp_copies_in_and_out_through_the_archive_endpoints() {
    let api = Api::start();
    api.build("files:1", "files.wasm");
    let created = api.ok(&["create", "--name", "box", "files:1", "read", "/in/note.txt"]);
    assert_eq!(created.trim().len(), 64, "{created}");
    let host = api.env.tmp.path().join("host");
    std::fs::create_dir_all(host.join("in")).unwrap();
    std::fs::write(host.join("in/note.txt"), "copied in").unwrap();
    // A directory in, then the guest reads it; a file and a directory back out.
    api.ok(&["cp", host.join("in").to_str().unwrap(), "box:/"]);
    let ran = api.docker(&["start", "-a", "box"]);
    assert_eq!(ran.code, 0, "{ran:?}");
    assert_eq!(ran.stdout, "copied in");
    let out = api.env.tmp.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    api.ok(&[
        "cp",
        "box:/in/note.txt",
        out.join("back.txt").to_str().unwrap(),
    ]);
    assert_eq!(
        std::fs::read_to_string(out.join("back.txt")).unwrap(),
        "copied in"
    );
    api.ok(&["cp", "box:/in", out.to_str().unwrap()]);
    assert_eq!(
        std::fs::read_to_string(out.join("in/note.txt")).unwrap(),
        "copied in"
    );
    let missing = api.docker(&["cp", "box:/nope", out.to_str().unwrap()]);
    assert_ne!(missing.code, 0, "{missing:?}");
    assert!(
        missing.stderr.contains("Could not find the file /nope"),
        "{missing:?}"
    );
}
