use super::*;
use std::time::SystemTime;

const HELLO: &str = r#"(module (func (export "_start")) (memory (export "memory") 1))"#;

fn setup() -> (tempfile::TempDir, AotCache, Engine, WasmBinary) {
    let tmp = tempfile::tempdir().unwrap();
    let cache = AotCache::new(tmp.path().join("aot"));
    let engine = wharf_sandbox::new_engine().unwrap();
    let wasm = WasmBinary::parse(HELLO.as_bytes().to_vec()).unwrap();
    (tmp, cache, engine, wasm)
}

#[test]
fn compiles_once_then_loads_from_the_cache() {
    let (_tmp, cache, engine, wasm) = setup();
    let (_, first) = cache.load_or_compile(&engine, &wasm).unwrap();
    assert_eq!(first, Source::Compiled);
    assert!(cache.entry_path(&engine, &CacheKey::of(&wasm)).is_file());
    let (compiled, second) = cache.load_or_compile(&engine, &wasm).unwrap();
    assert_eq!(second, Source::Cache);
    assert_eq!(compiled.kind(), GuestKind::Module);
}

#[test]
fn the_key_covers_the_binary_and_the_engine() {
    let (_tmp, cache, engine, wasm) = setup();
    let other = WasmBinary::parse(b"(module (func (export \"_start\") nop))".to_vec()).unwrap();
    assert_ne!(
        cache.entry_path(&engine, &CacheKey::of(&wasm)),
        cache.entry_path(&engine, &CacheKey::of(&other))
    );
    let mut config = wasmtime::Config::new();
    config.cranelift_opt_level(wasmtime::OptLevel::None);
    let other_engine = Engine::new(&config).unwrap();
    assert_ne!(
        cache.entry_path(&engine, &CacheKey::of(&wasm)),
        cache.entry_path(&other_engine, &CacheKey::of(&wasm))
    );
}

/// Every way an entry can go bad is detected and rebuilt, never loaded.
#[test]
fn corrupt_truncated_and_foreign_entries_are_rebuilt() {
    let (_tmp, cache, engine, wasm) = setup();
    cache.load_or_compile(&engine, &wasm).unwrap();
    let path = cache.entry_path(&engine, &CacheKey::of(&wasm));
    let sum_path = checksum_path(&path);
    let good = std::fs::read(&path).unwrap();
    let good_sum = std::fs::read(&sum_path).unwrap();

    let mut flipped = good.clone();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 0xff;
    let foreign = b"not machine code at all".to_vec();
    let foreign_sum = format!("{:032x}", xxh3_128(&foreign)).into_bytes();
    // (what, artifact bytes, checksum file bytes or none)
    let damaged = [
        ("bit flip", flipped, Some(good_sum.clone())),
        (
            "truncated",
            good[..good.len() / 3].to_vec(),
            Some(good_sum.clone()),
        ),
        ("empty", Vec::new(), Some(good_sum.clone())),
        ("malformed checksum", good.clone(), Some(b"zz".to_vec())),
        ("wrong checksum", good.clone(), Some(foreign_sum.clone())),
        ("no checksum", good.clone(), None),
        (
            "foreign payload with its own checksum",
            foreign,
            Some(foreign_sum),
        ),
    ];
    for (what, bytes, sum) in damaged {
        std::fs::write(&path, &bytes).unwrap();
        match sum {
            Some(sum) => std::fs::write(&sum_path, sum).unwrap(),
            None => std::fs::remove_file(&sum_path).unwrap(),
        }
        let (compiled, source) = cache.load_or_compile(&engine, &wasm).unwrap();
        assert_eq!(source, Source::Compiled, "{what} was loaded");
        assert_eq!(compiled.kind(), GuestKind::Module);
        assert_eq!(
            std::fs::read(&path).unwrap(),
            good,
            "{what} was not rebuilt"
        );
        assert_eq!(
            std::fs::read(&sum_path).unwrap(),
            good_sum,
            "{what}: checksum not rebuilt"
        );
    }
}

/// A checked artifact is not hashed again while it is the same file; one changed in place
/// (its mtime moves) or replaced (a new inode) is checked again.
#[test]
fn a_checked_entry_is_stamped_and_a_changed_one_checked_again() {
    let (_tmp, cache, engine, wasm) = setup();
    cache.load_or_compile(&engine, &wasm).unwrap();
    let path = cache.entry_path(&engine, &CacheKey::of(&wasm));
    let sum_path = checksum_path(&path);
    let plain = std::fs::read_to_string(&sum_path).unwrap();
    assert_eq!(plain.split_whitespace().count(), 1, "{plain}");
    let set_mtime = |when: SystemTime| {
        let file = std::fs::File::options().write(true).open(&path).unwrap();
        file.set_modified(when).unwrap();
    };
    // The first load checks the bytes and stamps them; the second trusts the stamp.
    let (_, source) = cache.load_or_compile(&engine, &wasm).unwrap();
    assert_eq!(source, Source::Cache);
    let stamped = std::fs::read_to_string(&sum_path).unwrap();
    assert!(stamped.starts_with(plain.trim()), "{stamped}");
    assert_eq!(stamped.split_whitespace().count(), 2, "{stamped}");
    let (_, source) = cache.load_or_compile(&engine, &wasm).unwrap();
    assert_eq!(source, Source::Cache);
    assert_eq!(std::fs::read_to_string(&sum_path).unwrap(), stamped);

    // Stamped with an mtime minutes old (recent enough not to be re-marked as used), so that
    // a bit flipped in place moves it whatever the clock's grain.
    set_mtime(SystemTime::now() - std::time::Duration::from_secs(120));
    let (_, source) = cache.load_or_compile(&engine, &wasm).unwrap();
    assert_eq!(source, Source::Cache);
    assert_ne!(std::fs::read_to_string(&sum_path).unwrap(), stamped);
    let mut bytes = std::fs::read(&path).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&path, &bytes).unwrap();
    let (_, source) = cache.load_or_compile(&engine, &wasm).unwrap();
    assert_eq!(source, Source::Compiled, "a changed artifact was trusted");
}

#[test]
fn components_are_cached_too() {
    let (_tmp, cache, engine, _) = setup();
    let wasm = WasmBinary::parse(b"(component)".to_vec()).unwrap();
    let (_, first) = cache.load_or_compile(&engine, &wasm).unwrap();
    let (compiled, second) = cache.load_or_compile(&engine, &wasm).unwrap();
    assert_eq!((first, second), (Source::Compiled, Source::Cache));
    assert_eq!(compiled.kind(), GuestKind::Component);
}

#[test]
fn an_unwritable_cache_still_runs_the_code() {
    let tmp = tempfile::tempdir().unwrap();
    let blocker = tmp.path().join("file");
    std::fs::write(&blocker, b"").unwrap();
    let cache = AotCache::new(blocker.join("aot"));
    let engine = wharf_sandbox::new_engine().unwrap();
    let wasm = WasmBinary::parse(HELLO.as_bytes().to_vec()).unwrap();
    let (_, source) = cache.load_or_compile(&engine, &wasm).unwrap();
    assert_eq!(source, Source::Compiled);
}

#[test]
fn invalid_binaries_are_reported() {
    let (_tmp, cache, engine, _) = setup();
    let mut bytes = WasmBinary::parse(HELLO.as_bytes().to_vec()).unwrap().bytes;
    bytes.truncate(bytes.len() - 3);
    let wasm = WasmBinary::parse(bytes).unwrap();
    let err = cache.load_or_compile(&engine, &wasm).unwrap_err();
    assert!(err.to_string().contains("end"), "{err}");
}

#[test]
fn concurrent_fills_of_one_entry_are_safe() {
    let (_tmp, cache, engine, wasm) = setup();
    std::thread::scope(|s| {
        for _ in 0..8 {
            s.spawn(|| cache.load_or_compile(&engine, &wasm).unwrap());
        }
    });
    let (_, source) = cache.load_or_compile(&engine, &wasm).unwrap();
    assert_eq!(source, Source::Cache);
    let entries = std::fs::read_dir(cache.dir()).unwrap().count();
    assert_eq!(entries, 2, "temporary files were left behind");
}

#[test]
fn temporaries_abandoned_by_killed_writers_are_cleaned_up() {
    let (_tmp, cache, engine, wasm) = setup();
    std::fs::create_dir_all(cache.dir()).unwrap();
    let old = cache.dir().join(".sha256-x.cwasm.123.0.tmp");
    let young = cache.dir().join(".sha256-y.cwasm.456.0.tmp");
    for path in [&old, &young] {
        std::fs::write(path, b"half a file").unwrap();
    }
    let an_hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    std::fs::File::options()
        .write(true)
        .open(&old)
        .unwrap()
        .set_modified(an_hour_ago)
        .unwrap();
    cache.load_or_compile(&engine, &wasm).unwrap();
    assert!(!old.exists(), "an abandoned temporary was kept");
    assert!(
        young.exists(),
        "a temporary that may still be written was removed"
    );
}

/// A distinct module per `n`, so each has its own entry.
fn module(n: u32) -> WasmBinary {
    let text = format!(
        r#"(module (func (export "_start")) (func (export "f{n}")) (memory (export "memory") 1))"#
    );
    WasmBinary::parse(text.into_bytes()).unwrap()
}

#[test]
fn a_bounded_cache_evicts_the_least_recently_used_first() {
    let (tmp, _, engine, _) = setup();
    let unbounded = AotCache::new(tmp.path().join("aot"));
    let (a, b, c) = (module(1), module(2), module(3));
    unbounded.load_or_compile(&engine, &a).unwrap();
    let one_entry = unbounded.entries()[0].bytes;
    unbounded.load_or_compile(&engine, &b).unwrap();
    // Age both entries, then use `a`: `b` is now the least recently used.
    let old = SystemTime::now() - std::time::Duration::from_secs(3600);
    for entry in unbounded.entries() {
        let file = std::fs::File::options()
            .write(true)
            .open(&entry.path)
            .unwrap();
        file.set_modified(old).unwrap();
    }
    let (_, source) = unbounded.load_or_compile(&engine, &a).unwrap();
    assert_eq!(source, Source::Cache);
    let bounded = AotCache::new(tmp.path().join("aot")).with_limit(one_entry * 2 + one_entry / 2);
    bounded.load_or_compile(&engine, &c).unwrap();
    let left: Vec<String> = bounded
        .entries()
        .into_iter()
        .map(|e| e.sha256_hex)
        .collect();
    let key = |w: &WasmBinary| CacheKey::of(w).sha256_hex;
    assert_eq!(left.len(), 2, "{left:?}");
    assert!(
        left.contains(&key(&a)) && left.contains(&key(&c)),
        "{left:?}"
    );
    assert!(
        !left.contains(&key(&b)),
        "the least recently used stayed: {left:?}"
    );

    let (count, bytes) = bounded.remove_entries(|e| e.sha256_hex == key(&a));
    assert_eq!((count, bytes > 0), (1, true));
    assert_eq!(bounded.entries().len(), 1);
}

#[test]
fn a_remembered_key_holds_while_the_file_is_unchanged() {
    let (tmp, cache, _engine, wasm) = setup();
    let file = tmp.path().join("app.wasm");
    std::fs::write(&file, &wasm.bytes).unwrap();
    let meta = std::fs::metadata(&file).unwrap();
    assert_eq!(cache.remembered_key(&meta), None);
    let key = CacheKey::of(&wasm);
    cache.remember_key(&meta, &key);
    assert_eq!(cache.remembered_key(&meta), Some(key.clone()));
    assert_eq!(
        cache.remembered_key(&std::fs::metadata(&file).unwrap()),
        Some(key)
    );
    // Any write moves the ctime, even one that restores the mtime (past the grain of the
    // kernel's file clock first, so that it does move).
    std::thread::sleep(std::time::Duration::from_millis(30));
    let mtime = meta.modified().unwrap();
    std::fs::write(&file, &wasm.bytes).unwrap();
    let file_handle = std::fs::File::options().write(true).open(&file).unwrap();
    file_handle.set_modified(mtime).unwrap();
    let after = std::fs::metadata(&file).unwrap();
    assert_eq!(after.modified().unwrap(), mtime);
    assert_eq!(cache.remembered_key(&after), None);
    // The cache's own listing is not confused by the remembered inputs.
    assert!(cache.entries().is_empty());
}
