//! docker-py (PyPI `docker` 7.2) against the API service: `docker_py.py` runs the SDK's
//! calls (containers.run attached and detached, logs, wait, stop, remove, images.build, list,
//! push, pull, ping, events with until) and asserts on what comes back.

use std::process::{Command, Stdio};

use crate::docker_api::Api;
use crate::services::Registry;
use crate::support::guest;

#[test]
fn docker_py_drives_the_service() {
    let api = Api::start();
    let registry = Registry::start();
    api.build("hello:1", "hello.wasm");
    api.build("exit3:1", "exit3.wasm");
    api.build("sleep:1", "sleep.wasm");
    let context = api.env.tmp.path().join("py-context");
    std::fs::create_dir_all(&context).unwrap();
    std::fs::copy(guest("hello.wasm"), context.join("hello.wasm")).unwrap();
    std::fs::write(
        context.join("Dockerfile"),
        "FROM scratch\nCOPY hello.wasm /\nENTRYPOINT [\"/hello.wasm\"]\n",
    )
    .unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/cli/docker_py.py");
    let out = Command::new("python3")
        .arg(script)
        .env("DOCKER_HOST", format!("unix://{}", api.socket().display()))
        .env("DOCKER_CONFIG", api.env.docker_config())
        .env("REGISTRY", &registry.addr)
        .env("CONTEXT", &context)
        .stdin(Stdio::null())
        .output()
        .expect("python3 not found");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "docker-py failed:\n{said}");
    assert!(said.contains("docker-py ok"), "{said}");
}
