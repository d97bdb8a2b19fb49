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
    let mut steps = Vec::new();
    let mut on_step = |step: BuildStep<'_>| {
        steps.push(format!(
            "{}/{} {}",
            step.index, step.total, step.instruction
        ))
    };
    let digest = build(
        &f.store,
        &f.context,
        &options(DOCKERFILE, "app:1"),
        &mut on_step,
    )
    .unwrap();
    assert_eq!(
        steps,
        [
            "1/7 FROM scratch",
            "2/7 COPY app.wasm /",
            "3/7 COPY static /www/",
            "4/7 ENV A=1",
            "5/7 WORKDIR /www",
            "6/7 EXPOSE 8080",
            "7/7 ENTRYPOINT [\"/app.wasm\"]"
        ]
    );
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
    // Without SOURCE_DATE_EPOCH: when the newest copied file was last changed, never 1970.
    let newest = ["app.wasm", "static/index.html", "static/css/site.css"]
        .iter()
        .map(|p| {
            std::fs::metadata(f.context.join(p))
                .unwrap()
                .modified()
                .unwrap()
        })
        .max()
        .unwrap();
    let newest = newest
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert_eq!(config["created"], json!(rfc3339(newest)));

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
    let pinned = |tag| BuildOptions {
        source_date_epoch: Some(1_600_000_000),
        ..options(DOCKERFILE, tag)
    };
    let first = build(&f.store, &f.context, &pinned("app:1"), &mut |_| {}).unwrap();
    // With SOURCE_DATE_EPOCH, the files' own times do not matter.
    let touch = |secs: u64| {
        let file = std::fs::File::options()
            .write(true)
            .open(f.context.join("static/index.html"))
            .unwrap();
        let time = std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs);
        file.set_modified(time).unwrap();
    };
    touch(1_650_000_000);
    let second = build(&f.store, &f.context, &pinned("app:2"), &mut |_| {}).unwrap();
    assert_eq!(first, second);
    let mut later = options(DOCKERFILE, "app:3");
    later.source_date_epoch = Some(1_700_000_000);
    let third = build(&f.store, &f.context, &later, &mut |_| {}).unwrap();
    assert_ne!(first, third);
    // Without it, the same files with the same times give the same image; a newer file a
    // newer one.
    let unpinned = |tag| build(&f.store, &f.context, &options(DOCKERFILE, tag), &mut |_| {});
    let (a, b) = (unpinned("app:4").unwrap(), unpinned("app:5").unwrap());
    assert_eq!(a, b);
    touch(4_000_000_000);
    assert_ne!(unpinned("app:6").unwrap(), a);
    assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
}

#[test]
fn a_base_image_from_the_store_is_extended() {
    let f = fixture();
    build(
        &f.store,
        &f.context,
        &options(DOCKERFILE, "base:1"),
        &mut |_| {},
    )
    .unwrap();
    let digest = build(
        &f.store,
        &f.context,
        &options("FROM base:1\nENV B=2\nCMD [\"--x\"]\n", "child:1"),
        &mut |_| {},
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
        let err = build(
            &f.store,
            &f.context,
            &options(dockerfile, "bad:1"),
            &mut |_| {},
        )
        .unwrap_err();
        assert!(err.to_string().contains(expected), "{dockerfile}: {err}");
    }
    assert!(f.store.index().unwrap().tags.is_empty());
}

/// The paths in layer `n` of the image `digest`, with the symlinks' targets.
fn layer_entries(store: &Store, digest: &Digest, n: usize) -> Vec<(String, Option<String>)> {
    let record = &store.index().unwrap().images[digest];
    let layer = store.read_blob(&record.layers[n], 1 << 20).unwrap();
    let mut entries: Vec<(String, Option<String>)> =
        tar::Archive::new(flate2::read::GzDecoder::new(&layer[..]))
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let link = e.link_name().unwrap().map(|l| l.display().to_string());
                (e.path().unwrap().display().to_string(), link)
            })
            .collect();
    entries.sort();
    entries
}

#[test]
fn copy_never_follows_a_symlink_out_of_the_context() {
    let f = fixture();
    let outside = f._tmp.path().join("host-secret");
    std::fs::write(&outside, "the host's file").unwrap();
    std::fs::create_dir(f._tmp.path().join("host-dir")).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", f.context.join("pw")).unwrap();
    std::os::unix::fs::symlink(&outside, f.context.join("secret")).unwrap();
    std::os::unix::fs::symlink(f._tmp.path().join("host-dir"), f.context.join("hostdir")).unwrap();
    std::fs::write(f._tmp.path().join("host-dir/key"), "k").unwrap();
    for dockerfile in [
        "FROM scratch\nCOPY pw /pw\n",
        "FROM scratch\nCOPY secret /\n",
        "FROM scratch\nCOPY p* /x/\n",
        "FROM scratch\nCOPY hostdir /h/\n",
        "FROM scratch\nCOPY hostdir/key /k\n",
    ] {
        let err = build(
            &f.store,
            &f.context,
            &options(dockerfile, "leak:1"),
            &mut |_| {},
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("outside the build context"),
            "{dockerfile}: {err}"
        );
    }
    assert!(f.store.index().unwrap().tags.is_empty());
}

#[test]
fn links_inside_the_context_are_copied_as_links() {
    let f = fixture();
    std::os::unix::fs::symlink("index.html", f.context.join("static/home.html")).unwrap();
    std::os::unix::fs::symlink("static/../app.wasm", f.context.join("app-link.wasm")).unwrap();
    // Inside a copied directory: kept as a link.
    let digest = build(
        &f.store,
        &f.context,
        &options("FROM scratch\nCOPY static /www/\n", "links:1"),
        &mut |_| {},
    )
    .unwrap();
    let entries = layer_entries(&f.store, &digest, 0);
    assert!(
        entries.contains(&("www/home.html".into(), Some("index.html".into()))),
        "{entries:?}"
    );
    // Named outright, a link inside the context is followed to its file.
    let digest = build(
        &f.store,
        &f.context,
        &options("FROM scratch\nCOPY app-link.wasm /app.wasm\n", "links:2"),
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(
        layer_entries(&f.store, &digest, 0),
        [("app.wasm".to_string(), None)]
    );
    // A link in a copied directory that would point out of the image is refused, with a hint.
    std::os::unix::fs::symlink("/etc/passwd", f.context.join("static/pw")).unwrap();
    let err = build(
        &f.store,
        &f.context,
        &options("FROM scratch\nCOPY static /www/\n", "links:3"),
        &mut |_| {},
    )
    .unwrap_err();
    assert!(err.to_string().contains(".dockerignore"), "{err}");
}

#[test]
fn ignored_files_are_not_in_the_context_even_when_named() {
    let f = fixture();
    std::fs::write(f.context.join("secret.txt"), "password").unwrap();
    std::fs::write(f.context.join("public.txt"), "hello").unwrap();
    std::fs::write(f.context.join(".dockerignore"), "**/*.md\nsecret.txt\n").unwrap();
    std::os::unix::fs::symlink("secret.txt", f.context.join("alias.txt")).unwrap();
    let err = build(
        &f.store,
        &f.context,
        &options("FROM scratch\nCOPY secret.txt /\n", "ign:1"),
        &mut |_| {},
    )
    .unwrap_err();
    assert!(err.to_string().contains("does not exist"), "{err}");
    let err = build(
        &f.store,
        &f.context,
        &options("FROM scratch\nCOPY static/notes.md /\n", "ign:2"),
        &mut |_| {},
    )
    .unwrap_err();
    assert!(err.to_string().contains("does not exist"), "{err}");
    // A link to an ignored file does not bring it in either.
    let err = build(
        &f.store,
        &f.context,
        &options("FROM scratch\nCOPY alias.txt /\n", "ign:3"),
        &mut |_| {},
    )
    .unwrap_err();
    assert!(err.to_string().contains(".dockerignore"), "{err}");
    // A glob skips what is ignored.
    std::fs::remove_file(f.context.join("alias.txt")).unwrap();
    let digest = build(
        &f.store,
        &f.context,
        &options("FROM scratch\nCOPY *.txt /t/\n", "ign:4"),
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(
        layer_entries(&f.store, &digest, 0),
        [("t/".to_string(), None), ("t/public.txt".to_string(), None)]
    );
}

#[test]
fn an_invalid_wasm_file_is_one_clear_sentence() {
    let f = fixture();
    std::fs::write(f.context.join("broken.wasm"), b"\0asm\x01\0\0\0\x01").unwrap();
    let err = build(
        &f.store,
        &f.context,
        &options("FROM scratch\nCOPY broken.wasm /\n", "bad:1"),
        &mut |_| {},
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("not valid WebAssembly"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    // Not Wasm at all: wasmparser would print its expected and actual bytes on many lines.
    std::fs::write(f.context.join("broken.wasm"), b"garbage").unwrap();
    let err = build(
        &f.store,
        &f.context,
        &options("FROM scratch\nCOPY broken.wasm /\n", "bad:1"),
        &mut |_| {},
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("\\0asm header"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn a_later_stage_copies_from_an_earlier_one_and_from_a_stored_image() {
    let f = fixture();
    build(
        &f.store,
        &f.context,
        &options(DOCKERFILE, "base:1"),
        &mut |_| {},
    )
    .unwrap();
    let dockerfile = "FROM scratch AS assets\nCOPY static /site/\n\
        FROM scratch\nCOPY --from=base:1 /app.wasm /bin/app.wasm\n\
        COPY --from=assets /site/css /www/css\nCOPY --from=0 /site/index.html /www/\n\
        ENTRYPOINT [\"/bin/app.wasm\"]\n";
    let digest = build(
        &f.store,
        &f.context,
        &options(dockerfile, "multi:1"),
        &mut |_| {},
    )
    .unwrap();
    // Only the last stage's layers are the image's.
    assert_eq!(f.store.index().unwrap().images[&digest].layers.len(), 3);
    let names = |n| -> Vec<String> {
        layer_entries(&f.store, &digest, n)
            .into_iter()
            .map(|(p, _)| p)
            .collect()
    };
    assert_eq!(names(0), ["bin/", "bin/app.wasm"]);
    assert_eq!(names(1), ["www/", "www/css/", "www/css/site.css"]);
    assert_eq!(names(2), ["www/", "www/index.html"]);

    for (dockerfile, why) in [
        (
            "FROM scratch\nCOPY --from=nosuch /a /\n",
            "not in the local store",
        ),
        (
            "FROM scratch AS a\nFROM scratch\nCOPY --from=a /missing /\n",
            "COPY --from=a",
        ),
    ] {
        let err = build(
            &f.store,
            &f.context,
            &options(dockerfile, "bad:1"),
            &mut |_| {},
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains(why), "{dockerfile}: {err}");
    }
}
