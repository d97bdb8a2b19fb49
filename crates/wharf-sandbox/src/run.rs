//! Running a guest to completion, and stopping it early when asked.
//!
//! The guest runs on a thread of its own while the calling thread supervises: it enforces the
//! timeout and watches the [`StopHandle`]. Stopping uses epoch interruption, which reaches a guest
//! spinning in WebAssembly within microseconds. A guest blocked inside a host call (a sleep, a read
//! of stdin) cannot be interrupted that way; after a short grace the supervisor reports it stopped
//! anyway and leaves the thread to die with the process.

use crate::output::{GuestStream, Output, SinkStream};
use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use wasmtime::component::{Component, ResourceTable};
use wasmtime::{Engine, Linker, Module, Store, Trap, UpdateDeadline, WasmBacktrace};
use wasmtime_wasi::p1::WasiP1Ctx;
use wasmtime_wasi::p2::bindings::sync::CommandPre;
use wasmtime_wasi::{FsPerms, I32Exit, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use crate::imports::wanted_wasi;
use crate::limits::MemoryLimiter;
use crate::network::{self, add_port_space_to_linker, HasPortSpace, NetworkMode, PortSpace};
use crate::p1_listeners::{self, P1Sockets};
use crate::{Compiled, SandboxPolicy, Stdin, StopHandle};

/// How a guest ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// It returned or called exit. `memory_limit_hit` says a `memory.grow` was refused on the way,
    /// which often explains a non-zero code.
    Exited {
        /// The guest's exit code.
        code: i32,
        /// Whether the memory limit refused a growth during the run.
        memory_limit_hit: bool,
    },
    /// It trapped (an `unreachable`, a division by zero, an out-of-bounds access...).
    Trapped {
        /// The trap's message.
        message: String,
        /// The guest's WebAssembly backtrace, with function names where the binary has them.
        backtrace: Option<String>,
    },
    /// It died after the memory limit refused it memory.
    OutOfMemory {
        /// The limit in bytes.
        limit: u64,
        /// What finally killed it (a trap message or an exit code).
        detail: String,
    },
    /// It was stopped from outside before it finished.
    Stopped(StopReason),
}

/// Why a guest was stopped from outside.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// It ran longer than the policy's timeout.
    Timeout(Duration),
    /// A signal (SIGINT, SIGTERM...) asked for it to stop; the number is the signal's.
    Signal(i32),
}

/// Why a guest could not be run at all.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The guest is not a runnable WASI program: missing imports, no entry point, a reactor...
    /// The text says which and what it wants.
    #[error("{0}")]
    CannotStart(String),
    /// Setting up the sandbox failed (a mount that cannot be opened, an engine error...).
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<wasmtime::Error> for RunError {
    fn from(e: wasmtime::Error) -> Self {
        RunError::Internal(e.into())
    }
}

/// How often the supervisor checks the stop flag once a stop is under way.
const POLL: Duration = Duration::from_millis(5);
/// How long it sleeps at most while nothing is under way. Requests, signals and the guest's
/// end wake it at once (see [`StopHandle`]); this only bounds a wake-up that went missing.
const IDLE_WAIT: Duration = Duration::from_secs(1);
/// How often it checks for a stop request when its handle has no wake-up (no descriptors
/// were left to make one): a stop is noticed within this.
const IDLE_POLL: Duration = Duration::from_millis(50);
/// How long a guest gets to notice an interruption before it is reported stopped regardless.
const GRACE: Duration = Duration::from_millis(100);
/// How often a `--cpus` guest's share is checked: the epoch ticks this often while it runs.
const CPU_TICK: Duration = Duration::from_millis(10);
/// Wasm runs on the native stack of its thread; leave room above wasmtime's 512 KiB wasm stack.
const GUEST_THREAD_STACK: usize = 8 << 20;

/// The runtime a guest's WASI calls block on. wasmtime-wasi's synchronous calls run on the
/// runtime they find entered; with none, the first call starts a process-wide one with a
/// worker per core, counted from cgroup files: two threads and a dozen syscalls before a
/// hello's first write. One worker drives this guest's I/O and timers. `None` (the
/// process-wide one is used) only if the thread cannot be started.
fn guest_io_runtime() -> Option<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("wharf-guest-io")
        .enable_all()
        .build()
        .inspect_err(|e| tracing::debug!("no runtime of the guest's own ({e})"))
        .ok()
}

/// Runs `compiled` under `policy` until it ends or `stop` is requested.
pub fn run(
    engine: &Engine,
    compiled: &Compiled,
    policy: &SandboxPolicy,
    stop: &StopHandle,
) -> Result<Outcome, RunError> {
    let deadline = policy.timeout.map(|t| Instant::now() + t);
    let (tx, rx) = mpsc::sync_channel(1);
    let guest = GuestRun {
        engine: engine.clone(),
        compiled: compiled.clone(),
        policy: policy.clone(),
        stop: stop.clone(),
    };
    let guest_stop = stop.clone();
    thread::Builder::new()
        .name("wharf-guest".into())
        .stack_size(GUEST_THREAD_STACK)
        .spawn(move || {
            if let Some(tid) = &guest.policy.guest_thread {
                // SAFETY: gettid has no preconditions.
                tid.store(unsafe { libc::gettid() }, Ordering::SeqCst);
            }
            let runtime = guest_io_runtime();
            let entered = runtime.as_ref().map(tokio::runtime::Runtime::enter);
            let result = guest.run();
            drop(entered);
            if let Some(runtime) = runtime {
                runtime.shutdown_background();
            }
            let _ = tx.send(result);
            guest_stop.wake();
        })
        .map_err(|e| anyhow::anyhow!("cannot start the guest thread: {e}"))?;

    let mut interrupted_at = None;
    let throttled = CpuShare::limit(policy.cpus).is_some();
    loop {
        let wait = if stop.is_requested() {
            POLL
        } else {
            let idle = if throttled { CPU_TICK } else { IDLE_WAIT };
            deadline.map_or(idle, |d| {
                d.saturating_duration_since(Instant::now()).min(idle)
            })
        };
        if throttled {
            // The guest's deadline callback weighs its CPU time at each tick.
            engine.increment_epoch();
        }
        // Asleep until something happens (1,000 idle containers polling 20 times a second
        // kept half a core busy), or until `wait` is up.
        let received = match rx.try_recv() {
            Err(mpsc::TryRecvError::Empty) if stop.sleep(wait) => rx.try_recv(),
            Err(mpsc::TryRecvError::Empty) => {
                rx.recv_timeout(wait.min(IDLE_POLL)).map_err(|e| match e {
                    mpsc::RecvTimeoutError::Timeout => mpsc::TryRecvError::Empty,
                    mpsc::RecvTimeoutError::Disconnected => mpsc::TryRecvError::Disconnected,
                })
            }
            other => other,
        };
        match received {
            Ok(Ok(Interruptible::Finished(outcome))) => return Ok(outcome),
            Ok(Ok(Interruptible::Interrupted)) => {
                return Ok(Outcome::Stopped(stop.reason(policy.timeout)))
            }
            Ok(Err(e)) => return Err(e),
            Err(mpsc::TryRecvError::Disconnected) => {
                return Err(anyhow::anyhow!("the guest thread ended without a result").into())
            }
            Err(mpsc::TryRecvError::Empty) => {}
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            stop.request_timeout();
        }
        if stop.is_requested() {
            // Keep bumping: the guest's deadline callback may have re-armed for another store.
            engine.increment_epoch();
            let since = *interrupted_at.get_or_insert_with(Instant::now);
            if since.elapsed() >= GRACE {
                return Ok(Outcome::Stopped(stop.reason(policy.timeout)));
            }
        }
    }
}

/// `--cpus` below one: the guest thread sleeps whenever its CPU time runs ahead of its share
/// of the time since it started (as the kernel's CFS quota would hold it back).
struct CpuShare {
    share: f64,
    started: Instant,
    cpu_at_start: Duration,
}

impl CpuShare {
    /// The share to enforce: one CPU or more is all a single-threaded guest can use anyway.
    fn limit(cpus: Option<f64>) -> Option<f64> {
        cpus.filter(|c| *c > 0.0 && *c < 1.0)
    }

    fn new(share: f64) -> CpuShare {
        CpuShare {
            share,
            started: Instant::now(),
            cpu_at_start: thread_cpu_time(),
        }
    }

    /// Sleeps (in short steps, so that a stop is not held up) until the guest is back within
    /// its share.
    fn hold_back(&mut self, stop: &StopHandle) {
        loop {
            let used = thread_cpu_time().saturating_sub(self.cpu_at_start);
            let allowed = self.started.elapsed().mul_f64(self.share);
            if used <= allowed || stop.is_requested() {
                return;
            }
            let wait = (used - allowed).div_f64(self.share);
            thread::sleep(wait.min(Duration::from_millis(20)));
        }
    }
}

/// The CPU time the calling thread has used.
fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec to write to.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// A guest's own result, before the supervisor turns an interruption into a stop reason.
enum Interruptible {
    Finished(Outcome),
    Interrupted,
}

/// What the guest thread owns.
struct GuestRun {
    engine: Engine,
    compiled: Compiled,
    policy: SandboxPolicy,
    stop: StopHandle,
}

/// Store data for a preview1 module.
struct ModuleHost {
    wasi: WasiP1Ctx,
    limiter: MemoryLimiter,
    sockets: P1Sockets,
}

/// Store data for a preview2 component.
struct ComponentHost {
    wasi: WasiCtx,
    table: ResourceTable,
    limiter: MemoryLimiter,
    ports: PortSpace,
}

impl HasPortSpace for ComponentHost {
    fn port_space(&mut self) -> &mut PortSpace {
        &mut self.ports
    }
}

impl WasiView for ComponentHost {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl GuestRun {
    fn run(self) -> Result<Interruptible, RunError> {
        let limiter =
            MemoryLimiter::new(self.policy.memory_limit, self.policy.memory_gauge.clone());
        match &self.compiled {
            Compiled::Module(module) => self.run_module(module, limiter),
            Compiled::Component(component) => {
                self.run_component(component, wasi_builder(&self.policy)?, limiter)
            }
        }
    }

    fn new_store<T: 'static>(
        &self,
        data: T,
        limiter: fn(&mut T) -> &mut MemoryLimiter,
    ) -> Store<T> {
        let mut store = Store::new(&self.engine, data);
        store.limiter(move |data| limiter(data) as &mut dyn wasmtime::ResourceLimiter);
        let stop = self.stop.clone();
        let mut share = CpuShare::limit(self.policy.cpus).map(CpuShare::new);
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(move |_| {
            if let Some(share) = &mut share {
                share.hold_back(&stop);
            }
            if stop.is_requested() {
                Ok(UpdateDeadline::Interrupt)
            } else {
                Ok(UpdateDeadline::Continue(1))
            }
        });
        store
    }

    fn run_module(
        &self,
        module: &Module,
        limiter: MemoryLimiter,
    ) -> Result<Interruptible, RunError> {
        let listeners = p1_listeners::bind(&self.policy)?;
        let mut wasi = build_wasi(&self.policy, listeners.len(), None)?;
        let mut linker: Linker<ModuleHost> = Linker::new(&self.engine);
        wasmtime_wasi::p1::add_to_linker_sync(&mut linker, |host| &mut host.wasi)?;
        let moves = self
            .policy
            .workdir
            .as_deref()
            .filter(|w| !w.trim_matches('/').is_empty());
        let has_chdir = module.exports().any(|e| e.name() == crate::CHDIR_EXPORT);
        if let Some(workdir) = moves.filter(|_| has_chdir) {
            crate::workdir::add_to_linker(&mut linker, self.policy.args.clone(), workdir.into())?;
        }
        let host = ModuleHost {
            wasi: wasi.build_p1(),
            limiter,
            sockets: P1Sockets::new(listeners, self.stop.clone())
                .map_err(|e| anyhow::anyhow!("cannot set up the published ports: {e}"))?,
        };
        if !host.sockets.is_empty() {
            p1_listeners::add_to_linker(&mut linker, |host| &mut host.sockets)?;
        }
        let mut store = self.new_store(host, |host| &mut host.limiter);

        let missing: Vec<String> = module
            .imports()
            .filter(|import| linker.get_by_import(&mut store, import).is_none())
            .map(|import| format!("{}::{}", import.module(), import.name()))
            .collect();
        if !missing.is_empty() {
            let wants = wanted_wasi(module.imports().map(|i| i.module()));
            return Err(RunError::CannotStart(format!(
                "it imports {} that wharf does not provide: {}. It wants {wants}",
                plural(missing.len(), "function"),
                missing.join(", ")
            )));
        }
        let exports_func = |name: &str| {
            module
                .exports()
                .any(|e| e.name() == name && e.ty().func().is_some())
        };
        // The wasmtime CLI's order: `_start`, else the command default export `""` (ITK-wasm's
        // pipelines and other reactors-as-commands), after `_initialize` when there is one.
        let entry = ["_start", ""].into_iter().find(|name| exports_func(name));
        let Some(entry) = entry else {
            let reactor = exports_func("_initialize");
            return Err(RunError::CannotStart(if reactor {
                "it is a reactor (a library module with `_initialize`), not a command: it has no `_start` or default export \"\" to run".into()
            } else {
                "it has no `_start` function to run: it is not a WASI command".into()
            }));
        };
        let initialize = entry.is_empty() && exports_func("_initialize");

        let result = linker.instantiate(&mut store, module).and_then(|instance| {
            let start = instance.get_typed_func::<(), ()>(&mut store, entry)?;
            self.policy.on_start.notify();
            if initialize {
                let init = instance.get_typed_func::<(), ()>(&mut store, "_initialize")?;
                init.call(&mut store, ())?;
            }
            start.call(&mut store, ())
        });
        Ok(finish(
            result.map(|()| 0),
            &store.data().limiter,
            self.policy.memory_limit,
        ))
    }

    fn run_component(
        &self,
        component: &Component,
        mut wasi: WasiCtxBuilder,
        limiter: MemoryLimiter,
    ) -> Result<Interruptible, RunError> {
        // A wasi:http server is told apart before linking: its imports (wasi:http) are not
        // a command's, and the linker would only say which one is missing.
        let exports: Vec<String> = component
            .component_type()
            .exports(&self.engine)
            .map(|(n, _)| n.to_string())
            .collect();
        if exports
            .iter()
            .any(|e| e.starts_with("wasi:http/incoming-handler"))
        {
            return Err(RunError::CannotStart(crate::NEEDS_A_PORT.into()));
        }
        let mut linker = wasmtime::component::Linker::<ComponentHost>::new(&self.engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
        if self.policy.network == NetworkMode::Bridge {
            add_port_space_to_linker(&mut linker)?;
            if self.policy.peers.is_some() {
                crate::peers::add_peer_lookup_to_linker(&mut linker)?;
            }
        }
        let pre = linker.instantiate_pre(component).map_err(|e| {
            let ty = component.component_type();
            let imports: Vec<String> = ty
                .imports(&self.engine)
                .map(|(n, _)| n.to_string())
                .collect();
            let wants = wanted_wasi(imports.iter().map(String::as_str));
            RunError::CannotStart(format!("{e:#}. It wants {wants}"))
        })?;
        let pre = CommandPre::new(pre).map_err(|_| {
            RunError::CannotStart(format!(
                "it does not export wasi:cli/run, so it is not a WASI command (it exports: {})",
                if exports.is_empty() {
                    "nothing".to_string()
                } else {
                    exports.join(", ")
                }
            ))
        })?;
        let host = ComponentHost {
            wasi: wasi.build(),
            table: ResourceTable::new(),
            limiter,
            ports: PortSpace::new(&self.policy.ports, self.policy.peers.clone()),
        };
        let mut store = self.new_store(host, |host| &mut host.limiter);
        let result = pre
            .instantiate(&mut store)
            .and_then(|command| {
                self.policy.on_start.notify();
                command.wasi_cli_run().call_run(&mut store)
            })
            .map(|ran| if ran.is_ok() { 0 } else { 1 });
        Ok(finish(
            result,
            &store.data().limiter,
            self.policy.memory_limit,
        ))
    }
}

/// Turns what the guest's entry point returned into an outcome.
fn finish(
    result: wasmtime::Result<i32>,
    limiter: &MemoryLimiter,
    memory_limit: Option<u64>,
) -> Interruptible {
    let memory_limit_hit = limiter.limit_hit;
    let code = match result {
        Ok(code) => code,
        Err(e) => match e.downcast_ref::<I32Exit>() {
            Some(exit) => exit.0,
            None => return Interruptible::from_error(e, memory_limit_hit, memory_limit),
        },
    };
    Interruptible::Finished(Outcome::Exited {
        code,
        memory_limit_hit,
    })
}

impl Interruptible {
    fn from_error(e: wasmtime::Error, memory_limit_hit: bool, limit: Option<u64>) -> Interruptible {
        if e.downcast_ref::<Trap>() == Some(&Trap::Interrupt) {
            return Interruptible::Interrupted;
        }
        let message = match e.downcast_ref::<Trap>() {
            Some(trap) => trap.to_string(),
            None => root_message(&e),
        };
        if memory_limit_hit {
            if let Some(limit) = limit {
                return Interruptible::Finished(Outcome::OutOfMemory {
                    limit,
                    detail: message,
                });
            }
        }
        let backtrace = e
            .downcast_ref::<WasmBacktrace>()
            .map(|bt| bt.to_string())
            .filter(|bt| !bt.trim().is_empty());
        Interruptible::Finished(Outcome::Trapped { message, backtrace })
    }
}

/// The innermost cause of an error, where wasmtime says what actually went wrong.
fn root_message(e: &wasmtime::Error) -> String {
    e.chain()
        .last()
        .map(|c| c.to_string())
        .unwrap_or_else(|| e.to_string())
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// Turns the policy into a WASI context: exactly the grants, nothing of the host besides.
/// Servers (`wharf-http`) build each request's context with it too.
pub fn wasi_builder(policy: &SandboxPolicy) -> Result<WasiCtxBuilder, RunError> {
    // Components learn their working directory from PWD (see `component_cwd`).
    build_wasi(policy, 0, policy.workdir.as_deref())
}

/// [`wasi_builder`] for a preview1 guest handed `listeners` pre-opened listeners: descriptors
/// 3.. are held for them (see `p1_listeners`) and `LISTEN_FDS` says how many there are.
/// `pwd`, when given, is the guest's `PWD`: it names the directory the guest is in, so it
/// replaces one given with `-e`.
fn build_wasi(
    policy: &SandboxPolicy,
    listeners: usize,
    pwd: Option<&str>,
) -> Result<WasiCtxBuilder, RunError> {
    let mut wasi = WasiCtxBuilder::new();
    if listeners > 0 {
        p1_listeners::hold_descriptors(&mut wasi, listeners)?;
        if !policy.env.iter().any(|(k, _)| k == "LISTEN_FDS") {
            wasi.env("LISTEN_FDS", listeners.to_string());
        }
    }
    wasi.allow_blocking_current_thread(true).args(&policy.args);
    for (key, value) in &policy.env {
        if pwd.is_none() || key != crate::WORKDIR_ENV {
            wasi.env(key, value);
        }
    }
    if let Some(pwd) = pwd {
        wasi.env(crate::WORKDIR_ENV, pwd);
    }
    match &policy.output {
        Output::Inherit => {
            wasi.inherit_stdout().inherit_stderr();
        }
        Output::Sink(sink) => {
            wasi.stdout(SinkStream {
                sink: sink.clone(),
                stream: GuestStream::Stdout,
            })
            .stderr(SinkStream {
                sink: sink.clone(),
                stream: GuestStream::Stderr,
            });
        }
    }
    match &policy.stdin {
        Stdin::Closed => {}
        Stdin::Inherit => {
            wasi.inherit_stdin();
        }
        Stdin::File(file) => {
            let file = file
                .try_clone()
                .map_err(|e| anyhow::anyhow!("cannot use stdin: {e}"))?;
            wasi.stdin(wasmtime_wasi::cli::InputFile::new(file));
        }
    }
    network::grant(&mut wasi, policy.network, &policy.ports);
    for mount in &policy.mounts {
        let perms = if mount.read_only {
            FsPerms::ReadOnly
        } else {
            FsPerms::ReadWrite
        };
        wasi.preopened_dir(&mount.host, &mount.guest, perms)
            .map_err(|e| {
                anyhow::anyhow!(
                    "cannot open {} to mount it at {}: {e}",
                    mount.host.display(),
                    mount.guest
                )
            })?;
    }
    if let Some(workdir) = &policy.workdir {
        wasi.initial_cwd(workdir);
        // wasi-libc (for preview1, and inside adapted components) resolves relative paths
        // against a `.` preopen, not against initial-cwd: grant the working directory as `.` too.
        if let Some((host, read_only)) = workdir_on_host(&policy.mounts, workdir)? {
            let perms = if read_only {
                FsPerms::ReadOnly
            } else {
                FsPerms::ReadWrite
            };
            wasi.preopened_dir(&host, ".", perms)
                .map_err(|e| anyhow::anyhow!("cannot open working directory {workdir}: {e}"))?;
        }
    }
    Ok(wasi)
}

/// The host directory behind guest path `workdir`, through the mount that holds it, and
/// whether that mount is read-only. `None` when no mount holds it. A working directory that
/// leaves its mount (through `..` or a symlink) is refused rather than followed.
fn workdir_on_host(
    mounts: &[crate::Mount],
    workdir: &str,
) -> Result<Option<(std::path::PathBuf, bool)>, RunError> {
    let escapes = || {
        RunError::Internal(anyhow::anyhow!(
            "working directory {workdir} leaves the mount that holds it"
        ))
    };
    if workdir.split('/').any(|part| part == "..") {
        return Err(escapes());
    }
    let within = |mount: &&crate::Mount| {
        let prefix = mount.guest.trim_end_matches('/');
        workdir == prefix || workdir.starts_with(&format!("{prefix}/")) || prefix.is_empty()
    };
    let Some(mount) = mounts.iter().filter(within).max_by_key(|m| m.guest.len()) else {
        return Ok(None);
    };
    let rest = workdir[mount.guest.trim_end_matches('/').len()..].trim_start_matches('/');
    let base = std::fs::canonicalize(&mount.host).map_err(|e| anyhow::anyhow!("{e}"))?;
    let host = match std::fs::canonicalize(base.join(rest)) {
        Ok(host) => host,
        // Docker creates a missing working directory; wharf never writes to the host unasked,
        // so the guest simply starts without a `.` preopen.
        Err(_) => return Ok(None),
    };
    if !host.starts_with(&base) || !host.is_dir() {
        return Err(escapes());
    }
    Ok(Some((host, mount.read_only)))
}
