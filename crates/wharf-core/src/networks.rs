//! User networks (`docker network create`, compose's project network): which containers are
//! on which network, under which aliases. `bridge`, `host` and `none` always exist (they are
//! the sandbox's network modes); user networks are records in `<root>/networks.json`, changed
//! under `networks.lock` by whichever wharf process changes them.
//!
//! Each user network has a subnet (`10.89.N.0/24`) and each member an address on it. There
//! is no kernel bridge behind them: a guest's name lookups and connections to those addresses
//! are answered by wharf ([`crate::peers`]), joined to the member's real listener.

use std::collections::{BTreeMap, HashMap};
use std::net::Ipv4Addr;

use crate::docker::api;
use crate::{Error, Wharf};

/// The networks every wharf has, as Docker names them.
const BUILTIN: &[&str] = &["bridge", "host", "none"];

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(crate) struct NetworkRecord {
    id: String,
    name: String,
    driver: String,
    created: String,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    /// Container ID to its aliases on this network.
    #[serde(default)]
    members: BTreeMap<String, Vec<String>>,
    /// N of the network's subnet, `10.89.N.0/24` (none for records older than subnets).
    #[serde(default)]
    subnet: Option<u8>,
    /// Container ID to the last byte of its address on the subnet.
    #[serde(default)]
    addresses: BTreeMap<String, u8>,
}

impl NetworkRecord {
    /// Member `id`'s address on this network.
    pub(crate) fn address_of(&self, id: &str) -> Option<Ipv4Addr> {
        Some(Ipv4Addr::new(
            10,
            89,
            self.subnet?,
            *self.addresses.get(id)?,
        ))
    }

    /// The member at `ip`, if `ip` is on this network's subnet and someone has it.
    pub(crate) fn member_at(&self, ip: Ipv4Addr) -> Option<&str> {
        let [a, b, n, host] = ip.octets();
        if (a, b, Some(n)) != (10, 89, self.subnet) {
            return None;
        }
        self.addresses
            .iter()
            .find(|(_, h)| **h == host)
            .map(|(id, _)| id.as_str())
    }

    /// Whether `ip` is on this network's subnet.
    pub(crate) fn contains(&self, ip: Ipv4Addr) -> bool {
        let [a, b, n, _] = ip.octets();
        (a, b, Some(n)) == (10, 89, self.subnet)
    }

    /// Container `id`'s aliases, if it is a member.
    pub(crate) fn aliases_of(&self, id: &str) -> Option<&[String]> {
        self.members.get(id).map(Vec::as_slice)
    }

    /// The members' container IDs.
    pub(crate) fn member_ids(&self) -> impl Iterator<Item = &str> {
        self.members.keys().map(String::as_str)
    }
}

/// Every user network (`<root>/networks.json`).
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub(crate) struct NetworkFile {
    #[serde(default)]
    pub(crate) networks: Vec<NetworkRecord>,
}

/// All subnets wharf gives out are inside 10.89.0.0/16.
pub(crate) fn is_wharf_subnet(ip: Ipv4Addr) -> bool {
    ip.octets()[..2] == [10, 89]
}

/// Reads the network records at `path`; no file is no networks.
pub(crate) fn read_network_file(path: &std::path::Path) -> Result<NetworkFile, Error> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map_err(|e| Error::Internal(anyhow::anyhow!("{} is damaged: {e}", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(NetworkFile::default()),
        Err(e) => Err(Error::io(e)),
    }
}

/// The lowest of `candidates` not in `taken`.
fn lowest_free(candidates: std::ops::RangeInclusive<u8>, taken: &[u8]) -> Option<u8> {
    candidates.into_iter().find(|n| !taken.contains(n))
}

/// A builtin network's fixed ID (64 hex digits derived from its name).
fn builtin_id(name: &str) -> String {
    wharf_store::Digest::of(format!("wharf-network-{name}").as_bytes())
        .hex()
        .to_string()
}

impl Wharf {
    pub(crate) fn network_file(&self) -> std::path::PathBuf {
        self.root.path().join("networks.json")
    }

    fn read_networks(&self) -> Result<NetworkFile, Error> {
        read_network_file(&self.network_file())
    }

    /// Changes the network records under their lock.
    fn update_networks<T>(
        &self,
        change: impl FnOnce(&mut NetworkFile) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let _lock = wharf_root::FileLock::exclusive(&self.root.path().join("networks.lock"))
            .map_err(Error::io)?;
        let mut file = self.read_networks()?;
        let answer = change(&mut file)?;
        let bytes = serde_json::to_vec_pretty(&file).map_err(|e| Error::Internal(e.into()))?;
        wharf_root::write_atomic_durable(&self.network_file(), &bytes).map_err(Error::io)?;
        Ok(answer)
    }

    /// Creates user network `name` (`POST /networks/create`); a taken name is a conflict.
    pub fn create_network(
        &self,
        name: &str,
        driver: Option<&str>,
        labels: BTreeMap<String, String>,
    ) -> Result<api::Network, Error> {
        if name.is_empty() || name.contains('/') {
            return Err(Error::InvalidArgument(format!(
                "invalid network name {name:?}"
            )));
        }
        if let Some(driver) = driver.filter(|d| !d.is_empty() && *d != "bridge") {
            return Err(Error::InvalidArgument(format!(
                "network driver {driver:?} is not supported: wharf's networks are bridge networks"
            )));
        }
        let record = self.update_networks(|file| {
            if BUILTIN.contains(&name) || file.networks.iter().any(|n| n.name == name) {
                return Err(Error::Conflict(format!(
                    "network with name {name} already exists"
                )));
            }
            let taken: Vec<u8> = file.networks.iter().filter_map(|n| n.subnet).collect();
            let subnet = lowest_free(1..=254, &taken).ok_or_else(|| {
                Error::Conflict(
                    "all 254 network subnets (10.89.1.0/24 to 10.89.254.0/24) are in use: \
                     remove a network first"
                        .into(),
                )
            })?;
            let record = NetworkRecord {
                id: wharf_containers::new_id(),
                name: name.to_string(),
                driver: "bridge".into(),
                created: wharf_containers::now_rfc3339(),
                labels,
                members: BTreeMap::new(),
                subnet: Some(subnet),
                addresses: BTreeMap::new(),
            };
            file.networks.push(record.clone());
            Ok(record)
        })?;
        self.to_api(&record)
    }

    /// Every network: the builtin ones, then user networks by name.
    pub fn networks(&self) -> Result<Vec<api::Network>, Error> {
        let mut all: Vec<api::Network> = BUILTIN.iter().map(|n| builtin(n)).collect();
        let mut file = self.read_networks()?;
        file.networks.sort_by(|a, b| a.name.cmp(&b.name));
        for record in &file.networks {
            all.push(self.to_api(record)?);
        }
        Ok(all)
    }

    /// Network `name_or_id`: its name, ID or an ID prefix.
    pub fn network(&self, name_or_id: &str) -> Result<api::Network, Error> {
        if let Some(name) = BUILTIN
            .iter()
            .find(|n| **n == name_or_id || builtin_id(n).starts_with(name_or_id))
        {
            return Ok(builtin(name));
        }
        let file = self.read_networks()?;
        let record = find(&file, name_or_id)?;
        self.to_api(record)
    }

    /// Removes user network `name_or_id`; one with running containers is refused.
    pub fn remove_network(&self, name_or_id: &str) -> Result<(), Error> {
        if BUILTIN.contains(&name_or_id) {
            return Err(Error::Conflict(format!(
                "{name_or_id} is a pre-defined network and cannot be removed"
            )));
        }
        let live = self.live_containers()?;
        self.update_networks(|file| {
            let record = find(file, name_or_id)?.clone();
            if let Some(id) = record.members.keys().find(|id| live.contains(*id)) {
                return Err(Error::Conflict(format!(
                    "error while removing network: network {} has active endpoints (container {})",
                    record.name,
                    wharf_containers::short_id(id)
                )));
            }
            file.networks.retain(|n| n.id != record.id);
            Ok(())
        })
    }

    /// Puts container `container` on network `network` with `aliases` (again: its aliases are
    /// replaced, as compose's disconnect-then-connect expects).
    pub fn connect_network(
        &self,
        network: &str,
        container: &str,
        aliases: &[String],
    ) -> Result<(), Error> {
        self.change_members(network, container, |record, id| {
            record.members.insert(id.to_string(), aliases.to_vec());
            if !record.addresses.contains_key(id) {
                let taken: Vec<u8> = record.addresses.values().copied().collect();
                // .1 is the gateway Docker shows; a full /24 leaves the member without one.
                if let Some(host) = lowest_free(2..=254, &taken) {
                    record.addresses.insert(id.to_string(), host);
                }
            }
        })
    }

    /// Takes container `container` off network `network` (nothing to do when it is not on it).
    pub fn disconnect_network(&self, network: &str, container: &str) -> Result<(), Error> {
        self.change_members(network, container, |record, id| {
            record.members.remove(id);
            record.addresses.remove(id);
        })
    }

    /// Applies `change` to the members of user network `network`, for container `container`
    /// (a builtin network keeps no members: there is nothing to change).
    fn change_members(
        &self,
        network: &str,
        container: &str,
        change: impl FnOnce(&mut NetworkRecord, &str),
    ) -> Result<(), Error> {
        if BUILTIN.contains(&network) {
            return Ok(());
        }
        let (c, _) = self.container(container)?;
        self.update_networks(|file| {
            let name = find(file, network)?.name.clone();
            if let Some(record) = file.networks.iter_mut().find(|n| n.name == name) {
                change(record, &c.config.id);
            }
            Ok(())
        })
    }

    /// Removes every user network no container is on; returns their names.
    pub fn prune_networks(&self) -> Result<Vec<String>, Error> {
        let existing = self.container_ids()?;
        self.update_networks(|file| {
            let (unused, kept): (Vec<_>, Vec<_>) = file
                .networks
                .drain(..)
                .partition(|n| !n.members.keys().any(|id| existing.contains(id)));
            file.networks = kept;
            Ok(unused.into_iter().map(|n| n.name).collect())
        })
    }

    /// The networks container `id` is on, as `NetworkSettings.Networks` shows them: its user
    /// networks with its aliases, else the network of its mode (`bridge`, `host`, `none`).
    pub(crate) fn endpoints_of(
        &self,
        id: &str,
        mode: &str,
    ) -> Result<HashMap<String, api::EndpointSettings>, Error> {
        let file = self.read_networks()?;
        let mut endpoints: HashMap<String, api::EndpointSettings> = file
            .networks
            .iter()
            .filter_map(|n| {
                let aliases = n.members.get(id)?;
                let address = n.address_of(id);
                let endpoint = api::EndpointSettings {
                    network_id: Some(n.id.clone()),
                    endpoint_id: Some(id.to_string()),
                    aliases: Some(aliases.clone()),
                    ip_address: address.map(|a| a.to_string()),
                    ip_prefix_len: address.map(|_| 24),
                    gateway: n.subnet.map(|s| Ipv4Addr::new(10, 89, s, 1).to_string()),
                    ..Default::default()
                };
                Some((n.name.clone(), endpoint))
            })
            .collect();
        if endpoints.is_empty() {
            let mode = if BUILTIN.contains(&mode) {
                mode
            } else {
                "bridge"
            };
            let endpoint = api::EndpointSettings {
                network_id: Some(builtin_id(mode)),
                endpoint_id: Some(id.to_string()),
                ..Default::default()
            };
            endpoints.insert(mode.to_string(), endpoint);
        }
        Ok(endpoints)
    }

    fn container_ids(&self) -> Result<Vec<String>, Error> {
        Ok(self
            .list_containers(true)?
            .0
            .into_iter()
            .map(|c| c.config.id)
            .collect())
    }

    fn live_containers(&self) -> Result<Vec<String>, Error> {
        Ok(self
            .list_containers(false)?
            .0
            .into_iter()
            .map(|c| c.config.id)
            .collect())
    }

    fn to_api(&self, record: &NetworkRecord) -> Result<api::Network, Error> {
        let (containers, _) = self.list_containers(true)?;
        let members: HashMap<String, api::NetworkContainer> = containers
            .iter()
            .filter(|c| record.members.contains_key(&c.config.id))
            .map(|c| {
                let member = api::NetworkContainer {
                    name: Some(c.config.name.clone()),
                    endpoint_id: Some(c.config.id.clone()),
                    ipv4_address: record.address_of(&c.config.id).map(|a| format!("{a}/24")),
                    ..Default::default()
                };
                (c.config.id.clone(), member)
            })
            .collect();
        Ok(api::Network {
            name: Some(record.name.clone()),
            id: Some(record.id.clone()),
            created: Some(record.created.clone()),
            scope: Some("local".into()),
            driver: Some(record.driver.clone()),
            attachable: Some(true),
            internal: Some(false),
            enable_ipv6: Some(false),
            containers: Some(members),
            options: Some(HashMap::new()),
            labels: Some(record.labels.clone().into_iter().collect()),
            ipam: Some(api::Ipam {
                driver: Some("default".into()),
                config: Some(
                    record
                        .subnet
                        .map(|s| api::IpamConfig {
                            subnet: Some(format!("10.89.{s}.0/24")),
                            gateway: Some(format!("10.89.{s}.1")),
                            ..Default::default()
                        })
                        .into_iter()
                        .collect(),
                ),
                ..Default::default()
            }),
            ..Default::default()
        })
    }
}

fn find<'a>(file: &'a NetworkFile, name_or_id: &str) -> Result<&'a NetworkRecord, Error> {
    file.networks
        .iter()
        .find(|n| n.name == name_or_id || n.id == name_or_id)
        .or_else(|| {
            let mut by_prefix = file
                .networks
                .iter()
                .filter(|n| n.id.starts_with(name_or_id));
            match (by_prefix.next(), by_prefix.next()) {
                (Some(one), None) if !name_or_id.is_empty() => Some(one),
                _ => None,
            }
        })
        .ok_or_else(|| Error::NotFound(format!("network {name_or_id} not found")))
}

fn builtin(name: &str) -> api::Network {
    api::Network {
        name: Some(name.to_string()),
        id: Some(builtin_id(name)),
        scope: Some("local".into()),
        driver: Some(if name == "none" { "null" } else { name }.to_string()),
        attachable: Some(false),
        internal: Some(false),
        containers: Some(HashMap::new()),
        options: Some(HashMap::new()),
        labels: Some(HashMap::new()),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_are_made_found_and_removed_by_name_or_id() {
        let tmp = tempfile::tempdir().unwrap();
        let wharf = Wharf::open(crate::Root::open(tmp.path().join("root")).unwrap()).unwrap();
        let labels =
            BTreeMap::from([("com.docker.compose.project".to_string(), "proj".to_string())]);
        let made = wharf.create_network("proj_default", None, labels).unwrap();
        let id = made.id.clone().unwrap();
        assert_eq!(
            wharf.network(&id[..8]).unwrap().name.as_deref(),
            Some("proj_default")
        );
        assert_eq!(
            wharf
                .create_network("proj_default", None, BTreeMap::new())
                .unwrap_err()
                .kind(),
            crate::ErrorKind::Conflict
        );
        assert!(wharf
            .create_network("x", Some("overlay"), BTreeMap::new())
            .is_err());
        let names: Vec<_> = wharf
            .networks()
            .unwrap()
            .into_iter()
            .filter_map(|n| n.name)
            .collect();
        assert_eq!(names, ["bridge", "host", "none", "proj_default"]);
        assert_eq!(
            wharf.network("nosuch").unwrap_err().kind(),
            crate::ErrorKind::NotFound
        );
        assert!(wharf.remove_network("bridge").is_err());
        wharf.remove_network("proj_default").unwrap();
        assert_eq!(wharf.networks().unwrap().len(), 3);
    }
}
