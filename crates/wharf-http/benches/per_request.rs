//! The cost of one request on wharf's per-request path, without the network: a new store and
//! instance of a pre-instantiated component, the guest's handler, and the response body read to
//! its end. Measured with the pooling allocator wharf serves with, and with wasmtime's default
//! on-demand allocator for comparison.
//!
//! The component is the C test server; `bench/http.sh` builds it and runs this bench. By hand:
//!
//! ```text
//! WHARF_BENCH_HTTP_COMPONENT=target/bench/http/server.wasm cargo bench -p wharf-http
//! ```

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use wasmtime::component::Component;
use wasmtime::Engine;
use wharf_http::{Handler, ServeOptions};

const COMPONENT_VAR: &str = "WHARF_BENCH_HTTP_COMPONENT";

fn component_bytes() -> Vec<u8> {
    let path = std::env::var(COMPONENT_VAR).unwrap_or_else(|_| {
        panic!(
            "set {COMPONENT_VAR} to a wasi:http component (bench/http.sh builds one and sets it)"
        )
    });
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"))
}

fn handler(engine: &Engine, bytes: &[u8]) -> Handler {
    let component = Component::new(engine, bytes).expect("the component compiles");
    Handler::new(engine, &component, ServeOptions::default()).expect("a wasi:http/proxy")
}

/// One request through `handler`; panics unless the guest answers 200. Returns the body's
/// length, read to its end.
async fn one_request(handler: &Handler, method: &str, path: &str, body: Bytes) -> usize {
    let request = hyper::Request::builder()
        .method(method)
        .uri(format!("http://localhost{path}"))
        .header("host", "localhost")
        .body(Full::new(body))
        .unwrap();
    let response = handler.handle(request).await;
    assert_eq!(response.status(), 200);
    response
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .len()
}

fn per_request(c: &mut Criterion) {
    let bytes = component_bytes();
    // Single-threaded, as each of the server's connection threads is (serve.rs).
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let engines = [
        (
            "pooling",
            wharf_sandbox::new_pooled_engine(128, 256 << 20).unwrap(),
        ),
        ("on-demand", wharf_sandbox::new_engine().unwrap()),
    ];
    let payload = Bytes::from(vec![b'x'; 4096]);
    let mut group = c.benchmark_group("per_request");
    group.throughput(Throughput::Elements(1));
    for (allocator, engine) in &engines {
        let handler = handler(engine, &bytes);
        let hello_len = runtime.block_on(one_request(&handler, "GET", "/", Bytes::new()));
        group.bench_function(format!("{allocator}/hello"), |b| {
            b.iter(|| {
                let len = runtime.block_on(one_request(&handler, "GET", "/", Bytes::new()));
                assert_eq!(len, hello_len);
            })
        });
        group.bench_function(format!("{allocator}/echo-4KiB"), |b| {
            b.iter(|| {
                let len = runtime.block_on(one_request(&handler, "POST", "/echo", payload.clone()));
                assert_eq!(len, payload.len());
            })
        });
    }
    group.finish();
}

criterion_group!(benches, per_request);
criterion_main!(benches);
