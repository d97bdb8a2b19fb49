//! The Dockerfile parser on any text: it answers instructions or a line-numbered error, never
//! panics, and the line it blames exists.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let mut args = std::collections::BTreeMap::new();
    args.insert("VERSION".to_string(), "1".to_string());
    if let Err(e) = wharf_build::dockerfile::parse(text, &args) {
        assert!(
            e.line <= text.lines().count().max(1),
            "line {} of {}",
            e.line,
            text.lines().count()
        );
    }
});
