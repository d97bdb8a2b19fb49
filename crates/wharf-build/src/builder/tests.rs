use super::*;

const HELLO: &str = r#"(module (func (export "_start")) (memory (export "memory") 1))"#;

struct Fixture {
    _tmp: tempfile::TempDir,
    context: PathBuf,
    store: Store,
}

fn fixture() -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let context = tmp.path().join("ctx");
    std::fs::create_dir_all(context.join("static/css")).unwrap();
    std::fs::write(context.join("app.wasm"), wat::parse_str(HELLO).unwrap()).unwrap();
    std::fs::write(context.join("static/index.html"), "<h1>hi</h1>").unwrap();
    std::fs::write(context.join("static/css/site.css"), "body{}").unwrap();
    std::fs::write(context.join("static/notes.md"), "ignored").unwrap();
    std::fs::write(context.join(".dockerignore"), "**/*.md\n").unwrap();
    let store = Store::open(tmp.path().join("store")).unwrap();
    Fixture {
        _tmp: tmp,
        context,
        store,
    }
}

fn options(dockerfile: &str, tag: &str) -> BuildOptions {
    BuildOptions {
        dockerfile: dockerfile.to_string(),
        tags: vec![Reference::parse(tag).unwrap()],
        ..Default::default()
    }
}

const DOCKERFILE: &str = "FROM scratch\nCOPY app.wasm /\nCOPY static /www/\nENV A=1\nWORKDIR /www\nEXPOSE 8080\nENTRYPOINT [\"/app.wasm\"]\n";

fn json(store: &Store, digest: &Digest) -> Value {
    serde_json::from_slice(&store.read_blob(digest, 1 << 20).unwrap()).unwrap()
}

#[test]
fn builds_a_wasi_wasm_image_with_its_config() {
    let f = fixture();
    let digest = build(&f.store, &f.context, &options(DOCKERFILE, "app:1")).unwrap();
    let index = f.store.index().unwrap();
    assert_eq!(index.tags["docker.io/library/app:1"], digest);
    let record = &index.images[&digest];
    assert_eq!(record.layers.len(), 2);
    let config = json(&f.store, &record.config);
    assert_eq!(
        (config["os"].as_str(), config["architecture"].as_str()),
        (Some("wasi"), Some("wasm"))
    );
    assert_eq!(config["config"]["Entrypoint"], json!(["/app.wasm"]));
    assert_eq!(config["config"]["Env"], json!(["A=1"]));
    assert_eq!(config["config"]["WorkingDir"], json!("/www"));
    assert_eq!(config["config"]["ExposedPorts"], json!({"8080/tcp": {}}));
    assert_eq!(config["created"], json!("1970-01-01T00:00:00Z"));

    // The second layer holds the static tree under /www, without the ignored file.
    let layer = f.store.read_blob(&record.layers[1], 1 << 20).unwrap();
    let mut names: Vec<String> = tar::Archive::new(flate2::read::GzDecoder::new(&layer[..]))
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().display().to_string())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["www/", "www/css/", "www/css/site.css", "www/index.html"]
    );
}

#[test]
fn the_same_inputs_give_the_same_digest() {
    let f = fixture();
    let first = build(&f.store, &f.context, &options(DOCKERFILE, "app:1")).unwrap();
    // Touch every file: timestamps must not matter.
    std::fs::write(f.context.join("static/index.html"), "<h1>hi</h1>").unwrap();
    let second = build(&f.store, &f.context, &options(DOCKERFILE, "app:2")).unwrap();
    assert_eq!(first, second);
    let mut later = options(DOCKERFILE, "app:3");
    later.source_date_epoch = 1_700_000_000;
    let third = build(&f.store, &f.context, &later).unwrap();
    assert_ne!(first, third);
    assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
}

#[test]
fn a_base_image_from_the_store_is_extended() {
    let f = fixture();
    build(&f.store, &f.context, &options(DOCKERFILE, "base:1")).unwrap();
    let digest = build(
        &f.store,
        &f.context,
        &options("FROM base:1\nENV B=2\nCMD [\"--x\"]\n", "child:1"),
    )
    .unwrap();
    let index = f.store.index().unwrap();
    let config = json(&f.store, &index.images[&digest].config);
    assert_eq!(config["config"]["Env"], json!(["A=1", "B=2"]));
    assert_eq!(config["config"]["Entrypoint"], json!(["/app.wasm"]));
    assert_eq!(index.images[&digest].layers.len(), 2);
    assert_eq!(config["rootfs"]["diff_ids"].as_array().unwrap().len(), 2);
}

#[test]
fn bad_inputs_are_refused_and_nothing_is_tagged() {
    let f = fixture();
    std::fs::write(f.context.join("broken.wasm"), b"\0asm\x01\0\0\0\x01").unwrap();
    for (dockerfile, expected) in [
        (
            "FROM scratch\nCOPY broken.wasm /\n",
            "not valid WebAssembly",
        ),
        ("FROM scratch\nCOPY missing.wasm /\n", "does not exist"),
        ("FROM scratch\nCOPY *.exe /\n", "matches no file"),
        (
            "FROM scratch\nCOPY ../secret /\n",
            "leaves the build context",
        ),
        ("FROM nothere:1\n", "pull it first"),
        ("FROM scratch\nRUN make\n", "RUN cannot work"),
    ] {
        let err = build(&f.store, &f.context, &options(dockerfile, "bad:1")).unwrap_err();
        assert!(err.to_string().contains(expected), "{dockerfile}: {err}");
    }
    assert!(f.store.index().unwrap().tags.is_empty());
}
