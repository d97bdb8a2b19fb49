//! What an OCI runtime spec (the bundle's `config.json`, written by containerd) asks of a
//! guest, as a wharf [`SandboxPolicy`]: argv, env, cwd, bind mounts, the memory limit.
//!
//! Mounts of kernel filesystems (`proc`, `sysfs`, `tmpfs`, `devpts`, `mqueue`, `cgroup`) mean
//! nothing to a Wasm guest and are left out; bind mounts of directories are granted, read-only
//! when the spec says `ro`. Nothing else of the host is reachable.

use std::path::{Path, PathBuf};

use oci_spec::runtime::Spec;
use wharf_core::{Error, Mount, NetworkMode, SandboxPolicy};

/// What the shim needs from a bundle's spec.
#[derive(Debug, Clone)]
pub struct GuestSpec {
    /// The root filesystem, absolute.
    pub rootfs: PathBuf,
    /// The sandbox policy (output and stdin are the task's, set by the caller).
    pub policy: SandboxPolicy,
    /// The network the guest lives in.
    pub network: crate::netns::Network,
    /// A pod's sandbox (CRI's `container-type=sandbox`): no guest, only the pod's process.
    pub is_sandbox: bool,
}

/// Reads `bundle/config.json`.
pub fn load(bundle: &Path) -> Result<GuestSpec, Error> {
    let path = bundle.join("config.json");
    // serde_json directly: oci-spec's own loader drops the reason ("serde failed").
    let spec: Spec = std::fs::read(&path)
        .map_err(|e| e.to_string())
        .and_then(|bytes| serde_json::from_slice(&bytes).map_err(|e| e.to_string()))
        .map_err(|e| {
            Error::InvalidArgument(format!("cannot read the OCI spec {}: {e}", path.display()))
        })?;
    let rootfs = spec
        .root()
        .as_ref()
        .map(|r| r.path().clone())
        .unwrap_or_else(|| PathBuf::from("rootfs"));
    let rootfs = if rootfs.is_absolute() {
        rootfs
    } else {
        bundle.join(rootfs)
    };
    let process = spec
        .process()
        .as_ref()
        .ok_or_else(|| Error::InvalidArgument("the OCI spec has no process to run".to_string()))?;
    let args = process.args().clone().unwrap_or_default();
    let env = process
        .env()
        .clone()
        .unwrap_or_default()
        .into_iter()
        .filter_map(|e| {
            e.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
        })
        .collect();
    let cwd = process.cwd().to_string_lossy().into_owned();
    let mut mounts = Vec::new();
    for mount in spec.mounts().iter().flatten() {
        let options = mount.options().clone().unwrap_or_default();
        let is_bind = mount.typ().as_deref() == Some("bind")
            || options.iter().any(|o| o == "bind" || o == "rbind");
        let Some(source) = mount.source().as_ref().filter(|_| is_bind) else {
            continue;
        };
        if !source.is_dir() {
            continue; // single-file binds (resolv.conf, hosts) are for Linux containers
        }
        mounts.push(Mount {
            host: source.clone(),
            guest: mount.destination().to_string_lossy().into_owned(),
            read_only: options.iter().any(|o| o == "ro"),
        });
    }
    let memory_limit = spec
        .linux()
        .as_ref()
        .and_then(|l| l.resources().as_ref())
        .and_then(|r| r.memory().as_ref())
        .and_then(|m| m.limit())
        .filter(|l| *l > 0)
        .map(|l| l as u64);
    let policy = SandboxPolicy {
        args,
        env,
        mounts,
        workdir: (cwd != "/" && !cwd.is_empty()).then_some(cwd),
        memory_limit,
        // The network namespace is the isolation: inside it the guest binds directly.
        network: NetworkMode::Host,
        ..Default::default()
    };
    let network = crate::netns::Network::from_spec(&spec);
    let is_sandbox = spec
        .annotations()
        .as_ref()
        .and_then(|a| a.get(crate::pod::CONTAINER_TYPE))
        .is_some_and(|t| t == "sandbox");
    Ok(GuestSpec {
        rootfs,
        policy,
        network,
        is_sandbox,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::netns::Network;

    fn bundle(linux: &str, mounts: &str) -> (tempfile::TempDir, GuestSpec) {
        let tmp = tempfile::tempdir().unwrap();
        let data = tmp.path().join("data");
        std::fs::create_dir(&data).unwrap();
        let mounts = mounts.replace("DATA", data.to_str().unwrap());
        let config = format!(
            r#"{{"ociVersion": "1.0.2",
                "process": {{"args": ["/app.wasm", "x"], "env": ["A=1", "PATH=/bin"], "cwd": "/work", "user": {{"uid": 0, "gid": 0}}}},
                "root": {{"path": "rootfs"}},
                "mounts": {mounts},
                "linux": {linux}}}"#
        );
        std::fs::write(tmp.path().join("config.json"), &config).unwrap();
        let spec = load(tmp.path()).unwrap();
        (tmp, spec)
    }

    #[test]
    fn a_spec_becomes_a_policy_with_only_directory_binds() {
        let mounts = r#"[
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/etc/hosts", "type": "bind", "source": "/etc/hosts", "options": ["rbind", "ro"]},
            {"destination": "/data", "type": "bind", "source": "DATA", "options": ["rbind", "ro"]},
            {"destination": "/rw", "source": "DATA", "options": ["bind"]}
        ]"#;
        let linux = r#"{"resources": {"memory": {"limit": 1048576}},
                        "namespaces": [{"type": "pid"}, {"type": "network", "path": "/proc/1/ns/net"}]}"#;
        let (tmp, spec) = bundle(linux, mounts);
        assert_eq!(spec.rootfs, tmp.path().join("rootfs"));
        let policy = &spec.policy;
        assert_eq!(policy.args, ["/app.wasm", "x"]);
        assert_eq!(policy.env[0], ("A".to_string(), "1".to_string()));
        assert_eq!(policy.workdir.as_deref(), Some("/work"));
        assert_eq!(policy.memory_limit, Some(1 << 20));
        let granted: Vec<(&str, bool)> = policy
            .mounts
            .iter()
            .map(|m| (m.guest.as_str(), m.read_only))
            .collect();
        assert_eq!(granted, [("/data", true), ("/rw", false)]);
        assert_eq!(spec.network, Network::Join("/proc/1/ns/net".into()));
    }

    #[test]
    fn the_network_is_the_host_s_unless_the_spec_names_a_namespace() {
        let (_tmp, spec) = bundle(r#"{"namespaces": [{"type": "mount"}]}"#, "[]");
        assert_eq!(spec.network, Network::Host);
        let (_tmp, spec) = bundle(r#"{"namespaces": [{"type": "network"}]}"#, "[]");
        assert_eq!(spec.network, Network::Own);
    }
}
