//! The real guests wharf's tests run, built from source in `tests/guests/` on first use, once
//! per test binary: C guests with clang and wasi-libc (modules, and preview2 components made
//! with wit-component and the preview1 adapter), the wasi:http and wasi:sockets C guests
//! (against committed wit-bindgen bindings), the WAT guests as they are, and the Python and JS
//! wasi:http guests with their componentizers. `scripts/install-deps.sh` installs the tools.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The repository's guest sources.
pub fn sources() -> PathBuf {
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

/// A guest written in a language with its own componentizer, built on first use (they take
/// tens of seconds each, so only the tests that run them pay). wasi:http servers that answer
/// `/` and `/echo`: `"python"` (`tests/guests/python/app.py`, componentize-py) and `"js"`
/// (`tests/guests/js/app.js`, componentize-js). A wasi:cli command: `"python-cli"`
/// (`tests/guests/python-cli/app.py`), which prints its working directory and what is in it.
/// `scripts/install-deps.sh` installs the tools.
pub fn script_guest(lang: &str) -> PathBuf {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    static PYTHON_CLI: OnceLock<PathBuf> = OnceLock::new();
    static JS: OnceLock<PathBuf> = OnceLock::new();
    let (cell, build): (_, fn(&Path) -> Command) = match lang {
        "python" => (&PYTHON, |out| {
            python_componentize("wasi:http/proxy@0.2.12", "python", out)
        }),
        "python-cli" => (&PYTHON_CLI, |out| {
            python_componentize("wharf:tests/py-cli", "python-cli", out)
        }),
        "js" => (&JS, js_componentize),
        _ => panic!("no {lang} guest"),
    };
    cell.get_or_init(|| {
        let out = built().dir.path().join(format!("{lang}.wasm"));
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

/// componentize-py building `world` (of `tests/guests/http/wit`) from the app in `dir`.
fn python_componentize(world: &str, dir: &str, out: &Path) -> Command {
    let mut command = Command::new("componentize-py");
    command
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .arg("-d")
        .arg(sources().join("http/wit"))
        .args(["-w", world, "componentize", "-p"])
        .arg(sources().join(dir))
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

/// The path of a built guest, e.g. `hello.wasm`, `hello.component.wasm` or `trap.wat`.
pub fn guest(file: &str) -> PathBuf {
    let path = built().dir.path().join(file);
    assert!(path.exists(), "no guest {file}");
    path
}
