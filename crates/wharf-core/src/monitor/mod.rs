//! The per-container monitor process (the role Podman's conmon plays, without a daemon).
//!
//! Starting a container runs the monitor binary, `wharf-monitor ROOT ID` ([`MONITOR_BINARY`],
//! installed beside the front ends; it depends on no front end's flags), with a pipe on
//! [`READY_FD`]. The monitor forks itself away from the starter (so it survives it and is not its zombie), takes the
//! container's monitor lock, and runs the guest in this process with stdout and stderr going to
//! the container's log. It tells the starter `ok` once the guest is instantiated, or why it
//! could not start. Each run's end is recorded durably before the next decision: restart (with
//! back-off) per the restart policy, or exit, removing the container first under `--rm`.
//!
//! Killing the monitor kills the guest with it (same process); the lock goes too, which is how
//! every other wharf command learns that the container is no longer running.

use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use wharf_containers::logs::LogWriter;
use wharf_containers::{Containers, State, Status, Target};
use wharf_sandbox::{Output, StartHook};

mod log_sink;
mod ready;

use log_sink::{LogSink, LogState};
pub(crate) use ready::parse_ready;
use ready::{Ready, ReadyAnswer};

use crate::{
    exit_code, Error, ImageRun, Mount, Outcome, SandboxPolicy, StopHandle, StopReason, Wharf,
};

/// The descriptor the starter's pipe is on in the monitor.
pub const READY_FD: i32 = 3;

/// The name of the monitor's binary, installed beside the front ends' binaries.
pub const MONITOR_BINARY: &str = "wharf-monitor";

/// The environment variable that names the monitor binary, where it is not beside the
/// starting program.
pub const MONITOR_ENV: &str = "WHARF_MONITOR";

/// Where the monitor binary is: `$WHARF_MONITOR`, else beside the running program.
pub(crate) fn monitor_binary() -> std::io::Result<PathBuf> {
    if let Some(path) = std::env::var_os(MONITOR_ENV).filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(path));
    }
    Ok(std::env::current_exe()?.with_file_name(MONITOR_BINARY))
}

/// Detaches the monitor: a new session, and a fork whose parent exits at once so the starter
/// can reap it.
///
/// # Safety
///
/// Call it first thing in `main`, before any thread exists: after a fork only the calling
/// thread survives, and a lock another thread held would stay locked for ever.
pub unsafe fn daemonize() {
    // SAFETY: the caller guarantees a single-threaded process; fork, setsid and _exit are then
    // sound.
    unsafe {
        match libc::fork() {
            -1 => {}
            0 => {
                libc::setsid();
            }
            _ => libc::_exit(0),
        }
    }
}

/// The monitor binary's main: runs container `id` of the wharf at `root`, answering its
/// starter on `ready`. Returns the process exit code.
pub fn main(root: PathBuf, id: &str, ready: std::os::fd::OwnedFd) -> i32 {
    let ready = Ready::new(ready);
    let wharf = match crate::Root::open(root)
        .map_err(Error::io)
        .and_then(Wharf::open)
    {
        Ok(wharf) => wharf,
        Err(e) => {
            ready.tell(&ReadyAnswer::from(&e));
            return 125;
        }
    };
    // A panic must still answer the starter, or it would only see the pipe close.
    let run = std::panic::AssertUnwindSafe(|| run_monitor(&wharf, id, ready.clone()));
    match std::panic::catch_unwind(run) {
        Ok(code) => code,
        Err(panic) => {
            let why = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "a panic".into());
            let message = format!("the container monitor failed: {why}");
            ready.tell(&ReadyAnswer::Failed {
                kind: crate::ErrorKind::Internal,
                message,
            });
            125
        }
    }
}

/// Where a container's monitor writes what it has to say about itself (its stderr): beside
/// the container's log, for when the monitor dies before it can answer its starter.
pub(crate) const MONITOR_LOG: &str = "monitor.log";

/// Where `--rm` containers leave their exit code for `wharf wait`.
fn exit_code_path(wharf: &Wharf, id: &str) -> std::path::PathBuf {
    wharf.root.containers_dir().join("exit-codes").join(id)
}

/// The exit code a `--rm` container left behind when it was removed (by full ID or a
/// unique ID prefix).
pub(crate) fn removed_exit_code(wharf: &Wharf, id: &str) -> Option<i32> {
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let dir = exit_code_path(wharf, id).parent()?.to_path_buf();
    let mut matches = std::fs::read_dir(&dir)
        .ok()?
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(id));
    let (Some(only), None) = (matches.next(), matches.next()) else {
        return None;
    };
    std::fs::read_to_string(only.path())
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Runs container `id` until it ends for good. Returns the process exit code (0 unless the
/// monitor itself failed).
fn run_monitor(wharf: &Wharf, id: &str, ready: Ready) -> i32 {
    let fail = |e: Error| {
        ready.tell(&ReadyAnswer::from(&e));
        125
    };
    let containers = match wharf.containers() {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    let lock = match containers.try_monitor_lock(id) {
        Ok(Some(lock)) => lock,
        Ok(None) => {
            ready.tell(&ReadyAnswer::Ok); // another monitor runs it already
            return 0;
        }
        Err(e) => return fail(e.into()),
    };
    // Our PID, for `rm -f` to find us even before the state says running.
    let file = lock.file();
    let _ = file
        .set_len(0)
        .and_then(|()| file.write_all_at(std::process::id().to_string().as_bytes(), 0));
    match supervise(wharf, &containers, id, &lock, &ready) {
        Ok(()) => 0,
        Err(e) => fail(e),
    }
}

fn supervise(
    wharf: &Wharf,
    containers: &Containers,
    id: &str,
    lock: &wharf_containers::FileLock,
    ready: &Ready,
) -> Result<(), Error> {
    let container = containers.load(id)?;
    let config = container.config;
    let dir = containers.dir_of(id);
    let stop = StopHandle::new();
    for signal in [libc::SIGINT, libc::SIGTERM] {
        stop.stop_on_signal(signal).map_err(Error::io)?;
    }
    let sink = Arc::new(LogSink {
        inner: Mutex::new(LogState {
            writer: LogWriter::open(&dir, config.log).ok(),
            partial: [Vec::new(), Vec::new()],
        }),
    });
    let gauge = Arc::new(AtomicU64::new(0));
    spawn_stats_writer(dir.clone(), gauge.clone());
    let hook = {
        let ready = ready.clone();
        StartHook::new(move || ready.tell(&ReadyAnswer::Ok))
    };

    let mut state = State {
        restart_count: 0,
        ..container.state
    };
    // The same grant for every run; checked before anything says the container runs.
    let mut policy = policy_for(&config, sink.clone(), gauge.clone(), hook.clone())?;
    if policy.network == crate::NetworkMode::Bridge {
        policy.peers = Some(Arc::new(crate::peers::NetworkPeers::new(
            wharf.network_file(),
            containers.clone(),
            id,
        )));
    }
    let mut started_once = false;
    loop {
        // The guest's stdin is open before the container shows as running: an attached
        // client's input, written before the start, waits in the FIFO for it.
        let mut policy = policy.clone();
        if config.open_stdin {
            policy.stdin = attached_stdin(&dir);
        }
        state.status = Status::Running;
        state.pid = Some(std::process::id());
        state.started_at = Some(wharf_containers::now_rfc3339());
        state.error = None;
        state.stopped_by_user = false;
        write_state(containers, id, &state)?;
        wharf.container_event("start", &config, &[]);

        // A run's listeners are its own: none are left from a run that was killed.
        crate::peers::forget_listeners(&dir);
        let result = run_once(wharf, &config, &dir, &policy, &stop);
        crate::peers::forget_listeners(&dir);
        sink.finish();
        let outcome = match result {
            Ok(outcome) => outcome,
            Err(e) => {
                state.status = Status::Exited;
                state.pid = None;
                state.exit_code = Some(e.start_exit_code());
                state.error = Some(e.to_string());
                state.finished_at = Some(wharf_containers::now_rfc3339());
                write_state(containers, id, &state)?;
                let code = [("exitCode", e.start_exit_code().to_string())];
                wharf.container_event("die", &config, &code);
                if !started_once {
                    return Err(e);
                }
                break;
            }
        };
        started_once = true;
        record_end(&mut state, &outcome, &stop);
        // Decide about a restart before recording the end: a state that said `exited` between
        // two runs would let `stop` believe there is nothing to stop.
        let code = state.exit_code.unwrap_or(0);
        let restart = config
            .restart
            .restarts(code, state.restart_count, state.stopped_by_user)
            && !stop.is_requested();
        if restart {
            state.status = Status::Restarting;
            // Still this monitor's container: `stop` and `kill` signal it through this PID.
            state.pid = Some(std::process::id());
        }
        write_state(containers, id, &state)?;
        wharf.container_event("die", &config, &[("exitCode", code.to_string())]);
        // A guest that ended before the hook could tell (it cannot), or a trap in _start.
        ready.tell(&ReadyAnswer::Ok);
        if !restart {
            break;
        }
        if !back_off(state.restart_count, &stop) {
            state.status = Status::Exited;
            state.pid = None;
            state.stopped_by_user = true;
            write_state(containers, id, &state)?;
            break;
        }
        state.restart_count += 1;
    }
    if config.auto_remove {
        remove_ended(wharf, containers, &config, lock, &state);
    }
    Ok(())
}

/// Runs the container's guest once, in its own root filesystem for an image.
fn run_once(
    wharf: &Wharf,
    config: &wharf_containers::ContainerConfig,
    dir: &std::path::Path,
    policy: &SandboxPolicy,
    stop: &StopHandle,
) -> Result<Outcome, Error> {
    match &config.target {
        Target::File { path } => wharf.run_file(std::path::Path::new(path), policy, stop),
        Target::Image { reference, digest } => wharf.run_image(
            reference,
            &ImageRun {
                entrypoint: config.entrypoint.clone(),
                args: config.args.clone(),
                digest: Some(digest.clone()),
                rootfs: Some(dir.join(crate::containers::ROOTFS_DIR)),
            },
            policy,
            stop,
        ),
    }
}

/// Records in `state` how a run ended: Docker's exit code, whether a memory limit or the user
/// ended it, and in words.
fn record_end(state: &mut State, outcome: &Outcome, stop: &StopHandle) {
    state.status = Status::Exited;
    state.pid = None;
    state.exit_code = Some(exit_code(outcome));
    state.oom_killed = matches!(
        outcome,
        Outcome::OutOfMemory { .. }
            | Outcome::Exited {
                memory_limit_hit: true,
                ..
            }
    );
    state.stopped_by_user =
        matches!(outcome, Outcome::Stopped(StopReason::Signal(_))) || stop.is_requested();
    state.ended = Some(describe(outcome));
    state.finished_at = Some(wharf_containers::now_rfc3339());
}

/// Docker's back-off before restart number `restarts + 1`: 100 ms, doubling, at most a
/// minute. False if a stop came meanwhile.
fn back_off(restarts: u32, stop: &StopHandle) -> bool {
    let delay = Duration::from_millis(100u64 << restarts.min(10)).min(Duration::from_secs(60));
    let until = std::time::Instant::now() + delay;
    while std::time::Instant::now() < until && !stop.is_requested() {
        std::thread::sleep(Duration::from_millis(20));
    }
    !stop.is_requested()
}

/// The `--rm` epilogue: the exit code is left for `wait`, then the container goes.
fn remove_ended(
    wharf: &Wharf,
    containers: &Containers,
    config: &wharf_containers::ContainerConfig,
    lock: &wharf_containers::FileLock,
    state: &State,
) {
    let id = &config.id;
    let codes = wharf.root.containers_dir().join("exit-codes");
    let _ = std::fs::create_dir_all(&codes);
    let code = state.exit_code.unwrap_or(0).to_string();
    let _ = wharf_root::write_atomic_durable(&codes.join(id), code.as_bytes());
    if containers.remove(id, lock).is_ok() {
        wharf.container_event("destroy", config, &[]);
    }
    forget_old_exit_codes(&codes);
}

/// Exit codes of removed `--rm` containers are kept a day for `wharf wait`.
fn forget_old_exit_codes(dir: &std::path::Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > Duration::from_secs(24 * 3600));
        if old {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

fn write_state(containers: &Containers, id: &str, state: &State) -> Result<(), Error> {
    Ok(containers.write_state(id, state)?)
}

/// The sandbox policy a container's config grants, with its output going to `sink`.
/// The guest's end of the container's stdin FIFO: what an attached client writes, and its
/// end-of-file when the client is done; with no client attached, end-of-file at once.
fn attached_stdin(dir: &std::path::Path) -> crate::Stdin {
    let path = dir.join(crate::stdin::STDIN_FIFO);
    let Ok(file) = crate::stdin::open_fifo(&path, false, libc::O_NONBLOCK) else {
        return crate::Stdin::Closed;
    };
    // Blocking reads from here on: the guest waits for input, as a process would.
    use std::os::fd::AsRawFd;
    // SAFETY: fcntl on a descriptor we own.
    unsafe {
        let flags = libc::fcntl(file.as_raw_fd(), libc::F_GETFL);
        libc::fcntl(file.as_raw_fd(), libc::F_SETFL, flags & !libc::O_NONBLOCK);
    }
    crate::Stdin::File(Arc::new(file))
}

fn policy_for(
    config: &wharf_containers::ContainerConfig,
    sink: Arc<LogSink>,
    gauge: Arc<AtomicU64>,
    on_start: StartHook,
) -> Result<SandboxPolicy, Error> {
    // A config is written once by `create` from checked values: one that does not parse is
    // damaged, and running it with a port or network it did not ask for would be worse.
    let damaged = |what: String| {
        Error::Internal(anyhow::anyhow!(
            "the config of container {} is damaged: {what}",
            wharf_containers::short_id(&config.id)
        ))
    };
    let ports = config
        .ports
        .iter()
        .map(|p| crate::PortMapping {
            host: std::net::SocketAddr::new(p.host_ip, p.host_port),
            guest_port: p.guest_port,
        })
        .collect();
    let network = crate::NetworkMode::parse(&config.network).map_err(damaged)?;
    // An image's argv is built by `run_image` from its entrypoint and cmd.
    let args = match &config.target {
        Target::File { path } => crate::file_argv(path, &config.args),
        Target::Image { .. } => Vec::new(),
    };
    Ok(SandboxPolicy {
        args,
        env: config.env.clone(),
        mounts: config
            .mounts
            .iter()
            .map(|m| Mount {
                host: m.host.clone().into(),
                guest: m.guest.clone(),
                read_only: m.read_only,
            })
            .collect(),
        workdir: config.workdir.clone(),
        stdin: Default::default(),
        memory_limit: config.memory,
        timeout: config.timeout_ms.map(Duration::from_millis),
        cpus: config.nano_cpus.map(|n| n as f64 / 1e9),
        read_only_rootfs: config.read_only,
        output: Output::Sink(sink),
        memory_gauge: Some(gauge),
        guest_thread: None,
        ports,
        network,
        peers: None,
        on_start,
    })
}

/// How a run ended, for `inspect` and `ps`.
fn describe(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Exited { code, .. } => format!("exited with code {code}"),
        Outcome::Trapped { message, .. } => format!("trapped: {message}"),
        Outcome::OutOfMemory { .. } => "out of memory".into(),
        Outcome::Stopped(StopReason::Timeout(t)) => format!("timed out after {t:?}"),
        Outcome::Stopped(StopReason::Signal(s)) => format!("stopped by signal {s}"),
    }
}

/// Every second, writes the guest's linear memory to `stats.json` when it changed.
fn spawn_stats_writer(dir: std::path::PathBuf, gauge: Arc<AtomicU64>) {
    std::thread::spawn(move || {
        let mut last = u64::MAX;
        loop {
            let now = gauge.load(Ordering::Relaxed);
            if now != last {
                let json = format!("{{\"memory_bytes\":{now}}}");
                let _ = wharf_root::write_atomic(&dir.join("stats.json"), json.as_bytes());
                last = now;
            }
            std::thread::sleep(Duration::from_secs(1));
        }
    });
}
