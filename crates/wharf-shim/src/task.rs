//! containerd's task API (v2) translated into wharf-core calls: each task is a guest run by
//! [`Wharf::run_rootfs`] on a thread of this shim process, with its stdio on containerd's
//! FIFOs. Exec, pause and checkpoints have no meaning for a Wasm guest and answer so.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};

use containerd_shim::api::{self, Status};
use containerd_shim::protos::protobuf::well_known_types::any::Any;
use containerd_shim::protos::protobuf::well_known_types::timestamp::Timestamp;
use containerd_shim::protos::protobuf::MessageField;
use containerd_shim::{ExitSignal, Task, TtrpcContext, TtrpcResult};
use wharf_core::{GuestStream, Output, OutputSink, Stdin, StopHandle, Wharf};

use crate::content::ContentStore;
use crate::error::{internal, not_found, to_ttrpc, unimplemented};
use crate::events::Events;
use crate::metrics::Gauges;

/// How a guest ended: its exit code and when.
#[derive(Debug, Clone)]
struct Exit {
    code: u32,
    at: Timestamp,
}

/// Where a task's end is recorded once, and waited for.
#[derive(Default)]
struct ExitCell {
    exit: Mutex<Option<Exit>>,
    ended: Condvar,
}

impl ExitCell {
    /// Records the end with `code`, now, unless one is recorded already; returns it if it was
    /// this call's.
    fn set(&self, code: u32) -> Option<Exit> {
        let mut exit = self.exit.lock().unwrap();
        if exit.is_some() {
            return None;
        }
        let now = containerd_shim::util::timestamp().unwrap_or_default();
        *exit = Some(Exit { code, at: now });
        self.ended.notify_all();
        exit.clone()
    }

    fn get(&self) -> Option<Exit> {
        self.exit.lock().unwrap().clone()
    }

    /// Blocks until the end is recorded.
    fn wait(&self) -> Exit {
        let mut exit = self.exit.lock().unwrap();
        loop {
            match &*exit {
                Some(ended) => return ended.clone(),
                None => exit = self.ended.wait(exit).unwrap(),
            }
        }
    }
}

/// One task of this shim.
struct Guest {
    bundle: PathBuf,
    stdio: [String; 3],
    /// The rootfs containerd mounted for us, to unmount at delete.
    mounted: Option<PathBuf>,
    spec: crate::spec::GuestSpec,
    started: bool,
    stop: StopHandle,
    exit: Arc<ExitCell>,
    gauges: Gauges,
    /// A pod sandbox's process, once started.
    pod: Option<crate::pod::PodProcess>,
}

impl Guest {
    /// The pid containerd sees: the pod process's for a sandbox, else the shim's own (guests
    /// run in it).
    fn pid(&self) -> u32 {
        self.pod.as_ref().map_or_else(shim_pid, |p| p.pid)
    }

    fn status(&self) -> Status {
        if self.exit.get().is_some() {
            Status::STOPPED
        } else if self.started {
            Status::RUNNING
        } else {
            Status::CREATED
        }
    }

    fn exit(&self) -> Option<Exit> {
        self.exit.get()
    }
}

/// The task service of one shim process (one container, or one pod's containers).
pub struct Service {
    /// Opened at the first task, with the root the runtime options name.
    wharf: std::sync::OnceLock<Arc<Wharf>>,
    guests: Mutex<HashMap<String, Guest>>,
    events: Events,
    /// containerd's content store, for what a task's image says beyond its rootfs.
    content: ContentStore,
    exit: Arc<ExitSignal>,
}

impl Service {
    pub(crate) fn new(events: Events, content: ContentStore, exit: Arc<ExitSignal>) -> Service {
        Service {
            wharf: std::sync::OnceLock::new(),
            guests: Mutex::new(HashMap::new()),
            events,
            content,
            exit,
        }
    }

    /// wharf, opened on the root the runtime options name (else `$WHARF_ROOT`, else wharf's
    /// default). One shim serves one runtime handler, so the first task's options hold for all.
    fn wharf(&self, options: Option<&Any>) -> TtrpcResult<Arc<Wharf>> {
        if let Some(wharf) = self.wharf.get() {
            return Ok(wharf.clone());
        }
        let config = crate::options::config(options).map_err(to_ttrpc)?;
        let root = config
            .root
            .or_else(|| std::env::var_os(wharf_core::ROOT_ENV).map(PathBuf::from))
            .unwrap_or_else(wharf_core::Root::default_path);
        let wharf = wharf_core::Root::open(&root)
            .map_err(wharf_core::Error::io)
            .and_then(Wharf::open)
            .map_err(|e| internal(format!("cannot open wharf's root {}: {e}", root.display())))?;
        Ok(self.wharf.get_or_init(|| Arc::new(wharf)).clone())
    }

    fn with_guest<R>(&self, id: &str, f: impl FnOnce(&mut Guest) -> R) -> TtrpcResult<R> {
        let mut guests = self.guests.lock().unwrap();
        let guest = guests
            .get_mut(id)
            .ok_or_else(|| not_found(format!("task {id} not found")))?;
        Ok(f(guest))
    }
}

/// This shim's process ID: guests run in this process.
fn shim_pid() -> u32 {
    std::process::id()
}

/// Records that a task ended with `code`, wakes its waiters and tells containerd (once).
fn record_exit(exit: &ExitCell, events: &Events, id: &str, pid: u32, code: u32) {
    if let Some(ended) = exit.set(code) {
        events.exited(id, pid, code, &ended.at);
    }
}

/// A guest's stdout and stderr, written to containerd's FIFOs (or dropped when it gave none).
struct FifoSink {
    stdout: Mutex<Option<File>>,
    stderr: Mutex<Option<File>>,
}

impl FifoSink {
    /// Closes both FIFOs, as a process's exit closes its descriptors: containerd's reader
    /// then sees end-of-file before it hears of the exit, and has all the output when the
    /// client asks for it (`ctr run` printed nothing, now and then, when the exit came first).
    fn close(&self) {
        self.stdout.lock().unwrap().take();
        self.stderr.lock().unwrap().take();
    }
}

impl OutputSink for FifoSink {
    fn write(&self, stream: GuestStream, bytes: &[u8]) {
        let file = match stream {
            GuestStream::Stdout => &self.stdout,
            GuestStream::Stderr => &self.stderr,
        };
        if let Some(file) = file.lock().unwrap().as_mut() {
            // A reader that went away loses the output, not the guest.
            let _ = std::io::Write::write_all(file, bytes);
        }
    }
}

/// Opens a FIFO containerd created. Containerd reads the output FIFOs already; the stdin
/// FIFO may never get a writer (`ctr run` without `-i`), so it is opened without waiting for
/// one and then made blocking: reads wait for data, and see end-of-file when no writer is left.
fn open_fifo(path: &str, write: bool) -> std::io::Result<Option<File>> {
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::OpenOptionsExt;
    if path.is_empty() {
        return Ok(None);
    }
    let file = std::fs::OpenOptions::new()
        .read(!write)
        .write(write)
        .custom_flags(if write { 0 } else { libc::O_NONBLOCK })
        .open(path)?;
    if !write {
        // SAFETY: F_GETFL/F_SETFL on a descriptor this function owns.
        unsafe {
            let flags = libc::fcntl(file.as_raw_fd(), libc::F_GETFL);
            libc::fcntl(file.as_raw_fd(), libc::F_SETFL, flags & !libc::O_NONBLOCK);
        }
    }
    Ok(Some(file))
}

fn mount_rootfs(
    mounts: &[containerd_shim::protos::api::Mount],
    target: &Path,
) -> TtrpcResult<Option<PathBuf>> {
    if mounts.is_empty() {
        return Ok(None);
    }
    std::fs::create_dir_all(target).map_err(|e| internal(format!("{}: {e}", target.display())))?;
    for mount in mounts {
        containerd_shim::mount::mount_rootfs(
            Some(mount.type_.as_str()),
            Some(mount.source.as_str()),
            &mount.options,
            target,
        )
        .map_err(|e| internal(format!("mounting the root filesystem: {e}")))?;
    }
    Ok(Some(target.to_path_buf()))
}

fn unmount(target: &Path) {
    if let Some(path) = target.to_str() {
        let _ = containerd_shim::mount::umount_recursive(Some(path), 0);
    }
}

impl Service {
    /// Starts a pod sandbox: its process holds the pod's network for the containers to join.
    fn start_pod(
        &self,
        id: &str,
        spec: &crate::spec::GuestSpec,
        exit: Arc<ExitCell>,
    ) -> TtrpcResult<api::StartResponse> {
        let events = self.events.clone();
        let task = id.to_string();
        let on_exit = move |pid: u32, code: i32| {
            record_exit(&exit, &events, &task, pid, code as u32);
        };
        let pod = crate::pod::spawn(&spec.network, on_exit)
            .map_err(|e| internal(format!("cannot start the pod's sandbox process: {e}")))?;
        let started = pod.pid;
        self.with_guest(id, |g| g.pod = Some(pod))?;
        self.events.started(id, started);
        Ok(api::StartResponse {
            pid: started,
            ..Default::default()
        })
    }
}

impl Task for Service {
    fn create(
        &self,
        _ctx: &TtrpcContext,
        req: api::CreateTaskRequest,
    ) -> TtrpcResult<api::CreateTaskResponse> {
        if req.terminal {
            return Err(unimplemented(
                "a terminal (-t) is not supported by wharf's shim yet",
            ));
        }
        self.wharf(req.options.as_ref())?;
        let bundle = PathBuf::from(&req.bundle);
        let spec = crate::spec::load(&bundle).map_err(to_ttrpc)?;
        let mounted = mount_rootfs(&req.rootfs, &spec.rootfs)?;
        let guest = Guest {
            bundle,
            stdio: [req.stdin.clone(), req.stdout.clone(), req.stderr.clone()],
            mounted,
            spec,
            started: false,
            stop: StopHandle::new(),
            exit: Arc::new(ExitCell::default()),
            gauges: Gauges::default(),
            pod: None,
        };
        self.guests.lock().unwrap().insert(req.id.clone(), guest);
        let stdio = [req.stdin.clone(), req.stdout.clone(), req.stderr.clone()];
        self.events
            .created(&req.id, &req.bundle, &stdio, shim_pid());
        Ok(api::CreateTaskResponse {
            pid: shim_pid(),
            ..Default::default()
        })
    }

    fn start(
        &self,
        _ctx: &TtrpcContext,
        req: api::StartRequest,
    ) -> TtrpcResult<api::StartResponse> {
        if !req.exec_id.is_empty() {
            return Err(unimplemented(
                "exec is not supported: a Wasm guest has no other processes",
            ));
        }
        let (spec, stdio, stop, exit, gauges) = self.with_guest(&req.id, |g| {
            g.started = true;
            let gauges = g.gauges.clone();
            (
                g.spec.clone(),
                g.stdio.clone(),
                g.stop.clone(),
                g.exit.clone(),
                gauges,
            )
        })?;
        if spec.is_sandbox {
            return self.start_pod(&req.id, &spec, exit);
        }
        let stdout = open_fifo(&stdio[1], true).map_err(|e| internal(format!("stdout: {e}")))?;
        let stderr = open_fifo(&stdio[2], true).map_err(|e| internal(format!("stderr: {e}")))?;
        let sink = Arc::new(FifoSink {
            stdout: Mutex::new(stdout),
            stderr: Mutex::new(stderr),
        });
        let wharf = self.wharf(None)?;
        let content = self.content.clone();
        let events = self.events.clone();
        let id = req.id.clone();
        let stdin_path = stdio[0].clone();
        std::thread::Builder::new()
            .name(format!("task-{}", req.id))
            .spawn(move || {
                let mut policy = spec.policy.clone();
                policy.output = Output::Sink(sink.clone());
                policy.memory_gauge = Some(gauges.memory.clone());
                policy.guest_thread = Some(gauges.thread.clone());
                if let Ok(Some(stdin)) = open_fifo(&stdin_path, false) {
                    policy.stdin = Stdin::File(Arc::new(stdin));
                }
                let ran = crate::program::run(&wharf, &content, &id, &spec, &mut policy, &stop);
                let code = match ran {
                    Ok(outcome) => wharf_core::exit_code(&outcome),
                    Err(e) => {
                        sink.write(GuestStream::Stderr, format!("wharf: {e}\n").as_bytes());
                        e.start_exit_code()
                    }
                };
                sink.close();
                record_exit(&exit, &events, &id, shim_pid(), code as u32);
            })
            .map_err(|e| internal(format!("cannot start the guest thread: {e}")))?;
        self.events.started(&req.id, shim_pid());
        Ok(api::StartResponse {
            pid: shim_pid(),
            ..Default::default()
        })
    }

    fn wait(&self, _ctx: &TtrpcContext, req: api::WaitRequest) -> TtrpcResult<api::WaitResponse> {
        let exit = self.with_guest(&req.id, |g| g.exit.clone())?.wait();
        Ok(api::WaitResponse {
            exit_status: exit.code,
            exited_at: MessageField::some(exit.at),
            ..Default::default()
        })
    }

    fn kill(&self, _ctx: &TtrpcContext, req: api::KillRequest) -> TtrpcResult<api::Empty> {
        self.with_guest(&req.id, |g| {
            if let Some(pod) = &g.pod {
                if g.exit().is_none() {
                    // SAFETY: kill has no memory preconditions; the pod process is our child,
                    // reaped only by the shim's reaper once it has exited.
                    unsafe { libc::kill(pod.pid as i32, req.signal as i32) };
                }
            } else if g.started {
                g.stop.request(req.signal as i32);
            } else {
                // Never started: it ends now, as if the signal had killed it.
                record_exit(&g.exit, &self.events, &req.id, shim_pid(), 128 + req.signal);
            }
        })?;
        Ok(api::Empty::default())
    }

    fn delete(
        &self,
        _ctx: &TtrpcContext,
        req: api::DeleteRequest,
    ) -> TtrpcResult<api::DeleteResponse> {
        let guest = {
            let mut guests = self.guests.lock().unwrap();
            let running = guests
                .get(&req.id)
                .ok_or_else(|| not_found(format!("task {} not found", req.id)))?
                .status()
                == Status::RUNNING;
            if running {
                return Err(crate::error::failed_precondition(format!(
                    "task {} is running; kill it first",
                    req.id
                )));
            }
            guests.remove(&req.id).expect("present")
        };
        if let Some(target) = &guest.mounted {
            unmount(target);
        }
        let exit = guest.exit().unwrap_or(Exit {
            code: 0,
            at: containerd_shim::util::timestamp().unwrap_or_default(),
        });
        self.events
            .deleted(&req.id, guest.pid(), exit.code, &exit.at);
        Ok(api::DeleteResponse {
            pid: guest.pid(),
            exit_status: exit.code,
            exited_at: MessageField::some(exit.at),
            ..Default::default()
        })
    }

    fn state(
        &self,
        _ctx: &TtrpcContext,
        req: api::StateRequest,
    ) -> TtrpcResult<api::StateResponse> {
        self.with_guest(&req.id, |g| {
            let exit = g.exit();
            api::StateResponse {
                id: req.id.clone(),
                bundle: g.bundle.to_string_lossy().into_owned(),
                pid: g.pid(),
                status: g.status().into(),
                stdin: g.stdio[0].clone(),
                stdout: g.stdio[1].clone(),
                stderr: g.stdio[2].clone(),
                exit_status: exit.as_ref().map_or(0, |e| e.code),
                exited_at: exit.map(|e| e.at).into(),
                ..Default::default()
            }
        })
    }

    fn pids(&self, _ctx: &TtrpcContext, req: api::PidsRequest) -> TtrpcResult<api::PidsResponse> {
        let pid = self.with_guest(&req.id, |g| g.pid())?;
        Ok(api::PidsResponse {
            processes: vec![containerd_shim::protos::api::ProcessInfo {
                pid,
                ..Default::default()
            }],
            ..Default::default()
        })
    }

    fn stats(
        &self,
        _ctx: &TtrpcContext,
        req: api::StatsRequest,
    ) -> TtrpcResult<api::StatsResponse> {
        let stats = self.with_guest(&req.id, |g| g.gauges.metrics(g.spec.policy.memory_limit))?;
        Ok(api::StatsResponse {
            stats: MessageField::some(stats),
            ..Default::default()
        })
    }

    fn exec(&self, _ctx: &TtrpcContext, _req: api::ExecProcessRequest) -> TtrpcResult<api::Empty> {
        Err(unimplemented(
            "exec is not supported: a Wasm guest is one program, with no shell or other processes to run beside it",
        ))
    }

    fn connect(
        &self,
        _ctx: &TtrpcContext,
        req: api::ConnectRequest,
    ) -> TtrpcResult<api::ConnectResponse> {
        let task_pid = self.with_guest(&req.id, |g| g.pid())?;
        Ok(api::ConnectResponse {
            shim_pid: shim_pid(),
            task_pid,
            version: env!("CARGO_PKG_VERSION").to_string(),
            ..Default::default()
        })
    }

    fn shutdown(&self, _ctx: &TtrpcContext, _req: api::ShutdownRequest) -> TtrpcResult<api::Empty> {
        // One shim serves a pod's tasks: it goes once the last one is deleted.
        if self.guests.lock().unwrap().is_empty() {
            self.exit.signal();
        }
        Ok(api::Empty::default())
    }
}
