//! `containerd-shim-wharf-v1`: containerd's runtime v2 shim for wharf, a thin front end over
//! [`wharf_core`]. containerd starts it for the runtime `io.containerd.wharf.v1` (`ctr run
//! --runtime`, a CRI runtime handler, Docker 23+'s `--runtime`); it runs each task's Wasm
//! program from the root filesystem containerd mounted, in this process, with wharf's sandbox
//! and compiled-code cache.
//!
//! - [`Shim`](containerd_shim::Shim) (`start`, `delete`): one shim process per pod (grouped by
//!   the CRI sandbox-id annotation) or per container.
//! - [`task::Service`]: the task API, each call a translation onto `Wharf`.
//! - `spec`: the OCI spec containerd writes, as a `SandboxPolicy`.
//! - `program`: what a task runs (its rootfs's program or its image's Wasm layer, read from
//!   containerd's content store by [`content`]) and its wasi:http port.
//! - `error`: wharf's error kinds as ttrpc codes, in one place.

#![warn(missing_docs)]

pub mod content;
mod error;
pub mod events;
pub mod metrics;
pub mod netns;
pub mod options;
pub mod pod;
mod program;
mod spec;
pub mod task;

use std::sync::Arc;

use containerd_shim::publisher::RemotePublisher;
use containerd_shim::{api, Config, ExitSignal, Flags, StartOpts};

/// The runtime name containerd knows the shim by.
pub const RUNTIME: &str = "io.containerd.wharf.v1";

/// The annotation CRI puts on every container of a pod, naming the pod's sandbox.
const SANDBOX_ID: &str = "io.kubernetes.cri.sandbox-id";

/// Runs the shim: `start`, `delete`, or serving the task API (containerd's flags decide).
pub fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some(pod::SUBCOMMAND) {
        pod::child_main(args.get(2).map_or("host", String::as_str));
    }
    containerd_shim::run::<Shim>(RUNTIME, None)
}

/// The shim: how containerd starts, groups and cleans up after it.
pub struct Shim {
    exit: Arc<ExitSignal>,
    namespace: String,
    /// The socket this shim serves on (`unix:///run/containerd/s/<hash>`), when serving.
    socket: String,
    /// containerd's address, the task's ID and bundle (for `delete` after a crash).
    address: String,
    id: String,
    bundle: String,
}

/// What a pod's (or a lone container's) shim is grouped by: the CRI sandbox ID in the bundle's
/// spec, else the task's own ID.
fn grouping(bundle: &std::path::Path, id: &str) -> String {
    std::fs::read(bundle.join("config.json"))
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .and_then(|spec| spec["annotations"][SANDBOX_ID].as_str().map(str::to_string))
        .unwrap_or_else(|| id.to_string())
}

impl containerd_shim::Shim for Shim {
    type T = task::Service;

    fn new(_runtime_id: &str, args: &Flags, _config: &mut Config) -> Self {
        Shim {
            exit: Arc::new(ExitSignal::default()),
            namespace: args.namespace.clone(),
            socket: args.socket.clone(),
            address: args.address.clone(),
            id: args.id.clone(),
            bundle: args.bundle.clone(),
        }
    }

    fn start_shim(&mut self, opts: StartOpts) -> containerd_shim::Result<String> {
        // containerd runs `start` in the bundle: a pod's containers share the sandbox's shim.
        let grouping = grouping(std::path::Path::new("."), &opts.id);
        // The pod's shim serves this container already: say so without spawning a server
        // that would only find the socket taken and exit. (Such a child's SIGCHLD, arriving
        // while containerd-shim 0.11 tears down its signal pipe, sent this process into an
        // endless SIGPIPE loop, and containerd waited on it forever.)
        let address = containerd_shim::socket_address(&opts.address, &opts.namespace, &grouping);
        if let Some(path) = address.strip_prefix("unix://") {
            if std::os::unix::net::UnixStream::connect(path).is_ok() {
                return Ok(address);
            }
        }
        let (_pid, address) = containerd_shim::spawn(opts, &grouping, Vec::new())?;
        Ok(address)
    }

    fn delete_shim(&mut self) -> containerd_shim::Result<api::DeleteResponse> {
        // After a shim died: what it mounted goes, and its socket when no shim serves it any
        // more; the guest ended with it (as SIGKILLed).
        let bundle = if self.bundle.is_empty() {
            std::env::current_dir().unwrap_or_default()
        } else {
            std::path::PathBuf::from(&self.bundle)
        };
        if let Some(path) = bundle.join("rootfs").to_str() {
            let _ = containerd_shim::mount::umount_recursive(Some(path), 0);
        }
        let socket = containerd_shim::socket_address(
            &self.address,
            &self.namespace,
            &grouping(&bundle, &self.id),
        );
        if let Some(path) = socket.strip_prefix("unix://") {
            if std::os::unix::net::UnixStream::connect(path).is_err() {
                let _ = std::fs::remove_file(path);
            }
        }
        Ok(api::DeleteResponse {
            exit_status: 137,
            ..Default::default()
        })
    }

    fn wait(&mut self) {
        self.exit.wait();
        // containerd-shim 0.11 looks for the socket to remove in the bundle's `address`
        // file, which containerd has removed by now: without this, every shim leaves its
        // socket in /run/containerd/s.
        if let Some(path) = self.socket.strip_prefix("unix://") {
            let _ = std::fs::remove_file(path);
        }
    }

    fn create_task_service(&self, publisher: RemotePublisher) -> Self::T {
        let events = events::Events::new(publisher, self.namespace.clone());
        let content = content::ContentStore::new(&self.address, &self.namespace);
        task::Service::new(events, content, self.exit.clone())
    }
}
