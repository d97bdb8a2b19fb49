//! Listening and connections. One acceptor thread hands each connection to the least busy of a
//! fixed set of connection threads, one per core, each a single-threaded tokio runtime. A
//! connection, hyper's work on it and the instances of its requests then all run on one
//! thread. There are no wake-ups across threads and no work stealing between a connection and
//! the instance answering it. A work-stealing runtime moved that work between its workers on
//! nearly every request.
//!
//! A guest that computes for a long time yields its thread at every epoch tick (see
//! `Handler::call_guest`), so the other connections of its thread are still served.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use wasmtime::component::Component;
use wasmtime::Engine;
use wasmtime_wasi_http::io::TokioIo;

use crate::{Error, Handler, ServeOptions};

/// How often the engine's epoch advances while serving: how often a guest computing in wasm
/// yields its thread, and the granularity of the request timeout.
const TICK: Duration = Duration::from_millis(10);

/// A running server; [`Serving::stop`] drains it.
pub struct Serving {
    /// The addresses actually bound (port 0 resolved).
    pub addrs: Vec<SocketAddr>,
    stopping: Arc<AtomicBool>,
    drained: std::sync::mpsc::Receiver<()>,
}

impl Serving {
    /// Stops accepting, lets requests in flight finish for up to `grace`, then returns.
    pub fn stop(self, grace: Duration) {
        self.stopping.store(true, Ordering::SeqCst);
        let _ = self.drained.recv_timeout(grace);
    }
}

/// Binds the ports and serves `component` on background threads: an acceptor and one
/// connection thread per core. Fails at once when a port is in use.
pub fn serve(
    engine: &Engine,
    component: &Component,
    options: ServeOptions,
) -> Result<Serving, Error> {
    let listeners = bind(&options.listen)?;
    let addrs = listeners
        .iter()
        .filter_map(|l| l.local_addr().ok())
        .collect();
    let handler = Arc::new(Handler::new(engine, component, options)?);
    let stopping = Arc::new(AtomicBool::new(false));
    start_epoch_ticker(engine.clone())?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = Arc::new(ConnectionThreads::start(
        cores.min(handler.options.max_concurrency.max(1)),
        &handler,
        &stopping,
    )?);
    let (drained_tx, drained) = std::sync::mpsc::channel();
    let stop_flag = stopping.clone();
    std::thread::Builder::new()
        .name("wharf-http-accept".into())
        .spawn(move || {
            match single_threaded_runtime() {
                Ok(runtime) => runtime.block_on(async {
                    let mut loops = tokio::task::JoinSet::new();
                    for listener in listeners {
                        match tokio::net::TcpListener::from_std(listener) {
                            Ok(l) => {
                                loops.spawn(accept_loop(l, threads.clone(), stop_flag.clone()));
                            }
                            Err(e) => tracing::error!("cannot listen: {e}"),
                        }
                    }
                    while loops.join_next().await.is_some() {}
                }),
                Err(e) => tracing::error!("cannot start the acceptor: {e}"),
            }
            // The connection threads finish the requests in flight, then end. Every accept
            // loop has ended and dropped its reference, so `threads` is the last one.
            if let Ok(threads) = Arc::try_unwrap(threads) {
                threads.finish();
            }
            let _ = drained_tx.send(());
        })
        .map_err(anyhow::Error::from)?;
    Ok(Serving {
        addrs,
        stopping,
        drained,
    })
}

fn bind(addrs: &[SocketAddr]) -> Result<Vec<std::net::TcpListener>, Error> {
    let mut listeners = Vec::new();
    for addr in addrs {
        let listener = std::net::TcpListener::bind(addr).map_err(|source| Error::Listen {
            addr: *addr,
            hint: if source.kind() == std::io::ErrorKind::AddrInUse {
                "; the port is in use: publish another one (-p OTHER:GUEST)"
            } else {
                ""
            },
            source,
        })?;
        listener
            .set_nonblocking(true)
            .map_err(anyhow::Error::from)?;
        listeners.push(listener);
    }
    Ok(listeners)
}

/// The clock of per-request timeouts. It keeps ticking while requests drain after a stop; the
/// process ends with the server.
fn start_epoch_ticker(engine: Engine) -> Result<(), Error> {
    std::thread::Builder::new()
        .name("wharf-epoch".into())
        .spawn(move || loop {
            std::thread::sleep(TICK);
            engine.increment_epoch();
        })
        .map_err(anyhow::Error::from)?;
    Ok(())
}

fn single_threaded_runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}

async fn accept_loop(
    listener: tokio::net::TcpListener,
    threads: Arc<ConnectionThreads>,
    stopping: Arc<AtomicBool>,
) {
    loop {
        if stopping.load(Ordering::SeqCst) {
            return;
        }
        let accepted = tokio::time::timeout(Duration::from_millis(100), listener.accept()).await;
        let Ok(Ok((stream, _peer))) = accepted else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        match stream.into_std() {
            Ok(stream) => threads.assign(stream),
            Err(e) => tracing::debug!("cannot hand a connection over: {e}"),
        }
    }
}

/// The threads connections are served on, each with its queue of new connections and its
/// count of open ones.
struct ConnectionThreads {
    threads: Vec<ConnectionThread>,
}

struct ConnectionThread {
    queue: tokio::sync::mpsc::UnboundedSender<std::net::TcpStream>,
    open: Arc<AtomicUsize>,
    thread: std::thread::JoinHandle<()>,
}

impl ConnectionThreads {
    fn start(
        count: usize,
        handler: &Arc<Handler>,
        stopping: &Arc<AtomicBool>,
    ) -> Result<ConnectionThreads, Error> {
        let mut threads = Vec::with_capacity(count);
        for n in 0..count {
            let (queue, connections) = tokio::sync::mpsc::unbounded_channel();
            let open = Arc::new(AtomicUsize::new(0));
            let runtime = single_threaded_runtime().map_err(anyhow::Error::from)?;
            let (handler, stopping, counter) = (handler.clone(), stopping.clone(), open.clone());
            let thread = std::thread::Builder::new()
                .name(format!("wharf-http-{n}"))
                .spawn(move || {
                    runtime.block_on(serve_connections(connections, handler, stopping, counter))
                })
                .map_err(anyhow::Error::from)?;
            threads.push(ConnectionThread {
                queue,
                open,
                thread,
            });
        }
        Ok(ConnectionThreads { threads })
    }

    /// Hands `stream` to the thread with the fewest open connections.
    fn assign(&self, stream: std::net::TcpStream) {
        let Some(thread) = self
            .threads
            .iter()
            .min_by_key(|t| t.open.load(Ordering::Relaxed))
        else {
            return;
        };
        thread.open.fetch_add(1, Ordering::Relaxed);
        if thread.queue.send(stream).is_err() {
            thread.open.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Closes the queues and waits for every thread to finish its connections.
    fn finish(self) {
        let handles: Vec<_> = self
            .threads
            .into_iter()
            .map(|t| {
                drop(t.queue);
                t.thread
            })
            .collect();
        for handle in handles {
            let _ = handle.join();
        }
    }
}

/// One connection thread's work: serve each connection it is handed until its queue closes,
/// then finish the open ones.
async fn serve_connections(
    mut queue: tokio::sync::mpsc::UnboundedReceiver<std::net::TcpStream>,
    handler: Arc<Handler>,
    stopping: Arc<AtomicBool>,
    open: Arc<AtomicUsize>,
) {
    let mut connections = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            stream = queue.recv() => match stream {
                Some(stream) => {
                    connections.spawn(serve_connection(stream, handler.clone(), stopping.clone()));
                }
                None => break,
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {
                open.fetch_sub(1, Ordering::Relaxed);
            }
        }
    }
    while connections.join_next().await.is_some() {}
}

async fn serve_connection(
    stream: std::net::TcpStream,
    handler: Arc<Handler>,
    stopping: Arc<AtomicBool>,
) {
    let stream = match tokio::net::TcpStream::from_std(stream) {
        Ok(stream) => stream,
        Err(e) => {
            tracing::debug!("connection: {e}");
            return;
        }
    };
    let max_head = handler.options.max_header_bytes.max(8192);
    let service = hyper::service::service_fn(move |req| {
        let handler = handler.clone();
        async move { Ok::<_, std::convert::Infallible>(handler.handle(req).await) }
    });
    let connection = http1::Builder::new()
        .keep_alive(true)
        .max_buf_size(max_head)
        .serve_connection(TokioIo::new(stream), service);
    let mut connection = std::pin::pin!(connection);
    // Let a draining server finish the request in flight, then close.
    loop {
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!("connection: {e}");
                }
                return;
            }
            _ = tokio::time::sleep(Duration::from_millis(100)) => {
                if stopping.load(Ordering::SeqCst) {
                    connection.as_mut().graceful_shutdown();
                }
            }
        }
    }
}
