//! Manifest, index and config classification on any bytes: the first part is the document, the
//! rest a config. Never panics; an index either yields a Wasm manifest descriptor or an error.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wharf_image::{classify, parse_document, pick_wasm_manifest, Document};

fuzz_target!(|data: &[u8]| {
    let split = data.first().map_or(0, |b| *b as usize).min(data.len());
    let (document, config) = data.split_at(split);
    for bytes in [data, document] {
        match parse_document(bytes) {
            Ok(Document::Manifest(manifest)) => {
                let _ = classify(&manifest, config);
            }
            Ok(Document::Index(index)) => {
                let _ = pick_wasm_manifest(&index);
            }
            Err(_) => {}
        }
    }
});
