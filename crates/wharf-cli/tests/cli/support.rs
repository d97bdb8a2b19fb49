//! Test support: builds the real guests in `tests/guests/` once per test run, and runs the real
//! `wharf` binary against them.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// The repository's guest sources.
fn sources() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/guests")
}

/// C guests, built with Debian's clang and wasi-libc.
const C_GUESTS: &[&str] = &[
    "hello", "files", "cpu", "memhog", "exit3", "stdin", "sleep", "escape", "spin", "chatty",
    "listen",
];
/// C guests that are also wrapped into preview2 command components with the preview1 adapter.
const COMPONENTS: &[&str] = &[
    "hello", "files", "exit3", "stdin", "memhog", "escape", "spin",
];

struct Built {
    dir: tempfile::TempDir,
}

fn built() -> &'static Built {
    static BUILT: OnceLock<Built> = OnceLock::new();
    BUILT.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir for guests");
        for name in C_GUESTS {
            let out = dir.path().join(format!("{name}.wasm"));
            let status = Command::new("clang")
                .args(["--target=wasm32-wasi", "-O2", "-Wl,--strip-debug", "-o"])
                .arg(&out)
                .arg(sources().join(format!("{name}.c")))
                .status()
                .expect("clang not found: install clang lld wasi-libc libclang-rt-14-dev-wasm32 (scripts/test.sh does)");
            assert!(status.success(), "building guest {name} failed");
        }
        for name in COMPONENTS {
            let module = std::fs::read(dir.path().join(format!("{name}.wasm"))).unwrap();
            let component = wit_component::ComponentEncoder::default()
                .module(&module)
                .unwrap()
                .adapter(
                    wasi_preview1_component_adapter_provider::WASI_SNAPSHOT_PREVIEW1_ADAPTER_NAME,
                    wasi_preview1_component_adapter_provider::WASI_SNAPSHOT_PREVIEW1_COMMAND_ADAPTER,
                )
                .unwrap()
                .validate(true)
                .encode()
                .unwrap_or_else(|e| panic!("componentizing {name} failed: {e:#}"));
            std::fs::write(dir.path().join(format!("{name}.component.wasm")), component).unwrap();
        }
        build_http_server(dir.path());
        build_sockets_guest(dir.path());
        for entry in std::fs::read_dir(sources()).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "wat") {
                std::fs::copy(&path, dir.path().join(path.file_name().unwrap())).unwrap();
            }
        }
        Built { dir }
    })
}

/// The wasi:http test server (`tests/guests/http/server.c`), made a component with the
/// preview1 proxy adapter.
fn build_http_server(out: &Path) {
    build_reactor_component(
        out,
        "http",
        &[
            "server.c",
            "gen/hello_http.c",
            "gen/hello_http_component_type.o",
        ],
        wasi_preview1_component_adapter_provider::WASI_SNAPSHOT_PREVIEW1_PROXY_ADAPTER,
        "http-server.wasm",
    );
}

/// The wasi:sockets test guest (`tests/guests/sockets/echo.c`): a TCP echo server and client,
/// made a component with the preview1 reactor adapter (it exports wasi:cli/run itself).
fn build_sockets_guest(out: &Path) {
    build_reactor_component(
        out,
        "sockets",
        &[
            "echo.c",
            "gen/echo_server.c",
            "gen/echo_server_component_type.o",
        ],
        wasi_preview1_component_adapter_provider::WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER,
        "echo.wasm",
    );
}

/// Builds `files` of `tests/guests/<dir>` (C against committed wit-bindgen bindings) into a
/// reactor with clang, then a component with `adapter`, written to `out/<name>`.
fn build_reactor_component(out: &Path, dir: &str, files: &[&str], adapter: &[u8], name: &str) {
    let src = sources().join(dir);
    let module = out.join(format!("{name}.module"));
    let status = Command::new("clang")
        .args([
            "--target=wasm32-wasi",
            "-O2",
            "-mexec-model=reactor",
            "-Wl,--strip-debug",
            "-o",
        ])
        .arg(&module)
        .args(files.iter().map(|f| src.join(f)))
        .status()
        .expect("clang");
    assert!(status.success(), "building the {dir} guest failed");
    let component = wit_component::ComponentEncoder::default()
        .module(&std::fs::read(&module).unwrap())
        .unwrap()
        .adapter(
            wasi_preview1_component_adapter_provider::WASI_SNAPSHOT_PREVIEW1_ADAPTER_NAME,
            adapter,
        )
        .unwrap()
        .validate(true)
        .encode()
        .unwrap_or_else(|e| panic!("componentizing the {dir} guest failed: {e:#}"));
    std::fs::write(out.join(name), component).unwrap();
}

/// A wasi:http guest written in a language with its own componentizer, built on first use
/// (they take tens of seconds each, so only the tests that serve them pay): `"python"`
/// (`tests/guests/python/app.py`, componentize-py) or `"js"` (`tests/guests/js/app.js`,
/// componentize-js). Both answer `/` and `/echo`. `scripts/install-deps.sh` installs the tools.
pub fn script_guest(lang: &str) -> PathBuf {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    static JS: OnceLock<PathBuf> = OnceLock::new();
    let (cell, build): (_, fn(&Path) -> Command) = match lang {
        "python" => (&PYTHON, python_componentize),
        "js" => (&JS, js_componentize),
        _ => panic!("no {lang} guest"),
    };
    cell.get_or_init(|| {
        let out = built().dir.path().join(format!("{lang}-http.wasm"));
        let ran = build(&out).output().unwrap_or_else(|e| {
            panic!("cannot run the {lang} componentizer ({e}): run scripts/install-deps.sh")
        });
        assert!(
            ran.status.success() && out.exists(),
            "building the {lang} guest failed: {}{}",
            String::from_utf8_lossy(&ran.stdout),
            String::from_utf8_lossy(&ran.stderr)
        );
        out
    })
    .clone()
}

fn python_componentize(out: &Path) -> Command {
    let mut command = Command::new("componentize-py");
    command
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .arg("-d")
        .arg(sources().join("http/wit"))
        .args(["-w", "wasi:http/proxy@0.2.12", "componentize", "-p"])
        .arg(sources().join("python"))
        .args(["app", "-o"])
        .arg(out);
    command
}

/// componentize-js 0.23 exports `wasi:http/incoming-handler@0.2.10` and checks that the world
/// it is given names that version, so it gets a copy of the http guest's WIT labelled 0.2.10
/// (wharf's host serves every 0.2.x).
fn js_componentize(out: &Path) -> Command {
    let wit = out.with_extension("wit");
    let _ = std::fs::remove_dir_all(&wit);
    std::fs::create_dir_all(wit.join("deps")).unwrap();
    let http_wit = sources().join("http/wit");
    for dir in [http_wit.clone(), http_wit.join("deps")] {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "wit") {
                let relative = path.strip_prefix(&http_wit).unwrap();
                let text = std::fs::read_to_string(&path).unwrap();
                std::fs::write(wit.join(relative), text.replace("0.2.12", "0.2.10")).unwrap();
            }
        }
    }
    let mut command = Command::new("componentize-js");
    command
        .arg(sources().join("js/app.js"))
        .arg("--wit")
        .arg(&wit)
        .args(["--world-name", "wharf:tests/hello-http", "-o"])
        .arg(out);
    command
}

/// A free TCP port on 127.0.0.1 (free now; the caller binds it soon after).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The path of a built guest, e.g. `hello.wasm`, `hello.component.wasm` or `trap.wat`.
pub fn guest(file: &str) -> PathBuf {
    let path = built().dir.path().join(file);
    assert!(path.exists(), "no guest {file}");
    path
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
