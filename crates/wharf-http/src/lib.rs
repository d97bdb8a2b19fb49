//! Serves a `wasi:http/proxy` component on a host port, a fresh instance per request.
//!
//! The component is pre-instantiated once (imports resolved, a `ProxyPre`); each request gets a
//! new `Store` and instance from wasmtime's pooling allocator, so one request's trap, memory or
//! state never touches another. HTTP/1.1 with keep-alive is hyper's; request and response bodies
//! stream both ways (wasmtime-wasi-http's bodies). Limits: a cap on requests in flight (further
//! connections wait), request-head size, per-request memory and a per-request timeout enforced
//! with epoch interruption (a guest spinning in wasm is trapped, not just abandoned). A request
//! whose instance traps, runs out of memory or times out gets a 500 (504 for the timeout).
//! Connections are served on one thread per core (`serve.rs`).

#![warn(missing_docs)]

use std::net::SocketAddr;
use std::time::Duration;

use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Engine, Store, StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::p2::bindings::ProxyPre;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};
use wharf_sandbox::SandboxPolicy;

mod outgoing;
mod serve;
use outgoing::OutgoingHooks;
pub use serve::{serve, Serving};

/// The interface a component exports when it is a `wasi:http` server.
pub const INCOMING_HANDLER: &str = "wasi:http/incoming-handler";

/// Whether `component` is a `wasi:http` server (exports `wasi:http/incoming-handler`).
pub fn is_http_server(engine: &Engine, component: &Component) -> bool {
    component
        .component_type()
        .exports(engine)
        .any(|(name, _)| name.starts_with(INCOMING_HANDLER))
}

/// How to serve.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Where to listen (`-p [HOST_IP:]HOST_PORT:GUEST_PORT` gives the host side).
    pub listen: Vec<SocketAddr>,
    /// Requests handled at once; more wait for a slot.
    pub max_concurrency: usize,
    /// The longest one request may take in the guest (504 after).
    pub request_timeout: Duration,
    /// The largest request head (request line and headers) accepted.
    pub max_header_bytes: usize,
    /// Each instance's linear memory limit.
    pub memory_limit: usize,
    /// Args, env and directories each instance sees (stdout/stderr as configured there).
    pub policy: SandboxPolicy,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            listen: Vec::new(),
            max_concurrency: 128,
            request_timeout: Duration::from_secs(60),
            max_header_bytes: 64 << 10,
            memory_limit: 256 << 20,
            policy: SandboxPolicy::default(),
        }
    }
}

/// Why serving failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A host port cannot be listened on (in use, no permission).
    #[error("cannot listen on {addr}: {source}{hint}")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
        /// What to do about it.
        hint: &'static str,
    },
    /// The component cannot serve (imports wharf cannot satisfy, not a proxy).
    #[error("{0}")]
    Component(String),
    /// Anything else.
    #[error("{0:#}")]
    Internal(#[from] anyhow::Error),
}

/// What one request's store holds: its WASI and wasi:http contexts, resources and limits.
pub struct RequestState {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    table: ResourceTable,
    limits: StoreLimits,
    /// Where the guest's HTTP requests go (none with `--network none`).
    outgoing: OutgoingHooks,
}

impl WasiView for RequestState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for RequestState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.outgoing,
        }
    }
}

/// The per-request path, shared by all connections: a pre-instantiated component and the
/// options every request's store is made with. [`serve`] puts it behind listeners; it is public
/// so that the per-request cost can be measured on its own (`benches/per_request.rs`).
pub struct Handler {
    pre: ProxyPre<RequestState>,
    options: ServeOptions,
    slots: tokio::sync::Semaphore,
    /// Failed requests told to the operator, at a bounded rate.
    failures: FailureLog,
}

impl Handler {
    /// Resolves `component`'s imports once (wasi:cli, wasi:sockets, wasi:http) and checks that
    /// it is a `wasi:http/proxy`. Every request is then only a new store and instance.
    pub fn new(
        engine: &Engine,
        component: &Component,
        options: ServeOptions,
    ) -> Result<Handler, Error> {
        let mut linker = Linker::<RequestState>::new(engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(anyhow::Error::from)?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)
            .map_err(anyhow::Error::from)?;
        let pre = linker
            .instantiate_pre(component)
            .map_err(|e| Error::Component(format!("{e:#}")))?;
        let pre = ProxyPre::new(pre).map_err(|e| {
            Error::Component(format!(
                "it does not export {INCOMING_HANDLER} as wasi:http/proxy wants: {e:#}"
            ))
        })?;
        Ok(Handler {
            pre,
            slots: tokio::sync::Semaphore::new(options.max_concurrency.max(1)),
            options,
            failures: FailureLog::default(),
        })
    }

    /// Answers one request with a fresh instance: limits checked, a slot taken, the guest
    /// called; a guest failure becomes a 500 (504 for the timeout). Runs on a tokio runtime.
    pub async fn handle<B>(&self, req: hyper::Request<B>) -> hyper::Response<HyperOutgoingBody>
    where
        B: hyper::body::Body<Data = hyper::body::Bytes> + Send + 'static,
        B::Error: Into<wasmtime_wasi_http::Error>,
    {
        let head_size: usize = req
            .headers()
            .iter()
            .map(|(k, v)| k.as_str().len() + v.len() + 4)
            .sum::<usize>()
            + req.uri().to_string().len();
        if head_size > self.options.max_header_bytes {
            return plain(431, "request header fields too large\n");
        }
        let Ok(_slot) = self.slots.acquire().await else {
            return plain(503, "server is stopping\n");
        };
        let (method, path) = (req.method().clone(), req.uri().path().to_string());
        match self.call_guest(req).await {
            Ok(response) => response,
            Err((status, why)) => {
                // The operator gets why (in the container's log); the client only that it
                // failed: trap messages and host paths are nobody else's business.
                self.failures
                    .record(&self.options.policy.output, &method, &path, status, &why);
                let generic = match status {
                    504 => "504 Gateway Timeout\n",
                    _ => "500 Internal Server Error\n",
                };
                plain(status, generic)
            }
        }
    }

    async fn call_guest<B>(
        &self,
        req: hyper::Request<B>,
    ) -> Result<hyper::Response<HyperOutgoingBody>, (u16, String)>
    where
        B: hyper::body::Body<Data = hyper::body::Bytes> + Send + 'static,
        B::Error: Into<wasmtime_wasi_http::Error>,
    {
        let internal = |e: wasmtime::Error| (500, format!("{e:#}"));
        let mut store = self.request_store().map_err(|e| (500, e))?;
        let (sender, receiver) = tokio::sync::oneshot::channel();
        let request = store
            .data_mut()
            .http()
            .new_incoming_request(Scheme::Http, req)
            .map_err(internal)?;
        let out = store
            .data_mut()
            .http()
            .new_response_outparam(sender)
            .map_err(internal)?;
        let pre = self.pre.clone();
        let task = tokio::spawn(async move {
            let proxy = pre.instantiate_async(&mut store).await?;
            proxy
                .wasi_http_incoming_handler()
                .call_handle(&mut store, request, out)
                .await
        });
        match receiver.await {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(e)) => Err((500, format!("the guest answered with an error: {e:?}"))),
            Err(_) => {
                let why = match task.await {
                    Ok(Ok(())) => "the guest returned without setting a response".to_string(),
                    Ok(Err(e)) => describe_failure(&e),
                    Err(e) => format!("the request task failed: {e}"),
                };
                let status = if why.contains("interrupt") { 504 } else { 500 };
                Err((status, why))
            }
        }
    }

    /// The pre-instantiated component each request gets a fresh instance of.
    pub fn instance_pre(&self) -> &ProxyPre<RequestState> {
        &self.pre
    }

    /// A new store for one request, with its limits and timeout. Public, with
    /// [`Self::instance_pre`], so that the per-request path can be timed phase by phase
    /// (`examples/request_phases.rs`) on the very state the server makes.
    pub fn request_store(&self) -> Result<Store<RequestState>, String> {
        let mut wasi =
            wharf_sandbox::wasi_builder(&self.options.policy).map_err(|e| e.to_string())?;
        wasi.allow_blocking_current_thread(false);
        let state = RequestState {
            wasi: wasi.build(),
            http: WasiHttpCtx::new(),
            table: ResourceTable::new(),
            limits: StoreLimitsBuilder::new()
                .memory_size(self.options.memory_limit)
                .instances(64)
                .build(),
            outgoing: OutgoingHooks {
                allowed: self.options.policy.network.allows_outgoing(),
                peers: self.options.policy.peers.clone(),
            },
        };
        let mut store = Store::new(self.pre.engine(), state);
        store.limiter(|s| &mut s.limits);
        // At every epoch tick the guest yields its thread, which serves other connections
        // too, and past the request timeout it traps. tokio's `yield_now` lets the thread
        // look for I/O before the guest runs again; a plain wake would put the guest back in
        // the run queue, which tokio polls 61 times between looks at the sockets.
        let (started, timeout) = (std::time::Instant::now(), self.options.request_timeout);
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(move |_| {
            if started.elapsed() >= timeout {
                Err(wasmtime::Trap::Interrupt.into())
            } else {
                Ok(wasmtime::UpdateDeadline::YieldCustom(
                    1,
                    Box::pin(tokio::task::yield_now()),
                ))
            }
        });
        Ok(store)
    }
}

/// Failed requests logged where the guest's stderr goes, one line each, at most
/// [`FailureLog::BURST`] per second: a flood of failures cannot fill the log, and the lines
/// left out are counted in the next one written.
#[derive(Default)]
struct FailureLog {
    state: std::sync::Mutex<FailureWindow>,
}

#[derive(Default)]
struct FailureWindow {
    started: Option<std::time::Instant>,
    written: u32,
    suppressed: u64,
}

impl FailureLog {
    /// Lines per second.
    const BURST: u32 = 10;
    /// The longest reason logged, in bytes.
    const MAX_REASON: usize = 1024;

    fn record(
        &self,
        output: &wharf_sandbox::Output,
        method: &hyper::Method,
        path: &str,
        status: u16,
        why: &str,
    ) {
        let mut window = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let now = std::time::Instant::now();
        if window
            .started
            .is_none_or(|t| now.duration_since(t) >= Duration::from_secs(1))
        {
            window.started = Some(now);
            window.written = 0;
        }
        if window.written >= Self::BURST {
            window.suppressed += 1;
            return;
        }
        window.written += 1;
        let mut why = why.replace('\n', " ");
        if why.len() > Self::MAX_REASON {
            let mut end = Self::MAX_REASON;
            while !why.is_char_boundary(end) {
                end -= 1;
            }
            why.truncate(end);
            why.push_str("...");
        }
        let path: String = path.chars().take(256).collect();
        let mut line = format!("wharf: {method} {path} failed ({status}): {why}");
        if window.suppressed > 0 {
            line.push_str(&format!(
                " ({} more failed requests not logged)",
                window.suppressed
            ));
            window.suppressed = 0;
        }
        output.note(&line);
    }
}

/// A guest failure in a sentence: trap message, or memory exhaustion.
fn describe_failure(e: &wasmtime::Error) -> String {
    if let Some(trap) = e.downcast_ref::<wasmtime::Trap>() {
        if *trap == wasmtime::Trap::Interrupt {
            return "the guest ran past the request timeout (interrupt)".into();
        }
        return format!("the guest trapped: {trap}");
    }
    format!("the guest failed: {e:#}")
}

/// A small plain-text response wharf makes itself.
fn plain(status: u16, text: &str) -> hyper::Response<HyperOutgoingBody> {
    use http_body_util::BodyExt;
    let body = http_body_util::Full::new(bytes_of(text))
        .map_err(|never| match never {})
        .boxed_unsync();
    hyper::Response::builder()
        .status(status)
        .header("content-type", "text/plain; charset=utf-8")
        .body(HyperOutgoingBody::new(body))
        .expect("a valid response")
}

fn bytes_of(text: &str) -> hyper::body::Bytes {
    hyper::body::Bytes::copy_from_slice(text.as_bytes())
}
