//! Where one request's time goes on wharf's per-request path, phase by phase, on one thread
//! (no sockets, no HTTP parsing): the WASI context, the store and the request's resources, the
//! instantiation, the guest's handler, reading the body, and dropping the store (which resets
//! the instance's memory and tables in the pool). It builds the per-request state the way
//! `Handler::call_guest` does, with the engine wharf serves with. `bench/http.sh` runs it;
//! by hand:
//!
//! ```text
//! WHARF_BENCH_HTTP_COMPONENT=target/bench/http/server.wasm \
//!   cargo run --release -p wharf-http --example request_phases
//! ```

use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Store, StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::p2::bindings::ProxyPre;
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpHooks, WasiHttpView};

const REQUESTS: u32 = 20_000;
/// Requests run before measuring: the pool's slots and the allocator warm up.
const WARM_UP: u32 = 1_000;
const PHASES: [&str; 6] = [
    "WASI context",
    "store + request",
    "instantiate",
    "guest handler",
    "read body",
    "drop store",
];

struct RequestState {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    table: ResourceTable,
    limits: StoreLimits,
    hooks: NoOutgoing,
}

/// The hello route sends no outgoing requests; the default hooks are enough.
struct NoOutgoing;
impl WasiHttpHooks for NoOutgoing {}

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
            hooks: &mut self.hooks,
        }
    }
}

fn main() {
    let path = std::env::var("WHARF_BENCH_HTTP_COMPONENT")
        .expect("set WHARF_BENCH_HTTP_COMPONENT to a wasi:http component");
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"));
    let engine = wharf_sandbox::new_pooled_engine(128, 256 << 20).unwrap();
    let component = Component::new(&engine, &bytes).expect("the component compiles");
    let mut linker = Linker::<RequestState>::new(&engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker).unwrap();
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker).unwrap();
    let pre = ProxyPre::new(linker.instantiate_pre(&component).unwrap()).expect("a proxy");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let policy = wharf_sandbox::SandboxPolicy::default();
    let mut spent = [Duration::ZERO; PHASES.len()];
    runtime.block_on(async {
        for n in 0..REQUESTS {
            let mut marks = [Instant::now(); PHASES.len() + 1];
            let mut wasi = wharf_sandbox::wasi_builder(&policy).unwrap();
            wasi.allow_blocking_current_thread(false);
            let state = RequestState {
                wasi: wasi.build(),
                http: WasiHttpCtx::new(),
                table: ResourceTable::new(),
                limits: StoreLimitsBuilder::new()
                    .memory_size(256 << 20)
                    .instances(64)
                    .build(),
                hooks: NoOutgoing,
            };
            marks[1] = Instant::now();
            let mut store = Store::new(&engine, state);
            store.limiter(|s| &mut s.limits);
            store.set_epoch_deadline(u64::MAX / 2);
            let request = hyper::Request::builder()
                .uri("http://localhost/")
                .header("host", "localhost")
                .body(Full::new(Bytes::new()))
                .unwrap();
            let (sender, receiver) = tokio::sync::oneshot::channel();
            let request = store
                .data_mut()
                .http()
                .new_incoming_request(Scheme::Http, request)
                .unwrap();
            let out = store
                .data_mut()
                .http()
                .new_response_outparam(sender)
                .unwrap();
            marks[2] = Instant::now();
            let proxy = pre.instantiate_async(&mut store).await.unwrap();
            marks[3] = Instant::now();
            proxy
                .wasi_http_incoming_handler()
                .call_handle(&mut store, request, out)
                .await
                .unwrap();
            marks[4] = Instant::now();
            let response = receiver.await.unwrap().unwrap();
            let body = response.into_body().collect().await.unwrap().to_bytes();
            assert_eq!(&body[..], b"hello from wasi:http\n");
            marks[5] = Instant::now();
            drop(store);
            marks[6] = Instant::now();
            if n >= WARM_UP {
                for (phase, pair) in spent.iter_mut().zip(marks.windows(2)) {
                    *phase += pair[1] - pair[0];
                }
            }
        }
    });
    let measured = f64::from(REQUESTS - WARM_UP);
    let mut total = 0.0;
    for (name, time) in PHASES.iter().zip(spent) {
        let micros = time.as_secs_f64() * 1e6 / measured;
        total += micros;
        println!("{name:>16}: {micros:6.2} us");
    }
    println!("{:>16}: {total:6.2} us", "per request");
}
