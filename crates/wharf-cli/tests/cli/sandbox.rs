//! Only what is granted is reachable: mounts, read-only mounts, escapes, the working directory.

use std::path::Path;

use crate::support::run_guest;

fn mount_fixture() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    std::fs::create_dir_all(data.join("sub")).unwrap();
    std::fs::write(data.join("a.txt"), "inside\n").unwrap();
    std::fs::write(data.join("sub/b.txt"), "deeper\n").unwrap();
    std::fs::write(tmp.path().join("secret.txt"), "host secret\n").unwrap();
    std::os::unix::fs::symlink(tmp.path().join("secret.txt"), data.join("abs-link")).unwrap();
    std::os::unix::fs::symlink("../secret.txt", data.join("rel-link")).unwrap();
    std::os::unix::fs::symlink("/etc", data.join("etc-link")).unwrap();
    tmp
}

fn volume(host: &Path, guest: &str, mode: &str) -> String {
    format!("{}:{guest}{mode}", host.display())
}

#[test]
fn a_mount_can_be_read_and_written() {
    let tmp = mount_fixture();
    let data = tmp.path().join("data");
    for file in ["files.wasm", "files.component.wasm"] {
        let v = volume(&data, "/data", "");
        let ran = run_guest(&["-v", &v], file, &["read", "/data/a.txt"]);
        assert_eq!(
            (ran.code, ran.stdout.as_str()),
            (0, "inside\n"),
            "{file}: {ran:?}"
        );
        let ran = run_guest(&["-v", &v], file, &["write", "/data/out.txt", file]);
        assert_eq!(ran.code, 0, "{file}: {ran:?}");
        assert_eq!(std::fs::read_to_string(data.join("out.txt")).unwrap(), file);
        let ran = run_guest(&["-v", &v], file, &["ls", "/data/sub"]);
        assert_eq!(ran.stdout, "b.txt\n", "{file}: {ran:?}");
    }
}

#[test]
fn a_read_only_mount_refuses_writes() {
    let tmp = mount_fixture();
    let data = tmp.path().join("data");
    for file in ["files.wasm", "files.component.wasm"] {
        let v = volume(&data, "/data", ":ro");
        let ran = run_guest(&["-v", &v], file, &["read", "/data/a.txt"]);
        assert_eq!(ran.stdout, "inside\n", "{file}: {ran:?}");
        for target in ["/data/new.txt", "/data/a.txt"] {
            let ran = run_guest(&["-v", &v], file, &["write", target, "overwritten"]);
            assert_eq!(ran.code, 1, "{file} wrote {target}: {ran:?}");
            assert!(ran.stdout.contains("failed"), "{file}: {ran:?}");
        }
        assert!(
            !data.join("new.txt").exists(),
            "{file} created a file on a read-only mount"
        );
        assert_eq!(
            std::fs::read_to_string(data.join("a.txt")).unwrap(),
            "inside\n"
        );
    }
}

#[test]
fn escapes_from_a_mount_fail_inside_the_guest() {
    let tmp = mount_fixture();
    let data = tmp.path().join("data");
    let host_secret = tmp.path().join("secret.txt");
    let attempts = [
        "/data/../secret.txt",
        "/data/sub/../../secret.txt",
        "/data/abs-link",
        "/data/rel-link",
        "/data/etc-link/passwd",
        host_secret.to_str().unwrap(),
        "/etc/passwd",
        "../secret.txt",
        "secret.txt",
    ];
    for file in ["escape.wasm", "escape.component.wasm"] {
        let v = volume(&data, "/data", "");
        let mut args = vec!["/data/a.txt"];
        args.extend(attempts);
        let ran = run_guest(&["-v", &v], file, &args);
        assert_eq!(ran.code, 0, "{file}: {ran:?}");
        let lines: Vec<&str> = ran.stdout.lines().collect();
        assert_eq!(
            lines[0], "/data/a.txt: ok",
            "{file}: the control open failed: {ran:?}"
        );
        assert_eq!(lines.len(), attempts.len() + 1, "{file}: {ran:?}");
        for line in &lines[1..] {
            assert!(line.contains(": denied"), "{file} escaped: {line}");
        }
    }
}

#[test]
fn nothing_of_the_host_filesystem_is_visible_without_mounts() {
    let ran = run_guest(&[], "files.wasm", &["ls", "/"]);
    assert_eq!(ran.code, 1, "{ran:?}");
    let ran = run_guest(&[], "files.wasm", &["read", "/etc/hostname"]);
    assert_eq!(ran.code, 1, "{ran:?}");
    assert!(ran.stdout.contains("failed"), "{ran:?}");
}

#[test]
fn the_working_directory_resolves_relative_paths() {
    let tmp = mount_fixture();
    let data = tmp.path().join("data");
    let v = volume(&data, "/data", "");
    for file in ["files.wasm", "files.component.wasm"] {
        let ran = run_guest(&["-v", &v, "-w", "/data"], file, &["read", "a.txt"]);
        assert_eq!(ran.stdout, "inside\n", "{file}: {ran:?}");
        let ran = run_guest(&["-v", &v, "-w", "/data/sub"], file, &["read", "b.txt"]);
        assert_eq!(ran.stdout, "deeper\n", "{file}: {ran:?}");
        // Absolute paths still go through their own mounts.
        let ran = run_guest(
            &["-v", &v, "-w", "/data/sub"],
            file,
            &["read", "/data/a.txt"],
        );
        assert_eq!(ran.stdout, "inside\n", "{file}: {ran:?}");
    }
    // A working directory that leaves its mount through a symlink is refused, not followed.
    let ran = run_guest(
        &["-v", &v, "-w", "/data/etc-link"],
        "files.wasm",
        &["read", "passwd"],
    );
    assert_eq!(ran.code, 125, "{ran:?}");
    assert!(ran.stderr.contains("leaves the mount"), "{ran:?}");
    assert!(ran.stdout.is_empty(), "{ran:?}");
}
