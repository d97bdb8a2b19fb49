//! Serving `wasi:http` components on published ports (`wharf run -p`).

use std::path::Path;
use std::time::Duration;

use wharf_aot_cache::CompileError;
use wharf_sandbox::{Compiled, WasmBinary};

use crate::{Error, Outcome, SandboxPolicy, StopHandle, StopReason, Wharf};

/// Each instance's memory when `--memory` is not given.
const DEFAULT_INSTANCE_MEMORY: u64 = 256 << 20;
/// Requests in flight at once.
const MAX_CONCURRENCY: u32 = 128;
/// How long requests in flight get to finish once a stop is asked (`stop -t` bounds the rest).
const DRAIN: Duration = Duration::from_secs(10);

impl Wharf {
    /// Serves the `wasi:http` component `wasm` (named `name` in messages) on `policy.ports`
    /// until `stop` fires; then drains requests in flight and reports the stop.
    pub(crate) fn serve_http(
        &self,
        name: &Path,
        wasm: &WasmBinary,
        policy: &SandboxPolicy,
        stop: &StopHandle,
    ) -> Result<Outcome, Error> {
        let not_runnable = |reason: String| Error::not_runnable(name, reason);
        let memory = policy.memory_limit.unwrap_or(DEFAULT_INSTANCE_MEMORY) as usize;
        let engine = wharf_sandbox::new_pooled_engine(MAX_CONCURRENCY, memory)?;
        let (compiled, _) =
            self.cache
                .load_or_compile(&engine, wasm)
                .map_err(|CompileError::Invalid(e)| {
                    not_runnable(format!("invalid WebAssembly: {e}"))
                })?;
        let Compiled::Component(component) = compiled else {
            return Err(not_runnable(
                "it is a core module; only wasi:http components (wasi:http/proxy) can be served on a published port for now".into(),
            ));
        };
        if !wharf_http::is_http_server(&engine, &component) {
            return Err(not_runnable(format!(
                "it does not export {}, so it is not a wasi:http server to publish",
                wharf_http::INCOMING_HANDLER
            )));
        }
        let options = wharf_http::ServeOptions {
            listen: policy.ports.iter().map(|p| p.host).collect(),
            max_concurrency: MAX_CONCURRENCY as usize,
            request_timeout: policy.timeout.unwrap_or(Duration::from_secs(60)),
            memory_limit: memory,
            policy: SandboxPolicy {
                // A request's timeout is the server's per-request limit, not a run limit.
                timeout: None,
                ..policy.clone()
            },
            ..Default::default()
        };
        let serving = wharf_http::serve(&engine, &component, options).map_err(|e| match e {
            wharf_http::Error::Component(reason) => not_runnable(reason),
            listen @ wharf_http::Error::Listen { .. } => Error::Conflict(listen.to_string()),
            other => Error::Internal(other.into()),
        })?;
        for (addr, port) in serving.addrs.iter().zip(&policy.ports) {
            tracing::info!("serving {} on http://{addr}", name.display());
            // Peers on its networks reach the guest port at the published address.
            if let Some(peers) = &policy.peers {
                peers.listening(port.guest_port, *addr);
            }
        }
        policy.on_start.notify();
        while !stop.is_requested() {
            std::thread::sleep(Duration::from_millis(50));
        }
        serving.stop(DRAIN);
        Ok(Outcome::Stopped(StopReason::Signal(
            stop.signal_number().unwrap_or(libc::SIGTERM),
        )))
    }
}
