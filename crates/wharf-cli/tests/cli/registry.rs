//! `wharf push`, `pull`, `login`, `run` of remote images, against a real registry, with
//! skopeo checking interop both ways.

use std::process::Stdio;

use serde_json::{json, Value};

use crate::services::{
    digest, misbehaving_server, skopeo, tar_layer, trickling_proxy, Layout, Registry, TokenServer,
};
use crate::support::{guest, Ran, TestRoot as Env};

/// One isolated wharf: its own root and Docker config directory.
impl Env {
    /// The store's index.json (empty object when there is none).
    fn index(&self) -> Value {
        std::fs::read(self.root().join("images/index.json"))
            .map(|b| serde_json::from_slice(&b).unwrap())
            .unwrap_or(json!({}))
    }

    /// How many tags the store's index holds.
    fn tag_count(&self) -> usize {
        self.index()
            .get("tags")
            .map_or(0, |t| t.as_object().unwrap().len())
    }

    fn blob_count(&self) -> usize {
        std::fs::read_dir(self.root().join("images/blobs/sha256"))
            .map(|d| d.count())
            .unwrap_or(0)
    }

    /// Builds the hello guest into an image named `name`.
    fn build_hello(&self, name: &str) {
        let ctx = self.tmp.path().join("ctx");
        std::fs::create_dir_all(&ctx).unwrap();
        std::fs::copy(guest("hello.wasm"), ctx.join("hello.wasm")).unwrap();
        std::fs::write(
            ctx.join("Dockerfile"),
            "FROM scratch\nCOPY hello.wasm /\nENV GREETING=hi\nENTRYPOINT [\"/hello.wasm\"]\nCMD [\"from-cmd\"]\n",
        )
        .unwrap();
        let built = self.wharf(&["build", "-t", name, ctx.to_str().unwrap()]);
        assert_eq!(built.code, 0, "{built:?}");
    }
}

fn ok(ran: &Ran) {
    assert_eq!(ran.code, 0, "{ran:?}");
}

/// Builds the hello guest as `name`, pushes it from a throwaway wharf, and returns the digest
/// of its layer.
fn push_hello(name: &str) -> String {
    let a = Env::new();
    a.build_hello(name);
    ok(&a.wharf(&["push", "-q", name]));
    let inspect: Value =
        serde_json::from_str(&a.wharf(&["image", "inspect", name]).stdout).unwrap();
    inspect[0]["RootFS"]["Layers"][0]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn push_pull_and_run_round_trip_with_skopeo_checking() {
    let registry = Registry::start();
    let name = format!("{}/team/hello:1.0", registry.addr);
    let a = Env::new();
    a.build_hello(&name);
    let pushed = a.wharf(&["push", &name]);
    ok(&pushed);
    assert!(pushed.stdout.contains("1.0: digest: sha256:"), "{pushed:?}");
    let local = a.wharf(&["image", "inspect", &name]);
    let local: Value = serde_json::from_str(&local.stdout).unwrap();
    let id = local[0]["Id"].as_str().unwrap().to_string();

    // What wharf pushed, skopeo reads: same digest, Wasm platform, env.
    let remote: Value = serde_json::from_str(&skopeo(&[
        "inspect",
        "--tls-verify=false",
        &format!("docker://{name}"),
    ]))
    .unwrap();
    assert_eq!(remote["Digest"], json!(id));
    assert_eq!(
        (remote["Os"].as_str(), remote["Architecture"].as_str()),
        (Some("wasi"), Some("wasm"))
    );
    assert!(
        remote["Env"].to_string().contains("GREETING=hi"),
        "{remote}"
    );
    // And skopeo can copy it out whole (every blob verified on its side).
    let copied = a.tmp.path().join("copied");
    skopeo(&[
        "copy",
        "--src-tls-verify=false",
        &format!("docker://{name}"),
        &format!("oci:{}:x", copied.display()),
    ]);

    // A second push sends no blob again.
    let again = a.wharf(&["push", &name]);
    ok(&again);
    assert!(!again.stdout.contains("Complete"), "{again:?}");
    assert!(again.stdout.contains("Already exists"), "{again:?}");

    // Another machine pulls and runs it.
    let b = Env::new();
    let pulled = b.wharf(&["pull", &name]);
    ok(&pulled);
    assert!(
        pulled.stdout.contains(&format!("Digest: {id}")),
        "{pulled:?}"
    );
    assert!(
        pulled.stdout.contains("Downloaded newer image"),
        "{pulled:?}"
    );
    let ran = b.wharf(&["run", &name]);
    ok(&ran);
    assert!(ran.stdout.contains("arg[1]=from-cmd"), "{ran:?}");
    assert!(ran.stdout.contains("env GREETING=hi"), "{ran:?}");
    let again = b.wharf(&["pull", &name]);
    assert!(again.stdout.contains("Image is up to date"), "{again:?}");
    // By digest, too.
    let by_digest = format!("{}/team/hello@{id}", registry.addr);
    let c = Env::new();
    ok(&c.wharf(&["pull", "-q", &by_digest]));
    ok(&c.wharf(&["run", &by_digest]));
    // Pulled by digest only: no tag, listed as Docker lists it.
    let listed = c.wharf(&["images"]);
    assert!(
        listed.stdout.lines().any(|l| l.starts_with("<none> ")),
        "{listed:?}"
    );

    // On a terminal (`script` gives wharf one) progress goes through the bars and the summary
    // still prints.
    let d = Env::new();
    let wharf_bin = env!("CARGO_BIN_EXE_wharf");
    let out = std::process::Command::new("script")
        .args(["-qec", &format!("{wharf_bin} pull {name}"), "/dev/null"])
        .env("WHARF_ROOT", d.root())
        .env("DOCKER_CONFIG", d.docker_config())
        .env("COLUMNS", "120")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("Complete") && text.contains("Downloaded newer image"),
        "{text}"
    );
}

#[test]
fn run_pulls_a_missing_image_and_pull_never_does_not() {
    let registry = Registry::start();
    let name = format!("{}/hello:2", registry.addr);
    let a = Env::new();
    a.build_hello(&name);
    ok(&a.wharf(&["push", "-q", &name]));

    let b = Env::new();
    let never = b.wharf(&["run", "--pull", "never", &name]);
    assert_eq!(never.code, 125, "{never:?}");
    assert!(never.stderr.contains("not in the local store"), "{never:?}");
    let ran = b.wharf(&["run", &name, "x"]);
    ok(&ran);
    assert!(ran.stderr.contains("Unable to find image"), "{ran:?}");
    // Pull progress goes to stderr: stdout is the guest's alone.
    assert!(ran.stdout.starts_with("hello from wasm\n"), "{ran:?}");
    assert!(ran.stdout.contains("arg[1]=x"), "{ran:?}");
    let quiet = Env::new().wharf(&["run", "-q", &name]);
    ok(&quiet);
    assert!(!quiet.stderr.contains("Pulling"), "{quiet:?}");
}

/// Pushes a hand-made OCI layout with skopeo, as other tools publish Wasm images.
fn skopeo_push(layout: &Layout, tag: &str, to: &str) {
    layout_tag_push(layout, tag, to, &[]);
}

fn layout_tag_push(layout: &Layout, tag: &str, to: &str, extra: &[&str]) {
    let mut args = vec!["copy", "--dest-tls-verify=false", "--preserve-digests"];
    args.extend_from_slice(extra);
    let src = layout.skopeo_name(tag);
    let dst = format!("docker://{to}");
    args.push(&src);
    args.push(&dst);
    skopeo(&args);
}

#[test]
fn images_pushed_by_skopeo_in_every_wasm_layout_pull_and_run() {
    let registry = Registry::start();
    let tmp = tempfile::tempdir().unwrap();
    let hello = std::fs::read(guest("hello.wasm")).unwrap();
    let component = std::fs::read(guest("hello.component.wasm")).unwrap();

    // 1. The Docker Wasm pattern: a rootfs tar layer, os wasip1, entrypoint in the config.
    let docker = Layout::new(&tmp.path().join("docker"));
    let layer = docker.blob(
        "application/vnd.oci.image.layer.v1.tar",
        &tar_layer(&[("app/hello.wasm", &hello)]),
    );
    let diff_id = layer["digest"].clone();
    let manifest = docker.manifest(
        "application/vnd.oci.image.config.v1+json",
        &json!({"architecture": "wasm", "os": "wasip1",
                "config": {"Entrypoint": ["/app/hello.wasm"], "Env": ["FROM=docker-layout"]},
                "rootfs": {"type": "layers", "diff_ids": [diff_id]}}),
        vec![layer],
    );
    docker.tag(&manifest, "v1");
    let docker_name = format!("{}/docker-layout:v1", registry.addr);
    skopeo_push(&docker, "v1", &docker_name);

    // 2. The CNCF Wasm artifact, holding a component.
    let cncf = Layout::new(&tmp.path().join("cncf"));
    let wasm = cncf.blob("application/wasm", &component);
    let manifest = cncf.manifest(
        "application/vnd.wasm.config.v0+json",
        &json!({"architecture": "wasm", "os": "wasip2", "layerDigests": [wasm["digest"]]}),
        vec![wasm],
    );
    cncf.tag(&manifest, "v1");
    let cncf_name = format!("{}/cncf:v1", registry.addr);
    skopeo_push(&cncf, "v1", &cncf_name);

    // 3. runwasi's layer type.
    let runwasi = Layout::new(&tmp.path().join("runwasi"));
    let wasm = runwasi.blob(
        "application/vnd.bytecodealliance.wasm.component.layer.v0+wasm",
        &component,
    );
    let manifest = runwasi.manifest(
        "application/vnd.oci.image.config.v1+json",
        &json!({"architecture": "wasm", "os": "wasip2", "rootfs": {"type": "layers", "diff_ids": []}}),
        vec![wasm],
    );
    runwasi.tag(&manifest, "v1");
    let runwasi_name = format!("{}/runwasi:v1", registry.addr);
    skopeo_push(&runwasi, "v1", &runwasi_name);

    // 4. An index with a linux/amd64 image beside the wasm one.
    let multi = Layout::new(&tmp.path().join("multi"));
    let linux_layer = multi.blob(
        "application/vnd.oci.image.layer.v1.tar",
        &tar_layer(&[("bin/sh", b"ELF")]),
    );
    let linux = multi.manifest(
        "application/vnd.oci.image.config.v1+json",
        &json!({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}}),
        vec![linux_layer.clone()],
    );
    let wasm_layer = multi.blob(
        "application/vnd.oci.image.layer.v1.tar",
        &tar_layer(&[("hello.wasm", &hello)]),
    );
    let wasm_manifest = multi.manifest(
        "application/vnd.oci.image.config.v1+json",
        &json!({"architecture": "wasm", "os": "wasip1", "config": {"Entrypoint": ["/hello.wasm"]},
                "rootfs": {"type": "layers", "diff_ids": []}}),
        vec![wasm_layer],
    );
    let mut linux_entry = linux.clone();
    linux_entry["platform"] = json!({"os": "linux", "architecture": "amd64"});
    let mut wasm_entry = wasm_manifest.clone();
    wasm_entry["platform"] = json!({"os": "wasip1", "architecture": "wasm"});
    let index = multi.blob(
        "application/vnd.oci.image.index.v1+json",
        &serde_json::to_vec(&json!({"schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [linux_entry, wasm_entry]}))
        .unwrap(),
    );
    multi.tag(&index, "v1");
    let multi_name = format!("{}/multi:v1", registry.addr);
    layout_tag_push(&multi, "v1", &multi_name, &["--all"]);

    let env = Env::new();
    let ran = env.wharf(&["run", &docker_name, "a"]);
    ok(&ran);
    assert!(
        ran.stdout.contains("arg[1]=a") && ran.stdout.contains("env FROM=docker-layout"),
        "{ran:?}"
    );
    for name in [&cncf_name, &runwasi_name] {
        let ran = env.wharf(&["run", name]);
        ok(&ran);
        assert!(ran.stdout.contains("hello from wasm"), "{name}: {ran:?}");
    }
    let ran = env.wharf(&["run", &multi_name]);
    ok(&ran);
    assert!(ran.stdout.contains("hello from wasm"), "{ran:?}");
    // The linux layer was never downloaded; the index digest names the image too.
    let linux_blob = linux_layer["digest"].as_str().unwrap();
    assert!(!env
        .root()
        .join("images/blobs/sha256")
        .join(&linux_blob[7..])
        .exists());
    let index_digest = index["digest"].as_str().unwrap();
    ok(&env.wharf(&["run", &format!("{}/multi@{index_digest}", registry.addr)]));

    // A Linux-only image is refused before its layers are fetched.
    let linux_only = Layout::new(&tmp.path().join("linux"));
    let big_layer = linux_only.blob(
        "application/vnd.oci.image.layer.v1.tar",
        &tar_layer(&[("bin/big", &vec![7u8; 1 << 20])]),
    );
    let manifest = linux_only.manifest(
        "application/vnd.oci.image.config.v1+json",
        &json!({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}}),
        vec![big_layer.clone()],
    );
    linux_only.tag(&manifest, "v1");
    let linux_name = format!("{}/linux:v1", registry.addr);
    skopeo_push(&linux_only, "v1", &linux_name);
    let fresh = Env::new();
    let refused = fresh.wharf(&["pull", &linux_name]);
    assert_eq!(refused.code, 1, "{refused:?}");
    assert!(
        refused.stderr.contains("linux/amd64") && refused.stderr.contains("WebAssembly"),
        "{refused:?}"
    );
    let big = big_layer["digest"].as_str().unwrap();
    assert!(!fresh
        .root()
        .join("images/blobs/sha256")
        .join(&big[7..])
        .exists());
    assert_eq!(
        fresh
            .index()
            .get("tags")
            .map_or(0, |t| t.as_object().unwrap().len()),
        0
    );
}

#[test]
fn login_with_basic_auth_is_checked_saved_used_and_removed() {
    let registry = Registry::with_login("alice", "s3cret");
    let name = format!("{}/private:1", registry.addr);
    let env = Env::new();
    env.build_hello(&name);

    let denied = env.wharf(&["push", &name]);
    assert_eq!(denied.code, 1, "{denied:?}");
    assert!(
        denied
            .stderr
            .contains(&format!("wharf login {}", registry.addr)),
        "{denied:?}"
    );

    let wrong = env.wharf(&["login", "-u", "alice", "-p", "nope", &registry.addr]);
    assert_eq!(wrong.code, 1, "{wrong:?}");
    assert!(!env.docker_config().join("config.json").exists());

    let mut login = env.command(&["login", "-u", "alice", "--password-stdin", &registry.addr]);
    let mut child = login
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(b"s3cret\n").unwrap();
    let login: Ran = child.wait_with_output().unwrap().into();
    ok(&login);
    assert!(login.stdout.contains("Login Succeeded"), "{login:?}");
    // Docker's format: auths.<host:port>.auth = base64(user:password).
    let config: Value =
        serde_json::from_slice(&std::fs::read(env.docker_config().join("config.json")).unwrap())
            .unwrap();
    assert_eq!(
        config["auths"][&registry.addr]["auth"],
        json!("YWxpY2U6czNjcmV0")
    );

    ok(&env.wharf(&["push", &name]));
    let other = Env::new();
    // A login written by Docker itself is read the same way.
    std::fs::create_dir_all(other.docker_config()).unwrap();
    std::fs::write(
        other.docker_config().join("config.json"),
        serde_json::to_vec(&config).unwrap(),
    )
    .unwrap();
    ok(&other.wharf(&["pull", &name]));

    let logout = env.wharf(&["logout", &registry.addr]);
    ok(&logout);
    let config: Value =
        serde_json::from_slice(&std::fs::read(env.docker_config().join("config.json")).unwrap())
            .unwrap();
    assert!(config["auths"].get(&registry.addr).is_none(), "{config}");
    let third = Env::new();
    let denied = third.wharf(&["pull", &name]);
    assert_eq!(denied.code, 1, "{denied:?}");
    assert!(denied.stderr.contains("denied"), "{denied:?}");
}

#[test]
fn bearer_token_auth_works_as_with_docker_hub() {
    let tokens = TokenServer::start("bob", "hunter2");
    let registry = Registry::with_token_server(&tokens);
    let name = format!("{}/tokens/hello:1", registry.addr);
    let env = Env::new();
    env.build_hello(&name);
    // Anonymous: the token grants nothing, and the registry says no.
    let denied = env.wharf(&["push", &name]);
    assert_eq!(denied.code, 1, "{denied:?}");
    assert!(denied.stderr.contains("denied"), "{denied:?}");
    // A wrong password is refused by the token server at login.
    let wrong = env.wharf(&["login", "-u", "bob", "-p", "nope", &registry.addr]);
    assert_eq!(wrong.code, 1, "{wrong:?}");
    ok(&env.wharf(&["login", "-u", "bob", "-p", "hunter2", &registry.addr]));
    ok(&env.wharf(&["push", &name]));
    let other = Env::new();
    std::fs::create_dir_all(other.docker_config()).unwrap();
    std::fs::copy(
        env.docker_config().join("config.json"),
        other.docker_config().join("config.json"),
    )
    .unwrap();
    let ran = other.wharf(&["run", &name]);
    ok(&ran);
    assert!(ran.stdout.contains("hello from wasm"), "{ran:?}");
}

#[test]
fn registry_failures_are_clear_and_change_nothing() {
    let env = Env::new();
    let check = |name: &str, expect: &str| {
        let ran = env.wharf(&["pull", name]);
        assert_eq!(ran.code, 1, "{ran:?}");
        assert!(ran.stderr.contains(expect), "{name}: {ran:?}");
        assert_eq!(env.blob_count(), 0, "{name}");
    };
    // Down.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().to_string()
    };
    check(&format!("{closed}/app:1"), "cannot reach registry");
    // Answers 500.
    let broken = misbehaving_server(Some(
        "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\nConnection: close\r\n\r\noops",
    ));
    check(&format!("{broken}/app:1"), "answered HTTP 500");
    // Accepts and never answers (WHARF_REGISTRY_TIMEOUT=3).
    let silent = misbehaving_server(None);
    let started = std::time::Instant::now();
    check(&format!("{silent}/app:1"), "did not answer in time");
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
    // 404.
    let registry = Registry::start();
    check(&format!("{}/nothing:here", registry.addr), "not found");
    // Plain HTTP is not used for a registry that is not loopback nor marked insecure.
    let ran = env.wharf(&["pull", "registry.invalid:5000/app:1"]);
    assert_eq!(ran.code, 1, "{ran:?}");
    assert!(
        ran.stderr
            .contains("cannot reach registry registry.invalid:5000"),
        "{ran:?}"
    );
}

#[test]
fn a_registry_that_trickles_a_blob_fails_the_pull_naming_it() {
    let registry = Registry::start();
    let name = format!("{}/hello:slow", registry.addr);
    let layer = push_hello(&name);
    let proxy = trickling_proxy(registry.addr.clone(), layer.clone());
    let b = Env::new();
    let started = std::time::Instant::now();
    // WHARF_REGISTRY_TIMEOUT=3: ten bytes a second is never silent for 3 s, but far too slow.
    let ran = b.wharf(&["pull", &format!("{proxy}/hello:slow")]);
    assert_eq!(ran.code, 1, "{ran:?}");
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
    assert!(
        ran.stderr.contains(&layer) && ran.stderr.contains("stalled"),
        "{ran:?}"
    );
    assert_eq!(b.tag_count(), 0);
    // The same image through the registry itself pulls.
    ok(&b.wharf(&["pull", "-q", &name]));
}

#[test]
fn a_blob_damaged_in_the_registry_is_refused_and_not_kept() {
    let registry = Registry::start();
    let name = format!("{}/hello:damaged", registry.addr);
    let layer = push_hello(&name);
    let file = registry.blob_file(&layer);
    let mut bytes = std::fs::read(&file).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&file, bytes).unwrap();

    let b = Env::new();
    let ran = b.wharf(&["pull", &name]);
    assert_eq!(ran.code, 1, "{ran:?}");
    assert!(ran.stderr.contains("does not match its digest"), "{ran:?}");
    assert!(!b
        .root()
        .join("images/blobs/sha256")
        .join(&layer[7..])
        .exists());
    assert_eq!(b.tag_count(), 0);
}

#[test]
fn kill_9_during_pull_and_push_leaves_a_store_that_goes_on() {
    let registry = Registry::start();
    let name = format!("{}/big:1", registry.addr);
    let a = Env::new();
    // A large, incompressible layer so the transfer takes a while.
    let ctx = a.tmp.path().join("bigctx");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::copy(guest("hello.wasm"), ctx.join("hello.wasm")).unwrap();
    let noise = crate::support::noise(24 << 20, 0x9e3779b97f4a7c15u64);
    std::fs::write(ctx.join("noise.bin"), &noise).unwrap();
    std::fs::write(
        ctx.join("Dockerfile"),
        "FROM scratch\nCOPY noise.bin /\nCOPY hello.wasm /\nENTRYPOINT [\"/hello.wasm\"]\n",
    )
    .unwrap();
    ok(&a.wharf(&["build", "-q", "-t", &name, ctx.to_str().unwrap()]));

    // Kill pushes at several moments; a later push completes.
    for delay_ms in [30, 150, 400] {
        let mut child = a.command(&["push", "-q", &name]).spawn().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        let _ = child.kill();
        let _ = child.wait();
    }
    ok(&a.wharf(&["push", "-q", &name]));

    let b = Env::new();
    for delay_ms in [30, 150, 400, 800] {
        let mut child = b.command(&["pull", "-q", &name]).spawn().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        let _ = child.kill();
        let _ = child.wait();
        // Whatever the moment, the store reads and lists.
        ok(&b.wharf(&["images"]));
    }
    let pulled = b.wharf(&["pull", &name]);
    ok(&pulled);
    let ran = b.wharf(&["run", &name]);
    ok(&ran);
    assert!(ran.stdout.contains("hello from wasm"), "{ran:?}");
    // Nothing half-written is left once a prune has run.
    ok(&b.wharf(&["rmi", &name]));
    ok(&b.wharf(&["image", "prune", "-f"]));
    assert_eq!(b.blob_count(), 0);
}

#[test]
fn save_and_load_round_trip_and_interoperate_with_skopeo() {
    let registry = Registry::start();
    let env = Env::new();
    env.build_hello("saved:1");
    let archive = env.tmp.path().join("saved.tar");
    ok(&env.wharf(&["save", "-o", archive.to_str().unwrap(), "saved:1"]));

    let other = Env::new();
    let loaded = other.wharf(&["load", "-i", archive.to_str().unwrap()]);
    ok(&loaded);
    assert!(
        loaded.stdout.contains("Loaded image: saved:1"),
        "{loaded:?}"
    );
    ok(&other.wharf(&["run", "saved:1"]));

    // skopeo reads wharf's archive ...
    let pushed = format!("{}/saved:1", registry.addr);
    skopeo(&[
        "copy",
        "--dest-tls-verify=false",
        "--preserve-digests",
        // Docker's convention: the ref name annotation is the tag alone.
        &format!("oci-archive:{}:1", archive.display()),
        &format!("docker://{pushed}"),
    ]);
    ok(&Env::new().wharf(&["run", &pushed]));
    // ... and wharf reads skopeo's.
    let skopeo_archive = env.tmp.path().join("skopeo.tar");
    skopeo(&[
        "copy",
        "--src-tls-verify=false",
        &format!("docker://{pushed}"),
        &format!(
            "oci-archive:{}:example.com/from-skopeo:2",
            skopeo_archive.display()
        ),
    ]);
    let third = Env::new();
    let loaded = third.wharf(&["load", "-i", skopeo_archive.to_str().unwrap()]);
    ok(&loaded);
    ok(&third.wharf(&["run", "example.com/from-skopeo:2"]));

    // Not an archive: a clear error and an unchanged store.
    let junk = env.tmp.path().join("junk.tar");
    std::fs::write(&junk, b"not a tar at all").unwrap();
    let before = third.index();
    let ran = third.wharf(&["load", "-i", junk.to_str().unwrap()]);
    assert_eq!(ran.code, 1, "{ran:?}");
    assert_eq!(third.index(), before);
}

#[test]
fn an_artifact_build_is_the_cncf_layout_and_compiles_once_per_layer() {
    let registry = Registry::start();
    let env = Env::new();
    let name = format!("{}/artifact:1", registry.addr);
    let built = env.wharf(&[
        "build",
        "--artifact",
        "-t",
        &name,
        guest("hello.component.wasm").to_str().unwrap(),
    ]);
    ok(&built);
    // Reproducible: the same file gives the same digest in another store.
    let again = Env::new().wharf(&[
        "build",
        "--artifact",
        "-q",
        "-t",
        "x",
        guest("hello.component.wasm").to_str().unwrap(),
    ]);
    let short = &again.stdout.trim()["sha256:".len()..][..12];
    assert!(
        built
            .stdout
            .contains(&format!("Successfully built {short}\n")),
        "{built:?} {again:?}"
    );
    // Not Wasm: refused with the file named.
    let junk = env.tmp.path().join("junk.wasm");
    std::fs::write(&junk, "#!/bin/sh\n").unwrap();
    let refused = env.wharf(&["build", "--artifact", "-t", "junk", junk.to_str().unwrap()]);
    assert_eq!(refused.code, 125, "{refused:?}");
    assert!(
        refused
            .stderr
            .contains("junk.wasm is not a WebAssembly binary"),
        "{refused:?}"
    );
    ok(&env.wharf(&["push", "-q", &name]));
    let raw: Value = serde_json::from_str(&skopeo(&[
        "inspect",
        "--raw",
        "--tls-verify=false",
        &format!("docker://{name}"),
    ]))
    .unwrap();
    assert_eq!(
        raw["config"]["mediaType"],
        json!("application/vnd.wasm.config.v0+json")
    );
    assert_eq!(raw["layers"].as_array().unwrap().len(), 1);
    assert_eq!(raw["layers"][0]["mediaType"], json!("application/wasm"));
    let component = std::fs::read(guest("hello.component.wasm")).unwrap();
    assert_eq!(raw["layers"][0]["digest"], json!(digest(&component)));

    let puller = Env::new();
    ok(&puller.wharf(&["pull", "-q", &name]));
    let inspect: Value =
        serde_json::from_str(&puller.wharf(&["image", "inspect", &name]).stdout).unwrap();
    assert_eq!(inspect[0]["Os"], json!("wasip2"));
    assert_eq!(inspect[0]["Wasm"]["Layout"], json!("wasm-layer"));
    let ran = puller.wharf(&["run", &name]);
    ok(&ran);
    // The AOT cache entry is named by the layer digest.
    let layer_hex = &digest(&component)[7..];
    let entries: Vec<String> = std::fs::read_dir(puller.root().join("cache/aot"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        entries
            .iter()
            .any(|e| e.starts_with(&format!("sha256-{layer_hex}-component-"))),
        "{entries:?}"
    );
    ok(&puller.wharf(&["run", &name]));
    assert_eq!(
        std::fs::read_dir(puller.root().join("cache/aot"))
            .unwrap()
            .count(),
        entries.len()
    );
}
