//! Links the `wharf` binaries for a quick start.
//!
//! - Position-dependent (`-no-pie`): a PIE binary of this size (wasmtime and Cranelift inside)
//!   spends a large part of a short run in the dynamic loader, applying hundreds of kilobytes of
//!   relative relocations and taking a page fault for each page they touch. Linked with
//!   `-no-pie`, the linker resolves them once at build time.
//! - The functions a warm start runs first in the text, side by side (`startup.order`, made by
//!   `scripts/startup-order.sh`): otherwise they are spread over 28 MB of code, and a start
//!   takes a page fault for each 64 KiB of it that it touches. Only rust-lld, the toolchain's
//!   default linker on x86_64 Linux, is told: others do not know the flag.
//!
//! Measured with `bench/run.sh` (see bench/README.md).
fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=startup.order");
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() != Ok("linux") {
        return;
    }
    println!("cargo:rustc-link-arg-bins=-no-pie");
    let order = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("startup.order");
    let flags = std::env::var("CARGO_ENCODED_RUSTFLAGS").unwrap_or_default();
    let chosen_linker = ["linker", "fuse-ld"].iter().any(|f| flags.contains(f));
    let default_lld =
        std::env::var("TARGET").as_deref() == Ok("x86_64-unknown-linux-gnu") && !chosen_linker;
    if default_lld && order.exists() {
        println!(
            "cargo:rustc-link-arg-bins=-Wl,--symbol-ordering-file={}",
            order.display()
        );
        // Names the code no longer has only lose their place.
        println!("cargo:rustc-link-arg-bins=-Wl,--no-warn-symbol-ordering");
    }
}
