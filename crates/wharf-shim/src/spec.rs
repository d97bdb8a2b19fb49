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
}

/// Reads `bundle/config.json`.
pub fn load(bundle: &Path) -> Result<GuestSpec, Error> {
    let path = bundle.join("config.json");
    let spec = Spec::load(&path).map_err(|e| {
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
        network: NetworkMode::Bridge,
        ..Default::default()
    };
    Ok(GuestSpec { rootfs, policy })
}
