//! The one engine configuration wharf compiles and runs with.

use wasmtime::{Config, Engine, OptLevel};

/// Creates the engine every guest runs in.
///
/// Everything set here that changes machine code is covered by
/// [`Engine::precompile_compatibility_hash`], which the AOT cache uses in its keys, so changing
/// this configuration never runs stale code.
pub fn new_engine() -> anyhow::Result<Engine> {
    let mut config = Config::new();
    config
        .cranelift_opt_level(OptLevel::Speed)
        // Epoch interruption is how timeouts, Ctrl-C and `stop` reach a guest that never calls
        // the host: its cost is a load and compare at loop heads and function entries.
        .epoch_interruption(true)
        .wasm_backtrace_max_frames(std::num::NonZeroUsize::new(64))
        // The standard proposals wasmtime's CLI enables, plus exception handling, which
        // toolchains now emit for C++ and Rust panics.
        .wasm_exceptions(true)
        .wasm_component_model(true);
    Ok(Engine::new(&config)?)
}
