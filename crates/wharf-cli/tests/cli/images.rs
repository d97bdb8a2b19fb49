//! `wharf build`, `wharf images` and `wharf run IMAGE` with real guests.

use std::path::Path;

use crate::support::{guest, wharf_in, Ran};

fn wharf(root: &Path, args: &[&str]) -> Ran {
    crate::support::run_in(root, args)
}

/// A build context holding the files and hello guests, some data, and a Dockerfile.
fn context(dir: &Path, dockerfile: &str) -> String {
    std::fs::create_dir_all(dir.join("data")).unwrap();
    std::fs::copy(guest("files.wasm"), dir.join("files.wasm")).unwrap();
    std::fs::copy(guest("hello.wasm"), dir.join("hello.wasm")).unwrap();
    std::fs::write(dir.join("data/msg.txt"), "from the image\n").unwrap();
    std::fs::write(dir.join("Dockerfile"), dockerfile).unwrap();
    dir.to_str().unwrap().to_string()
}

const FILES_APP: &str = "FROM scratch\nCOPY files.wasm /bin/\nCOPY data /data/\nWORKDIR /data\nENTRYPOINT [\"/bin/files.wasm\"]\nCMD [\"read\", \"msg.txt\"]\n";

#[test]
fn build_list_and_run_an_image() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    let ctx = context(&tmp.path().join("ctx"), FILES_APP);
    let built = wharf(&root, &["build", "-t", "files-app:1", &ctx]);
    assert_eq!(built.code, 0, "{built:?}");
    assert!(built.stdout.starts_with("Step 1/"), "{built:?}");
    assert!(built.stdout.contains("\nSuccessfully built "), "{built:?}");

    let images = wharf(&root, &["images"]);
    assert!(
        images
            .stdout
            .lines()
            .any(|l| l.starts_with("files-app ") && l.contains(" 1 ")),
        "{images:?}"
    );

    // The image's entrypoint, cmd and working directory.
    let ran = wharf(&root, &["run", "files-app:1"]);
    assert_eq!(
        (ran.code, ran.stdout.as_str()),
        (0, "from the image\n"),
        "{ran:?}"
    );
    // Arguments replace CMD.
    let ran = wharf(&root, &["run", "files-app:1", "ls", "/bin"]);
    assert_eq!(ran.stdout, "files.wasm\n", "{ran:?}");
    // A container's writes never change the image.
    let ran = wharf(
        &root,
        &["run", "files-app:1", "write", "/data/new.txt", "x"],
    );
    assert_eq!(ran.code, 0, "{ran:?}");
    let ran = wharf(&root, &["run", "files-app:1", "ls", "/data"]);
    assert_eq!(ran.stdout, "msg.txt\n", "{ran:?}");
    // Nothing of the host is visible, and nothing is left behind.
    let ran = wharf(&root, &["run", "files-app:1", "read", "/etc/passwd"]);
    assert_eq!(ran.code, 1, "{ran:?}");
    assert_eq!(
        std::fs::read_dir(root.join("run")).unwrap().count(),
        0,
        "run directories left behind"
    );
}

#[test]
fn image_env_is_applied_and_user_env_wins() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    let ctx = context(
        &tmp.path().join("ctx"),
        "FROM scratch\nCOPY hello.wasm /\nENV GREETING=image KEEP=1\nENTRYPOINT [\"/hello.wasm\"]\n",
    );
    assert_eq!(
        wharf(&root, &["build", "-q", "-t", "hello-app", &ctx]).code,
        0
    );
    let ran = wharf(&root, &["run", "-e", "GREETING=user", "hello-app", "arg"]);
    assert_eq!(ran.code, 0, "{ran:?}");
    let env: Vec<&str> = ran
        .stdout
        .lines()
        .filter(|l| l.starts_with("env "))
        .collect();
    assert_eq!(env, ["env KEEP=1", "env GREETING=user"]);
    assert!(
        ran.stdout.contains("arg[0]=/hello.wasm\narg[1]=arg\n"),
        "{ran:?}"
    );
}

#[test]
fn builds_are_reproducible() {
    let tmp = tempfile::tempdir().unwrap();
    let ctx = context(&tmp.path().join("ctx"), FILES_APP);
    let first = wharf(&tmp.path().join("a"), &["build", "-q", "-t", "x", &ctx]);
    let second = wharf(&tmp.path().join("b"), &["build", "-q", "-t", "y", &ctx]);
    assert_eq!(first.code, 0, "{first:?}");
    assert_eq!(first.stdout, second.stdout);
}

#[test]
fn image_errors_are_clear() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    let ran = wharf(&root, &["run", "--pull", "never", "not-built-yet:1"]);
    assert_eq!(ran.code, 125, "{ran:?}");
    assert!(ran.stderr.contains("not in the local store"), "{ran:?}");

    let ctx = context(
        &tmp.path().join("ctx"),
        "FROM scratch\nCOPY hello.wasm /\nRUN make\n",
    );
    let ran = wharf(&root, &["build", "-t", "bad", &ctx]);
    assert_eq!(ran.code, 125, "{ran:?}");
    assert!(
        ran.stderr.contains("Dockerfile:3: RUN cannot work"),
        "{ran:?}"
    );

    let ctx = context(&tmp.path().join("ctx2"), FILES_APP);
    assert_eq!(wharf(&root, &["build", "-t", "app", &ctx]).code, 0);
    let ran = wharf(&root, &["run", "--entrypoint", "/missing.wasm", "app"]);
    assert_eq!(ran.code, 127, "{ran:?}");
    assert!(ran.stderr.contains("/missing.wasm"), "{ran:?}");
}

#[test]
fn tag_and_rmi_free_what_no_tag_needs() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    let ctx = context(&tmp.path().join("ctx"), FILES_APP);
    let digest = wharf(&root, &["build", "-q", "-t", "app:1", &ctx])
        .stdout
        .trim()
        .to_string();
    assert!(digest.starts_with("sha256:"));
    assert_eq!(
        wharf(&root, &["tag", "app:1", "localhost:5000/app:2"]).code,
        0
    );
    let blobs = || {
        std::fs::read_dir(root.join("images/blobs/sha256"))
            .unwrap()
            .count()
    };
    let before = blobs();

    let ran = wharf(&root, &["rmi", "app:1"]);
    assert_eq!(ran.stdout, "Untagged: app:1\n", "{ran:?}");
    assert_eq!(blobs(), before, "blobs went while a tag still needs them");
    assert_eq!(
        wharf(&root, &["run", "localhost:5000/app:2"]).stdout,
        "from the image\n"
    );
    // By ID prefix, as `wharf images` shows it: with two tags, only when forced.
    assert_eq!(
        wharf(&root, &["tag", "localhost:5000/app:2", "app:3"]).code,
        0
    );
    let id = &digest["sha256:".len().."sha256:".len() + 12];
    let refused = wharf(&root, &["rmi", id]);
    assert_eq!(refused.code, 1, "{refused:?}");
    assert!(refused.stderr.contains("must be forced"), "{refused:?}");
    let ran = wharf(
        &root,
        &["rmi", "-f", &digest["sha256:".len().."sha256:".len() + 12]],
    );
    assert!(ran.stdout.contains("Untagged: app:3"), "{ran:?}");
    assert_eq!(ran.code, 0, "{ran:?}");
    assert!(
        ran.stdout.contains(&format!("Deleted: {digest}")),
        "{ran:?}"
    );
    assert_eq!(blobs(), 0, "blobs of a deleted image were kept");
    assert!(wharf(&root, &["images", "-q"]).stdout.is_empty());

    let ran = wharf(&root, &["rmi", "app:1"]);
    assert_eq!(ran.code, 1, "{ran:?}");
    assert!(ran.stderr.contains("no such image"), "{ran:?}");

    // What happened, as `docker events` tells it (up to now: the read ends at once).
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let now = format!("{now:.3}");
    let args = [
        "events",
        "--since",
        "0",
        "--until",
        &now,
        "-f",
        "type=image",
        "--format",
        "json",
    ];
    let ran = wharf(&root, &args);
    let events: Vec<(String, String, String)> = ran
        .stdout
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .map(|e| {
            let field = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_string();
            let name = field(&e["Actor"]["Attributes"]["name"]);
            (field(&e["Action"]), field(&e["Actor"]["ID"]), name)
        })
        .collect();
    let expected = [
        ("tag", digest.as_str(), "app:1"), // by the build
        ("tag", digest.as_str(), "localhost:5000/app:2"),
        ("untag", digest.as_str(), "app:1"),
        ("tag", digest.as_str(), "app:3"),
        ("untag", digest.as_str(), "app:3"),
        ("untag", digest.as_str(), "localhost:5000/app:2"),
        ("delete", digest.as_str(), ""),
    ];
    let expected: Vec<(String, String, String)> = expected
        .iter()
        .map(|(a, i, n)| (a.to_string(), i.to_string(), n.to_string()))
        .collect();
    assert_eq!(events, expected, "{ran:?}");
}

#[test]
fn kill_9_during_build_and_rmi_and_parallel_builds_keep_the_store_whole() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    let ctx = context(&tmp.path().join("ctx"), FILES_APP);
    // Incompressible data makes the build take long enough to be killed mid-way.
    let noise = crate::support::noise(16 << 20, 0x2545f4914f6cdd1du64);
    std::fs::write(Path::new(&ctx).join("data/noise.bin"), noise).unwrap();
    for delay_ms in [20, 100, 300, 700] {
        let mut child = wharf_in(&root)
            .args(["build", "-q", "-t", "app:1", &ctx])
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        let _ = child.kill();
        let _ = child.wait();
        let listed = wharf(&root, &["images"]);
        assert_eq!(listed.code, 0, "{listed:?}");
    }
    // Two builds at once, and the store ends up with both.
    let builds: Vec<_> = ["app:1", "app:2"]
        .iter()
        .map(|tag| {
            wharf_in(&root)
                .args(["build", "-q", "-t", tag, &ctx])
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut build in builds {
        assert!(build.wait().unwrap().success());
    }
    assert_eq!(wharf(&root, &["run", "app:2"]).stdout, "from the image\n");
    // rmi killed at once or not at all: the image is there whole, or gone whole.
    let mut child = wharf_in(&root).args(["rmi", "app:1"]).spawn().unwrap();
    let _ = child.kill();
    let _ = child.wait();
    let ran = wharf(&root, &["run", "app:2"]);
    assert_eq!(ran.stdout, "from the image\n", "{ran:?}");
    assert_eq!(wharf(&root, &["rmi", "-f", "app:2"]).code, 0);
    let _ = wharf(&root, &["rmi", "app:1"]);
    let pruned = wharf(&root, &["image", "prune", "-f"]);
    assert_eq!(pruned.code, 0, "{pruned:?}");
    assert_eq!(
        std::fs::read_dir(root.join("images/blobs/sha256"))
            .unwrap()
            .count(),
        0,
        "blobs left after every image was removed and pruned"
    );
}
