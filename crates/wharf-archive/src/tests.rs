use super::*;

const WASM: &[u8] = b"\0asm\x01\0\0\0";

fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("store")).unwrap();
    (dir, store)
}

/// A CNCF Wasm artifact in `store`, tagged `name`; returns its manifest digest.
fn artifact(store: &Store, name: &str, os: &str) -> Digest {
    let layer = store.put_blob(WASM).unwrap();
    let config = serde_json::to_vec(&json!({"architecture": "wasm", "os": os})).unwrap();
    let config_digest = store.put_blob(&config).unwrap();
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.wasm.config.v0+json",
                   "digest": config_digest.as_str(), "size": config.len()},
        "layers": [{"mediaType": "application/wasm", "digest": layer.as_str(), "size": WASM.len()}],
    }))
    .unwrap();
    let digest = store.put_blob(&manifest).unwrap();
    let record = ImageRecord {
        config: config_digest,
        layers: vec![layer],
        extra: vec![],
        created: None,
    };
    store
        .update(|index| {
            index.images.insert(digest.clone(), record.clone());
            index
                .tags
                .insert(Reference::parse(name).unwrap().to_string(), digest.clone());
            Ok(())
        })
        .unwrap();
    digest
}

fn save_to_vec(store: &Store, digest: &Digest, name: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let items = [SaveItem {
        digest: digest.clone(),
        names: vec![Reference::parse(name).unwrap()],
    }];
    save(store, &items, &mut out).unwrap();
    out
}

/// Rebuilds a tar, letting `change` rewrite each (path, bytes) or drop it.
fn rewrite(
    tar_bytes: &[u8],
    change: impl Fn(&str, Vec<u8>) -> Option<(String, Vec<u8>)>,
) -> Vec<u8> {
    let mut archive = tar::Archive::new(tar_bytes);
    let mut builder = tar::Builder::new(Vec::new());
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let path = entry.path().unwrap().to_string_lossy().into_owned();
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).unwrap();
        if let Some((path, bytes)) = change(&path, bytes) {
            let mut header = tar::Header::new_gnu();
            header.set_size(bytes.len() as u64);
            header.set_mode(0o644);
            header.set_path(&path).unwrap_or_else(|_| {
                // `set_path` refuses `..`; write the raw name the way a hostile tool would.
                let name = &mut header.as_old_mut().name;
                name.fill(0);
                name[..path.len()].copy_from_slice(path.as_bytes());
            });
            header.set_cksum();
            builder.append(&header, bytes.as_slice()).unwrap();
        }
    }
    builder.into_inner().unwrap()
}

#[test]
fn save_then_load_round_trips_with_names_and_digests() {
    let (_a, source) = store();
    let digest = artifact(&source, "example.com/team/app:1.0", "wasip1");
    let archive = save_to_vec(&source, &digest, "example.com/team/app:1.0");

    let (_b, target) = store();
    let loaded = load(&target, archive.as_slice(), u64::MAX).unwrap();
    assert_eq!(
        loaded,
        vec![Loaded {
            digest: digest.clone(),
            names: vec!["example.com/team/app:1.0".into()],
        }]
    );
    let index = target.index().unwrap();
    assert_eq!(index.tags["example.com/team/app:1.0"], digest);
    assert_eq!(
        index.images[&digest],
        source.index().unwrap().images[&digest]
    );
    // The same store saves the same bytes.
    assert_eq!(
        save_to_vec(&target, &digest, "example.com/team/app:1.0"),
        archive
    );
}

#[test]
fn a_tampered_blob_is_refused_and_nothing_is_registered() {
    let (_a, source) = store();
    let digest = artifact(&source, "app:1", "wasip1");
    let archive = save_to_vec(&source, &digest, "app:1");
    let layer = source.index().unwrap().images[&digest].layers[0].clone();
    let tampered = rewrite(&archive, |path, mut bytes| {
        if path.ends_with(layer.hex()) {
            bytes[7] ^= 1;
        }
        Some((path.to_string(), bytes))
    });
    let (_b, target) = store();
    let err = load(&target, tampered.as_slice(), u64::MAX).unwrap_err();
    assert!(
        err.to_string().contains("does not match its digest"),
        "{err}"
    );
    assert_eq!(target.index().unwrap(), wharf_store::Index::default());
    assert!(!target.has_blob(&layer));
}

#[test]
fn hostile_paths_are_never_written_and_a_missing_index_is_explained() {
    let (dir, source) = store();
    let digest = artifact(&source, "app:1", "wasip1");
    let archive = save_to_vec(&source, &digest, "app:1");
    let hostile = rewrite(&archive, |path, bytes| {
        Some(match path {
            "oci-layout" => ("../escaped".to_string(), bytes),
            other => (other.to_string(), bytes),
        })
    });
    let (_b, target) = store();
    load(&target, hostile.as_slice(), u64::MAX).unwrap();
    assert!(!dir.path().join("escaped").exists());
    assert!(!dir.path().join("store").join("escaped").exists());

    let no_index = rewrite(&archive, |path, bytes| {
        (path != "index.json").then(|| (path.to_string(), bytes))
    });
    let (_c, target) = store();
    let err = load(&target, no_index.as_slice(), u64::MAX).unwrap_err();
    assert!(err.to_string().contains("no index.json"), "{err}");
    // The blobs it carried were not left behind.
    assert!(
        std::fs::read_dir(target.blob_path(&digest).parent().unwrap())
            .unwrap()
            .next()
            .is_none()
    );
}

#[test]
fn an_archive_missing_a_layer_or_holding_a_linux_image_is_refused() {
    let (_a, source) = store();
    let digest = artifact(&source, "app:1", "wasip1");
    let archive = save_to_vec(&source, &digest, "app:1");
    let layer = source.index().unwrap().images[&digest].layers[0].clone();
    let without_layer = rewrite(&archive, |path, bytes| {
        (!path.ends_with(layer.hex())).then(|| (path.to_string(), bytes))
    });
    let (_b, target) = store();
    let err = load(&target, without_layer.as_slice(), u64::MAX).unwrap_err();
    assert!(err.to_string().contains("lacks blob"), "{err}");
    assert!(target.index().unwrap().images.is_empty());

    let (_c, linux) = store();
    let digest = artifact(&linux, "app:1", "linux");
    let archive = save_to_vec(&linux, &digest, "app:1");
    let (_d, target) = store();
    let err = load(&target, archive.as_slice(), u64::MAX).unwrap_err();
    assert!(err.to_string().contains("linux"), "{err}");
}
