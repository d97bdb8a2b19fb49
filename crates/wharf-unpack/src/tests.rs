use super::*;

/// One tar entry, written with raw header fields so that hostile names get through as they
/// would from a hostile registry (tar::Builder itself refuses `..`).
struct Entry<'a> {
    name: &'a str,
    kind: tar::EntryType,
    link: &'a str,
    data: &'a [u8],
}

fn file<'a>(name: &'a str, data: &'a [u8]) -> Entry<'a> {
    Entry {
        name,
        kind: tar::EntryType::Regular,
        link: "",
        data,
    }
}

fn dir(name: &str) -> Entry<'_> {
    Entry {
        name,
        kind: tar::EntryType::Directory,
        link: "",
        data: b"",
    }
}

fn symlink<'a>(name: &'a str, link: &'a str) -> Entry<'a> {
    Entry {
        name,
        kind: tar::EntryType::Symlink,
        link,
        data: b"",
    }
}

fn hardlink<'a>(name: &'a str, link: &'a str) -> Entry<'a> {
    Entry {
        name,
        kind: tar::EntryType::Link,
        link,
        data: b"",
    }
}

fn tar(entries: &[Entry]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for e in entries {
        let mut header = tar::Header::new_gnu();
        let gnu = header.as_gnu_mut().unwrap();
        gnu.name[..e.name.len()].copy_from_slice(e.name.as_bytes());
        gnu.linkname[..e.link.len()].copy_from_slice(e.link.as_bytes());
        header.set_entry_type(e.kind);
        header.set_size(e.data.len() as u64);
        header.set_mode(0o4755);
        header.set_cksum();
        builder.append(&header, e.data).unwrap();
    }
    builder.into_inner().unwrap()
}

fn unpack(bytes: &[u8], dest: &Path) -> Result<Stats, UnpackError> {
    unpack_layer(bytes, Compression::None, dest, Limits::default())
}

#[test]
fn files_directories_and_links_inside_are_unpacked() {
    let dest = tempfile::tempdir().unwrap();
    let layer = tar(&[
        dir("./app/"),
        file("./app/main.wasm", b"\0asm"),
        symlink("app/current", "main.wasm"),
        hardlink("app/copy.wasm", "app/main.wasm"),
    ]);
    let stats = unpack(&layer, dest.path()).unwrap();
    assert_eq!(
        stats,
        Stats {
            entries: 4,
            bytes: 4
        }
    );
    assert_eq!(
        fs::read(dest.path().join("app/main.wasm")).unwrap(),
        b"\0asm"
    );
    assert_eq!(
        fs::read(dest.path().join("app/copy.wasm")).unwrap(),
        b"\0asm"
    );
    assert_eq!(
        fs::read_link(dest.path().join("app/current")).unwrap(),
        Path::new("main.wasm")
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = fs::metadata(dest.path().join("app/main.wasm"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o7777, 0o755, "setuid survived");
}

#[test]
fn gzip_and_zstd_layers_unpack_the_same() {
    use std::io::Write;
    let layer = tar(&[file("app.wasm", b"module bytes")]);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&layer).unwrap();
    let gz = gz.finish().unwrap();
    let zst = zstd::encode_all(&layer[..], 3).unwrap();
    for (bytes, compression) in [(gz, Compression::Gzip), (zst, Compression::Zstd)] {
        let dest = tempfile::tempdir().unwrap();
        unpack_layer(&bytes[..], compression, dest.path(), Limits::default()).unwrap();
        assert_eq!(
            fs::read(dest.path().join("app.wasm")).unwrap(),
            b"module bytes"
        );
    }
    assert_eq!(
        Compression::from_media_type("application/vnd.docker.image.rootfs.diff.tar.gzip"),
        Some(Compression::Gzip)
    );
    assert_eq!(Compression::from_media_type("application/wasm"), None);
}

#[test]
fn escapes_are_refused_and_nothing_lands_outside() {
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("dotdot", tar(&[file("../outside.txt", b"x")])),
        (
            "nested dotdot",
            tar(&[dir("a/"), file("a/../../outside.txt", b"x")]),
        ),
        ("absolute", tar(&[file("/outside.txt", b"x")])),
        ("absolute symlink", tar(&[symlink("link", "/etc")])),
        (
            "escaping symlink",
            tar(&[dir("a/"), symlink("a/link", "../../outside")]),
        ),
        (
            "write through symlink",
            tar(&[symlink("link", "."), file("link/x", b"x")]),
        ),
        ("hard link outside", tar(&[hardlink("h", "../outside.txt")])),
        ("hard link to nothing", tar(&[hardlink("h", "missing")])),
        (
            "device",
            tar(&[Entry {
                name: "dev",
                kind: tar::EntryType::Char,
                link: "",
                data: b"",
            }]),
        ),
        (
            "fifo",
            tar(&[Entry {
                name: "fifo",
                kind: tar::EntryType::Fifo,
                link: "",
                data: b"",
            }]),
        ),
    ];
    for (what, layer) in cases {
        let root = tempfile::tempdir().unwrap();
        let dest = root.path().join("rootfs");
        fs::create_dir(&dest).unwrap();
        let err = unpack(&layer, &dest).unwrap_err();
        assert!(matches!(err, UnpackError::Unsafe(_)), "{what}: {err}");
        assert!(
            !root.path().join("outside.txt").exists(),
            "{what} wrote outside"
        );
        assert!(!root.path().join("x").exists(), "{what} wrote outside");
    }
}

#[test]
fn the_symlink_then_dotdot_trick_cannot_write_outside() {
    // `a -> .` and `s -> a/..` look inside when read as text; following them would not be.
    let root = tempfile::tempdir().unwrap();
    let dest = root.path().join("rootfs");
    fs::create_dir(&dest).unwrap();
    let layer = tar(&[
        symlink("a", "."),
        symlink("s", "a/.."),
        file("s/evil", b"x"),
    ]);
    let err = unpack(&layer, &dest).unwrap_err();
    assert!(matches!(err, UnpackError::Unsafe(_)), "{err}");
    assert!(!root.path().join("evil").exists());
}

#[test]
fn bombs_stop_at_the_limits() {
    let big = vec![0u8; 2 << 20];
    let layer = tar(&[file("big", &big)]);
    let dest = tempfile::tempdir().unwrap();
    let limits = Limits {
        max_bytes: 1 << 20,
        max_entries: 100,
    };
    let err = unpack_layer(&layer[..], Compression::None, dest.path(), limits).unwrap_err();
    assert!(matches!(err, UnpackError::TooLarge(_)), "{err}");
    assert!(
        !dest.path().join("big").exists(),
        "the oversized file was written"
    );

    let many: Vec<String> = (0..20).map(|i| format!("f{i}")).collect();
    let layer = tar(&many.iter().map(|n| file(n, b"")).collect::<Vec<_>>());
    let limits = Limits {
        max_bytes: 1 << 20,
        max_entries: 10,
    };
    let err = unpack_layer(&layer[..], Compression::None, dest.path(), limits).unwrap_err();
    assert!(matches!(err, UnpackError::TooLarge(_)), "{err}");
}

#[test]
fn corrupt_layers_are_reported() {
    let dest = tempfile::tempdir().unwrap();
    let err = unpack_layer(
        &b"not gzip at all"[..],
        Compression::Gzip,
        dest.path(),
        Limits::default(),
    )
    .unwrap_err();
    assert!(matches!(err, UnpackError::Corrupt(_)), "{err}");
    let mut layer = tar(&[file("a", &[1u8; 2000])]);
    layer.truncate(900);
    let err = unpack(&layer, dest.path()).unwrap_err();
    assert!(matches!(err, UnpackError::Corrupt(_)), "{err}");
}

#[test]
fn whiteouts_remove_what_lower_layers_added() {
    let dest = tempfile::tempdir().unwrap();
    unpack(
        &tar(&[
            file("keep", b"1"),
            file("gone", b"2"),
            dir("d/"),
            file("d/old", b"3"),
        ]),
        dest.path(),
    )
    .unwrap();
    unpack(
        &tar(&[
            file(".wh.gone", b""),
            file("d/.wh..wh..opq", b""),
            file("d/new", b"4"),
        ]),
        dest.path(),
    )
    .unwrap();
    assert!(dest.path().join("keep").exists());
    assert!(!dest.path().join("gone").exists());
    assert!(!dest.path().join("d/old").exists());
    assert_eq!(fs::read(dest.path().join("d/new")).unwrap(), b"4");
}

#[test]
fn a_whiteout_of_dot_or_dotdot_is_refused_and_deletes_nothing() {
    let dest = tempfile::tempdir().unwrap();
    unpack(&tar(&[dir("d/"), file("d/kept", b"1")]), dest.path()).unwrap();
    for name in ["d/.wh...", "d/.wh.."] {
        let err = unpack(&tar(&[file(name, b"")]), dest.path()).unwrap_err();
        assert!(matches!(err, UnpackError::Unsafe(_)), "{name}: {err}");
        assert!(
            dest.path().join("d/kept").exists(),
            "{name} deleted a directory"
        );
    }
}
