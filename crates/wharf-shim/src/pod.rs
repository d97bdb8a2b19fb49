//! A pod's sandbox task. CRI starts it first and builds every container's spec to join its
//! namespaces through `/proc/<its pid>/ns/...`, so its pid must be a live process holding the
//! pod's network: a child of the shim (this same binary, run as `pod-sandbox NETWORK`) that
//! enters the pod's network namespace (or makes one) and then waits on its stdin, a pipe the
//! shim holds. It never runs the sandbox image's program: a Wasm pod needs no pause image.
//! When the shim dies the pipe closes and the child exits; a kill ends it at once.

use std::io::Read;
use std::process::{ChildStdin, Command, Stdio};

use containerd_shim::monitor::{monitor_subscribe, wait_pid, Topic};

use crate::netns::Network;

/// The annotation CRI puts on a pod's sandbox (and the value it has there).
pub const CONTAINER_TYPE: &str = "io.kubernetes.cri.container-type";

/// The subcommand that runs the child's side.
pub const SUBCOMMAND: &str = "pod-sandbox";

/// The running sandbox process.
pub struct PodProcess {
    /// Its pid, the one containerd sees for the sandbox task.
    pub pid: u32,
    /// Held open: the child lives while the shim does.
    _lifeline: ChildStdin,
}

/// Starts the pod process in `network`; `on_exit` gets its pid and exit code once it ends
/// (the shim's reaper collects it).
pub fn spawn(
    network: &Network,
    on_exit: impl FnOnce(u32, i32) + Send + 'static,
) -> std::io::Result<PodProcess> {
    let how = match network {
        Network::Host => "host".to_string(),
        Network::Own => "own".to_string(),
        Network::Join(path) => path.to_string_lossy().into_owned(),
    };
    // Subscribed before the child exists, so its exit cannot be missed.
    let exits = monitor_subscribe(Topic::Pid).map_err(std::io::Error::other)?;
    let mut child = Command::new(std::env::current_exe()?)
        .args([SUBCOMMAND, &how])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let pid = child.id();
    let lifeline = child.stdin.take().expect("piped");
    std::thread::Builder::new()
        .name("pod-sandbox".into())
        .spawn(move || on_exit(pid, wait_pid(pid as i32, exits)))?;
    Ok(PodProcess {
        pid,
        _lifeline: lifeline,
    })
}

/// The child's side: enter the network, then wait for the shim to go. Exits the process.
pub fn child_main(how: &str) -> ! {
    let network = match how {
        "host" => Network::Host,
        "own" => Network::Own,
        path => Network::Join(path.into()),
    };
    if let Err(e) = network.enter() {
        eprintln!("wharf pod sandbox: cannot enter {network:?}: {e}");
        std::process::exit(1);
    }
    let mut byte = [0u8; 1];
    while matches!(std::io::stdin().read(&mut byte), Ok(n) if n > 0) {}
    std::process::exit(0)
}
