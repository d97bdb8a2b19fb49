//! User networks (`docker network create`, compose's project network): which containers are
//! on which network, under which aliases. `bridge`, `host` and `none` always exist (they are
//! the sandbox's network modes); user networks are records in `<root>/networks.json`, changed
//! under `networks.lock` by whichever wharf process changes them.
//!
//! A guest's traffic is still the bridge mode's (its own port space, outgoing connections
//! allowed); reaching another member by name is the design ARCHITECTURE.md describes, not
//! built yet.

use std::collections::{BTreeMap, HashMap};

use crate::docker::api;
use crate::{Error, Wharf};

/// The networks every wharf has, as Docker names them.
const BUILTIN: &[&str] = &["bridge", "host", "none"];

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct NetworkRecord {
    id: String,
    name: String,
    driver: String,
    created: String,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    /// Container ID to its aliases on this network.
    #[serde(default)]
    members: BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct NetworkFile {
    #[serde(default)]
    networks: Vec<NetworkRecord>,
}

/// A builtin network's fixed ID (64 hex digits derived from its name).
fn builtin_id(name: &str) -> String {
    wharf_store::Digest::of(format!("wharf-network-{name}").as_bytes())
        .hex()
        .to_string()
}

impl Wharf {
    fn network_file(&self) -> std::path::PathBuf {
        self.root.path().join("networks.json")
    }

    fn read_networks(&self) -> Result<NetworkFile, Error> {
        match std::fs::read(self.network_file()) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                Error::Internal(anyhow::anyhow!(
                    "{} is damaged: {e}",
                    self.network_file().display()
                ))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(NetworkFile::default()),
            Err(e) => Err(Error::io(e)),
        }
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
            let record = NetworkRecord {
                id: wharf_containers::new_id(),
                name: name.to_string(),
                driver: "bridge".into(),
                created: wharf_containers::now_rfc3339(),
                labels,
                members: BTreeMap::new(),
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
        self.change_members(network, container, |members, id| {
            members.insert(id.to_string(), aliases.to_vec());
        })
    }

    /// Takes container `container` off network `network` (nothing to do when it is not on it).
    pub fn disconnect_network(&self, network: &str, container: &str) -> Result<(), Error> {
        self.change_members(network, container, |members, id| {
            members.remove(id);
        })
    }

    /// Applies `change` to the members of user network `network`, for container `container`
    /// (a builtin network keeps no members: there is nothing to change).
    fn change_members(
        &self,
        network: &str,
        container: &str,
        change: impl FnOnce(&mut BTreeMap<String, Vec<String>>, &str),
    ) -> Result<(), Error> {
        if BUILTIN.contains(&network) {
            return Ok(());
        }
        let (c, _) = self.container(container)?;
        self.update_networks(|file| {
            let name = find(file, network)?.name.clone();
            if let Some(record) = file.networks.iter_mut().find(|n| n.name == name) {
                change(&mut record.members, &c.config.id);
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
                let endpoint = api::EndpointSettings {
                    network_id: Some(n.id.clone()),
                    endpoint_id: Some(id.to_string()),
                    aliases: Some(aliases.clone()),
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
