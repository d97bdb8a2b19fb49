//! What the shim reads from containerd's content store beyond the rootfs, under a real
//! containerd (Debian's 1.6.20): the Wasm layer of a CNCF Wasm artifact, and the port a
//! wasi:http image EXPOSEs; and where guests listen: in the task's network namespace.
//!
//! containerd 1.6.20 refuses to unpack Wasm layers, so the artifact's container is made with
//! containerd's gRPC API and no snapshot: its task starts with an empty rootfs, which is what
//! containerd 1.6.25+, 1.7.7+ and 2.x hand a shim for such an image.

mod common;

use common::{start, text, wait_for, NetNs};

#[test]
fn a_wasm_artifact_runs_from_the_content_store() {
    let services = start();
    let hello = wharf_test_guests::guest("hello.wasm");
    let image = services.push_artifact("artifact", &hello);

    services.create_bare_container("layer", &image, &["hello.wasm", "one"]);
    let ran = services.ctr(&["task", "start", "layer"]);
    let out = text(&ran.stdout);
    assert!(ran.status.success(), "{ran:?}\n{}", services.log());
    assert!(out.contains("hello from wasm"), "{out}");
    assert!(
        out.contains("arg[0]=hello.wasm") && out.contains("arg[1]=one"),
        "{out}"
    );

    // An image in the rootfs layout whose files are not there: a sentence, not a hang.
    let rootfs_image =
        services.push_program("rootfs", "hello.wasm", &std::fs::read(&hello).unwrap());
    services.create_bare_container("empty", &rootfs_image, &["/hello.wasm"]);
    let ran = services.ctr(&["task", "start", "empty"]);
    let err = text(&ran.stdout) + &text(&ran.stderr);
    assert!(!ran.status.success(), "{ran:?}");
    assert!(err.contains("/hello.wasm"), "{err}");
}

#[test]
fn a_wasi_http_image_is_served_on_the_port_it_exposes() {
    let services = start();
    let server = std::fs::read(wharf_test_guests::guest("http-server.wasm")).unwrap();
    let image = services.push_built("exposed", "server.wasm", &server, "EXPOSE 9090\n");
    let pod = NetNs::new("wharf-shim-expose");
    let with_ns = format!("network:{}", pod.path());
    let ran = services.ctr(&[
        "run",
        "-d",
        "--runtime",
        wharf_shim::RUNTIME,
        "--with-ns",
        &with_ns,
        &image,
        "web",
    ]);
    assert!(ran.status.success(), "{ran:?}");
    wait_for("the server's answer on 9090", || {
        pod.get("http://127.0.0.1:9090/")
            .is_ok_and(|b| b == "hello from wasi:http\n")
    });
    assert!(
        pod.get("http://127.0.0.1:8080/").is_err(),
        "it also serves 8080"
    );
    services.kill_task("web");
}

/// Sends `hi` to 127.0.0.1:7070 and prints the answer.
const ASK: &str = "import socket; s = socket.create_connection(('127.0.0.1', 7070), timeout=2); \
                   s.sendall(b'hi\\n'); print(s.recv(100).decode())";

#[test]
fn a_socket_guest_listens_inside_its_network_namespace() {
    let services = start();
    let echo = std::fs::read(wharf_test_guests::guest("echo.wasm")).unwrap();
    let image = services.push_program("echo", "echo.wasm", &echo);
    let pod = NetNs::new("wharf-shim-echo");
    let with_ns = format!("network:{}", pod.path());
    let ran = services.ctr(&[
        "run",
        "-d",
        "--runtime",
        wharf_shim::RUNTIME,
        "--with-ns",
        &with_ns,
        &image,
        "echo",
        "/echo.wasm",
        "serve",
        "7070",
        "inside",
    ]);
    assert!(ran.status.success(), "{ran:?}");
    // The namespace's loopback reaches the guest's listener; the host's does not.
    wait_for("the echo server's answer inside the namespace", || {
        pod.exec(&["python3", "-c", ASK])
            .is_ok_and(|answer| answer.contains("inside: hi"))
    });
    assert!(
        std::net::TcpStream::connect("127.0.0.1:7070").is_err(),
        "served on the host"
    );
    services.kill_task("echo");
}
