use super::*;

fn store() -> (tempfile::TempDir, Store) {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path().join("images")).unwrap();
    (tmp, store)
}

fn image(store: &Store, layers: &[&[u8]]) -> (Digest, ImageRecord) {
    let config = store.put_blob(b"{\"architecture\":\"wasm\"}").unwrap();
    let layers = layers.iter().map(|l| store.put_blob(l).unwrap()).collect();
    let record = ImageRecord {
        config,
        layers,
        extra: Vec::new(),
        created: None,
    };
    let manifest = store
        .put_blob(serde_json::to_string(&record).unwrap().as_bytes())
        .unwrap();
    (manifest, record)
}

fn tmp_files(store: &Store) -> usize {
    fs::read_dir(store.tmp_dir()).unwrap().count()
}

#[test]
fn blobs_round_trip_and_are_verified_on_write() {
    let (_tmp, store) = store();
    let digest = store.put_blob(b"layer bytes").unwrap();
    assert!(store.has_blob(&digest));
    assert_eq!(store.read_blob(&digest, 1 << 20).unwrap(), b"layer bytes");

    let claimed = Digest::of(b"something else");
    let err = store
        .put_blob_from(&claimed, &b"layer bytes!"[..], u64::MAX)
        .unwrap_err();
    assert!(matches!(err, Error::DigestMismatch { .. }), "{err}");
    assert!(!store.has_blob(&claimed));
    assert_eq!(tmp_files(&store), 0, "a rejected blob left a temporary");
}

#[test]
fn oversized_blobs_are_refused_while_streaming() {
    let (_tmp, store) = store();
    let big = vec![7u8; 3 << 20];
    let digest = Digest::of(&big);
    let err = store.put_blob_from(&digest, &big[..], 1 << 20).unwrap_err();
    assert!(matches!(err, Error::TooLarge { .. }), "{err}");
    assert!(!store.has_blob(&digest));
    assert_eq!(tmp_files(&store), 0);
    store.put_blob_from(&digest, &big[..], 4 << 20).unwrap();
    assert!(matches!(
        store.read_blob(&digest, 1 << 20),
        Err(Error::TooLarge { .. })
    ));
}

#[test]
fn a_blob_damaged_on_disk_is_caught_when_read() {
    let (_tmp, store) = store();
    let digest = store.put_blob(b"original").unwrap();
    fs::write(store.blob_path(&digest), b"tampered").unwrap();
    assert!(matches!(
        store.read_blob(&digest, 100),
        Err(Error::DigestMismatch { .. })
    ));
    let missing = Digest::of(b"never stored");
    assert!(matches!(
        store.read_blob(&missing, 100),
        Err(Error::MissingBlob(_))
    ));
}

#[test]
fn images_and_tags_are_registered_in_transactions() {
    let (_tmp, store) = store();
    let (manifest, record) = image(&store, &[b"layer one"]);
    store
        .update(|index| {
            index.images.insert(manifest.clone(), record.clone());
            index
                .tags
                .insert("docker.io/library/app:latest".into(), manifest.clone());
            Ok(())
        })
        .unwrap();
    let index = store.index().unwrap();
    assert_eq!(index.tags["docker.io/library/app:latest"], manifest);
    assert_eq!(index.images[&manifest], record);
}

#[test]
fn an_image_whose_blobs_are_missing_is_refused_and_nothing_changes() {
    let (_tmp, store) = store();
    let (manifest, mut record) = image(&store, &[b"layer"]);
    record.layers.push(Digest::of(b"a layer nobody stored"));
    let err = store
        .update(|index| {
            index.images.insert(manifest.clone(), record.clone());
            Ok(())
        })
        .unwrap_err();
    assert!(matches!(err, Error::MissingBlob(_)), "{err}");
    assert_eq!(store.index().unwrap(), Index::default());
}

#[test]
fn a_failed_change_leaves_the_index_as_it_was() {
    let (_tmp, store) = store();
    let (manifest, record) = image(&store, &[b"layer"]);
    store
        .update(|index| {
            index.images.insert(manifest.clone(), record.clone());
            Ok(())
        })
        .unwrap();
    let before = store.index().unwrap();
    let result: Result<(), Error> = store.update(|index| {
        index.images.clear();
        Err(Error::MissingBlob(Digest::of(b"x")))
    });
    assert!(result.is_err());
    assert_eq!(store.index().unwrap(), before);
    assert!(store.has_blob(&manifest), "a failed change deleted blobs");
}

#[test]
fn removing_an_image_deletes_only_blobs_no_other_image_needs() {
    let (_tmp, store) = store();
    let (first, first_record) = image(&store, &[b"shared layer", b"first only"]);
    let (second, second_record) = image(&store, &[b"shared layer", b"second only"]);
    store
        .update(|index| {
            index.images.insert(first.clone(), first_record.clone());
            index.images.insert(second.clone(), second_record.clone());
            Ok(())
        })
        .unwrap();
    store
        .update(|index| {
            index.images.remove(&first);
            Ok(())
        })
        .unwrap();
    assert!(!store.has_blob(&first));
    assert!(
        !store.has_blob(&first_record.layers[1]),
        "first's own layer was kept"
    );
    assert!(
        store.has_blob(&first_record.layers[0]),
        "the shared layer was deleted"
    );
    assert!(
        store.has_blob(&second_record.config),
        "the shared config was deleted"
    );
    assert!(store.has_blob(&second));
}

#[test]
fn concurrent_updates_from_many_writers_are_serialized() {
    let (tmp, _) = store();
    let dir = tmp.path().join("images");
    std::thread::scope(|scope| {
        for writer in 0..8 {
            let dir = dir.clone();
            scope.spawn(move || {
                // Each writer opens the store on its own, as separate processes would.
                let store = Store::open(&dir).unwrap();
                for n in 0..10 {
                    let (manifest, record) = image(&store, &[format!("{writer}-{n}").as_bytes()]);
                    store
                        .update(|index| {
                            index.images.insert(manifest.clone(), record.clone());
                            index
                                .tags
                                .insert(format!("app:{writer}-{n}"), manifest.clone());
                            Ok(())
                        })
                        .unwrap();
                }
            });
        }
    });
    let index = Store::open(&dir).unwrap().index().unwrap();
    assert_eq!(index.tags.len(), 80, "an update was lost");
}

#[test]
fn a_corrupt_index_is_an_error_not_an_empty_store() {
    let (_tmp, store) = store();
    fs::write(store.index_path(), b"{ not json").unwrap();
    let err = store.index().unwrap_err();
    assert!(err.to_string().contains("corrupt"), "{err}");
    assert!(store.update(|_| Ok(())).is_err());
}

#[test]
fn a_blob_writer_shows_nothing_until_a_verified_commit() {
    let (_tmp, store) = store();
    let digest = Digest::of(b"abcdef");
    let mut writer = store.blob_writer(&digest, 6).unwrap();
    writer.write(b"abc").unwrap();
    assert!(!store.has_blob(&digest));
    writer.write(b"def").unwrap();
    assert_eq!(writer.written(), 6);
    assert_eq!(writer.commit().unwrap(), 6);
    assert!(store.has_blob(&digest));

    // Past the limit, and a dropped writer: nothing kept, no temporary left.
    let other = Digest::of(b"0123456789");
    let mut writer = store.blob_writer(&other, 4).unwrap();
    assert!(matches!(
        writer.write(b"01234"),
        Err(Error::TooLarge { .. })
    ));
    drop(writer);
    let mut writer = store.blob_writer(&other, 100).unwrap();
    writer.write(b"0123").unwrap();
    drop(writer);
    assert!(!store.has_blob(&other));
    assert_eq!(tmp_files(&store), 0);
}

#[test]
fn orphans_are_removed_but_blobs_in_use_and_young_ones_are_kept() {
    let (_tmp, store) = store();
    let (manifest, record) = image(&store, &[b"kept layer"]);
    store
        .update(|index| {
            index.images.insert(manifest.clone(), record.clone());
            Ok(())
        })
        .unwrap();
    let orphan = store.put_blob(b"left by a killed pull").unwrap();
    assert_eq!(
        store
            .remove_orphans(std::time::Duration::from_secs(3600))
            .unwrap(),
        0
    );
    assert!(store.has_blob(&orphan));
    let freed = store.remove_orphans(std::time::Duration::ZERO).unwrap();
    assert_eq!(freed, b"left by a killed pull".len() as u64);
    assert!(!store.has_blob(&orphan));
    assert!(record.blobs(&manifest).all(|d| store.has_blob(d)));
}

#[test]
fn a_writer_at_work_keeps_its_unregistered_blobs() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path().join("store")).unwrap();
    let writing = store.writing().unwrap();
    let mine = store.put_blob(b"a layer about to be registered").unwrap();
    // A second writer at once is fine: the guard is shared.
    let other = store.writing().unwrap();
    assert_eq!(store.remove_orphans(std::time::Duration::ZERO).unwrap(), 0);
    assert!(store.has_blob(&mine));
    drop(other);
    drop(writing);
    assert!(store.remove_orphans(std::time::Duration::ZERO).unwrap() > 0);
    assert!(!store.has_blob(&mine));
}
