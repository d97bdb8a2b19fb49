//! Where a guest's outgoing `wasi:http` requests go: refused under `--network none`, sent to a
//! peer's listener when the authority names a member of the guest's networks (`http://db:80/`
//! reaches the `db` service as a socket connect to `db:80` would), else to the host's network.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};

use wasmtime_wasi_http::{RequestOptions, WasiBody, WasiHttpHooks};
use wharf_sandbox::{Route, SharedPeers};

type Sent = Box<
    dyn Future<
            Output = Result<
                (
                    hyper::Response<WasiBody>,
                    Box<dyn Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>,
                ),
                wasmtime_wasi_http::Error,
            >,
        > + Send,
>;

/// The hooks of one request's store.
pub(crate) struct OutgoingHooks {
    /// Whether the guest may send requests at all.
    pub(crate) allowed: bool,
    /// The members of the guest's networks.
    pub(crate) peers: Option<SharedPeers>,
}

impl WasiHttpHooks for OutgoingHooks {
    fn send_request(
        &mut self,
        mut request: hyper::Request<WasiBody>,
        options: Option<RequestOptions>,
        fut: Box<dyn Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>,
    ) -> Sent {
        if !self.allowed {
            return Box::new(async { Err(wasmtime_wasi_http::Error::HttpRequestDenied) });
        }
        if let Some(peers) = &self.peers {
            match peer_route(peers, request.uri()) {
                Route::Direct => {}
                Route::Peer(real) => {
                    // The Host header keeps the name the guest used; only the connection moves.
                    if let Err(e) = retarget(&mut request, real) {
                        return Box::new(async move { Err(e) });
                    }
                }
                Route::Refused => {
                    return Box::new(async { Err(wasmtime_wasi_http::Error::ConnectionRefused) })
                }
            }
        }
        wasmtime_wasi_http::default_hooks().send_request(request, options, fut)
    }
}

/// Where a request to `uri` goes, by its authority's host (a peer's name or address) and port.
fn peer_route(peers: &SharedPeers, uri: &hyper::Uri) -> Route {
    let Some(authority) = uri.authority() else {
        return Route::Direct;
    };
    let host = authority
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']');
    let https = uri.scheme() == Some(&hyper::http::uri::Scheme::HTTPS);
    let port = authority.port_u16().unwrap_or(if https { 443 } else { 80 });
    let ip = match host.parse::<IpAddr>() {
        Ok(ip) => ip,
        Err(_) => match peers.lookup(host) {
            Some(ip) => ip,
            None => return Route::Direct,
        },
    };
    peers.route(SocketAddr::new(ip, port))
}

/// Points `request`'s URI at `real`, keeping its scheme, path and query.
fn retarget(
    request: &mut hyper::Request<WasiBody>,
    real: SocketAddr,
) -> Result<(), wasmtime_wasi_http::Error> {
    let mut parts = request.uri().clone().into_parts();
    parts.authority = Some(
        real.to_string()
            .parse()
            .map_err(|_| wasmtime_wasi_http::Error::HttpRequestUriInvalid)?,
    );
    *request.uri_mut() = hyper::Uri::from_parts(parts)
        .map_err(|_| wasmtime_wasi_http::Error::HttpRequestUriInvalid)?;
    Ok(())
}
