//! Where one request's time goes on wharf's per-request path, phase by phase, on one thread
//! (no sockets, no HTTP parsing): the store (WASI context, limits, timeout), the request's
//! resources, the instantiation, the guest's handler, reading the body, and dropping the store
//! (which resets the instance's memory and tables in the pool). The store and the
//! pre-instantiated component are the server's own (`Handler::request_store`), with the
//! engine wharf serves with. `bench/http.sh` runs it; by hand:
//!
//! ```text
//! WHARF_BENCH_HTTP_COMPONENT=target/bench/http/server.wasm \
//!   cargo run --release -p wharf-http --example request_phases
//! ```

use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use wasmtime::component::Component;
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::WasiHttpView;
use wharf_http::{Handler, ServeOptions};

const REQUESTS: u32 = 20_000;
/// Requests run before measuring: the pool's slots and the allocator warm up.
const WARM_UP: u32 = 1_000;
const PHASES: [&str; 6] = [
    "store",
    "request",
    "instantiate",
    "guest handler",
    "read body",
    "drop store",
];

fn main() {
    let path = std::env::var("WHARF_BENCH_HTTP_COMPONENT")
        .expect("set WHARF_BENCH_HTTP_COMPONENT to a wasi:http component");
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"));
    let engine = wharf_sandbox::new_pooled_engine(128, 256 << 20).unwrap();
    let component = Component::new(&engine, &bytes).expect("the component compiles");
    let handler = Handler::new(&engine, &component, ServeOptions::default()).expect("a proxy");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut spent = [Duration::ZERO; PHASES.len()];
    runtime.block_on(async {
        for n in 0..REQUESTS {
            let mut marks = [Instant::now(); PHASES.len() + 1];
            let mut store = handler.request_store().unwrap();
            marks[1] = Instant::now();
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
            let proxy = handler
                .instance_pre()
                .instantiate_async(&mut store)
                .await
                .unwrap();
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
