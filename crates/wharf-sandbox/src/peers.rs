//! Other guests a guest can reach by name: the members of the user networks it is on.
//!
//! The sandbox does not know what a network is; it asks a [`Peers`] (wharf's core answers
//! from its network records) three things: what a name is, where a connection to an address
//! really goes, and it tells where the guest's ports really listen. A guest's name lookups
//! (`wasi:sockets/ip-name-lookup`), TCP connects and `wasi:http` outgoing requests all go
//! through the same answers, so `db:6379` means one thing to every guest on db's network.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use wasmtime::component::{Linker, Resource};
use wasmtime::StoreContextMut;
use wasmtime_wasi::p2::bindings::sockets::ip_name_lookup::Host as HostIpNameLookup;
use wasmtime_wasi::p2::Network;
use wasmtime_wasi::sockets::WasiSocketsCtxView;

use crate::network::HasPortSpace;

/// Where a connection to an address goes (see [`Peers::route`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// Not a peer's address: connect to it as it is.
    Direct,
    /// A peer's port, which really listens here.
    Peer(SocketAddr),
    /// A peer address with nothing listening on that port, or on a network the guest is
    /// not on: the connection is refused.
    Refused,
}

/// The guest's view of its networks, answered by whoever keeps the network records.
pub trait Peers: Send + Sync + std::fmt::Debug {
    /// The address `name` has on one of the guest's networks (a member's name or alias);
    /// `None` for every other name, which the host's resolver answers.
    fn lookup(&self, name: &str) -> Option<IpAddr>;

    /// Where a connection to `addr` really goes.
    fn route(&self, addr: SocketAddr) -> Route;

    /// The guest now listens on `guest_port`, really at `real` (for the others' [`route`]).
    ///
    /// [`route`]: Peers::route
    fn listening(&self, guest_port: u16, real: SocketAddr);
}

/// A shared [`Peers`], as the policy holds it.
pub type SharedPeers = Arc<dyn Peers>;

/// The `wasi:sockets/ip-name-lookup` instance wasmtime-wasi defines.
const LOOKUP_INSTANCE: &str = "wasi:sockets/ip-name-lookup@0.2.12";

/// Replaces `resolve-addresses` in `linker` with one that answers peers' names first.
pub(crate) fn add_peer_lookup_to_linker<T: HasPortSpace>(
    linker: &mut Linker<T>,
) -> wasmtime::Result<()> {
    wrap_resolve(linker, |view, network, name| {
        HostIpNameLookup::resolve_addresses(view, network, name)
    })
}

/// wasmtime-wasi's `resolve-addresses`, whose stream type `S` has no public name.
type Resolve<S> = fn(
    &mut WasiSocketsCtxView<'_>,
    Resource<Network>,
    String,
) -> Result<Resource<S>, wasmtime_wasi::p2::SocketError>;

/// Installs the wrapper around `resolve`, wasmtime-wasi's own lookup. Its stream type has no
/// public name, so it is inferred (`S`): a peer's name is answered by handing `resolve` the
/// peer's address as text, which it answers at once with that one address.
fn wrap_resolve<T, S>(linker: &mut Linker<T>, resolve: Resolve<S>) -> wasmtime::Result<()>
where
    T: HasPortSpace,
    S: Send + 'static,
{
    linker.allow_shadowing(true);
    let mut lookup = linker.instance(LOOKUP_INSTANCE)?;
    lookup.func_wrap(
        "resolve-addresses",
        move |mut store: StoreContextMut<'_, T>,
              (network, name): (Resource<Network>, String)|
              -> wasmtime::Result<(Result<Resource<S>, crate::network::ErrorCode>,)> {
            let data = store.data_mut();
            let name = match data.port_space().peers().and_then(|p| p.lookup(&name)) {
                Some(ip) => ip.to_string(),
                None => name,
            };
            match resolve(&mut data.sockets(), network, name) {
                Ok(stream) => Ok((Ok(stream),)),
                Err(e) => Ok((Err(e.downcast()?),)),
            }
        },
    )?;
    linker.allow_shadowing(false);
    Ok(())
}
