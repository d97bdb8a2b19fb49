//! How long answers are sent: a blocking producer (a log follower, the event log, a pull)
//! writes into a bounded channel, and the response body or the hijacked connection drains it.
//! A client that hangs up drops the receiver, and the producer's next send tells it to stop.

use std::convert::Infallible;

use axum::body::Body;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use bytes::Bytes;
use tokio::sync::mpsc;

/// Docker's content type for multiplexed stdout/stderr frames.
pub(crate) const MULTIPLEXED: &str = "application/vnd.docker.multiplexed-stream";

/// Docker's content type for a TTY container's output: the bytes as they are.
pub(crate) const RAW: &str = "application/vnd.docker.raw-stream";

/// The producing end of a streamed answer.
#[derive(Clone)]
pub(crate) struct Sender(mpsc::Sender<Bytes>);

impl Sender {
    /// Sends `bytes`; false once the client is gone. Blocks while the client is slow.
    pub(crate) fn send(&self, bytes: impl Into<Bytes>) -> bool {
        self.0.blocking_send(bytes.into()).is_ok()
    }

    /// Sends `value` as one JSON line.
    pub(crate) fn json(&self, value: &impl serde::Serialize) -> bool {
        let mut line = serde_json::to_vec(value).unwrap_or_default();
        line.push(b'\n');
        self.send(line)
    }

    /// Sends `payload` as one multiplexed frame: `[stream, 0, 0, 0, length (u32, big-endian)]`
    /// then the bytes (stream 1 is stdout, 2 stderr).
    pub(crate) fn frame(&self, stream: u8, payload: &[u8]) -> bool {
        let mut frame = Vec::with_capacity(8 + payload.len());
        frame.extend_from_slice(&[stream, 0, 0, 0]);
        frame.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        frame.extend_from_slice(payload);
        self.send(frame)
    }

    /// Whether the client has gone.
    pub(crate) fn is_closed(&self) -> bool {
        self.0.is_closed()
    }
}

/// Writes go to the client as chunks (`docker save`'s tar); a client gone is a broken pipe.
impl std::io::Write for Sender {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        match self.send(bytes.to_vec()) {
            true => Ok(bytes.len()),
            false => Err(std::io::ErrorKind::BrokenPipe.into()),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A channel whose receiving end is a response body.
pub(crate) fn channel() -> (Sender, mpsc::Receiver<Bytes>) {
    let (tx, rx) = mpsc::channel(64);
    (Sender(tx), rx)
}

/// The body that drains `rx`.
pub(crate) fn body(rx: mpsc::Receiver<Bytes>) -> Body {
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|bytes| (Ok::<_, Infallible>(bytes), rx))
    });
    Body::from_stream(stream)
}

/// A 200 answer of `content_type` streamed from `rx` (chunked: its headers go at once).
pub(crate) fn streamed(content_type: &'static str, rx: mpsc::Receiver<Bytes>) -> Response {
    let mut response = Response::new(body(rx));
    *response.status_mut() = StatusCode::OK;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// Runs `produce` on a blocking thread, writing into a streamed answer of `content_type`.
pub(crate) fn produce(
    content_type: &'static str,
    produce: impl FnOnce(Sender) + Send + 'static,
) -> Response {
    let (tx, rx) = channel();
    tokio::task::spawn_blocking(move || produce(tx));
    streamed(content_type, rx)
}

/// Answers an `Upgrade: tcp` request with 101 and then writes what `rx` carries straight to
/// the connection (Docker's hijacked `attach`), and copies what the client sends into
/// `stdin` until it half-closes; without the upgrade, a streamed 200.
pub(crate) fn hijack(
    request: &mut axum::extract::Request,
    content_type: &'static str,
    mut rx: mpsc::Receiver<Bytes>,
    stdin: Option<(wharf_core::AttachedStdin, std::sync::Arc<wharf_core::Wharf>)>,
) -> Response {
    let wants_upgrade = request
        .headers()
        .get(header::UPGRADE)
        .is_some_and(|u| u.as_bytes().eq_ignore_ascii_case(b"tcp"));
    if !wants_upgrade {
        return streamed(content_type, rx);
    }
    let upgrade = hyper::upgrade::on(request);
    tokio::spawn(async move {
        use tokio::io::AsyncWriteExt;
        let Ok(upgraded) = upgrade.await else {
            return;
        };
        let io = hyper_util::rt::TokioIo::new(upgraded);
        let (mut from_client, mut to_client) = tokio::io::split(io);
        if let Some((stdin, wharf)) = stdin {
            // Writes to the FIFO block while the guest does not read: a thread of their own,
            // fed by this task.
            let (chunks, mut to_guest) = tokio::sync::mpsc::channel::<Vec<u8>>(16);
            tokio::task::spawn_blocking(move || {
                use std::io::Write;
                let mut stdin = stdin;
                while let Some(chunk) = to_guest.blocking_recv() {
                    if stdin.write_all(&chunk).is_err() {
                        break;
                    }
                }
                stdin.finish(&wharf);
            });
            tokio::spawn(async move {
                use tokio::io::AsyncReadExt;
                let mut buffer = vec![0u8; 16 << 10];
                while let Ok(n) = from_client.read(&mut buffer).await {
                    if n == 0 || chunks.send(buffer[..n].to_vec()).await.is_err() {
                        break;
                    }
                }
            });
        }
        while let Some(bytes) = rx.recv().await {
            if to_client.write_all(&bytes).await.is_err() {
                return;
            }
        }
        let _ = to_client.shutdown().await;
    });
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = response.headers_mut();
    headers.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    headers.insert(header::UPGRADE, HeaderValue::from_static("tcp"));
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}
