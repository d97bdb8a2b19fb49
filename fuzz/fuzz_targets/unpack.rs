//! Layer unpacking on any bytes (plain tar, gzip or zstd, chosen by the first byte) into a
//! directory inside a fresh temporary one: whatever happens, nothing appears outside it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wharf_unpack::{unpack_layer, Compression, Limits};

fuzz_target!(|data: &[u8]| {
    let Some((first, layer)) = data.split_first() else {
        return;
    };
    let compression = match first % 3 {
        0 => Compression::None,
        1 => Compression::Gzip,
        _ => Compression::Zstd,
    };
    let outer = tempfile::tempdir().unwrap();
    let dest = outer.path().join("rootfs");
    std::fs::create_dir(&dest).unwrap();
    let limits = Limits {
        max_bytes: 4 << 20,
        max_entries: 10_000,
    };
    let _ = unpack_layer(layer, compression, &dest, limits);
    let outside: Vec<_> = std::fs::read_dir(outer.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        outside,
        vec![std::ffi::OsString::from("rootfs")],
        "written outside"
    );
});
