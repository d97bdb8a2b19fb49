//! The core's answers to a guest's questions about its networks ([`wharf_sandbox::Peers`]):
//! what a member's name is, where a member's port really listens. They are read from the
//! network records and from each member's `listeners.json`, which the member's own monitor
//! writes as its guest binds ports, so every process sees the same networks without a daemon.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use wharf_containers::Containers;
use wharf_sandbox::{Peers, Route};

use crate::networks::{is_wharf_subnet, read_network_file, NetworkFile};

/// The file in a container's directory that says where its guest ports really listen.
const LISTENERS: &str = "listeners.json";

/// Container `id`'s view of its networks.
#[derive(Debug)]
pub(crate) struct NetworkPeers {
    network_file: PathBuf,
    containers: Containers,
    id: String,
    /// Serialises this guest's own writes of its listeners file.
    writing: Mutex<()>,
}

impl NetworkPeers {
    pub(crate) fn new(network_file: PathBuf, containers: Containers, id: &str) -> NetworkPeers {
        NetworkPeers {
            network_file,
            containers,
            id: id.to_string(),
            writing: Mutex::new(()),
        }
    }

    fn networks(&self) -> NetworkFile {
        read_network_file(&self.network_file).unwrap_or_else(|e| {
            tracing::warn!("{e}");
            NetworkFile::default()
        })
    }

    /// Whether member `id` answers to `name`: an alias, its ID (whole or the short 12), or its
    /// container name.
    fn answers_to(&self, aliases: &[String], id: &str, name: &str) -> bool {
        aliases.iter().any(|a| a == name)
            || id == name
            || wharf_containers::short_id(id) == name
            || self
                .containers
                .load(id)
                .is_ok_and(|c| c.config.name == name)
    }
}

impl Peers for NetworkPeers {
    fn lookup(&self, name: &str) -> Option<IpAddr> {
        let file = self.networks();
        let mine = file
            .networks
            .iter()
            .filter(|n| n.aliases_of(&self.id).is_some());
        for network in mine {
            for member in network.member_ids() {
                let aliases = network.aliases_of(member).unwrap_or_default();
                if self.answers_to(aliases, member, name) {
                    return network.address_of(member).map(IpAddr::V4);
                }
            }
        }
        None
    }

    fn route(&self, addr: SocketAddr) -> Route {
        let IpAddr::V4(ip) = addr.ip() else {
            return Route::Direct;
        };
        if !is_wharf_subnet(ip) {
            return Route::Direct;
        }
        let file = self.networks();
        // Only a network both are on reaches: another network's address is not routable.
        let member = file
            .networks
            .iter()
            .filter(|n| n.contains(ip) && n.aliases_of(&self.id).is_some())
            .find_map(|n| n.member_at(ip));
        let Some(member) = member else {
            return Route::Refused;
        };
        match read_listeners(&self.containers.dir_of(member)).get(&addr.port()) {
            Some(real) => Route::Peer(*real),
            None => Route::Refused,
        }
    }

    fn listening(&self, guest_port: u16, real: SocketAddr) {
        let _writing = self.writing.lock().unwrap_or_else(|e| e.into_inner());
        let dir = self.containers.dir_of(&self.id);
        let mut listeners = read_listeners(&dir);
        listeners.insert(guest_port, reachable(real));
        let written = serde_json::to_vec(&listeners)
            .map_err(std::io::Error::other)
            .and_then(|bytes| wharf_root::write_atomic(&dir.join(LISTENERS), &bytes));
        if let Err(e) = written {
            tracing::warn!("cannot record that port {guest_port} listens at {real}: {e}");
        }
    }
}

/// Where the guest ports of the container in `dir` listen; none when it is not running.
fn read_listeners(dir: &Path) -> BTreeMap<u16, SocketAddr> {
    std::fs::read(dir.join(LISTENERS))
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default()
}

/// Forgets where the container in `dir` listened: its guest is not running (any more).
pub(crate) fn forget_listeners(dir: &Path) {
    let _ = std::fs::remove_file(dir.join(LISTENERS));
}

/// A wildcard listener is reached on loopback.
fn reachable(real: SocketAddr) -> SocketAddr {
    if real.ip().is_unspecified() {
        let ip = match real {
            SocketAddr::V4(_) => IpAddr::from([127, 0, 0, 1]),
            SocketAddr::V6(_) => IpAddr::from(std::net::Ipv6Addr::LOCALHOST),
        };
        return SocketAddr::new(ip, real.port());
    }
    real
}
