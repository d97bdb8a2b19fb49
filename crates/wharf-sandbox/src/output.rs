//! Guest output sent somewhere other than wharf's own stdout and stderr (a container's log).
//!
//! wasmtime-wasi writes a guest's stdout and stderr through [`StdoutStream`]s; [`SinkStream`]
//! forwards each write, synchronously and in the guest's order, to an [`OutputSink`]. Because
//! the write has happened when the guest's call returns, everything a guest printed is in the
//! sink by the time its run ends.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};

/// Which of the guest's streams a write came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GuestStream {
    /// stdout.
    Stdout,
    /// stderr.
    Stderr,
}

/// Receives a guest's output.
pub trait OutputSink: Send + Sync {
    /// `bytes` were written to `stream`. Errors are the sink's to handle: the guest's write
    /// always succeeds (a full log must not crash the service it logs).
    fn write(&self, stream: GuestStream, bytes: &[u8]);
}

/// Where a guest's stdout and stderr go.
#[derive(Clone, Default)]
pub enum Output {
    /// wharf's own stdout and stderr (a foreground run).
    #[default]
    Inherit,
    /// A sink (a detached container's log).
    Sink(Arc<dyn OutputSink>),
}

impl Output {
    /// Writes a line of wharf's own (say, why a request failed) where the guest's stderr goes,
    /// so the operator finds it in `wharf logs` beside the guest's output.
    pub fn note(&self, line: &str) {
        let line = format!("{}\n", line.trim_end());
        match self {
            Output::Inherit => {
                let _ = std::io::Write::write_all(&mut std::io::stderr(), line.as_bytes());
            }
            Output::Sink(sink) => sink.write(GuestStream::Stderr, line.as_bytes()),
        }
    }
}

impl std::fmt::Debug for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Output::Inherit => write!(f, "Inherit"),
            Output::Sink(_) => write!(f, "Sink"),
        }
    }
}

/// One stream of a guest, as wasmtime-wasi sees it.
#[derive(Clone)]
pub(crate) struct SinkStream {
    pub(crate) sink: Arc<dyn OutputSink>,
    pub(crate) stream: GuestStream,
}

impl IsTerminal for SinkStream {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for SinkStream {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[async_trait::async_trait]
impl Pollable for SinkStream {
    async fn ready(&mut self) {}
}

impl OutputStream for SinkStream {
    fn write(&mut self, bytes: bytes::Bytes) -> StreamResult<()> {
        self.sink.write(self.stream, &bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(64 << 10)
    }
}

impl tokio::io::AsyncWrite for SinkStream {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.sink.write(self.stream, buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
