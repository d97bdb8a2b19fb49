//! Crash consistency: kill -9 at random moments of every operation that changes wharf's state,
//! then check that nothing is damaged and that the operation, done again, succeeds.
//!
//! 30 trials by default; `WHARF_CRASH_TRIALS=N` runs more, `WHARF_CRASH_SEED=S` repeats a run
//! (the seed is printed on failure).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use sha2::{Digest as _, Sha256};

use crate::services::Registry;
use crate::support::{guest, noise, wharf_in, Ran};

/// xorshift64: enough randomness for kill moments, and repeatable from its seed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

struct Victim {
    tmp: tempfile::TempDir,
    name: String,
    seed: u64,
}

impl Victim {
    fn root(&self) -> PathBuf {
        self.tmp.path().join("root")
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = wharf_in(&self.root());
        cmd.env("DOCKER_CONFIG", self.tmp.path().join("docker"))
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        cmd
    }

    fn wharf(&self, args: &[&str]) -> Ran {
        self.command(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output()
            .unwrap()
            .into()
    }

    /// Runs `args` to completion; it must succeed.
    fn redo(&self, what: &str, args: &[&str]) {
        let ran = self.wharf(args);
        assert_eq!(ran.code, 0, "seed {}: redoing {what}: {ran:?}", self.seed);
    }

    /// Starts `args` and kills it (SIGKILL) after `delay_ms`.
    fn kill_during(&self, args: &[&str], delay_ms: u64) {
        let mut child = self.command(args).spawn().unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        let _ = child.kill();
        let _ = child.wait();
    }

    fn context(&self) -> String {
        self.tmp.path().join("ctx").to_string_lossy().into_owned()
    }

    fn archive(&self) -> String {
        self.tmp
            .path()
            .join("saved.tar")
            .to_string_lossy()
            .into_owned()
    }

    /// What must hold after any crash.
    fn check(&self, what: &str) {
        let blobs = self.root().join("images/blobs/sha256");
        for entry in std::fs::read_dir(&blobs).into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let bytes = std::fs::read(entry.path()).unwrap();
            let actual = hex::encode(Sha256::digest(&bytes));
            assert_eq!(
                actual, name,
                "seed {}: after {what}: a damaged blob",
                self.seed
            );
        }
        for args in [&["images"][..], &["ps", "-a"][..]] {
            let ran = self.wharf(args);
            assert_eq!(
                ran.code, 0,
                "seed {}: after {what}: {args:?}: {ran:?}",
                self.seed
            );
        }
        // Every monitor alive belongs to a container that exists.
        let root = self.root().to_string_lossy().into_owned();
        for cmdline in monitors(&root) {
            let id = cmdline.split_whitespace().last().unwrap_or_default();
            assert!(
                self.root().join("containers").join(id).is_dir(),
                "seed {}: after {what}: a guest of a removed container runs: {cmdline}",
                self.seed
            );
        }
    }
}

/// Command lines of the container monitors (which hold the guests) under `root`.
fn monitors(root: &str) -> Vec<String> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .map(|c| {
            String::from_utf8_lossy(&c)
                .replace('\0', " ")
                .trim()
                .to_string()
        })
        .filter(|c| c.contains(root) && c.contains("wharf-monitor"))
        .collect()
}

fn setup(registry: &Registry, seed: u64) -> Victim {
    let victim = Victim {
        tmp: tempfile::tempdir().unwrap(),
        name: format!("{}/crash:1", registry.addr),
        seed,
    };
    let ctx = PathBuf::from(victim.context());
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::copy(guest("hello.wasm"), ctx.join("hello.wasm")).unwrap();
    std::fs::write(ctx.join("noise.bin"), noise(8 << 20, seed | 1)).unwrap();
    std::fs::write(
        ctx.join("Dockerfile"),
        "FROM scratch\nCOPY noise.bin /\nCOPY hello.wasm /\nENTRYPOINT [\"/hello.wasm\"]\n",
    )
    .unwrap();
    victim.redo(
        "build",
        &["build", "-q", "-t", &victim.name, &victim.context()],
    );
    victim.redo("push", &["push", "-q", &victim.name]);
    victim.redo("save", &["save", "-o", &victim.archive(), &victim.name]);
    victim
}

#[test]
fn kill_9_at_random_moments_damages_nothing() {
    let trials: u64 = std::env::var("WHARF_CRASH_TRIALS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30);
    let seed: u64 = std::env::var("WHARF_CRASH_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        });
    let registry = Registry::start();
    let v = setup(&registry, seed);
    let mut rng = Rng(seed);
    let sleep = guest("sleep.wasm");
    let sleep = sleep.to_str().unwrap();
    let name = v.name.clone();
    let (ctx, archive) = (v.context(), v.archive());
    for trial in 0..trials {
        let delay = rng.below(300);
        let op = rng.below(8);
        let what = format!("trial {trial}: op {op} killed at {delay} ms");
        match op {
            0 => {
                // pull: from nothing of the image.
                let _ = v.wharf(&["rmi", "-f", &name]);
                v.kill_during(&["pull", "-q", &name], delay);
                v.check(&what);
                v.redo(&what, &["pull", "-q", &name]);
            }
            1 => {
                v.redo(&what, &["pull", "-q", &name]);
                v.kill_during(&["push", "-q", &name], delay);
                v.check(&what);
                v.redo(&what, &["push", "-q", &name]);
            }
            2 => {
                v.kill_during(&["build", "-q", "-t", &name, &ctx], delay);
                v.check(&what);
                v.redo(&what, &["build", "-q", "-t", &name, &ctx]);
            }
            3 => {
                v.redo(&what, &["pull", "-q", &name]);
                v.kill_during(&["rmi", &name], delay);
                v.check(&what);
                let _ = v.wharf(&["rmi", &name]);
                assert!(!v.wharf(&["images"]).stdout.contains("crash"), "{what}");
                v.redo(&what, &["pull", "-q", &name]);
            }
            4 => {
                let container = format!("c{trial}");
                v.kill_during(&["run", "-d", "--name", &container, sleep, "30"], delay);
                v.kill_during(&["rm", "-f", &container], rng.below(100));
                v.check(&what);
                let ran = v.wharf(&["rm", "-f", &container]);
                assert!(
                    ran.code == 0 || ran.stderr.contains("no such container"),
                    "seed {seed}: {what}: {ran:?}"
                );
                // Removed: gone from every listing, and nothing of it runs.
                assert_ne!(v.wharf(&["inspect", &container]).code, 0, "{what}");
                v.check(&what);
            }
            5 => {
                v.kill_during(&["image", "prune", "-a", "-f"], delay);
                v.check(&what);
                v.redo(&what, &["image", "prune", "-a", "-f"]);
                v.redo(&what, &["pull", "-q", &name]);
            }
            6 => {
                v.redo(&what, &["pull", "-q", &name]);
                v.kill_during(&["save", "-o", &archive, &name], delay);
                v.check(&what);
                v.redo(&what, &["save", "-o", &archive, &name]);
            }
            _ => {
                let _ = v.wharf(&["rmi", "-f", &name]);
                v.kill_during(&["load", "-i", &archive], delay);
                v.check(&what);
                v.redo(&what, &["load", "-i", &archive]);
            }
        }
    }
    // After all of it: no container left running, and the image still runs.
    let left = v.wharf(&["ps", "-a", "-q"]);
    for id in left.stdout.split_whitespace() {
        let _ = v.wharf(&["rm", "-f", id]);
    }
    assert!(
        monitors(&v.root().to_string_lossy()).is_empty(),
        "seed {seed}"
    );
    v.redo("the final pull", &["pull", "-q", &name]);
    let ran = v.wharf(&["run", &name]);
    assert!(
        ran.stdout.contains("hello from wasm"),
        "seed {seed}: {ran:?}"
    );
    assert!(Path::new(&archive).exists());
}
