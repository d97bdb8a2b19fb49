//! wharf's core: the operations every front end calls.
//!
//! The `wharf` CLI, and later the Docker API service and the containerd shim, translate their
//! protocol into calls on [`Wharf`] and turn its results back; none of them touches the engine,
//! the cache or the disk layout directly. Exit codes follow Docker's conventions here, once, so
//! that every front end reports the same code for the same ending.

#![warn(missing_docs)]

mod container_fs;
mod containers;
pub mod docker;
mod error;
pub mod events;
mod file_mounts;
mod foreign_image;
mod image_list;
mod images;
mod list;
mod log_reader;
pub mod monitor;
mod networks;
mod peers;
mod registry;
mod rootfs;
mod serve;
mod signal;
mod stdin;
mod system;
mod volumes;

use std::path::Path;

pub use containers::{network_choice, ContainerSpec, ContainerStats, RunTarget, UserNetwork};
pub use error::{Error, ErrorKind};
pub use foreign_image::{read_image_facts, BlobRef, ImageFacts};
pub use image_list::ImageQuery;
pub use images::ImageRun;
pub use list::ContainerQuery;
pub use log_reader::{LogItem, LogQuery, LogStream};
pub use registry::{
    normalize_registry, BlobEvent, NoProgress, Progress, Pulled, Pushed, RegistryOptions,
};
pub use rootfs::serves_http;
pub use signal::Signal;
pub use stdin::AttachedStdin;
pub use system::SystemPrune;
pub use volumes::names_a_volume;
pub use wharf_build::BuildOptions;
pub use wharf_containers::{
    logs, parse_size, short_id, Container, ContainerConfig, LogLimits, Reconciled, RestartPolicy,
    State as ContainerState, Status as ContainerStatus, Target as ContainerTarget,
};
pub use wharf_image::Reference;
pub use wharf_registry::Credentials;
pub use wharf_store::Digest;

use wharf_aot_cache::{AotCache, CompileError};
pub use wharf_root::{PendingFile, Root, ROOT_ENV};
use wharf_sandbox::Compiled;
pub use wharf_sandbox::{
    assign_free_ports, GuestStream, Mount, NetworkMode, Outcome, Output, OutputSink, PortMapping,
    SandboxPolicy, StartHook, Stdin, StopHandle, StopReason, WASMTIME_VERSION,
};
use wharf_sandbox::{Engine, RunError, WasmBinary};

/// One wharf installation: its root directory, engine and AOT cache.
///
/// # Calling contract
///
/// - **Everything blocks.** Every method does its work on the calling thread: file and store
///   I/O under locks shared with other wharf processes, compiling, running a guest to its end
///   (`run_file`, `run_image`), waiting for a container (`wait_container`, following
///   `logs`). Registry calls (`pull`, `push`, `login`) drive their own tokio runtime and
///   `block_on` it, so they must not be called on a tokio worker thread. An async front end
///   (the Docker API service) calls them through `tokio::task::spawn_blocking`.
/// - **Shared, not cloned.** `Wharf` is `Send + Sync`: open one per process and share it
///   (`Arc<Wharf>`); concurrent calls are safe, and so are other wharf processes on the same
///   root (state changes are locked and atomic on disk).
/// - **Guests side by side.** Guests of one process share an engine; stopping or timing out
///   one never disturbs another (each store decides on the shared epoch tick by its own
///   `StopHandle`). Containers run in their monitor processes, not in the caller's.
/// - **Errors** carry an [`ErrorKind`] each front end maps once.
pub struct Wharf {
    root: Root,
    /// Made on first use: most commands (`ps`, `run -d`, `images`...) run no guest in this
    /// process, and an engine costs a millisecond of Cranelift set-up to make.
    engine: std::sync::OnceLock<Engine>,
    cache: AotCache,
    /// The container monitor binary; `None`: `$WHARF_MONITOR`, or beside the running program.
    monitor: Option<std::path::PathBuf>,
}

/// The exit code Docker users expect for how a guest ended: the guest's own code; 134 for a
/// trap (as SIGABRT); 137 when a limit killed it (memory, timeout: as SIGKILL); 128 + N when
/// signal N stopped it.
pub fn exit_code(outcome: &Outcome) -> i32 {
    match outcome {
        Outcome::Exited { code, .. } => *code,
        Outcome::Trapped { .. } => 134,
        Outcome::OutOfMemory { .. } | Outcome::Stopped(StopReason::Timeout(_)) => 137,
        Outcome::Stopped(StopReason::Signal(signal)) => 128 + signal,
    }
}

/// The argv a file runs with: its name without directories, as `wasmtime run` passes it (so
/// programs that print their own name say the same under both), then `args`. Foreground runs
/// and containers of a file alike.
pub fn file_argv(file: &str, args: &[String]) -> Vec<String> {
    let argv0 = Path::new(file)
        .file_name()
        .map_or_else(|| file.to_string(), |n| n.to_string_lossy().into_owned());
    std::iter::once(argv0).chain(args.iter().cloned()).collect()
}

/// Checks a `--platform` (the API's `platform=`): a WASI platform (`wasi/wasm`, `wasip1/wasm`,
/// `wasip2/wasm`, or the OS alone) is what wharf runs; anything else is refused with a sentence,
/// since wharf cannot run a Linux or Windows image.
pub fn check_platform(platform: &str) -> Result<(), Error> {
    let mut parts = platform.split('/');
    let os = parts.next().unwrap_or("");
    let arch = parts.next().unwrap_or("wasm");
    if platform.is_empty() || (matches!(os, "wasi" | "wasip1" | "wasip2") && arch == "wasm") {
        return Ok(());
    }
    Err(Error::InvalidArgument(format!(
        "platform {platform:?} is not WebAssembly: wharf runs wasi/wasm images (wasi/wasm, wasip1/wasm or wasip2/wasm); run {os} images with Docker"
    )))
}

/// Why a file that is neither a Wasm binary nor WAT text cannot run.
const NOT_WASM: &str = "it is not a WebAssembly file (no \\0asm header, and not WAT text)";

/// The whole file at `path` if its first bytes say it may be WebAssembly; `None` (having read
/// only those) if they say it is not, so that a large file of something else costs nothing.
fn read_if_wasm(path: &Path) -> std::io::Result<Option<(Vec<u8>, std::fs::Metadata)>> {
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    // Taken before the bytes are read: see `AotCache::remember_key`.
    let meta = file.metadata()?;
    let mut bytes = Vec::new();
    (&mut file).take(4096).read_to_end(&mut bytes)?;
    if !WasmBinary::could_be(&bytes) {
        return Ok(None);
    }
    file.read_to_end(&mut bytes)?;
    Ok(Some((bytes, meta)))
}

impl Wharf {
    /// Opens wharf at `root`. The engine guests run with is made when the first one needs it.
    pub fn open(root: Root) -> Result<Wharf, Error> {
        let limit = std::env::var("WHARF_AOT_CACHE_SIZE")
            .ok()
            .and_then(|size| parse_size(&size).ok())
            .unwrap_or(system::DEFAULT_CACHE_LIMIT);
        let cache = AotCache::new(root.aot_cache_dir()).with_limit(limit);
        Ok(Wharf {
            root,
            engine: std::sync::OnceLock::new(),
            cache,
            monitor: None,
        })
    }

    /// Starts containers with the monitor binary at `path` (a front end installed elsewhere
    /// than `wharf-monitor`, a test harness) instead of `$WHARF_MONITOR` or the one beside the
    /// running program.
    pub fn with_monitor(mut self, path: impl Into<std::path::PathBuf>) -> Wharf {
        self.monitor = Some(path.into());
        self
    }

    /// The engine guests run with, made on first use.
    fn engine(&self) -> Result<&Engine, Error> {
        if let Some(engine) = self.engine.get() {
            return Ok(engine);
        }
        let engine = wharf_sandbox::new_engine()?;
        // Two threads may both make one; the first stored is the one every guest shares.
        Ok(self.engine.get_or_init(|| engine))
    }

    /// The root directory this wharf keeps its data in.
    pub fn root(&self) -> &Root {
        &self.root
    }

    /// Runs the `.wasm` or `.wat` file at `file` under `policy` until it ends or `stop` fires.
    pub fn run_file(
        &self,
        file: &Path,
        policy: &SandboxPolicy,
        stop: &StopHandle,
    ) -> Result<Outcome, Error> {
        // A file whose code is cached runs without being read. A server (`-p`) is read: how
        // it is served depends on what it exports.
        if policy.ports.is_empty() {
            let key = std::fs::metadata(file)
                .ok()
                .and_then(|meta| self.cache.remembered_key(&meta));
            let engine = self.engine()?;
            if let Some(compiled) = key.and_then(|key| self.cache.lookup(engine, &key)) {
                let source = wharf_aot_cache::Source::Cache;
                tracing::debug!(?source, "compiled code ready (the file itself not read)");
                return self.with_file_grants(policy, |policy| {
                    self.run_compiled(file, &compiled, policy, stop)
                });
            }
        }
        let (bytes, meta) = match read_if_wasm(file) {
            Ok(Some(read)) => read,
            Ok(None) => return Err(Error::not_runnable(file, NOT_WASM)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::NoSuchFile(file.to_path_buf()))
            }
            Err(_) if file.is_dir() => return Err(Error::not_runnable(file, "it is a directory")),
            Err(e) => return Err(Error::not_runnable(file, format!("cannot read it: {e}"))),
        };
        let wasm = WasmBinary::parse(bytes).map_err(|reason| Error::not_runnable(file, reason))?;
        let key = wharf_aot_cache::CacheKey::of(&wasm);
        if !wasm.exports_http_handler() {
            self.cache.remember_key(&meta, &key);
        }
        self.run_wasm(file, &wasm, &key, policy, stop)
    }

    /// Runs the WebAssembly binary (or WAT text) `bytes`, named `name` in messages: a module a
    /// front end read from elsewhere than a file (a Wasm layer of containerd's content store).
    pub fn run_module(
        &self,
        name: &str,
        bytes: Vec<u8>,
        policy: &SandboxPolicy,
        stop: &StopHandle,
    ) -> Result<Outcome, Error> {
        self.run_bytes(Path::new(name), bytes, policy, stop)
    }

    /// Runs a WebAssembly binary (or WAT text) named `name` in messages.
    fn run_bytes(
        &self,
        name: &Path,
        bytes: Vec<u8>,
        policy: &SandboxPolicy,
        stop: &StopHandle,
    ) -> Result<Outcome, Error> {
        let wasm = WasmBinary::parse(bytes).map_err(|reason| Error::not_runnable(name, reason))?;
        let key = wharf_aot_cache::CacheKey::of(&wasm);
        self.run_wasm(name, &wasm, &key, policy, stop)
    }

    /// `run` of `policy` with its single-file mounts turned into directory grants (held
    /// while `run` runs); the policy is copied only when it has such mounts.
    fn with_file_grants<T>(
        &self,
        policy: &SandboxPolicy,
        run: impl FnOnce(&SandboxPolicy) -> Result<T, Error>,
    ) -> Result<T, Error> {
        if !file_mounts::any(&policy.mounts) {
            return run(policy);
        }
        let mut with_grants = policy.clone();
        let _grants = self.grant_file_mounts(&mut with_grants)?;
        run(&with_grants)
    }

    /// Runs the parsed binary `wasm`, whose cache key is `key`.
    fn run_wasm(
        &self,
        name: &Path,
        wasm: &WasmBinary,
        key: &wharf_aot_cache::CacheKey,
        policy: &SandboxPolicy,
        stop: &StopHandle,
    ) -> Result<Outcome, Error> {
        self.with_file_grants(policy, |policy| {
            if !policy.ports.is_empty() {
                if wasm.exports_http_handler() {
                    return self.serve_http(name, wasm, policy, stop);
                }
                wharf_sandbox::ensure_ports_free(&policy.ports).map_err(Error::Conflict)?;
            } else if wasm.exports_http_handler() {
                // Said before compiling: a cold compile of a server takes seconds.
                return Err(Error::not_runnable(name, wharf_sandbox::NEEDS_A_PORT));
            }
            let (compiled, source) = self
                .cache
                .load_or_compile_keyed(self.engine()?, key, wasm)
                .map_err(|CompileError::Invalid(e)| {
                    Error::not_runnable(name, format!("invalid WebAssembly: {e}"))
                })?;
            tracing::debug!(?source, kind = wasm.kind.name(), "compiled code ready");
            self.run_compiled(name, &compiled, policy, stop)
        })
    }

    /// Turns the single-file mounts of `policy` into directory grants for this run.
    pub(crate) fn grant_file_mounts(
        &self,
        policy: &mut SandboxPolicy,
    ) -> Result<file_mounts::FileGrants, Error> {
        file_mounts::grant_directories(&self.root.path().join("run"), &mut policy.mounts)
    }

    /// Runs compiled code; `name` is the file or image named in messages.
    fn run_compiled(
        &self,
        name: &Path,
        compiled: &Compiled,
        policy: &SandboxPolicy,
        stop: &StopHandle,
    ) -> Result<Outcome, Error> {
        wharf_sandbox::run(self.engine()?, compiled, policy, stop).map_err(|e| match e {
            RunError::CannotStart(reason) => Error::not_runnable(name, reason),
            RunError::Internal(e) => Error::Internal(e),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn wharf() -> (tempfile::TempDir, Wharf) {
        let tmp = tempfile::tempdir().unwrap();
        let wharf = Wharf::open(Root::open(tmp.path().join("root")).unwrap()).unwrap();
        (tmp, wharf)
    }

    fn run_wat(
        wharf: &Wharf,
        dir: &Path,
        wat: &str,
        policy: &SandboxPolicy,
    ) -> Result<Outcome, Error> {
        let file = dir.join("guest.wat");
        std::fs::write(&file, wat).unwrap();
        wharf.run_file(&file, policy, &StopHandle::new())
    }

    #[test]
    fn exit_codes_follow_docker() {
        let exited = Outcome::Exited {
            code: 3,
            memory_limit_hit: false,
        };
        assert_eq!(exit_code(&exited), 3);
        let trapped = Outcome::Trapped {
            message: String::new(),
            backtrace: None,
        };
        assert_eq!(exit_code(&trapped), 134);
        assert_eq!(
            exit_code(&Outcome::Stopped(StopReason::Timeout(Duration::ZERO))),
            137
        );
        assert_eq!(exit_code(&Outcome::Stopped(StopReason::Signal(15))), 143);
        assert_eq!(
            exit_code(&Outcome::OutOfMemory {
                limit: 1,
                detail: String::new()
            }),
            137
        );
    }

    #[test]
    fn runs_a_module_and_reports_its_exit_code() {
        let (tmp, wharf) = wharf();
        let wat = r#"(module
            (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
            (memory (export "memory") 1)
            (func (export "_start") (call $exit (i32.const 7))))"#;
        let outcome = run_wat(&wharf, tmp.path(), wat, &SandboxPolicy::default()).unwrap();
        assert_eq!(
            outcome,
            Outcome::Exited {
                code: 7,
                memory_limit_hit: false
            }
        );
    }

    #[test]
    fn a_timeout_stops_an_endless_loop() {
        let (tmp, wharf) = wharf();
        let wat = r#"(module (func (export "_start") (loop (br 0))))"#;
        let policy = SandboxPolicy {
            timeout: Some(Duration::from_millis(200)),
            ..Default::default()
        };
        let outcome = run_wat(&wharf, tmp.path(), wat, &policy).unwrap();
        assert_eq!(
            outcome,
            Outcome::Stopped(StopReason::Timeout(Duration::from_millis(200)))
        );
    }

    #[test]
    fn stdin_can_be_a_pipe_the_caller_opened() {
        let (tmp, wharf) = wharf();
        // Reads stdin once into memory and exits with the number of bytes read.
        let wat = r#"(module
            (import "wasi_snapshot_preview1" "fd_read"
                (func $read (param i32 i32 i32 i32) (result i32)))
            (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
            (memory (export "memory") 1)
            (func (export "_start")
                (i32.store (i32.const 0) (i32.const 100))
                (i32.store (i32.const 4) (i32.const 64))
                (drop (call $read (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 8)))
                (call $exit (i32.load (i32.const 8)))))"#;
        let (reader, mut writer) = std::io::pipe().unwrap();
        std::io::Write::write_all(&mut writer, b"seven b").unwrap();
        drop(writer);
        let policy = SandboxPolicy {
            stdin: Stdin::File(std::sync::Arc::new(std::fs::File::from(
                std::os::fd::OwnedFd::from(reader),
            ))),
            ..Default::default()
        };
        let outcome = run_wat(&wharf, tmp.path(), wat, &policy).unwrap();
        assert_eq!(
            outcome,
            Outcome::Exited {
                code: 7,
                memory_limit_hit: false
            }
        );
    }

    #[test]
    fn wharf_is_shared_between_threads() {
        fn shared<T: Send + Sync>() {}
        shared::<Wharf>();
    }

    #[test]
    fn stopping_one_guest_leaves_another_in_the_same_process_running() {
        let (tmp, wharf) = wharf();
        let spin = tmp.path().join("spin.wat");
        std::fs::write(&spin, r#"(module (func (export "_start") (loop (br 0))))"#).unwrap();
        let wharf = std::sync::Arc::new(wharf);
        let start = |stop: StopHandle, timeout: Option<Duration>| {
            let (wharf, spin) = (wharf.clone(), spin.clone());
            std::thread::spawn(move || {
                let policy = SandboxPolicy {
                    timeout,
                    ..Default::default()
                };
                wharf.run_file(&spin, &policy, &stop).unwrap()
            })
        };
        let (first, second) = (StopHandle::new(), StopHandle::new());
        let first_run = start(first.clone(), None);
        let second_run = start(second.clone(), None);
        // A third guest's timeout also bumps the shared epoch.
        let timed = start(StopHandle::new(), Some(Duration::from_millis(200)));
        std::thread::sleep(Duration::from_millis(300));
        first.request(libc::SIGTERM);
        assert_eq!(
            first_run.join().unwrap(),
            Outcome::Stopped(StopReason::Signal(libc::SIGTERM))
        );
        assert!(matches!(
            timed.join().unwrap(),
            Outcome::Stopped(StopReason::Timeout(_))
        ));
        // The second one has lived through both.
        std::thread::sleep(Duration::from_millis(200));
        assert!(
            !second_run.is_finished(),
            "stopping one guest stopped another"
        );
        second.request(libc::SIGINT);
        assert_eq!(
            second_run.join().unwrap(),
            Outcome::Stopped(StopReason::Signal(libc::SIGINT))
        );
    }

    #[test]
    fn missing_imports_are_named() {
        let (tmp, wharf) = wharf();
        let wat = r#"(module
            (import "env" "magic" (func))
            (import "wasi_snapshot_preview1" "sock_accept" (func (param i32 i32 i32) (result i32)))
            (import "wasi_snapshot_preview1" "not_a_wasi_call" (func))
            (func (export "_start")))"#;
        let err = run_wat(&wharf, tmp.path(), wat, &SandboxPolicy::default()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotRunnable);
        let text = err.to_string();
        assert!(text.contains("env::magic"), "{text}");
        assert!(
            text.contains("wasi_snapshot_preview1::not_a_wasi_call"),
            "{text}"
        );
        assert!(!text.contains("sock_accept"), "{text}");
        assert!(text.contains("preview1"), "{text}");
    }

    #[test]
    fn a_missing_file_and_a_non_wasm_file_are_told_apart() {
        let (tmp, wharf) = wharf();
        let missing = wharf.run_file(
            &tmp.path().join("nope.wasm"),
            &SandboxPolicy::default(),
            &StopHandle::new(),
        );
        assert!(matches!(missing.unwrap_err(), Error::NoSuchFile(_)));
        let script = tmp.path().join("script.wasm");
        std::fs::write(&script, "#!/bin/sh\n").unwrap();
        let err = wharf
            .run_file(&script, &SandboxPolicy::default(), &StopHandle::new())
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotRunnable);
        assert!(err.to_string().contains("not a WebAssembly file"), "{err}");
    }
}
