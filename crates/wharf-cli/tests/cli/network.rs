//! Guests on the network: wasi:sockets servers published with `-p`/`-P`, each with its own
//! ports; outgoing connections and DNS by network mode (`tests/guests/sockets/echo.c`).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use crate::support::{free_port, guest, run_in, Ran};

/// Sends `line` to 127.0.0.1:`port` and returns the one-line answer.
fn ask(port: u16, line: &str) -> std::io::Result<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    writeln!(stream, "{line}")?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    Ok(answer)
}

/// Waits until `wharf logs NAME` shows `needle` (the guest compiles first: allow time).
fn wait_for_log(root: &Path, name: &str, needle: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let logs = run_in(root, &["logs", name]);
        if logs.stdout.contains(needle) {
            return logs.stdout;
        }
        assert!(
            Instant::now() < deadline,
            "{name} never logged {needle:?}: {logs:?} {:?}",
            run_in(root, &["ps", "-a"])
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A server on the host's loopback that answers each connection's line with "host: LINE".
fn host_echo_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut line = String::new();
            if BufReader::new(&stream).read_line(&mut line).is_ok() {
                let _ = write!(stream, "host: {line}");
            }
        }
    });
    port
}

fn echo() -> String {
    guest("echo.wasm").to_str().unwrap().to_string()
}

#[test]
fn two_socket_guests_listen_on_the_same_guest_port() {
    let root = tempfile::tempdir().unwrap();
    let wharf = |args: &[&str]| -> Ran { run_in(root.path(), args) };
    let echo = echo();
    let (one, two) = (free_port(), free_port());
    for (name, port) in [("one", one), ("two", two)] {
        let publish = format!("127.0.0.1:{port}:8080");
        let ran = wharf(&[
            "run", "-d", "--name", name, "-p", &publish, &echo, "serve", "8080", name,
        ]);
        assert_eq!(ran.code, 0, "{ran:?}");
    }
    // Each guest sees the port it asked for, not the host port it really has.
    wait_for_log(root.path(), "one", "listening on 8080");
    wait_for_log(root.path(), "two", "listening on 8080");
    assert_eq!(ask(one, "hi").unwrap(), "one: hi\n");
    assert_eq!(ask(two, "hi").unwrap(), "two: hi\n");
    assert_eq!(ask(one, "again").unwrap(), "one: again\n");
    let ports = wharf(&["port", "two"]);
    assert_eq!(ports.stdout, format!("8080/tcp -> 127.0.0.1:{two}\n"));
    // "quit" ends a server: its container exits 0 and its port closes.
    assert_eq!(ask(two, "quit").unwrap(), "two: quit\n");
    assert_eq!(wharf(&["wait", "two"]).stdout, "0\n");
    assert!(TcpStream::connect(("127.0.0.1", two)).is_err());
    assert_eq!(ask(one, "still").unwrap(), "one: still\n");
    assert_eq!(wharf(&["rm", "-f", "one", "two"]).code, 0);
    assert!(TcpStream::connect(("127.0.0.1", one)).is_err());
}

#[test]
fn an_unpublished_port_is_not_reachable_and_ipv6_guests_work() {
    let root = tempfile::tempdir().unwrap();
    let wharf = |args: &[&str]| -> Ran { run_in(root.path(), args) };
    let echo = echo();
    let guest_port = free_port();
    let ran = wharf(&[
        "run",
        "-d",
        "--name",
        "hidden",
        &echo,
        "serve",
        &guest_port.to_string(),
        "hidden",
    ]);
    assert_eq!(ran.code, 0, "{ran:?}");
    wait_for_log(root.path(), "hidden", &format!("listening on {guest_port}"));
    // The guest believes it listens on guest_port; nothing on the host does.
    assert!(TcpStream::connect(("127.0.0.1", guest_port)).is_err());
    assert!(TcpStream::connect(("0.0.0.0", guest_port)).is_err());

    // An IPv6 guest binding [::]:8080, published on an IPv4 host address.
    let port = free_port();
    let publish = format!("127.0.0.1:{port}:8080");
    let ran = wharf(&[
        "run", "-d", "--name", "six", "-p", &publish, &echo, "serve", "8080", "six", "v6",
    ]);
    assert_eq!(ran.code, 0, "{ran:?}");
    wait_for_log(root.path(), "six", "listening on 8080");
    let answer = std::net::TcpStream::connect(("::1", port))
        .and_then(|mut s| {
            writeln!(s, "hi")?;
            let mut a = String::new();
            s.read_to_string(&mut a)?;
            Ok(a)
        })
        .unwrap();
    assert_eq!(answer, "six: hi\n");
    assert_eq!(wharf(&["rm", "-f", "hidden", "six"]).code, 0);
}

#[test]
fn outgoing_connections_and_dns_follow_the_network_mode() {
    let root = tempfile::tempdir().unwrap();
    let wharf = |args: &[&str]| -> Ran { run_in(root.path(), args) };
    let echo = echo();
    let host = host_echo_server().to_string();

    // bridge (the default): outgoing connections and name lookups work.
    let ran = wharf(&["run", &echo, "connect", "127.0.0.1", &host, "out"]);
    assert_eq!(
        (ran.code, ran.stdout.as_str()),
        (0, "host: out\n"),
        "{ran:?}"
    );
    let ran = wharf(&["run", &echo, "connect", "localhost", &host, "named"]);
    assert_eq!(
        (ran.code, ran.stdout.as_str()),
        (0, "host: named\n"),
        "{ran:?}"
    );

    // none: no sockets, no lookups; a published port cannot be listened on (only wharf's own
    // server for wasi:http components uses it).
    let ran = wharf(&[
        "run",
        "--network",
        "none",
        &echo,
        "connect",
        "127.0.0.1",
        &host,
        "x",
    ]);
    assert_eq!(ran.code, 1, "{ran:?}");
    assert!(ran.stderr.contains("access-denied"), "{ran:?}");
    let ran = wharf(&[
        "run",
        "--network",
        "none",
        &echo,
        "connect",
        "localhost",
        &host,
        "x",
    ]);
    assert_eq!(ran.code, 1, "{ran:?}");
    assert!(ran.stderr.contains("error: resolve"), "{ran:?}");
    let ran = wharf(&[
        "run",
        "--network",
        "none",
        "-p",
        "8080",
        &echo,
        "serve",
        "8080",
        "x",
    ]);
    assert_eq!(ran.code, 1, "{ran:?}");
    assert!(
        ran.stderr.contains("error: create socket: access-denied"),
        "{ran:?}"
    );
    let ran = wharf(&["run", "--network", "overlay", &echo, "serve", "8080", "x"]);
    assert_eq!(ran.code, 125, "{ran:?}");

    // host: the guest binds the host's port itself.
    let port = free_port();
    let ran = wharf(&[
        "run",
        "-d",
        "--name",
        "hostnet",
        "--network",
        "host",
        &echo,
        "serve",
        &port.to_string(),
        "hostnet",
    ]);
    assert_eq!(ran.code, 0, "{ran:?}");
    wait_for_log(root.path(), "hostnet", &format!("listening on {port}"));
    assert_eq!(ask(port, "direct").unwrap(), "hostnet: direct\n");
    let inspect = wharf(&["inspect", "hostnet"]);
    assert!(
        inspect.stdout.contains("\"NetworkMode\": \"host\""),
        "{inspect:?}"
    );
    assert_eq!(wharf(&["rm", "-f", "hostnet"]).code, 0);
}

#[test]
fn publish_all_gives_exposed_ports_free_host_ports() {
    let root = tempfile::tempdir().unwrap();
    let wharf = |args: &[&str]| -> Ran { run_in(root.path(), args) };
    let context = tempfile::tempdir().unwrap();
    std::fs::copy(guest("echo.wasm"), context.path().join("echo.wasm")).unwrap();
    std::fs::write(
        context.path().join("Dockerfile"),
        "FROM scratch\nCOPY echo.wasm /\nEXPOSE 7000\nENTRYPOINT [\"/echo.wasm\"]\n",
    )
    .unwrap();
    let ran = wharf(&[
        "build",
        "-q",
        "-t",
        "echo:1",
        context.path().to_str().unwrap(),
    ]);
    assert_eq!(ran.code, 0, "{ran:?}");
    let ran = wharf(&[
        "run", "-d", "--name", "all", "-P", "echo:1", "serve", "7000", "all",
    ]);
    assert_eq!(ran.code, 0, "{ran:?}");
    let ports = wharf(&["port", "all"]);
    let host_port: u16 = ports
        .stdout
        .trim()
        .strip_prefix("7000/tcp -> 0.0.0.0:")
        .unwrap_or_else(|| panic!("{ports:?}"))
        .parse()
        .unwrap();
    assert_ne!(host_port, 0);
    wait_for_log(root.path(), "all", "listening on 7000");
    assert_eq!(ask(host_port, "exposed").unwrap(), "all: exposed\n");
    let ps = wharf(&["ps"]);
    assert!(
        ps.stdout
            .contains(&format!("0.0.0.0:{host_port}->7000/tcp")),
        "{ps:?}"
    );
    let inspect = wharf(&["inspect", "all"]);
    assert!(
        inspect.stdout.contains("\"NetworkSettings\""),
        "{inspect:?}"
    );
    assert_eq!(wharf(&["rm", "-f", "all"]).code, 0);
}

#[test]
fn a_host_port_in_use_fails_at_start() {
    let root = tempfile::tempdir().unwrap();
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let publish = format!("127.0.0.1:{port}:8080");
    let echo = echo();
    let ran = run_in(
        root.path(),
        &["run", "-p", &publish, &echo, "serve", "8080", "x"],
    );
    assert_eq!(ran.code, 125, "{ran:?}");
    assert!(ran.stderr.contains("in use"), "{ran:?}");
    // Detached, the error comes from `run` too, and no container is left running.
    let ran = run_in(
        root.path(),
        &["run", "-d", "-p", &publish, &echo, "serve", "8080", "x"],
    );
    assert_eq!(ran.code, 125, "{ran:?}");
    assert!(ran.stderr.contains("in use"), "{ran:?}");
    assert_eq!(run_in(root.path(), &["ps", "-q"]).stdout, "");
}

#[test]
fn preview1_servers_get_pre_opened_listeners() {
    let root = tempfile::tempdir().unwrap();
    let wharf = |args: &[&str]| -> Ran { run_in(root.path(), args) };
    let listen = guest("listen.wasm");
    let listen = listen.to_str().unwrap();
    let data = tempfile::tempdir().unwrap();
    std::fs::write(data.path().join("greeting"), "from a mount").unwrap();
    let mount = format!("{}:/data:ro", data.path().display());

    // Two preview1 servers "on guest port 8080", each on its own host port; each finds its
    // mount after its listener (descriptor 3).
    let (one, two) = (free_port(), free_port());
    for (name, port) in [("one", one), ("two", two)] {
        let publish = format!("127.0.0.1:{port}:8080");
        let ran = wharf(&[
            "run",
            "-d",
            "--name",
            name,
            "-p",
            &publish,
            "-v",
            &mount,
            listen,
            name,
            "/data/greeting",
        ]);
        assert_eq!(ran.code, 0, "{ran:?}");
    }
    let logs = wait_for_log(root.path(), "one", "serving 1 listeners");
    assert!(logs.contains("file: from a mount"), "{logs}");
    wait_for_log(root.path(), "two", "serving 1 listeners");
    // Answers alternate between write() and send() in the guest.
    assert_eq!(ask(one, "hi").unwrap(), "one: hi\n");
    assert_eq!(ask(two, "hi").unwrap(), "two: hi\n");
    assert_eq!(ask(one, "again").unwrap(), "one: again\n");
    assert_eq!(ask(one, "third").unwrap(), "one: third\n");
    // "quit" ends one server; its port closes and the other keeps serving.
    assert_eq!(ask(two, "quit").unwrap(), "two: quit\n");
    assert_eq!(wharf(&["wait", "two"]).stdout, "0\n");
    assert!(TcpStream::connect(("127.0.0.1", two)).is_err());
    // A server blocked in accept() stops when asked, and lets go of its port.
    assert_eq!(ask(one, "still").unwrap(), "one: still\n");
    assert_eq!(wharf(&["stop", "one"]).code, 0);
    assert!(TcpStream::connect(("127.0.0.1", one)).is_err());
    assert_eq!(wharf(&["rm", "one", "two"]).code, 0);
}

#[test]
fn a_preview1_server_with_several_ports_and_without_network() {
    let root = tempfile::tempdir().unwrap();
    let wharf = |args: &[&str]| -> Ran { run_in(root.path(), args) };
    let listen = guest("listen.wasm");
    let listen = listen.to_str().unwrap();
    // Two published ports: descriptors 3 and 4, LISTEN_FDS=2, served in non-blocking mode.
    let (a, b) = (free_port(), free_port());
    let ran = wharf(&[
        "run",
        "-d",
        "--name",
        "multi",
        "-p",
        &format!("127.0.0.1:{a}:80"),
        "-p",
        &format!("127.0.0.1:{b}:81"),
        listen,
        "multi",
    ]);
    assert_eq!(ran.code, 0, "{ran:?}");
    wait_for_log(root.path(), "multi", "serving 2 listeners");
    assert_eq!(ask(b, "on b").unwrap(), "multi: on b\n");
    assert_eq!(ask(a, "on a").unwrap(), "multi: on a\n");
    assert_eq!(wharf(&["rm", "-f", "multi"]).code, 0);

    // --network none: nothing is handed over.
    let ran = wharf(&[
        "run",
        "--network",
        "none",
        "-p",
        &format!("127.0.0.1:{a}:80"),
        listen,
        "x",
    ]);
    assert_eq!(ran.code, 2, "{ran:?}");
    assert!(ran.stderr.contains("no listener"), "{ran:?}");
    // Without -p the same: a preview1 module has no other way to a socket.
    let ran = wharf(&["run", listen, "x"]);
    assert_eq!(ran.code, 2, "{ran:?}");
}

/// GETs `path` from 127.0.0.1:`port`: the status line and body.
fn http_get(port: u16, path: &str) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    write!(stream, "GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
}

#[test]
fn members_of_a_user_network_reach_each_other_by_name() {
    let root = tempfile::tempdir().unwrap();
    let wharf = |args: &[&str]| -> Ran { run_in(root.path(), args) };
    let ok = |args: &[&str]| {
        let ran = wharf(args);
        assert_eq!(ran.code, 0, "wharf {args:?}: {ran:?}");
        ran.stdout
    };
    let echo = echo();
    ok(&["network", "create", "app"]);
    ok(&["network", "create", "other"]);
    let serve = |name: &str, port: &str, extra: &[&str]| {
        let mut args = vec!["run", "-d", "--name", name, "--network", "app"];
        args.extend(extra);
        args.extend([echo.as_str(), "serve", port, name]);
        ok(&args);
        wait_for_log(root.path(), name, &format!("listening on {port}"));
    };
    serve("db", "6379", &[]);
    serve("cache", "7000", &["--network-alias", "kv"]);

    // By container name, by alias, by address; the answer comes from the right listener.
    let connect = |network: &str, host: &str, port: &str| {
        wharf(&[
            "run",
            "--network",
            network,
            &echo,
            "connect",
            host,
            port,
            "hi",
        ])
    };
    let ran = connect("app", "db", "6379");
    assert_eq!((ran.code, ran.stdout.as_str()), (0, "db: hi\n"), "{ran:?}");
    let ran = connect("app", "kv", "7000");
    assert_eq!(
        (ran.code, ran.stdout.as_str()),
        (0, "cache: hi\n"),
        "{ran:?}"
    );
    let inspect = ok(&["network", "inspect", "app"]);
    let networks: serde_json::Value = serde_json::from_str(&inspect).unwrap();
    let subnet = networks[0]["IPAM"]["Config"][0]["Subnet"].as_str().unwrap();
    assert!(
        subnet.starts_with("10.89.") && subnet.ends_with(".0/24"),
        "{inspect}"
    );
    let db: serde_json::Value = serde_json::from_str(&ok(&["inspect", "db"])).unwrap();
    let db_ip = db[0]["NetworkSettings"]["Networks"]["app"]["IPAddress"]
        .as_str()
        .unwrap()
        .to_string();
    let db_ip = db_ip.as_str();
    assert!(
        db_ip.starts_with(&subnet[..subnet.len() - 4]),
        "{db_ip} in {subnet}"
    );
    let ran = connect("app", db_ip, "6379");
    assert_eq!((ran.code, ran.stdout.as_str()), (0, "db: hi\n"), "{ran:?}");

    // A port nobody listens on is refused; so is everything from off the network, and names
    // do not resolve there (nor on the default bridge, as on Docker's).
    let ran = connect("app", "db", "6380");
    assert!(
        ran.code == 1 && ran.stderr.contains("connection-refused"),
        "{ran:?}"
    );
    let ran = connect("other", db_ip, "6379");
    assert!(
        ran.code == 1 && ran.stderr.contains("connection-refused"),
        "{ran:?}"
    );
    for network in ["other", "bridge"] {
        let ran = connect(network, "db", "6379");
        assert!(
            ran.code == 1 && ran.stderr.contains("error: resolve"),
            "{ran:?}"
        );
    }

    // A wasi:http server on the network reaches db with an outgoing request, and is reached
    // by name on its guest port by another one.
    let port = free_port().to_string();
    let publish = format!("127.0.0.1:{port}:8080");
    let http = guest("http-server.wasm");
    let http = http.to_str().unwrap();
    let web = [
        "run",
        "-d",
        "--name",
        "web",
        "--network",
        "app",
        "-p",
        &publish,
        http,
    ];
    ok(&web);
    let port: u16 = port.parse().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "web never listened");
        std::thread::sleep(Duration::from_millis(100));
    }
    let answer = http_get(port, "/fetch/db:6379");
    assert!(
        answer.contains("200") && answer.contains("db: GET / HTTP/1.1"),
        "{answer}"
    );
    let answer = http_get(port, "/fetch/web:8080");
    assert!(answer.contains("hello from wasi:http"), "{answer}");
    let answer = http_get(port, "/fetch/nosuch.invalid:80");
    assert!(answer.contains("502"), "{answer}");

    // A stopped member listens nowhere; a user network that does not exist is refused.
    ok(&["stop", "db"]);
    let ran = connect("app", "db", "6379");
    assert!(
        ran.code == 1 && ran.stderr.contains("connection-refused"),
        "{ran:?}"
    );
    let ran = connect("nosuch", "db", "6379");
    assert_eq!(ran.code, 125, "{ran:?}");
    assert!(ran.stderr.contains("network nosuch not found"), "{ran:?}");
    ok(&["rm", "-f", "db", "cache", "web"]);
}
