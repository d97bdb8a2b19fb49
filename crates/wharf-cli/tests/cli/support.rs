//! Test support: runs the real `wharf` binary against the real guests `wharf-test-guests`
//! builds from `tests/guests/` once per test run.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

pub use wharf_test_guests::{guest, script_guest};

/// A free TCP port on 127.0.0.1 (free now; the caller binds it soon after).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A wharf root shared by the tests that do not look at the cache, so each guest compiles once.
pub fn shared_root() -> &'static Path {
    static ROOT: OnceLock<tempfile::TempDir> = OnceLock::new();
    ROOT.get_or_init(|| tempfile::tempdir().unwrap()).path()
}

/// `wharf` with the shared root and a clean environment.
pub fn wharf() -> Command {
    wharf_in(shared_root())
}

/// `wharf` with the given root.
pub fn wharf_in(root: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_wharf"));
    cmd.env("WHARF_ROOT", root).env_remove("WHARF_LOG");
    cmd
}

/// What a finished wharf printed and returned.
#[derive(Debug)]
pub struct Ran {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Ran {
    fn from(out: Output) -> Self {
        let ran = Ran {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        assert!(
            !ran.stderr.contains("panicked"),
            "wharf panicked: {}",
            ran.stderr
        );
        ran
    }
}

/// Runs `wharf ARGS...` with the shared root, stdin from /dev/null.
pub fn run(args: &[&str]) -> Ran {
    wharf()
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap()
        .into()
}

/// Runs `wharf ARGS...` with the root `root`, stdin from /dev/null.
pub fn run_in(root: &Path, args: &[&str]) -> Ran {
    wharf_in(root)
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap()
        .into()
}

/// `wharf run [FLAGS...] GUEST [ARGS...]`, split on the guest's name.
pub fn run_guest(flags: &[&str], guest_file: &str, args: &[&str]) -> Ran {
    let path = guest(guest_file);
    let mut all = vec!["run"];
    all.extend_from_slice(flags);
    all.push(path.to_str().unwrap());
    all.extend_from_slice(args);
    run(&all)
}

/// `len` bytes that do not compress (xorshift64 from `seed`): layers and files large enough that
/// work on them can be interrupted.
pub fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut bytes = vec![0u8; len];
    let mut x = seed;
    for chunk in bytes.chunks_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        chunk.copy_from_slice(&x.to_le_bytes()[..chunk.len()]);
    }
    bytes
}

/// A wharf root of one test's own, in a temporary directory removed when the test ends, with a
/// Docker config directory of its own beside it (`DOCKER_CONFIG`) and registry calls that give
/// up after 3 s. Test modules add their own helpers with `impl TestRoot` blocks.
pub struct TestRoot {
    pub tmp: tempfile::TempDir,
}

impl TestRoot {
    pub fn new() -> TestRoot {
        TestRoot {
            tmp: tempfile::tempdir().unwrap(),
        }
    }

    /// The wharf root.
    pub fn root(&self) -> PathBuf {
        self.tmp.path().join("root")
    }

    /// The Docker config directory (credentials of `wharf login`).
    pub fn docker_config(&self) -> PathBuf {
        self.tmp.path().join("docker")
    }

    /// `wharf ARGS...` on this root, stdin from /dev/null, not started yet.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = wharf_in(&self.root());
        cmd.env("DOCKER_CONFIG", self.docker_config())
            .env("WHARF_REGISTRY_TIMEOUT", "3")
            .args(args)
            .stdin(std::process::Stdio::null());
        cmd
    }

    /// Runs `wharf ARGS...` on this root.
    pub fn wharf(&self, args: &[&str]) -> Ran {
        self.command(args).output().unwrap().into()
    }

    /// `wharf run -d ARGS...`; returns the container ID.
    pub fn run_d(&self, args: &[&str]) -> String {
        let mut all = vec!["run", "-d"];
        all.extend_from_slice(args);
        let ran = self.wharf(&all);
        assert_eq!(ran.code, 0, "{ran:?}");
        let id = ran.stdout.trim().to_string();
        assert_eq!(id.len(), 64, "{ran:?}");
        id
    }

    /// `wharf inspect NAME`, parsed.
    pub fn inspect(&self, name: &str) -> serde_json::Value {
        let ran = self.wharf(&["inspect", name]);
        assert_eq!(ran.code, 0, "{ran:?}");
        serde_json::from_str::<serde_json::Value>(&ran.stdout).unwrap()[0].clone()
    }

    /// Polls `inspect` until `check` holds (at most 20 s).
    pub fn until(
        &self,
        name: &str,
        what: &str,
        check: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let value = self.inspect(name);
            if check(&value) {
                return value;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{name} never {what}: {value:#}"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    /// Waits until container `name` has exited; returns its exit code.
    pub fn wait(&self, name: &str) -> i32 {
        let ran = self.wharf(&["wait", name]);
        assert_eq!(ran.code, 0, "{ran:?}");
        ran.stdout.trim().parse().unwrap()
    }
}
