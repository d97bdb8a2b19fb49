//! Archive loading (`wharf load`) on any bytes into a fresh store: never panics, and every blob
//! the store then holds hashes to its name (a hostile archive cannot plant a lying blob).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let dir = tempfile::tempdir().unwrap();
    let store = wharf_store::Store::open(dir.path().join("store")).unwrap();
    let _ = wharf_archive::load(&store, data, 1 << 20);
    if let Ok(index) = store.index() {
        for digest in index.referenced_blobs() {
            assert!(
                store.read_blob(&digest, u64::MAX).is_ok(),
                "blob {digest} is bad"
            );
        }
    }
});
