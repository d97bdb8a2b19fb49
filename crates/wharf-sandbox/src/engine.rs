//! The one engine configuration wharf compiles and runs with.

use wasmtime::{Config, Engine, OptLevel};

/// Creates the engine every guest runs in.
///
/// Everything set here that changes machine code is covered by
/// [`Engine::precompile_compatibility_hash`], which the AOT cache uses in its keys, so changing
/// this configuration never runs stale code.
pub fn new_engine() -> anyhow::Result<Engine> {
    Ok(Engine::new(&base_config())?)
}

/// The engine for servers that instantiate a guest per request: the same code generation as
/// [`new_engine`], with wasmtime's pooling allocator so that an instance costs microseconds
/// (memories and tables come from pre-reserved slots). `max_instances` bounds concurrent
/// instances; `max_memory` bounds each instance's linear memory.
pub fn new_pooled_engine(max_instances: u32, max_memory: usize) -> anyhow::Result<Engine> {
    let mut pool = wasmtime::PoolingAllocationConfig::new();
    pool.total_component_instances(max_instances)
        .total_core_instances(max_instances * 8)
        .total_memories(max_instances * 4)
        .total_tables(max_instances * 8)
        .max_memory_size(max_memory)
        .max_core_instances_per_component(32)
        .max_memories_per_component(8)
        .max_tables_per_component(16)
        // Reset a freed instance's first MiB of memory (and its tables) with memset instead of
        // madvise: no page faults on the next request and no TLB-shootdown IPIs across the
        // server's threads. Per request 114 -> 69 us in benches/per_request.rs (wharf-http).
        .linear_memory_keep_resident(1 << 20)
        .table_keep_resident(1 << 16);
    let mut config = base_config();
    config.allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(pool));
    Ok(Engine::new(&config)?)
}

fn base_config() -> Config {
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
    config
}

/// The wasmtime release guests run on (the workspace pins it exactly; a test checks the two
/// agree), for `wharf version`.
pub const WASMTIME_VERSION: &str = "48.0.8";

#[cfg(test)]
mod version_tests {
    #[test]
    fn wasmtime_version_is_the_locked_one() {
        let lock =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../Cargo.lock"))
                .unwrap();
        let locked = format!(
            "name = \"wasmtime\"\nversion = \"{}\"",
            super::WASMTIME_VERSION
        );
        assert!(lock.contains(&locked), "Cargo.lock has another wasmtime");
    }
}
