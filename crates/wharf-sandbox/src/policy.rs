//! What a guest is granted. Anything not listed here is unreachable from inside the sandbox.

use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use crate::output::Output;

/// Everything a guest may see and use. The default grants nothing: no args, no env, no
/// directories, closed stdin, and no limits beyond WebAssembly's own.
#[derive(Debug, Clone, Default)]
pub struct SandboxPolicy {
    /// The guest's argv, including argv\[0\].
    pub args: Vec<String>,
    /// Environment variables, in order.
    pub env: Vec<(String, String)>,
    /// Host directories made visible inside the guest.
    pub mounts: Vec<Mount>,
    /// The guest's initial working directory (a guest path).
    pub workdir: Option<String>,
    /// Whether the guest reads the host's stdin.
    pub stdin: Stdin,
    /// The most linear memory, in bytes, all of the guest's memories may hold together.
    pub memory_limit: Option<u64>,
    /// The longest the guest may run before it is stopped.
    pub timeout: Option<Duration>,
    /// The share of one CPU the guest may use (`--cpus`, e.g. 0.5); a guest runs on one thread,
    /// so 1 or more leaves it unthrottled.
    pub cpus: Option<f64>,
    /// Whether the image's root filesystem is mounted read-only (`--read-only`); volumes keep
    /// their own modes.
    pub read_only_rootfs: bool,
    /// Where stdout and stderr go.
    pub output: Output,
    /// Updated with the bytes of linear memory the guest holds (for `wharf stats`).
    pub memory_gauge: Option<Arc<AtomicU64>>,
    /// Set to the Linux thread ID of the thread that runs the guest's entry point, once it
    /// runs: a front end that runs several guests in one process (the shim) reads each
    /// guest's CPU time from `/proc/self/task/<tid>/stat`.
    pub guest_thread: Option<Arc<std::sync::atomic::AtomicI32>>,
    /// Published ports (`-p`): a wasi:http server is served on each host address; a guest
    /// that listens on a guest port with wasi:sockets gets the host address published for it.
    pub ports: Vec<PortMapping>,
    /// How much of the network the guest gets (`--network`).
    pub network: crate::NetworkMode,
    /// The other members of the user networks the guest is on (bridge mode): their names
    /// resolve and their ports are reached through this.
    pub peers: Option<crate::SharedPeers>,
    /// Called once the guest is instantiated and about to run its entry point: everything
    /// that can refuse to start it (decoding, linking, imports) has passed.
    pub on_start: StartHook,
}

/// `-p [HOST_IP:]HOST_PORT:GUEST_PORT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortMapping {
    /// Where the host listens.
    pub host: std::net::SocketAddr,
    /// The port the guest listens on (for a wasi:http component, informational: it is handed
    /// each request, whatever the port).
    pub guest_port: u16,
}

impl PortMapping {
    /// Parses `-p [[HOST_IP:]HOST_PORT:]GUEST_PORT[/tcp]` (Docker's form; the host IP defaults to
    /// all addresses, a missing host port is 0: a free one is chosen at creation).
    pub fn parse(text: &str) -> Result<PortMapping, String> {
        let bad = |why: &str| {
            format!("invalid port mapping {text:?}: {why} (use [IP:]HOST_PORT:GUEST_PORT)")
        };
        let spec = text.strip_suffix("/tcp").unwrap_or(text);
        if spec.ends_with("/udp") {
            return Err(bad("udp is not supported"));
        }
        // `-p GUEST`: a free host port on every address.
        let (rest, guest) = spec.rsplit_once(':').unwrap_or(("0", spec));
        let guest_port: u16 = guest
            .parse()
            .map_err(|_| bad("the guest port is not a number"))?;
        let (ip, host_port) = match rest.rsplit_once(':') {
            Some((ip, port)) => (ip.trim_start_matches('[').trim_end_matches(']'), port),
            None => ("0.0.0.0", rest),
        };
        // `-p IP::GUEST`: a free host port on that address.
        let host_port: u16 = match host_port {
            "" => 0,
            port => port
                .parse()
                .map_err(|_| bad("the host port is not a number"))?,
        };
        let ip: std::net::IpAddr = ip
            .parse()
            .map_err(|_| bad("the host address is not an IP address"))?;
        Ok(PortMapping {
            host: std::net::SocketAddr::new(ip, host_port),
            guest_port,
        })
    }
}

/// A callback for [`SandboxPolicy::on_start`]; the default does nothing.
#[derive(Clone, Default)]
pub struct StartHook(Option<Arc<dyn Fn() + Send + Sync>>);

impl StartHook {
    /// A hook that calls `f`.
    pub fn new(f: impl Fn() + Send + Sync + 'static) -> StartHook {
        StartHook(Some(Arc::new(f)))
    }

    /// Calls the hook, if one is set.
    pub fn notify(&self) {
        if let Some(f) = &self.0 {
            f();
        }
    }
}

impl std::fmt::Debug for StartHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "StartHook({})",
            if self.0.is_some() { "set" } else { "none" }
        )
    }
}

/// A host directory granted to the guest at a guest path. A regular file (`-v ./app.toml:/etc/app.toml`)
/// is accepted here too; wharf-core turns it into a directory grant before the guest runs,
/// since WASI grants only directories.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    /// The directory on the host.
    pub host: PathBuf,
    /// Where the guest sees it, an absolute guest path such as `/data`.
    pub guest: String,
    /// When set, the guest can read but never create, change or delete anything under it.
    pub read_only: bool,
}

impl Mount {
    /// Parses `HOST:GUEST[:ro|rw]` (`-v`, `HostConfig.Binds`). The host directory or file must
    /// exist (Docker's bind-mount rule) and the guest path must be absolute.
    pub fn parse(spec: &str) -> Result<Mount, String> {
        let parts: Vec<&str> = spec.split(':').collect();
        let (host, guest, mode) = match parts.as_slice() {
            [host, guest] => (*host, *guest, "rw"),
            [host, guest, mode] => (*host, *guest, *mode),
            _ => {
                return Err(format!(
                    "invalid volume {spec:?}: use HOST_DIR:GUEST_DIR[:ro]"
                ))
            }
        };
        let read_only = match mode {
            "ro" => true,
            "rw" => false,
            _ => {
                return Err(format!(
                    "invalid volume {spec:?}: the mode must be ro or rw, not {mode:?}"
                ))
            }
        };
        if !guest.starts_with('/') {
            return Err(format!(
                "invalid volume {spec:?}: the guest path {guest:?} must be absolute"
            ));
        }
        if host.is_empty() {
            return Err(format!("invalid volume {spec:?}: the host path is empty"));
        }
        let host_path = PathBuf::from(host);
        let meta = std::fs::metadata(&host_path).map_err(|e| {
            format!("invalid volume {spec:?}: the host path {host} cannot be used: {e}")
        })?;
        if !meta.is_dir() && !meta.is_file() {
            return Err(format!(
                "invalid volume {spec:?}: {host} is neither a directory nor a regular file"
            ));
        }
        let host = std::fs::canonicalize(&host_path)
            .map_err(|e| format!("invalid volume {spec:?}: {e}"))?;
        Ok(Mount {
            host,
            guest: normalize_guest_path(guest),
            read_only,
        })
    }
}

/// `/data/` and `/data//x/.` name the same guest directory as `/data` and `/data/x`.
fn normalize_guest_path(path: &str) -> String {
    let parts: Vec<&str> = path
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    format!("/{}", parts.join("/"))
}

/// The guest's standard input.
#[derive(Debug, Clone, Default)]
pub enum Stdin {
    /// Reads see end-of-file at once (Docker's default without `-i`).
    #[default]
    Closed,
    /// The host process's stdin (`-i`).
    Inherit,
    /// A file, pipe or FIFO the caller opened: containerd's stdin FIFO, an attach stream's
    /// pipe. Reads block until it has data; its end is the guest's end-of-file.
    File(std::sync::Arc<std::fs::File>),
}
