//! What a task runs, and where it listens: the program its rootfs holds at `args[0]` (the
//! Docker Wasm layout, what `wharf build` makes), else the Wasm layer of its image in
//! containerd's content store (the CNCF artifact, runwasi's layer type). A wasi:http component
//! is served on `$PORT` of the spec's env, else the lowest port the image EXPOSEs, else 8080.

use std::path::Path;

use wharf_core::{Error, Outcome, PortMapping, SandboxPolicy, StopHandle, Wharf};

use crate::content::ContentStore;
use crate::spec::GuestSpec;

/// The port a wasi:http component is served on when neither `$PORT` nor the image names one
/// (Spin's and runwasi's default).
const DEFAULT_HTTP_PORT: u16 = 8080;

/// Runs task `id` in its network until it ends or `stop` fires.
pub(crate) fn run(
    wharf: &Wharf,
    content: &ContentStore,
    id: &str,
    spec: &GuestSpec,
    policy: &mut SandboxPolicy,
    stop: &StopHandle,
) -> Result<Outcome, Error> {
    spec.network.enter().map_err(|e| {
        internal(format!(
            "cannot enter the network namespace ({:?}): {e}",
            spec.network
        ))
    })?;
    if in_rootfs(&spec.rootfs, &policy.args) {
        if wharf.rootfs_serves_http(&spec.rootfs, &policy.args)? {
            // The image's EXPOSE is only a default: a store we cannot read leaves 8080.
            let exposed = content
                .image_facts(id)
                .map_err(|e| eprintln!("wharf shim: {id}: the image's ports: {e}"))
                .ok()
                .flatten()
                .map(|f| f.exposed_ports)
                .unwrap_or_default();
            publish_http(policy, &exposed);
        }
        return wharf.run_rootfs(&spec.rootfs, policy, stop);
    }
    let facts = content
        .image_facts(id)
        .map_err(|e| internal(format!("reading the image from containerd: {e}")))?;
    let Some((module, exposed)) = facts.and_then(|f| Some((f.wasm_layer?, f.exposed_ports))) else {
        // Neither a file nor a Wasm layer: the rootfs runner says what is missing.
        return wharf.run_rootfs(&spec.rootfs, policy, stop);
    };
    if policy.args.is_empty() {
        policy.args = vec!["module.wasm".to_string()];
    }
    if wharf_core::serves_http(module.clone()) {
        publish_http(policy, &exposed);
    }
    let name = policy.args[0].clone();
    wharf.run_module(&name, module, policy, stop)
}

/// Whether `args[0]` names a file of the rootfs (where it leads is checked by the runner).
fn in_rootfs(rootfs: &Path, args: &[String]) -> bool {
    args.first()
        .is_some_and(|program| rootfs.join(program.trim_start_matches('/')).is_file())
}

/// The port a wasi:http component is served on: `$PORT` of the spec's env (the convention of
/// many platforms), else the lowest port the image EXPOSEs, else 8080.
pub(crate) fn http_port(policy: &SandboxPolicy, exposed: &[u16]) -> u16 {
    policy
        .env
        .iter()
        .find(|(k, _)| k == "PORT")
        .and_then(|(_, v)| v.parse().ok())
        .or_else(|| exposed.first().copied())
        .unwrap_or(DEFAULT_HTTP_PORT)
}

/// Serves the component on its port on every address of the guest's network (the namespace is
/// the isolation).
fn publish_http(policy: &mut SandboxPolicy, exposed: &[u16]) {
    let port = http_port(policy, exposed);
    policy.ports = vec![PortMapping {
        host: std::net::SocketAddr::from(([0, 0, 0, 0], port)),
        guest_port: port,
    }];
}

fn internal(message: String) -> Error {
    Error::Internal(std::io::Error::other(message).into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_is_the_env_s_then_the_image_s_then_8080() {
        let mut policy = SandboxPolicy::default();
        assert_eq!(http_port(&policy, &[]), 8080);
        assert_eq!(http_port(&policy, &[81, 9090]), 81);
        policy.env.push(("PORT".into(), "9000".into()));
        assert_eq!(http_port(&policy, &[81]), 9000);
    }
}
