//! Image references with Docker's rules: parsing never panics, and what parses prints as a
//! reference that parses to the same thing.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wharf_image::Reference;

fuzz_target!(|text: &str| {
    if let Ok(reference) = Reference::parse(text) {
        let printed = reference.to_string();
        let again = Reference::parse(&printed).expect("a printed reference parses");
        assert_eq!(again, reference, "{text:?} printed as {printed:?}");
        let _ = reference.familiar_name();
    }
});
