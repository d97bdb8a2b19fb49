//! Containers: created from an image or file, run detached by a monitor process each, and
//! every verb Docker users apply to them.
//!
//! There is no daemon. `start` spawns `wharf-monitor ROOT ID` (see [`crate::monitor`]),
//! which detaches, holds the container's monitor lock for its whole life, runs the guest with
//! its output going to the container's log, records how each run ended, and applies the
//! restart policy. Every other command reads the state on disk and reconciles containers whose
//! monitor died.

use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use wharf_containers::{
    Container, ContainerConfig, Containers, LogLimits, MountSpec, Reconciled, RestartPolicy, State,
    Status, Target,
};

use crate::images::resolve;
use crate::{Error, SandboxPolicy, Wharf};

/// Docker's default for how long `stop` waits before it kills, in seconds.
const DEFAULT_STOP_TIMEOUT: u64 = 10;

/// The directory in a container's directory that holds its root filesystem.
pub(crate) const ROOTFS_DIR: &str = "rootfs";

/// What `wharf create` / `run -d` was asked for.
#[derive(Debug, Clone, Default)]
pub struct ContainerSpec {
    /// The container's name (`--name`, the API's `?name=`); a generated one when `None`.
    pub name: Option<String>,
    /// What it runs.
    pub target: RunTarget,
    /// Arguments: they replace the image's `Cmd` (`Cmd` in the API).
    pub args: Vec<String>,
    /// A program that replaces the image's `Entrypoint` (and drops its `Cmd`).
    pub entrypoint: Option<String>,
    /// Env, mounts, working directory, memory, timeout, ports and network (output, stdin and
    /// hooks are the monitor's, so they are ignored here).
    pub policy: SandboxPolicy,
    /// When the monitor starts the guest again (`HostConfig.RestartPolicy`).
    pub restart: RestartPolicy,
    /// Remove the container when it ends for good (`--rm`, `HostConfig.AutoRemove`).
    pub auto_remove: bool,
    /// How much log to keep (`HostConfig.LogConfig`).
    pub log: LogLimits,
    /// Labels (`--label`, `Labels`).
    pub labels: std::collections::BTreeMap<String, String>,
    /// Docker's `Tty` (`-t`): output read as one raw stream.
    pub tty: bool,
    /// Docker's `OpenStdin` (`-i`): an attached client's input is the guest's stdin.
    pub open_stdin: bool,
    /// The user network the container joins at create (`--network NAME`), in bridge mode.
    pub user_network: Option<UserNetwork>,
    /// How long `stop` waits before killing, unless it is told (`--stop-timeout`,
    /// `StopTimeout`); Docker's 10 seconds when `None`.
    pub stop_timeout: Option<Duration>,
}

/// A user network a container is on, and its names there besides its own.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserNetwork {
    /// The network's name or ID.
    pub name: String,
    /// `--network-alias`, compose's service name.
    pub aliases: Vec<String>,
}

/// What `--network` (`HostConfig.NetworkMode`) names: a sandbox mode (`bridge`, `default`,
/// `host`, `none`), or a user network joined in bridge mode.
pub fn network_choice(
    text: &str,
    aliases: Vec<String>,
) -> (crate::NetworkMode, Option<UserNetwork>) {
    match text {
        "" => (crate::NetworkMode::Bridge, None),
        text => match crate::NetworkMode::parse(text) {
            Ok(mode) => (mode, None),
            Err(_) => {
                let network = UserNetwork {
                    name: text.to_string(),
                    aliases,
                };
                (crate::NetworkMode::Bridge, Some(network))
            }
        },
    }
}

/// What a container runs, as its creator names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunTarget {
    /// An image in the store: a tag, a digest or an ID prefix.
    Image(String),
    /// A `.wasm` or `.wat` file on the host.
    File(PathBuf),
}

impl Default for RunTarget {
    /// No image named yet.
    fn default() -> Self {
        RunTarget::Image(String::new())
    }
}

impl std::fmt::Display for RunTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunTarget::Image(image) => f.write_str(image),
            RunTarget::File(path) => write!(f, "{}", path.display()),
        }
    }
}

impl Wharf {
    /// The containers under this root.
    pub(crate) fn containers(&self) -> Result<Containers, Error> {
        Ok(Containers::open(self.root.containers_dir())?)
    }

    /// Registers a container (state `created`; `docker create`, `POST /containers/create`).
    /// An image must be in the store (front ends pull first); it is pinned by digest, and its
    /// files are unpacked into the container's own root filesystem.
    pub fn create_container(&self, spec: &ContainerSpec) -> Result<ContainerConfig, Error> {
        if spec.auto_remove && spec.restart != RestartPolicy::No {
            return Err(Error::InvalidArgument(format!(
                "conflicting options: a container removed when it ends (--rm, AutoRemove) \
                 cannot have the restart policy {}",
                spec.restart.name()
            )));
        }
        if let Some(network) = &spec.user_network {
            self.network(&network.name)?;
        }
        let store = self.store()?;
        let mut rootfs_layers = None;
        let target = match &spec.target {
            RunTarget::File(path) => {
                let absolute = path
                    .canonicalize()
                    .map_err(|_| Error::NoSuchFile(path.clone()))?;
                Target::File {
                    path: absolute.to_string_lossy().into_owned(),
                }
            }
            RunTarget::Image(image) => {
                let index = store.index()?;
                let digest = resolve(&index, image).map_err(|_| {
                    Error::NotFound(format!("no such image: {image} (not in the local store)"))
                })?;
                rootfs_layers = Wharf::rootfs_layers(&store, &index, &digest)?;
                Target::Image {
                    reference: image.clone(),
                    digest: digest.to_string(),
                }
            }
        };
        let mounts = spec
            .policy
            .mounts
            .iter()
            .map(|m| MountSpec {
                host: m
                    .host
                    .canonicalize()
                    .unwrap_or_else(|_| m.host.clone())
                    .to_string_lossy()
                    .into_owned(),
                guest: m.guest.clone(),
                read_only: m.read_only,
            })
            .collect();
        let config = ContainerConfig {
            id: wharf_containers::new_id(),
            name: spec.name.clone().unwrap_or_default(),
            created: wharf_containers::now_rfc3339(),
            target,
            args: spec.args.clone(),
            entrypoint: spec.entrypoint.clone(),
            env: spec.policy.env.clone(),
            mounts,
            workdir: spec.policy.workdir.clone(),
            memory: spec.policy.memory_limit,
            timeout_ms: spec.policy.timeout.map(|t| t.as_millis() as u64),
            nano_cpus: spec.policy.cpus.map(|c| (c * 1e9) as u64),
            read_only: spec.policy.read_only_rootfs,
            stop_timeout: spec.stop_timeout.map(|t| t.as_secs()),
            restart: spec.restart,
            auto_remove: spec.auto_remove,
            log: spec.log,
            ports: spec
                .policy
                .ports
                .iter()
                .map(|p| wharf_containers::PortSpec {
                    host_ip: p.host.ip(),
                    host_port: p.host.port(),
                    guest_port: p.guest_port,
                })
                .collect(),
            network: spec.policy.network.name().into(),
            labels: spec.labels.clone(),
            tty: spec.tty,
            open_stdin: spec.open_stdin,
        };
        // The container's files are unpacked before it appears: it owns them until `rm`.
        let created = self.containers()?.create_with(config, |dir| {
            // The log exists from the start: an attach before `start` holds it open, and
            // reads it whole even when the container is removed as soon as it ends
            // (`run --rm`).
            std::fs::File::options()
                .create(true)
                .append(true)
                .open(wharf_containers::logs::log_path(dir))
                .map_err(Error::io)?;
            if spec.open_stdin {
                crate::stdin::make_fifo(&dir.join(crate::stdin::STDIN_FIFO))?;
            }
            match &rootfs_layers {
                Some(layers) => crate::rootfs::ensure_rootfs(&store, layers, &dir.join(ROOTFS_DIR)),
                None => Ok(()),
            }
        })?;
        // An `rmi` that listed the containers before this one existed must not have deleted
        // its image meanwhile: checked under the store's lock, which `rmi` holds from its
        // listing to its commit.
        if let Target::Image { digest, .. } = &created.target {
            let still_there = store.update(|index| Ok(resolve(index, digest).is_ok()))?;
            if !still_there {
                let _ = self.remove_container(&created.id, true);
                return Err(Error::NotFound(format!(
                    "image {} was removed while the container was being created",
                    spec.target
                )));
            }
        }
        if let Some(network) = &spec.user_network {
            if let Err(e) = self.connect_network(&network.name, &created.id, &network.aliases) {
                let _ = self.remove_container(&created.id, true);
                return Err(e);
            }
        }
        self.container_event("create", &created, &[]);
        Ok(created)
    }

    /// The container `name_or_id` names, reconciled; the note says what was fixed, if anything.
    pub fn container(&self, name_or_id: &str) -> Result<(Container, Option<Reconciled>), Error> {
        let containers = self.containers()?;
        let id = containers.resolve(name_or_id)?;
        let (container, fixed) = containers.reconcile(&id)?;
        if let Some(fixed) = &fixed {
            self.reconciled_event(&container, fixed);
        }
        Ok((container, fixed))
    }

    /// `GET /containers/{id}/json` (and `wharf inspect`) for the container `name_or_id`,
    /// reconciled; the note says what was fixed, if anything.
    pub fn inspect_container(
        &self,
        name_or_id: &str,
    ) -> Result<
        (
            crate::docker::api::ContainerInspectResponse,
            Option<Reconciled>,
        ),
        Error,
    > {
        let (container, note) = self.container(name_or_id)?;
        let dir = self.containers()?.dir_of(&container.config.id);
        let log = wharf_containers::logs::log_path(&dir);
        let mut inspect = crate::docker::container_inspect(&container, &log);
        let endpoints = self.endpoints_of(&container.config.id, &container.config.network)?;
        if let Some(settings) = inspect.network_settings.as_mut() {
            settings.networks = Some(endpoints);
        }
        Ok((inspect, note))
    }

    /// Every container (running only unless `all`), reconciled, with notes on what was fixed.
    pub fn list_containers(&self, all: bool) -> Result<(Vec<Container>, Vec<Reconciled>), Error> {
        let containers = self.containers()?;
        let mut listed = Vec::new();
        let mut notes = Vec::new();
        for container in containers.list()? {
            let container = if container.state.status.is_live() {
                match containers.reconcile_loaded(container) {
                    Ok((c, fixed)) => {
                        if let Some(fixed) = &fixed {
                            self.reconciled_event(&c, fixed);
                        }
                        notes.extend(fixed);
                        c
                    }
                    Err(wharf_containers::Error::NotFound(_)) => continue,
                    Err(e) => return Err(e.into()),
                }
            } else {
                container
            };
            if all || container.state.status.is_live() {
                listed.push(container);
            }
        }
        Ok((listed, notes))
    }

    /// The containers to start again after a reboot (`start --all`; a daemon at start-up):
    /// see [`RestartPolicy::revives_after_boot`]. Their IDs, oldest first, and notes on what
    /// was reconciled.
    pub fn containers_to_revive(&self) -> Result<(Vec<String>, Vec<Reconciled>), Error> {
        let (all, notes) = self.list_containers(true)?;
        let ids = all
            .into_iter()
            .filter(|c| c.config.restart.revives_after_boot(&c.state))
            .map(|c| c.config.id)
            .collect();
        Ok((ids, notes))
    }

    /// Starts a container (`docker start`, `POST /containers/{id}/start`): spawns the container's monitor and returns once the guest is running
    /// (or has failed to start, which is returned as the error it would be in the foreground).
    /// Starting a running container does nothing.
    pub fn start_container(&self, name_or_id: &str) -> Result<String, Error> {
        let (container, _) = self.container(name_or_id)?;
        let id = container.config.id.clone();
        if container.state.status.is_live() {
            return Ok(id);
        }
        let monitor = match &self.monitor {
            Some(path) => path.clone(),
            None => crate::monitor::monitor_binary().map_err(Error::io)?,
        };
        let (mut ready_read, ready_write) = std::io::pipe().map_err(Error::io)?;
        let mut command = std::process::Command::new(&monitor);
        command
            .arg(self.root.path())
            .arg(&id)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(monitor_log(&self.containers()?.dir_of(&id)));
        let ready_fd = std::os::fd::AsRawFd::as_raw_fd(&ready_write);
        // SAFETY: only async-signal-safe calls (dup2, fcntl) between fork and exec.
        unsafe {
            command.pre_exec(move || {
                let target = crate::monitor::READY_FD;
                // With stdin closed (CI runs without one), the pipe's write end can itself be
                // fd 3: dup2 onto itself keeps close-on-exec, so clear it instead.
                let rc = if ready_fd == target {
                    libc::fcntl(target, libc::F_SETFD, 0)
                } else {
                    libc::dup2(ready_fd, target)
                };
                if rc < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let mut child = command.spawn().map_err(|e| {
            Error::Internal(anyhow::anyhow!(
                "cannot start the container monitor {}: {e}; install it beside this program \
                 or name it in ${}",
                monitor.display(),
                crate::monitor::MONITOR_ENV
            ))
        })?;
        drop(ready_write);
        // The monitor forks itself away at once; reap the intermediate.
        let _ = child.wait();
        let mut answer = String::new();
        let _ = ready_read.read_to_string(&mut answer);
        crate::monitor::parse_ready(&answer, &id).map_err(|e| match e {
            // It died before it could answer: what it printed is the best clue.
            Error::Internal(e) => match self.monitor_said(&id) {
                Some(printed) => Error::Internal(anyhow::anyhow!("{e:#}; it printed: {printed}")),
                None => Error::Internal(e),
            },
            other => other,
        })?;
        Ok(id)
    }

    /// The end of what container `id`'s monitor printed about itself, if anything.
    fn monitor_said(&self, id: &str) -> Option<String> {
        let path = self
            .containers()
            .ok()?
            .dir_of(id)
            .join(crate::monitor::MONITOR_LOG);
        let text = std::fs::read_to_string(path).ok()?;
        let text = text.trim();
        let mut start = text.len().saturating_sub(2000);
        while !text.is_char_boundary(start) {
            start += 1;
        }
        (!text.is_empty()).then(|| text[start..].to_string())
    }

    /// Stops a container (`docker stop`, `POST /containers/{id}/stop`): asks the guest to stop (SIGTERM to the monitor, which interrupts it),
    /// then kills the monitor if it has not ended within `timeout` (`None`: the container's
    /// `--stop-timeout`, else 10 seconds). Stopping a stopped
    /// container does nothing. A stopped container is not restarted by its policy.
    pub fn stop_container(&self, name_or_id: &str, timeout: Option<Duration>) -> Result<(), Error> {
        let (container, _) = self.container(name_or_id)?;
        let id = &container.config.id;
        let timeout = timeout.unwrap_or(Duration::from_secs(
            container
                .config
                .stop_timeout
                .unwrap_or(DEFAULT_STOP_TIMEOUT),
        ));
        if !container.state.status.is_live() {
            return Ok(());
        }
        let containers = self.containers()?;
        let signal_event = |signal: i32| [("signal", signal.to_string())];
        self.container_event("kill", &container.config, &signal_event(libc::SIGTERM));
        signal_monitor(&containers, id, &container.state, libc::SIGTERM)?;
        if !wait_for_monitor_exit(&containers, id, timeout) {
            self.container_event("kill", &container.config, &signal_event(libc::SIGKILL));
            signal_monitor(&containers, id, &container.state, libc::SIGKILL)?;
            wait_for_monitor_exit(&containers, id, Duration::from_secs(5));
            let how = format!("killed: did not stop within {}s", timeout.as_secs());
            self.record_kill(&containers, &container.config, libc::SIGKILL, &how)?;
        }
        self.container_event("stop", &container.config, &[]);
        Ok(())
    }

    /// `wharf kill [-s SIGNAL]`: SIGTERM and SIGINT interrupt the guest as `stop` does;
    /// any other signal (SIGKILL by default) ends the monitor and the guest at once.
    pub fn kill_container(&self, name_or_id: &str, signal: i32) -> Result<(), Error> {
        let (container, _) = self.container(name_or_id)?;
        let id = &container.config.id;
        if !container.state.status.is_live() {
            return Err(Error::Conflict(format!(
                "container {} is not running",
                container.config.name
            )));
        }
        let containers = self.containers()?;
        self.container_event("kill", &container.config, &[("signal", signal.to_string())]);
        signal_monitor(&containers, id, &container.state, signal)?;
        if signal == libc::SIGTERM || signal == libc::SIGINT {
            return Ok(());
        }
        wait_for_monitor_exit(&containers, id, Duration::from_secs(5));
        self.record_kill(&containers, &container.config, signal, "killed")
    }

    /// `wharf rm [-f]`: deletes a container, its logs and its files; a running one only with
    /// `force` (killed first). Once this returns, nothing of the container runs, whatever
    /// a starting monitor was doing: removal happens under the container's monitor lock, taken
    /// from any monitor by killing it, and a monitor that locks afterwards finds it gone.
    pub fn remove_container(&self, name_or_id: &str, force: bool) -> Result<String, Error> {
        let (container, _) = self.container(name_or_id)?;
        let id = container.config.id.clone();
        let containers = self.containers()?;
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut killed = false;
        loop {
            let lock = match containers.try_monitor_lock(&id) {
                Ok(Some(lock)) => lock,
                // A `--rm` monitor or another `rm` got there first.
                Err(wharf_containers::Error::NotFound(_)) => return Ok(id),
                Err(e) => return Err(e.into()),
                Ok(None) if !force => {
                    // An ended guest's monitor may still be winding down (its state is
                    // written, then it exits): wait for it rather than refuse.
                    let ended = containers
                        .reconcile(&id)
                        .is_ok_and(|(c, _)| !c.state.status.is_live());
                    if !ended || Instant::now() > deadline {
                        return Err(Error::Conflict(format!(
                            "cannot remove running container {}",
                            container.config.name
                        )));
                    }
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                }
                Ok(None) => {
                    if Instant::now() > deadline {
                        return Err(Error::Internal(anyhow::anyhow!(
                            "the monitor of container {} did not die within 10s",
                            container.config.name
                        )));
                    }
                    // The PID appears in the lock file right after the monitor locks it.
                    if let Some(pid) = containers.monitor_pid(&id) {
                        kill_monitor(&containers, &id, pid, libc::SIGKILL);
                        killed = true;
                    }
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                }
            };
            // A killed monitor records no end of its own: Docker's `rm -f` says kill and die.
            if killed {
                self.container_event("kill", &container.config, &[("signal", "9".to_string())]);
                self.container_event("die", &container.config, &[("exitCode", "137".to_string())]);
            }
            return match containers.remove(&id, &lock) {
                Ok(()) => {
                    self.container_event("destroy", &container.config, &[]);
                    Ok(id)
                }
                Err(wharf_containers::Error::NotFound(_)) => Ok(id),
                Err(e) => Err(e.into()),
            };
        }
    }

    /// Renames a container (`docker rename`, `POST /containers/{id}/rename`).
    pub fn rename_container(&self, name_or_id: &str, name: &str) -> Result<(), Error> {
        let (container, _) = self.container(name_or_id)?;
        let old = self.containers()?.rename(&container.config.id, name)?;
        let (renamed, _) = self.container(&container.config.id)?;
        self.container_event("rename", &renamed.config, &[("oldName", old)]);
        Ok(())
    }

    /// Waits for a container (`docker wait`, `POST /containers/{id}/wait`): blocks until the container is exited; returns its exit code.
    pub fn wait_container(&self, name_or_id: &str) -> Result<i32, Error> {
        let id = match self.containers()?.resolve(name_or_id) {
            Ok(id) => id,
            // A `--rm` container that has already ended and gone.
            Err(e @ wharf_containers::Error::NotFound(_)) => {
                return crate::monitor::removed_exit_code(self, name_or_id).ok_or(e.into())
            }
            Err(e) => return Err(e.into()),
        };
        let containers = self.containers()?;
        loop {
            match containers.reconcile(&id) {
                // Also wait for the monitor to finish (a `--rm` container is removed then).
                Ok((c, _))
                    if c.state.status == Status::Exited && !containers.monitor_alive(&id) =>
                {
                    return Ok(c.state.exit_code.unwrap_or(0))
                }
                Ok(_) => std::thread::sleep(Duration::from_millis(25)),
                // Removed by --rm once it ended: Docker's `wait` reports its code; the
                // monitor leaves it in `exit-codes/`.
                Err(wharf_containers::Error::NotFound(_)) => {
                    return crate::monitor::removed_exit_code(self, &id)
                        .ok_or_else(|| Error::NotFound(format!("no such container: {name_or_id}")))
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// `wharf container prune`: removes every exited or created container; returns their IDs.
    pub fn prune_containers(&self) -> Result<Vec<String>, Error> {
        let (all, _) = self.list_containers(true)?;
        let mut removed = Vec::new();
        for c in all.into_iter().filter(|c| !c.state.status.is_live()) {
            if self.remove_container(&c.config.id, false).is_ok() {
                removed.push(c.config.id);
            }
        }
        Ok(removed)
    }
}

/// The monitor's stderr: its log file in the container's directory (appended), or nothing.
fn monitor_log(dir: &std::path::Path) -> std::process::Stdio {
    std::fs::File::options()
        .create(true)
        .append(true)
        .open(dir.join(crate::monitor::MONITOR_LOG))
        .map_or_else(|_| std::process::Stdio::null(), std::process::Stdio::from)
}

/// Sends `signal` to the monitor of `id`, making sure it still is that monitor: the PID is
/// opened as a pidfd first and the monitor lock checked afterwards, so a recycled PID is never
/// signalled.
fn signal_monitor(
    containers: &Containers,
    id: &str,
    state: &State,
    signal: i32,
) -> Result<(), Error> {
    let Some(pid) = state.pid.or_else(|| containers.monitor_pid(id)) else {
        return Ok(());
    };
    kill_monitor(containers, id, pid, signal);
    Ok(())
}

/// Sends `signal` to `pid` if it still is the monitor of `id`.
fn kill_monitor(containers: &Containers, id: &str, pid: u32, signal: i32) {
    // SAFETY: plain syscalls with integer arguments.
    let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) } as i32;
    if pidfd < 0 {
        return; // already gone
    }
    // SAFETY: pidfd_open returned a new descriptor that nothing else owns.
    let pidfd = unsafe { std::os::fd::OwnedFd::from_raw_fd(pidfd) };
    // Checked after the pidfd is open: if `pid` holds the monitor lock now, it was the
    // monitor when the pidfd was opened, so the signal cannot reach a recycled PID.
    if containers.monitor_holds(id, pid) {
        // SAFETY: as above; a null siginfo sends a plain kill().
        unsafe {
            libc::syscall(
                libc::SYS_pidfd_send_signal,
                pidfd.as_raw_fd(),
                signal,
                std::ptr::null::<libc::siginfo_t>(),
                0,
            )
        };
    }
}

/// Waits up to `timeout` for the monitor of `id` to end; whether it did.
fn wait_for_monitor_exit(containers: &Containers, id: &str, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if !containers.monitor_alive(id) {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Records that the user ended the container with `signal` (its monitor is dead).
impl Wharf {
    /// Records the end of a container whose monitor a signal killed (it could not record it).
    fn record_kill(
        &self,
        containers: &Containers,
        config: &ContainerConfig,
        signal: i32,
        how: &str,
    ) -> Result<(), Error> {
        let id = &config.id;
        let Some(_lock) = containers.try_monitor_lock(id)? else {
            return Ok(()); // a new monitor already runs it again
        };
        let mut container = match containers.load(id) {
            Ok(c) => c,
            Err(wharf_containers::Error::NotFound(_)) => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        if container.state.status.is_live() {
            let state = &mut container.state;
            state.status = Status::Exited;
            state.pid = None;
            state.exit_code = Some(128 + signal);
            state.ended = Some(how.to_string());
            state.stopped_by_user = true;
            state.finished_at = Some(wharf_containers::now_rfc3339());
            containers.write_state(id, state)?;
            self.container_event("die", config, &[("exitCode", (128 + signal).to_string())]);
        }
        Ok(())
    }

    /// Records the end that [`Containers::reconcile`] found for a container.
    fn reconciled_event(&self, container: &Container, fixed: &Reconciled) {
        let code = [("exitCode", fixed.exit_code.to_string())];
        self.container_event("die", &container.config, &code);
    }
}

/// One row of `wharf stats`.
#[derive(Debug, Clone)]
pub struct ContainerStats {
    /// Container ID.
    pub id: String,
    /// Container name.
    pub name: String,
    /// CPU use over the sampling interval, in percent of one core.
    pub cpu_percent: f64,
    /// CPU time the container has used since it started.
    pub cpu_time: Duration,
    /// Bytes of linear memory the guest holds (from the engine).
    pub memory: u64,
    /// Its memory limit, if it has one.
    pub memory_limit: Option<u64>,
    /// Resident memory of the monitor process (wasmtime, code and guest together).
    pub rss: u64,
    /// The container's CPU time at the first sample.
    pub cpu_time_before: Duration,
    /// The host's CPU time (all CPUs, from /proc/stat) at the first and the second sample:
    /// what Docker divides a container's CPU time by.
    pub system_time: (Duration, Duration),
    /// CPUs online on the host.
    pub online_cpus: u32,
    /// When the two samples were taken (RFC 3339).
    pub sampled_at: (String, String),
    /// Threads of the monitor process, guest and engine (Docker's PIDs, the tasks of a
    /// container's cgroup); 0 when it is not running.
    pub pids: u64,
}

/// The host's CPU time, all CPUs and states together, from the first line of /proc/stat.
fn system_cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let ticks: u64 = stat
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .take(8)
        .filter_map(|f| f.parse::<u64>().ok())
        .sum();
    // SAFETY: sysconf has no preconditions.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    Duration::from_nanos(ticks.saturating_mul(1_000_000_000 / per_second))
}

/// CPU time (user + system) of process `pid`, from /proc.
fn cpu_time_of(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces, so split after its ')').
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // SAFETY: sysconf has no preconditions.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    Some(Duration::from_millis(ticks * 1000 / per_second))
}

/// Resident set size of process `pid`, from /proc.
fn rss_of(pid: u32) -> u64 {
    proc_bytes(&format!("/proc/{pid}/status"), "VmRSS:")
}

/// Threads of process `pid`, from /proc.
fn threads_of(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Threads:"))
                .and_then(|v| v.trim().parse().ok())
        })
        .unwrap_or(0)
}

/// A `KEY: N kB` line of a /proc file (`status`, `meminfo`) in bytes; 0 when missing.
pub(crate) fn proc_bytes(path: &str, key: &str) -> u64 {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix(key))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

impl Wharf {
    /// Container stats (`docker stats`): samples the named (or all running) containers twice, `interval` apart.
    pub fn container_stats(
        &self,
        names: &[String],
        interval: Duration,
    ) -> Result<Vec<ContainerStats>, Error> {
        let chosen: Vec<Container> = if names.is_empty() {
            self.list_containers(false)?.0
        } else {
            names
                .iter()
                .map(|n| self.container(n).map(|(c, _)| c))
                .collect::<Result<_, _>>()?
        };
        let first: Vec<Option<Duration>> = chosen
            .iter()
            .map(|c| c.state.pid.and_then(cpu_time_of))
            .collect();
        let (system_before, preread) = (system_cpu_time(), wharf_containers::now_rfc3339());
        std::thread::sleep(interval);
        let (system_after, read) = (system_cpu_time(), wharf_containers::now_rfc3339());
        let online_cpus = std::thread::available_parallelism().map_or(1, |n| n.get() as u32);
        let containers = self.containers()?;
        Ok(chosen
            .iter()
            .zip(first)
            .map(|(c, before)| {
                let after = c.state.pid.and_then(cpu_time_of);
                let cpu_percent = match (before, after) {
                    (Some(b), Some(a)) => {
                        a.saturating_sub(b).as_secs_f64() * 100.0 / interval.as_secs_f64()
                    }
                    _ => 0.0,
                };
                let memory = std::fs::read(containers.dir_of(&c.config.id).join("stats.json"))
                    .ok()
                    .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
                    .and_then(|v| v.get("memory_bytes")?.as_u64())
                    .unwrap_or(0);
                ContainerStats {
                    id: c.config.id.clone(),
                    name: c.config.name.clone(),
                    cpu_percent,
                    cpu_time: after.unwrap_or_default(),
                    memory: if c.state.status.is_live() { memory } else { 0 },
                    memory_limit: c.config.memory,
                    rss: c.state.pid.map_or(0, rss_of),
                    cpu_time_before: before.unwrap_or_default(),
                    system_time: (system_before, system_after),
                    online_cpus,
                    sampled_at: (preread.clone(), read.clone()),
                    pids: c.state.pid.map_or(0, threads_of),
                }
            })
            .collect())
    }
}
