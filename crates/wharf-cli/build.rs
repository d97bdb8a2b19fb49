//! Links the `wharf` binary as a position-dependent executable.
//!
//! A PIE binary of this size (wasmtime and Cranelift inside) spends a large part of a short run
//! in the dynamic loader, applying hundreds of kilobytes of relative relocations and taking a
//! page fault for each page they touch. Linked with `-no-pie`, the linker resolves them once at
//! build time. Measured with `bench/start.sh` (see bench/README.md).
fn main() {
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-link-arg-bins=-no-pie");
    }
}
