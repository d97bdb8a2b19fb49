//! The memory cap, enforced as a [`wasmtime::ResourceLimiter`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use wasmtime::ResourceLimiter;

/// Caps the total linear memory of one store and remembers whether the cap was ever hit, so
/// that a guest that dies after a refused `memory.grow` can be reported as out of memory.
#[derive(Debug, Default)]
pub(crate) struct MemoryLimiter {
    limit: Option<u64>,
    /// Bytes of linear memory granted so far, across all memories of the store.
    used: u64,
    /// The last growth we allowed, taken back if the engine then fails it.
    pending: u64,
    pub(crate) limit_hit: bool,
    /// Where `used` is published for observers (`wharf stats`).
    gauge: Option<Arc<AtomicU64>>,
}

impl MemoryLimiter {
    pub(crate) fn new(limit: Option<u64>, gauge: Option<Arc<AtomicU64>>) -> Self {
        MemoryLimiter {
            limit,
            gauge,
            ..Default::default()
        }
    }

    fn publish(&self) {
        if let Some(gauge) = &self.gauge {
            gauge.store(self.used, Ordering::Relaxed);
        }
    }
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let delta = desired.saturating_sub(current) as u64;
        if let Some(limit) = self.limit {
            if self.used.saturating_add(delta) > limit {
                self.limit_hit = true;
                return Ok(false);
            }
        }
        self.used += delta;
        self.pending = delta;
        self.publish();
        Ok(true)
    }

    fn memory_grow_failed(&mut self, _error: wasmtime::Error) -> wasmtime::Result<()> {
        self.used -= std::mem::take(&mut self.pending);
        self.publish();
        Ok(())
    }

    fn table_growing(
        &mut self,
        _current: usize,
        _desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_growth_past_the_limit_across_memories() {
        let mut limiter = MemoryLimiter::new(Some(10 * 65536), None);
        assert!(limiter.memory_growing(0, 6 * 65536, None).unwrap());
        assert!(limiter.memory_growing(0, 4 * 65536, None).unwrap());
        assert!(!limiter.limit_hit);
        assert!(!limiter.memory_growing(4 * 65536, 5 * 65536, None).unwrap());
        assert!(limiter.limit_hit);
    }

    #[test]
    fn a_failed_growth_is_given_back() {
        let mut limiter = MemoryLimiter::new(Some(2 * 65536), None);
        assert!(limiter.memory_growing(0, 2 * 65536, None).unwrap());
        limiter
            .memory_grow_failed(wasmtime::Error::msg("mmap failed"))
            .unwrap();
        assert!(limiter.memory_growing(0, 2 * 65536, None).unwrap());
    }

    #[test]
    fn no_limit_allows_everything() {
        let mut limiter = MemoryLimiter::new(None, None);
        assert!(limiter.memory_growing(0, 1 << 32, None).unwrap());
        assert!(!limiter.limit_hit);
    }
}
