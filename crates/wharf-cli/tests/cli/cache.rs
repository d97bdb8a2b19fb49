//! The AOT cache through the CLI: reuse, corruption, and concurrent fills.

use std::path::{Path, PathBuf};

use crate::support::{guest, wharf_in, Ran};

fn entries(root: &Path) -> Vec<PathBuf> {
    match std::fs::read_dir(root.join("cache/aot")) {
        Ok(dir) => dir
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "cwasm"))
            .collect(),
        Err(_) => Vec::new(),
    }
}

fn run_hello(root: &Path) -> Ran {
    let ran: Ran = wharf_in(root)
        .env("WHARF_LOG", "warn,wharf_core=debug")
        .arg("run")
        .arg(guest("hello.wasm"))
        .output()
        .unwrap()
        .into();
    assert_eq!(ran.code, 0, "{ran:?}");
    assert!(ran.stdout.starts_with("hello from wasm\n"), "{ran:?}");
    ran
}

#[test]
fn the_second_run_loads_precompiled_code() {
    let root = tempfile::tempdir().unwrap();
    let first = run_hello(root.path());
    assert!(first.stderr.contains("source=Compiled"), "{first:?}");
    let cached = entries(root.path());
    assert_eq!(cached.len(), 1, "{cached:?}");
    let name = cached[0].file_name().unwrap().to_str().unwrap().to_string();
    assert!(
        name.starts_with("sha256-") && name.contains("-module-"),
        "{name}"
    );
    let second = run_hello(root.path());
    assert!(second.stderr.contains("source=Cache"), "{second:?}");
}

#[test]
fn a_corrupt_or_truncated_entry_is_rebuilt_not_run() {
    let root = tempfile::tempdir().unwrap();
    run_hello(root.path());
    let entry = entries(root.path()).pop().unwrap();
    let good = std::fs::read(&entry).unwrap();
    let mut flipped = good.clone();
    let at = flipped.len() * 2 / 3;
    flipped[at] ^= 0x55;
    for bad in [flipped, good[..good.len() / 2].to_vec(), Vec::new()] {
        std::fs::write(&entry, &bad).unwrap();
        let ran = run_hello(root.path());
        assert!(ran.stderr.contains("rebuilding AOT cache entry"), "{ran:?}");
        assert!(ran.stderr.contains("source=Compiled"), "{ran:?}");
        assert_eq!(std::fs::read(&entry).unwrap(), good);
    }
}

#[test]
fn parallel_first_runs_share_one_entry_safely() {
    let root = tempfile::tempdir().unwrap();
    let children: Vec<_> = (0..6)
        .map(|_| {
            wharf_in(root.path())
                .arg("run")
                .arg(guest("hello.wasm"))
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success());
        assert!(String::from_utf8_lossy(&out.stdout).starts_with("hello from wasm\n"));
    }
    let names = |dir: &str| -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(root.path().join(dir))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    let files = names("cache/aot");
    assert_eq!(
        files.len(),
        3,
        "temporaries left behind (expected one .cwasm, its .xxh3 and inputs/): {files:?}"
    );
    assert!(files.contains(&"inputs".to_string()), "{files:?}");
    let inputs = names("cache/aot/inputs");
    assert_eq!(inputs.len(), 1, "one memo for the one file: {inputs:?}");
    let ran = run_hello(root.path());
    assert!(ran.stderr.contains("source=Cache"), "{ran:?}");
}

#[test]
fn an_unwritable_cache_still_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    std::fs::create_dir_all(&root).unwrap();
    // A file where the cache directory should be: every store fails, as on a full disk.
    std::fs::write(root.join("cache"), "").unwrap();
    let ran = run_hello(&root);
    assert!(ran.stderr.contains("running without the cache"), "{ran:?}");
}

#[test]
fn the_root_flag_wins_over_the_environment() {
    let tmp = tempfile::tempdir().unwrap();
    let flag_root = tmp.path().join("from-flag");
    let env_root = tmp.path().join("from-env");
    let ran: Ran = wharf_in(&env_root)
        .arg("--root")
        .arg(&flag_root)
        .arg("run")
        .arg(guest("hello.wasm"))
        .output()
        .unwrap()
        .into();
    assert_eq!(ran.code, 0, "{ran:?}");
    assert_eq!(
        entries(&flag_root).len(),
        1,
        "the cache is not under --root"
    );
    assert!(!env_root.exists(), "WHARF_ROOT was used despite --root");
}

/// A warm run of a file takes its key from what the cache remembers of it without reading it;
/// the file changed in place (same inode) runs as it is now.
#[test]
fn a_file_changed_in_place_runs_as_it_is_now() {
    let root = tempfile::tempdir().unwrap();
    let file = root.path().join("app.wasm");
    std::fs::copy(guest("hello.wasm"), &file).unwrap();
    let run = || -> Ran {
        wharf_in(root.path())
            .env("WHARF_LOG", "warn,wharf_core=debug")
            .arg("run")
            .arg(&file)
            .output()
            .unwrap()
            .into()
    };
    let first = run();
    assert!(first.stderr.contains("source=Compiled"), "{first:?}");
    let second = run();
    assert!(second.stderr.contains("file itself not read"), "{second:?}");
    assert!(second.stdout.starts_with("hello from wasm\n"), "{second:?}");
    // Rewritten in place with another module.
    std::fs::write(&file, std::fs::read(guest("exit3.wasm")).unwrap()).unwrap();
    let changed = run();
    assert_eq!(changed.code, 3, "{changed:?}");
    assert!(changed.stderr.contains("source=Compiled"), "{changed:?}");
    let again = run();
    assert_eq!(again.code, 3, "{again:?}");
    assert!(again.stderr.contains("file itself not read"), "{again:?}");
}
