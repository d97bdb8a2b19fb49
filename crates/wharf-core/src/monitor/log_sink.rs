//! A container's log as the monitor writes it: lines of guest output, stdout and stderr apart.

use std::sync::Mutex;

use wharf_containers::logs::LogWriter;
use wharf_sandbox::{GuestStream, OutputSink};

/// Writes lines of guest output to the log, stdout and stderr apart, in write order.
pub(super) struct LogSink {
    pub(super) inner: Mutex<LogState>,
}

pub(super) struct LogState {
    pub(super) writer: Option<LogWriter>,
    pub(super) partial: [Vec<u8>; 2],
}

/// A line longer than this is logged in pieces, as Docker does at 16 KiB.
const MAX_LINE: usize = 16 << 10;

impl OutputSink for LogSink {
    fn write(&self, stream: GuestStream, bytes: &[u8]) {
        let mut state = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let slot = stream as usize;
        state.partial[slot].extend_from_slice(bytes);
        while let Some(end) = state.partial[slot]
            .iter()
            .position(|b| *b == b'\n')
            .map(|n| n + 1)
            .or_else(|| (state.partial[slot].len() >= MAX_LINE).then_some(MAX_LINE))
        {
            let line: Vec<u8> = state.partial[slot].drain(..end).collect();
            state.emit(stream, &line);
        }
    }
}

impl LogState {
    fn emit(&mut self, stream: GuestStream, line: &[u8]) {
        let name = match stream {
            GuestStream::Stdout => wharf_containers::logs::Stream::Stdout,
            GuestStream::Stderr => wharf_containers::logs::Stream::Stderr,
        };
        if let Some(writer) = &mut self.writer {
            // A full disk loses log lines, never the guest.
            let _ = writer.write(name, &String::from_utf8_lossy(line));
        }
    }
}

impl LogSink {
    /// Logs what is left of unfinished lines (a guest that ended without a newline).
    pub(super) fn finish(&self) {
        let mut state = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        for stream in [GuestStream::Stdout, GuestStream::Stderr] {
            let rest = std::mem::take(&mut state.partial[stream as usize]);
            if !rest.is_empty() {
                state.emit(stream, &rest);
            }
        }
    }
}
