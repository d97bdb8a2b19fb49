//! The guest's network: which sockets it may use ([`NetworkMode`]), and where the ports it
//! listens on really are ([`PortSpace`]).
//!
//! In the default (`bridge`) mode every guest has its own port space, as a container has its
//! own network namespace: a guest that binds port 8080 gets a real socket on the host port
//! published for 8080 (`-p 18080:8080`), or on an ephemeral loopback port when 8080 is not
//! published. The guest still sees 8080 (`local-address`), and a connection it makes to its
//! own loopback port 8080 reaches that socket. So two guests can both listen on 8080 without
//! root, and a port only accepts connections from outside when it is published. This is done
//! by wrapping three `wasi:sockets/tcp` methods of wasmtime-wasi's host (bind, connect,
//! local-address); the sockets themselves stay wasmtime-wasi's. ARCHITECTURE.md says why this
//! was chosen over network namespaces.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener};

use wasmtime::component::{Linker, Resource};
use wasmtime::StoreContextMut;
pub(crate) use wasmtime_wasi::p2::bindings::sockets::network::ErrorCode;
use wasmtime_wasi::p2::bindings::sockets::network::IpSocketAddress;
use wasmtime_wasi::p2::bindings::sync::sockets::tcp::HostTcpSocket;
use wasmtime_wasi::p2::{Network, SocketError, TcpSocket};
use wasmtime_wasi::sockets::{SocketAddrUse, WasiSocketsView};
use wasmtime_wasi::WasiCtxBuilder;

use crate::peers::{Route, SharedPeers};
use crate::PortMapping;

/// How much of the network a guest gets (`--network`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum NetworkMode {
    /// Docker's default: outgoing connections and DNS; incoming connections only on published
    /// ports; the guest's ports are its own.
    #[default]
    Bridge,
    /// No sockets, no name lookups, no outgoing HTTP.
    None,
    /// The host's network as it is: the guest binds host addresses and ports directly.
    Host,
}

impl NetworkMode {
    /// Parses `--network`'s value (`bridge` or `default`, `none`, `host`).
    pub fn parse(text: &str) -> Result<NetworkMode, String> {
        match text {
            "bridge" | "default" => Ok(NetworkMode::Bridge),
            "none" => Ok(NetworkMode::None),
            "host" => Ok(NetworkMode::Host),
            other => Err(format!(
                "unknown network {other:?}: wharf has the networks bridge (the default), host and none"
            )),
        }
    }

    /// The name Docker shows (`HostConfig.NetworkMode`).
    pub fn name(self) -> &'static str {
        match self {
            NetworkMode::Bridge => "bridge",
            NetworkMode::None => "none",
            NetworkMode::Host => "host",
        }
    }

    /// Whether the guest may make outgoing connections (sockets and `wasi:http`).
    pub fn allows_outgoing(self) -> bool {
        self != NetworkMode::None
    }
}

/// Grants `wasi` the sockets `mode` allows; `published` are the ports bound for the guest.
pub(crate) fn grant(wasi: &mut WasiCtxBuilder, mode: NetworkMode, published: &[PortMapping]) {
    match mode {
        NetworkMode::None => {
            wasi.allow_tcp(false)
                .allow_udp(false)
                .allow_ip_name_lookup(false);
        }
        NetworkMode::Host => {
            wasi.allow_tcp(true)
                .allow_udp(true)
                .allow_ip_name_lookup(true)
                .inherit_network();
        }
        NetworkMode::Bridge => {
            let published: Vec<SocketAddr> = published.iter().map(|p| p.host).collect();
            wasi.allow_tcp(true)
                .allow_udp(true)
                .allow_ip_name_lookup(true)
                .socket_addr_check(move |addr, use_| {
                    let allowed = bridge_allows(&published, addr, use_);
                    if !allowed {
                        tracing::debug!(%addr, ?use_, "socket use refused (network bridge)");
                    }
                    Box::pin(async move { allowed })
                });
        }
    }
}

/// The bridge rule, applied to real (already translated) addresses: anything outgoing; a
/// listener only on loopback or on a published address; binds only to those or to port 0.
fn bridge_allows(published: &[SocketAddr], addr: SocketAddr, use_: SocketAddrUse) -> bool {
    let is_published = published.iter().any(|p| same_socket(*p, addr));
    match use_ {
        SocketAddrUse::TcpBind | SocketAddrUse::UdpBind => addr.port() == 0 || is_published,
        SocketAddrUse::TcpListen => addr.ip().is_loopback() || is_published,
        _ => true,
    }
}

/// Whether the published address `published` is `addr` in either family (the wildcard and
/// loopback have both forms; see [`in_family`]).
fn same_socket(published: SocketAddr, addr: SocketAddr) -> bool {
    published.port() == addr.port() && in_family(published.ip(), addr.is_ipv6()) == addr.ip()
}

/// Fails with a sentence when a published host port cannot be bound now (in use, or an address
/// the host does not have), so that a run fails at start as Docker's does, not when the guest
/// first binds.
pub fn ensure_ports_free(published: &[PortMapping]) -> Result<(), String> {
    for port in published {
        bind_published(port)?;
    }
    Ok(())
}

/// Listens on `port`'s host address; the error says which port and what to do.
pub(crate) fn bind_published(port: &PortMapping) -> Result<TcpListener, String> {
    TcpListener::bind(port.host).map_err(|e| {
        let why = if e.kind() == std::io::ErrorKind::AddrInUse {
            "the port is in use: publish another one".to_string()
        } else {
            e.to_string()
        };
        format!("cannot publish {}: {why}", port.host)
    })
}

/// Gives each mapping whose host port is 0 a free host port (the kernel's choice), as Docker
/// does for `-P` and `-p GUEST`. Another process may take it before the guest binds it; the
/// run then fails with "port in use".
pub fn assign_free_ports(published: &mut [PortMapping]) -> std::io::Result<()> {
    for port in published.iter_mut().filter(|p| p.host.port() == 0) {
        let free = TcpListener::bind(port.host)?.local_addr()?.port();
        port.host.set_port(free);
    }
    Ok(())
}

/// A guest's own ports (bridge mode): what it asked to bind, and where that really is.
#[derive(Debug, Default)]
pub(crate) struct PortSpace {
    published: Vec<PortMapping>,
    /// The guest's networks' other members, when it is on user networks.
    peers: Option<SharedPeers>,
    /// Real local address → the address the guest asked for.
    bound: HashMap<SocketAddr, SocketAddr>,
    /// Guest port → real local address.
    by_guest_port: HashMap<u16, SocketAddr>,
}

impl PortSpace {
    pub(crate) fn new(published: &[PortMapping], peers: Option<SharedPeers>) -> PortSpace {
        PortSpace {
            published: published.to_vec(),
            peers,
            ..Default::default()
        }
    }

    /// Who else is on the guest's networks.
    pub(crate) fn peers(&self) -> Option<&SharedPeers> {
        self.peers.as_ref()
    }

    /// Where a bind to `requested` really goes: the published host address for its port, an
    /// ephemeral loopback port if it is not published, itself for port 0 (a client's bind).
    fn real_bind_addr(&self, requested: SocketAddr) -> SocketAddr {
        if requested.port() == 0 {
            return requested;
        }
        let v6 = requested.is_ipv6();
        match self
            .published
            .iter()
            .find(|p| p.guest_port == requested.port())
        {
            Some(p) => SocketAddr::new(in_family(p.host.ip(), v6), p.host.port()),
            None if v6 => SocketAddr::new(Ipv6Addr::LOCALHOST.into(), 0),
            None => SocketAddr::new(Ipv4Addr::LOCALHOST.into(), 0),
        }
    }

    fn record(&mut self, real: SocketAddr, requested: SocketAddr) {
        if requested.port() != 0 {
            self.bound.insert(real, requested);
            self.by_guest_port.insert(requested.port(), real);
            if let Some(peers) = &self.peers {
                peers.listening(requested.port(), real);
            }
        }
    }

    /// The address the guest sees for a real local address.
    fn as_guest_sees(&self, real: SocketAddr) -> SocketAddr {
        self.bound.get(&real).copied().unwrap_or(real)
    }

    /// Where a connection to `remote` goes: the guest's own socket for its loopback ports, a
    /// peer's for a peer's address; refused for a peer address nothing listens on.
    fn real_connect_addr(&self, remote: SocketAddr) -> Result<SocketAddr, ErrorCode> {
        if !remote.ip().is_loopback() {
            return match self.peers.as_ref().map(|p| p.route(remote)) {
                None | Some(Route::Direct) => Ok(remote),
                Some(Route::Peer(real)) => Ok(real),
                Some(Route::Refused) => Err(ErrorCode::ConnectionRefused),
            };
        }
        Ok(match self.by_guest_port.get(&remote.port()) {
            Some(real) if real.ip().is_unspecified() => SocketAddr::new(remote.ip(), real.port()),
            Some(real) => *real,
            None => remote,
        })
    }
}

/// `ip` in the guest socket's family: the wildcard and loopback have both forms; another
/// address keeps its own (and the bind fails with invalid-argument, as the host's would).
fn in_family(ip: IpAddr, v6: bool) -> IpAddr {
    match (ip, v6) {
        (IpAddr::V4(v4), true) if v4.is_unspecified() => Ipv6Addr::UNSPECIFIED.into(),
        (IpAddr::V4(v4), true) if v4.is_loopback() => Ipv6Addr::LOCALHOST.into(),
        (IpAddr::V6(v6), false) if v6.is_unspecified() => Ipv4Addr::UNSPECIFIED.into(),
        (IpAddr::V6(v6), false) if v6.is_loopback() => Ipv4Addr::LOCALHOST.into(),
        (ip, _) => ip,
    }
}

/// Store data that has a [`PortSpace`] beside its WASI context.
pub(crate) trait HasPortSpace: WasiSocketsView + 'static {
    fn port_space(&mut self) -> &mut PortSpace;
}

/// The `wasi:sockets/tcp` instance wasmtime-wasi defines (guests importing older 0.2 versions
/// are linked to it too).
const TCP_INSTANCE: &str = "wasi:sockets/tcp@0.2.12";

type WitResult<T> = wasmtime::Result<(Result<T, ErrorCode>,)>;

/// Replaces bind, connect and local-address in `linker` (which already has wasmtime-wasi's
/// sockets) with versions that go through the store's [`PortSpace`].
pub(crate) fn add_port_space_to_linker<T: HasPortSpace>(
    linker: &mut Linker<T>,
) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    let mut tcp = linker.instance(TCP_INSTANCE)?;
    tcp.func_wrap(
        "[method]tcp-socket.start-bind",
        |mut store: StoreContextMut<'_, T>,
         (this, network, requested): (Resource<TcpSocket>, Resource<Network>, IpSocketAddress)|
         -> WitResult<()> {
            let data = store.data_mut();
            let requested = SocketAddr::from(requested);
            let real = data.port_space().real_bind_addr(requested);
            let socket = Resource::<TcpSocket>::new_borrow(this.rep());
            let mut sockets = data.sockets();
            let bound = HostTcpSocket::start_bind(&mut sockets, this, network, real.into())
                .and_then(|()| HostTcpSocket::local_address(&mut sockets, socket));
            match bound {
                Ok(actual) => {
                    data.port_space().record(actual.into(), requested);
                    Ok((Ok(()),))
                }
                Err(e) => wit_error(e),
            }
        },
    )?;
    tcp.func_wrap(
        "[method]tcp-socket.start-connect",
        |mut store: StoreContextMut<'_, T>,
         (this, network, remote): (Resource<TcpSocket>, Resource<Network>, IpSocketAddress)|
         -> WitResult<()> {
            let data = store.data_mut();
            let real = match data.port_space().real_connect_addr(remote.into()) {
                Ok(real) => real,
                Err(refused) => return Ok((Err(refused),)),
            };
            match HostTcpSocket::start_connect(&mut data.sockets(), this, network, real.into()) {
                Ok(()) => Ok((Ok(()),)),
                Err(e) => wit_error(e),
            }
        },
    )?;
    tcp.func_wrap(
        "[method]tcp-socket.local-address",
        |mut store: StoreContextMut<'_, T>,
         (this,): (Resource<TcpSocket>,)|
         -> WitResult<IpSocketAddress> {
            let data = store.data_mut();
            match HostTcpSocket::local_address(&mut data.sockets(), this) {
                Ok(real) => Ok((Ok(data.port_space().as_guest_sees(real.into()).into()),)),
                Err(e) => wit_error(e),
            }
        },
    )?;
    linker.allow_shadowing(false);
    Ok(())
}

/// A socket error as the guest's `error-code`, or the trap it stands for.
fn wit_error<T>(e: SocketError) -> WitResult<T> {
    Ok((Err(e.downcast()?),))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn space(published: &[(&str, u16)]) -> PortSpace {
        let published: Vec<PortMapping> = published
            .iter()
            .map(|(host, guest_port)| PortMapping {
                host: host.parse().unwrap(),
                guest_port: *guest_port,
            })
            .collect();
        PortSpace::new(&published, None)
    }

    fn addr(text: &str) -> SocketAddr {
        text.parse().unwrap()
    }

    #[test]
    fn published_ports_bind_their_host_address_in_the_guests_family() {
        let ports = space(&[("0.0.0.0:18080", 8080), ("127.0.0.1:19090", 9090)]);
        assert_eq!(
            ports.real_bind_addr(addr("0.0.0.0:8080")),
            addr("0.0.0.0:18080")
        );
        assert_eq!(ports.real_bind_addr(addr("[::]:8080")), addr("[::]:18080"));
        assert_eq!(
            ports.real_bind_addr(addr("0.0.0.0:9090")),
            addr("127.0.0.1:19090")
        );
        assert_eq!(ports.real_bind_addr(addr("[::]:9090")), addr("[::1]:19090"));
    }

    #[test]
    fn unpublished_ports_go_to_an_ephemeral_loopback_port() {
        let ports = space(&[("0.0.0.0:18080", 8080)]);
        assert_eq!(
            ports.real_bind_addr(addr("0.0.0.0:7000")),
            addr("127.0.0.1:0")
        );
        assert_eq!(ports.real_bind_addr(addr("[::]:7000")), addr("[::1]:0"));
        // A client's bind to port 0 is left alone.
        assert_eq!(ports.real_bind_addr(addr("0.0.0.0:0")), addr("0.0.0.0:0"));
    }

    #[test]
    fn the_guest_sees_and_reaches_its_own_ports() {
        let mut ports = space(&[]);
        ports.record(addr("127.0.0.1:45000"), addr("0.0.0.0:7000"));
        assert_eq!(
            ports.as_guest_sees(addr("127.0.0.1:45000")),
            addr("0.0.0.0:7000")
        );
        assert_eq!(
            ports.real_connect_addr(addr("127.0.0.1:7000")),
            Ok(addr("127.0.0.1:45000"))
        );
        // Other addresses are untouched.
        assert_eq!(
            ports.real_connect_addr(addr("10.0.0.1:7000")),
            Ok(addr("10.0.0.1:7000"))
        );
        assert_eq!(
            ports.real_connect_addr(addr("127.0.0.1:7001")),
            Ok(addr("127.0.0.1:7001"))
        );
    }

    /// One peer at 10.89.1.2 listening on guest port 6379, and what the guest told it.
    #[derive(Debug, Default)]
    struct OnePeer {
        told: std::sync::Mutex<Vec<(u16, SocketAddr)>>,
    }

    impl crate::Peers for OnePeer {
        fn lookup(&self, name: &str) -> Option<IpAddr> {
            (name == "db").then(|| "10.89.1.2".parse().unwrap())
        }
        fn route(&self, to: SocketAddr) -> Route {
            match (to.ip().to_string().as_str(), to.port()) {
                ("10.89.1.2", 6379) => Route::Peer(addr("127.0.0.1:41000")),
                ("10.89.1.2", _) => Route::Refused,
                _ => Route::Direct,
            }
        }
        fn listening(&self, guest_port: u16, real: SocketAddr) {
            self.told.lock().unwrap().push((guest_port, real));
        }
    }

    #[test]
    fn peers_route_connections_and_hear_of_listeners() {
        let peer = std::sync::Arc::new(OnePeer::default());
        let mut ports = PortSpace::new(&[], Some(peer.clone()));
        assert_eq!(
            ports.real_connect_addr(addr("10.89.1.2:6379")),
            Ok(addr("127.0.0.1:41000"))
        );
        assert_eq!(
            ports.real_connect_addr(addr("10.89.1.2:80")),
            Err(ErrorCode::ConnectionRefused)
        );
        assert_eq!(
            ports.real_connect_addr(addr("192.0.2.1:80")),
            Ok(addr("192.0.2.1:80"))
        );
        // The peers hear of listeners, not of a client's port 0.
        ports.record(addr("0.0.0.0:18080"), addr("0.0.0.0:8080"));
        ports.record(addr("127.0.0.1:45000"), addr("0.0.0.0:0"));
        assert_eq!(*peer.told.lock().unwrap(), [(8080, addr("0.0.0.0:18080"))]);
    }

    #[test]
    fn the_bridge_listens_only_on_loopback_or_published_addresses() {
        let published = [addr("0.0.0.0:18080")];
        let allows = |a: &str, u| bridge_allows(&published, addr(a), u);
        assert!(allows("0.0.0.0:18080", SocketAddrUse::TcpBind));
        assert!(allows("[::]:18080", SocketAddrUse::TcpListen));
        let loopback = [addr("127.0.0.1:18080")];
        assert!(bridge_allows(
            &loopback,
            addr("[::1]:18080"),
            SocketAddrUse::TcpBind
        ));
        assert!(!bridge_allows(
            &loopback,
            addr("[::]:18080"),
            SocketAddrUse::TcpBind
        ));
        assert!(allows("127.0.0.1:0", SocketAddrUse::TcpBind));
        assert!(allows("127.0.0.1:45000", SocketAddrUse::TcpListen));
        assert!(!allows("0.0.0.0:45000", SocketAddrUse::TcpListen));
        assert!(!allows("0.0.0.0:8080", SocketAddrUse::TcpBind));
        assert!(allows("93.184.216.34:80", SocketAddrUse::TcpConnect));
    }

    #[test]
    fn network_names() {
        assert_eq!(NetworkMode::parse("default"), Ok(NetworkMode::Bridge));
        assert_eq!(NetworkMode::parse("none").unwrap().name(), "none");
        assert!(NetworkMode::parse("overlay")
            .unwrap_err()
            .contains("bridge"));
    }
}
