//! A task's metrics as containerd reads them (`ctr task metrics`, CRI's ContainerStats): the
//! cgroups v1 `Metrics` message, filled with the guest's own numbers. Memory is the guest's
//! linear memory (what its limit caps); CPU is the time of the thread that runs it.

use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::sync::Arc;

use containerd_shim::protos::cgroups::metrics::{
    CPUStat, CPUUsage, MemoryEntry, MemoryStat, Metrics, PidsStat,
};
use containerd_shim::protos::protobuf::well_known_types::any::Any;
use containerd_shim::protos::protobuf::MessageField;

/// What the shim watches of one guest.
#[derive(Debug, Clone, Default)]
pub struct Gauges {
    /// Bytes of linear memory the guest holds (kept by the sandbox).
    pub memory: Arc<AtomicU64>,
    /// The Linux thread ID that runs the guest (set by the sandbox once it runs).
    pub thread: Arc<AtomicI32>,
    /// The last CPU time read, in nanoseconds: what a stopped guest used.
    pub cpu_ns: Arc<AtomicU64>,
}

impl Gauges {
    /// The guest's CPU time (user, system) in nanoseconds, read now while its thread runs.
    fn cpu(&self) -> (u64, u64) {
        let tid = self.thread.load(Ordering::SeqCst);
        let stat = (tid > 0)
            .then(|| std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")).ok())
            .flatten();
        // The fields after the command name: utime and stime are the 12th and 13th.
        let times = stat.as_deref().and_then(|s| {
            let fields: Vec<&str> = s.rsplit_once(") ")?.1.split(' ').collect();
            Some((
                fields.get(11)?.parse::<u64>().ok()?,
                fields.get(12)?.parse::<u64>().ok()?,
            ))
        });
        // SAFETY: sysconf has no preconditions.
        let tick = 1_000_000_000 / unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
        match times {
            Some((user, system)) => {
                self.cpu_ns.store((user + system) * tick, Ordering::SeqCst);
                (user * tick, system * tick)
            }
            None => (self.cpu_ns.load(Ordering::SeqCst), 0),
        }
    }

    /// The metrics message, packed as containerd expects it.
    pub fn metrics(&self, limit: Option<u64>) -> Any {
        let (user, system) = self.cpu();
        let usage = MemoryEntry {
            usage: self.memory.load(Ordering::SeqCst),
            limit: limit.unwrap_or(u64::MAX),
            ..Default::default()
        };
        let metrics = Metrics {
            memory: MessageField::some(MemoryStat {
                usage: MessageField::some(usage),
                ..Default::default()
            }),
            cpu: MessageField::some(CPUStat {
                usage: MessageField::some(CPUUsage {
                    total: user + system,
                    user,
                    kernel: system,
                    ..Default::default()
                }),
                ..Default::default()
            }),
            pids: MessageField::some(PidsStat {
                current: 1,
                ..Default::default()
            }),
            ..Default::default()
        };
        containerd_shim::util::convert_to_any(Box::new(metrics)).expect("a message encodes")
    }
}
