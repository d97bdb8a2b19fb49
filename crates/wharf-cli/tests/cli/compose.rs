//! docker-compose (Debian's 1.29.2, on docker-py 5) driving the API service: a project of a
//! wasi:http web service (a published port, environment, a bind mount, a restart policy) and
//! a wasi:sockets server with a named volume that the web service reaches by its service
//! name, through up, ps, logs, up again, stop, down, down -v.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::docker_api::Api;
use crate::support::{free_port, Ran};

const COMPOSE: &str = "\
version: \"3.8\"
services:
  db:
    image: echo:1
    command: [\"serve\", \"6379\", \"db\"]
    restart: always
    volumes:
      - dbdata:/data
  web:
    image: http:1
    ports:
      - \"PORT:8080\"
    environment:
      - A=B
    volumes:
      - ./data:/data
    restart: unless-stopped
    depends_on:
      - db
volumes:
  dbdata:
";

impl Api {
    fn compose(&self, dir: &std::path::Path, args: &[&str]) -> Ran {
        Command::new("docker-compose")
            .current_dir(dir)
            .env("DOCKER_HOST", format!("unix://{}", self.socket().display()))
            .env("DOCKER_CONFIG", self.env.docker_config())
            .args(["-p", "proj"])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("docker-compose not found: scripts/install-deps.sh installs it")
            .into()
    }
}

fn get(port: u16) -> Option<String> {
    get_path(port, "/")
}

fn get_path(port: u16, path: &str) -> Option<String> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    stream
        .write_all(format!("GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").as_bytes())
        .ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).ok()?;
    Some(answer)
}

#[test]
fn a_compose_project_goes_up_and_down() {
    let api = Api::start();
    api.build("echo:1", "echo.wasm");
    api.build("http:1", "http-server.wasm");
    let dir = api.env.tmp.path().join("project");
    std::fs::create_dir_all(dir.join("data")).unwrap();
    let port = free_port();
    std::fs::write(
        dir.join("docker-compose.yml"),
        COMPOSE.replace("PORT", &port.to_string()),
    )
    .unwrap();
    let ok = |args: &[&str]| {
        let ran = api.compose(&dir, args);
        assert_eq!(ran.code, 0, "docker-compose {args:?}: {ran:?}");
        ran
    };

    ok(&["up", "-d"]);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !get(port).is_some_and(|a| a.contains("hello from wasi:http")) {
        assert!(
            Instant::now() < deadline,
            "the web service never answered on {port}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // The project's network, volume and containers, as docker and wharf see them.
    assert!(api.ok(&["network", "ls"]).contains("proj_default"));
    assert!(api.ok(&["volume", "ls"]).contains("proj_dbdata"));
    let ps = ok(&["ps"]).stdout;
    assert!(
        ps.contains("proj_web_1") && ps.contains("proj_db_1"),
        "{ps}"
    );
    assert!(ps.contains(&format!("0.0.0.0:{port}->8080/tcp")), "{ps}");
    assert!(api.env.wharf(&["ps"]).stdout.contains("proj_db_1"));
    let env = api.ok(&[
        "inspect",
        "-f",
        "{{json .Config.Env}} {{.HostConfig.RestartPolicy.Name}}",
        "proj_web_1",
    ]);
    assert!(
        env.contains("A=B") && env.contains("unless-stopped"),
        "{env}"
    );
    let logs = ok(&["logs", "--tail=5", "db"]);
    assert!(logs.stdout.contains("listening on 6379"), "{logs:?}");
    // The web service reaches db by its service name on the project network (an outgoing
    // wasi:http request to http://db:6379/, answered by db's wasi:sockets listener).
    let fetched = get_path(port, "/fetch/db:6379").unwrap_or_default();
    assert!(fetched.contains("db: GET / HTTP/1.1"), "{fetched}");
    let inspect = api.ok(&[
        "network",
        "inspect",
        "-f",
        "{{range .Containers}}{{.Name}}={{.IPv4Address}} {{end}}",
        "proj_default",
    ]);
    assert!(
        inspect.contains("proj_db_1=10.89.") && inspect.contains("proj_web_1=10.89."),
        "{inspect}"
    );

    // Nothing changed: nothing is recreated.
    let again = ok(&["up", "-d"]);
    let said = again.stdout + &again.stderr;
    assert!(
        said.contains("proj_db_1 is up-to-date") && said.contains("proj_web_1 is up-to-date"),
        "{said}"
    );

    ok(&["stop"]);
    assert!(
        get(port).is_none(),
        "the web service still answers after stop"
    );
    let ps = api.ok(&["ps", "-a", "--format", "{{.Names}} {{.Status}}"]);
    assert!(ps.lines().all(|l| l.contains("Exited")), "{ps}");

    ok(&["down"]);
    assert!(!api.ok(&["ps", "-a"]).contains("proj_"));
    assert!(!api.ok(&["network", "ls"]).contains("proj_default"));
    assert!(
        api.ok(&["volume", "ls"]).contains("proj_dbdata"),
        "down keeps named volumes"
    );
    ok(&["down", "-v"]);
    assert!(!api.ok(&["volume", "ls"]).contains("proj_dbdata"));
}
