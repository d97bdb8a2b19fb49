//! [`StopHandle`]: how a signal, a front end or a timeout asks a running guest to stop, and
//! how the thread supervising the guest sleeps until something asks.

use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::StopReason;

/// Asks a running guest to stop. Cheap to clone; every clone controls the same run.
///
/// Besides the flag, a handle has a wake-up: a socket pair that a request, a signal
/// ([`StopHandle::stop_on_signal`]) and the guest's end write a byte to, so the supervising
/// thread sleeps until one of them happens instead of polling the flag.
#[derive(Debug, Clone)]
pub struct StopHandle {
    /// 0 while running; otherwise the signal number that asked for the stop, or [`TIMEOUT`].
    requested: Arc<AtomicUsize>,
    /// `None` only when no descriptors were left to make one: then the supervisor polls.
    wake: Option<Arc<(UnixStream, UnixStream)>>,
}

const TIMEOUT: usize = usize::MAX;

impl Default for StopHandle {
    fn default() -> Self {
        let wake = UnixStream::pair()
            .and_then(|(read, write)| {
                read.set_nonblocking(true)?;
                write.set_nonblocking(true)?;
                Ok(Arc::new((read, write)))
            })
            .inspect_err(|e| tracing::debug!("a stop handle without a wake-up ({e})"))
            .ok();
        StopHandle {
            requested: Arc::default(),
            wake,
        }
    }
}

impl StopHandle {
    /// A handle for a run that nothing has asked to stop yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks the guest to stop because of `signal`. The first request wins.
    pub fn request(&self, signal: i32) {
        let _ =
            self.requested
                .compare_exchange(0, signal as usize, Ordering::SeqCst, Ordering::SeqCst);
        self.wake();
    }

    /// Asks the guest to stop because its time is up (unless something asked first).
    pub(crate) fn request_timeout(&self) {
        let _ = self
            .requested
            .compare_exchange(0, TIMEOUT, Ordering::SeqCst, Ordering::SeqCst);
    }

    /// Makes `signal` (SIGINT, SIGTERM) a request to stop: its handler sets the flag, then
    /// wakes the supervisor (both are async-signal-safe: a store and a `send` of one byte).
    pub fn stop_on_signal(&self, signal: i32) -> std::io::Result<()> {
        // Registered first, so it runs first: the woken supervisor finds the flag set.
        signal_hook::flag::register_usize(signal, self.requested.clone(), signal as usize)?;
        if let Some(wake) = &self.wake {
            signal_hook::low_level::pipe::register(signal, wake.1.try_clone()?)?;
        }
        Ok(())
    }

    /// The signal that asked for the stop, if a signal did.
    pub fn signal_number(&self) -> Option<i32> {
        match self.requested.load(Ordering::SeqCst) {
            0 | TIMEOUT => None,
            signal => Some(signal as i32),
        }
    }

    /// Whether a stop has been asked for.
    pub fn is_requested(&self) -> bool {
        self.requested.load(Ordering::SeqCst) != 0
    }

    pub(crate) fn reason(&self, timeout: Option<Duration>) -> StopReason {
        match self.requested.load(Ordering::SeqCst) {
            TIMEOUT => StopReason::Timeout(timeout.unwrap_or_default()),
            signal => StopReason::Signal(signal as i32),
        }
    }

    /// Wakes the supervisor's [`StopHandle::sleep`]. A full socket buffer already wakes it.
    pub(crate) fn wake(&self) {
        if let Some(wake) = &self.wake {
            let _ = (&wake.1).write(&[1]);
        }
    }

    /// Sleeps until woken or `wait` is up, then takes the wake-ups that came. False (at once)
    /// if this handle has no wake-up, and the caller must poll.
    pub(crate) fn sleep(&self, wait: Duration) -> bool {
        let Some(wake) = &self.wake else {
            return false;
        };
        let mut fds = [libc::pollfd {
            fd: wake.0.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        }];
        let millis = wait.as_millis().clamp(1, i32::MAX as u128) as i32;
        // SAFETY: one pollfd of a descriptor this handle owns, for the length given.
        unsafe { libc::poll(fds.as_mut_ptr(), 1, millis) };
        let mut drained = [0u8; 64];
        while matches!((&wake.0).read(&mut drained), Ok(n) if n > 0) {}
        true
    }
}
