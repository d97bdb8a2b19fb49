//! `wharf run -p` with a wasi:http component: a fresh instance per request, limits, isolation.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::support::{free_port, guest, run_in, script_guest, wharf_in, Ran};

/// `wharf run -p 127.0.0.1:PORT:80 FLAGS... http-server.wasm`, waited for until it serves.
struct Server {
    child: Child,
    port: u16,
    _root: tempfile::TempDir,
}

impl Server {
    fn start(flags: &[&str]) -> Server {
        Server::start_guest(&guest("http-server.wasm"), flags)
    }

    fn start_guest(component: &std::path::Path, flags: &[&str]) -> Server {
        let root = tempfile::tempdir().unwrap();
        let port = free_port();
        let publish = format!("127.0.0.1:{port}:80");
        let mut child = wharf_in(root.path())
            .args(["run", "-p", &publish])
            .args(flags)
            .arg(component)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let mut line = String::new();
        stderr.read_line(&mut line).unwrap();
        assert!(line.contains("published on"), "{line}");
        std::thread::spawn(move || {
            let mut rest = String::new();
            let _ = stderr.read_to_string(&mut rest);
        });
        Server {
            child,
            port,
            _root: root,
        }
    }

    fn get(&self, path: &str) -> (u16, String) {
        request(self.port, "GET", path, b"")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP/1.1 request on its own connection; returns status and body.
fn request(port: u16, method: &str, path: &str, body: &[u8]) -> (u16, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .unwrap();
    stream.write_all(body).unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    parse(&response)
}

/// Status and (de-chunked) body of a whole response.
fn parse(response: &[u8]) -> (u16, String) {
    let text = String::from_utf8_lossy(response).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .unwrap_or("0")
        .parse()
        .unwrap_or(0);
    if !head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        return (status, body.to_string());
    }
    let mut out = String::new();
    let mut rest = body;
    while let Some((size, after)) = rest.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        out.push_str(&after[..size]);
        rest = &after[size + 2..];
    }
    (status, out)
}

/// A guest from a language toolchain: hello, echo (bodies both ways), 404.
fn serves_a_script_guest(lang: &str, hello: &str) {
    let server = Server::start_guest(&script_guest(lang), &[]);
    assert_eq!(server.get("/"), (200, hello.to_string()));
    assert_eq!(server.get("/nope").0, 404);
    let body: Vec<u8> = (0..100_000).map(|i| b'a' + (i % 26) as u8).collect();
    let (status, echoed) = request(server.port, "POST", "/echo", &body);
    assert_eq!(status, 200);
    assert_eq!(echoed.as_bytes(), body.as_slice());
    assert_eq!(server.get("/"), (200, hello.to_string()));
}

#[test]
fn serves_a_python_component() {
    serves_a_script_guest("python", "hello from python\n");
}

#[test]
fn serves_a_javascript_component() {
    serves_a_script_guest("js", "hello from javascript\n");
}

#[test]
fn serves_each_request_from_a_fresh_instance() {
    let server = Server::start(&[]);
    assert_eq!(server.get("/"), (200, "hello from wasi:http\n".into()));
    // A global counter in the guest: a fresh instance every time.
    for _ in 0..3 {
        assert_eq!(server.get("/count"), (200, "1\n".into()));
    }
    assert_eq!(server.get("/nope").0, 404);
    // Bodies stream both ways (1 MiB, larger than any one buffer).
    let big: Vec<u8> = (0..1 << 20).map(|i| b'a' + (i % 26) as u8).collect();
    let (status, echoed) = request(server.port, "POST", "/echo", &big);
    assert_eq!(status, 200);
    assert_eq!(echoed.as_bytes(), big.as_slice());
    // Keep-alive: two requests on one connection.
    let mut stream = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    for _ in 0..2 {
        stream
            .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let mut status = String::new();
        reader.read_line(&mut status).unwrap();
        assert!(status.starts_with("HTTP/1.1 200"), "{status}");
        // Skip the head and the chunked body (ends with "0\r\n\r\n").
        let mut line = String::new();
        loop {
            line.clear();
            reader.read_line(&mut line).unwrap();
            if line == "0\r\n" {
                reader.read_line(&mut line).unwrap();
                break;
            }
        }
    }
}

#[test]
fn a_failing_request_gets_an_error_and_touches_no_other() {
    let server = Server::start(&["--timeout", "1s", "-m", "32m"]);
    let (status, body) = server.get("/trap");
    // The client learns only that it failed; why is for the operator's log.
    assert_eq!(
        (status, body.as_str()),
        (500, "500 Internal Server Error\n")
    );
    assert_eq!(server.get("/hog").0, 500);
    let started = Instant::now();
    assert_eq!(server.get("/spin").0, 504);
    assert!(started.elapsed() < Duration::from_secs(10));
    // Meanwhile and afterwards, other requests are served.
    let spinning = std::thread::spawn({
        let port = server.port;
        move || request(port, "GET", "/spin", b"").0
    });
    assert_eq!(server.get("/"), (200, "hello from wasi:http\n".into()));
    assert_eq!(spinning.join().unwrap(), 504);
    assert_eq!(server.get("/count"), (200, "1\n".into()));
    // An oversized request head is refused before any instance runs: with an error status,
    // or, when the server closes while the head is still arriving, a reset connection (the
    // kernel then drops the unread head and the answer with it).
    let huge = format!("/?{}", "x".repeat(100 << 10));
    let mut stream = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let head = format!("GET {huge} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    let written = stream.write_all(head.as_bytes());
    let mut response = Vec::new();
    let read = stream.read_to_end(&mut response);
    if written.is_ok() && read.is_ok() && !response.is_empty() {
        let (status, body) = parse(&response);
        assert!(
            matches!(status, 431 | 414 | 400),
            "oversized head: {status} {body}"
        );
    }
    assert_eq!(
        server.get("/count"),
        (200, "1\n".into()),
        "served after the refusal"
    );
}

#[test]
fn guests_that_compute_do_not_hold_up_other_requests() {
    // wharf serves on one thread per core: twice as many spinning guests as cores keep every
    // one of those threads busy in wasm until the timeout stops them.
    let server = Server::start(&["--timeout", "5s"]);
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let spinners: Vec<_> = (0..cores * 2)
        .map(|_| {
            let port = server.port;
            std::thread::spawn(move || request(port, "GET", "/spin", b"").0)
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    // A guest in a loop yields its thread at every epoch tick, so this is answered while the
    // others are still spinning, not after their timeouts.
    assert_eq!(server.get("/"), (200, "hello from wasi:http\n".into()));
    assert!(
        spinners.iter().all(|s| !s.is_finished()),
        "the request was answered only once the spinning guests had been stopped"
    );
    for spinner in spinners {
        assert_eq!(spinner.join().unwrap(), 504);
    }
}

#[test]
fn sigterm_drains_and_exits_like_docker() {
    let mut server = Server::start(&[]);
    assert_eq!(server.get("/").0, 200);
    // SAFETY: signalling a child this test started.
    unsafe { libc::kill(server.child.id() as i32, libc::SIGTERM) };
    let started = Instant::now();
    let status = server.child.wait().unwrap();
    assert_eq!(status.code(), Some(143));
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn publishing_errors_are_clear() {
    // A port in use.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let root = tempfile::tempdir().unwrap();
    let wharf = |args: &[&str]| -> Ran { run_in(root.path(), args) };
    let server = guest("http-server.wasm");
    let server = server.to_str().unwrap();
    let ran = wharf(&["run", "-p", &format!("127.0.0.1:{port}:80"), server]);
    assert_eq!(ran.code, 125, "{ran:?}");
    assert!(ran.stderr.contains("in use"), "{ran:?}");
    // A server without -p says how to publish it, before compiling anything.
    let fresh = tempfile::tempdir().unwrap();
    let ran = run_in(fresh.path(), &["run", server]);
    assert_eq!(ran.code, 126, "{ran:?}");
    assert!(ran.stderr.contains("publish a port"), "{ran:?}");
    assert!(ran.stderr.contains("-p"), "{ran:?}");
    let compiled = std::fs::read_dir(fresh.path().join("cache/aot"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(compiled, 0, "a server run without -p was compiled");
    // A malformed mapping.
    let ran = wharf(&["run", "-p", "eighty", server]);
    assert_eq!(ran.code, 125, "{ran:?}");
}

/// `wharf run -d --name web -p 127.0.0.1:PORT:80 http-server.wasm` in `root`; returns PORT.
fn detached_web(root: &std::path::Path) -> u16 {
    let port = free_port();
    let server = guest("http-server.wasm");
    let publish = format!("127.0.0.1:{port}:80");
    let ran = run_in(
        root,
        &[
            "run",
            "-d",
            "--name",
            "web",
            "-p",
            &publish,
            server.to_str().unwrap(),
        ],
    );
    assert_eq!(ran.code, 0, "{ran:?}");
    port
}

#[test]
fn a_detached_server_is_a_container_that_stops_cleanly() {
    let root = tempfile::tempdir().unwrap();
    let wharf = |args: &[&str]| -> Ran { run_in(root.path(), args) };
    let port = detached_web(root.path());
    assert_eq!(
        request(port, "GET", "/", b""),
        (200, "hello from wasi:http\n".into())
    );
    let inspect = wharf(&["inspect", "web"]);
    assert!(inspect.stdout.contains("\"running\""), "{inspect:?}");
    assert!(
        inspect
            .stdout
            .contains(&format!("\"HostPort\": \"{port}\"")),
        "{inspect:?}"
    );
    let ports = wharf(&["port", "web"]);
    assert_eq!(
        ports.stdout,
        format!("80/tcp -> 127.0.0.1:{port}\n"),
        "{ports:?}"
    );
    assert_eq!(wharf(&["stop", "web"]).code, 0);
    assert_eq!(wharf(&["wait", "web"]).stdout, "143\n");
    assert!(
        TcpStream::connect(("127.0.0.1", port)).is_err(),
        "still listening after stop"
    );
    assert_eq!(wharf(&["rm", "web"]).code, 0);
}

#[test]
fn failed_requests_are_logged_for_the_operator_and_bounded() {
    let root = tempfile::tempdir().unwrap();
    let wharf = |args: &[&str]| -> Ran { run_in(root.path(), args) };
    let port = detached_web(root.path());
    let (status, body) = request(port, "GET", "/trap", b"");
    assert_eq!(
        (status, body.as_str()),
        (500, "500 Internal Server Error\n")
    );
    assert!(!body.contains(root.path().to_str().unwrap()));
    let logs = wharf(&["logs", "web"]);
    let line = logs
        .stderr
        .lines()
        .find(|l| l.contains("GET /trap failed (500)"))
        .unwrap_or_else(|| panic!("no log line for the failed request: {logs:?}"));
    assert!(line.contains("trapped"), "{line}");
    // A flood of failures: at most ten lines a second, the rest counted.
    for _ in 0..40 {
        assert_eq!(request(port, "GET", "/trap", b"").0, 500);
    }
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(request(port, "GET", "/trap", b"").0, 500);
    let logs = wharf(&["logs", "web"]);
    let failures = logs
        .stderr
        .lines()
        .filter(|l| l.contains("failed (500)"))
        .count();
    assert!(failures < 30, "{failures} lines for 42 failures");
    assert!(
        logs.stderr.contains("more failed requests not logged"),
        "{logs:?}"
    );
    assert_eq!(wharf(&["rm", "-f", "web"]).code, 0);
}

/// A plain HTTP server on the host's loopback answering every request with `body`.
fn host_http_server(body: &'static str) -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && stream.read_exact(&mut byte).is_ok() {
                head.push(byte[0]);
            }
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    port
}

#[test]
fn outgoing_http_follows_the_network_mode() {
    let upstream = host_http_server("hello from the host\n");
    let path = format!("/fetch/{upstream}");
    let server = Server::start(&[]);
    assert_eq!(server.get(&path), (200, "hello from the host\n".into()));
    drop(server);
    let server = Server::start(&["--network", "none"]);
    // wasi:http's error-code 15 is http-request-denied.
    assert_eq!(
        server.get(&path),
        (502, "fetch failed: error-code 15\n".into())
    );
}
