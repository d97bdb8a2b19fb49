//! Named volumes (`-v NAME:/path`, `--mount type=volume`, `docker volume`): directories under
//! wharf's root, created on first use and kept until removed. A volume is a directory
//! `<root>/volumes/NAME/_data` beside its `volume.json` (labels, creation time); a container
//! mounts `_data` as a bind mount, so the sandbox grants it like any other directory.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::docker::api;
use crate::{Error, Mount, Wharf};

/// What `volume.json` keeps.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct VolumeFile {
    created_at: String,
    #[serde(default)]
    labels: BTreeMap<String, String>,
}

/// Whether `source` (the left of `-v SOURCE:/path`) names a volume rather than a host path:
/// Docker's rule, a name that is not a path.
pub fn names_a_volume(source: &str) -> bool {
    !source.is_empty()
        && !source.starts_with('/')
        && !source.starts_with('.')
        && !source.contains('/')
}

fn check_name(name: &str) -> Result<(), Error> {
    let ok = name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
        && name
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric());
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidArgument(format!(
            "invalid volume name {name:?}: use letters, digits, '_', '.' and '-', starting with a letter or digit"
        )))
    }
}

impl Wharf {
    fn volumes_dir(&self) -> PathBuf {
        self.root.path().join("volumes")
    }

    fn volume_dir(&self, name: &str) -> PathBuf {
        self.volumes_dir().join(name)
    }

    /// Creates volume `name` (a random one when `None`); an existing volume is returned as it
    /// is (Docker's `volume create` of a taken name).
    pub fn create_volume(
        &self,
        name: Option<&str>,
        labels: BTreeMap<String, String>,
    ) -> Result<api::Volume, Error> {
        let name = match name.filter(|n| !n.is_empty()) {
            Some(name) => name.to_string(),
            None => wharf_containers::new_id(),
        };
        check_name(&name)?;
        let dir = self.volume_dir(&name);
        if !dir.join("volume.json").exists() {
            std::fs::create_dir_all(dir.join("_data")).map_err(Error::io)?;
            let file = VolumeFile {
                created_at: wharf_containers::now_rfc3339(),
                labels,
            };
            let bytes = serde_json::to_vec(&file).map_err(|e| Error::Internal(e.into()))?;
            wharf_root::write_atomic_durable(&dir.join("volume.json"), &bytes)
                .map_err(Error::io)?;
        }
        self.volume(&name)
    }

    /// Volume `name` as `GET /volumes/{name}` describes it.
    pub fn volume(&self, name: &str) -> Result<api::Volume, Error> {
        check_name(name).map_err(|_| Error::NotFound(format!("no such volume: {name}")))?;
        let dir = self.volume_dir(name);
        let file: VolumeFile = std::fs::read(dir.join("volume.json"))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or_else(|| Error::NotFound(format!("no such volume: {name}")))?;
        Ok(api::Volume {
            name: name.to_string(),
            driver: "local".into(),
            mountpoint: dir.join("_data").to_string_lossy().into_owned(),
            created_at: Some(file.created_at),
            labels: file.labels.into_iter().collect(),
            scope: Some(api::VolumeScopeEnum::LOCAL),
            options: Default::default(),
            ..Default::default()
        })
    }

    /// Every volume, by name.
    pub fn volumes(&self) -> Result<Vec<api::Volume>, Error> {
        let mut names: Vec<String> = match std::fs::read_dir(self.volumes_dir()) {
            Ok(entries) => entries
                .flatten()
                .filter_map(|e| e.file_name().into_string().ok())
                .collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(Error::io(e)),
        };
        names.sort();
        Ok(names.iter().filter_map(|n| self.volume(n).ok()).collect())
    }

    /// The containers that mount volume `name`.
    fn volume_users(&self, name: &str) -> Result<Vec<String>, Error> {
        let data = self.volume_dir(name).join("_data");
        // Containers record their mounts' hosts canonical.
        let data = data.canonicalize().unwrap_or(data);
        let data = data.to_string_lossy();
        let (containers, _) = self.list_containers(true)?;
        Ok(containers
            .into_iter()
            .filter(|c| c.config.mounts.iter().any(|m| m.host == data))
            .map(|c| c.config.id)
            .collect())
    }

    /// Removes volume `name` and its files; one a container uses is refused unless `force`.
    pub fn remove_volume(&self, name: &str, force: bool) -> Result<(), Error> {
        self.volume(name)?;
        let users = self.volume_users(name)?;
        if !users.is_empty() && !force {
            return Err(Error::Conflict(format!(
                "volume {name} is in use by container {}; remove the container first",
                wharf_containers::short_id(&users[0])
            )));
        }
        let dir = self.volume_dir(name);
        // Renamed away first: a half-deleted volume is never seen under its name.
        let doomed = self.volumes_dir().join(wharf_root::temporary_name(name));
        std::fs::rename(&dir, &doomed).map_err(Error::io)?;
        std::fs::remove_dir_all(&doomed).map_err(Error::io)
    }

    /// Removes the anonymous volumes no container uses, and with `all` the named ones too
    /// (Docker 23's `volume prune` and `prune -a`); returns their names and the bytes freed.
    pub fn prune_volumes(&self, all: bool) -> Result<(Vec<String>, u64), Error> {
        let mut removed = Vec::new();
        let mut freed = 0;
        for volume in self.volumes()? {
            let anonymous = volume.labels.contains_key(ANONYMOUS);
            if (all || anonymous) && self.volume_users(&volume.name)?.is_empty() {
                let size = size_of_tree(Path::new(&volume.mountpoint));
                self.remove_volume(&volume.name, false)?;
                freed += size;
                removed.push(volume.name);
            }
        }
        Ok((removed, freed))
    }

    /// `-v SOURCE:/path[:ro]` (`HostConfig.Binds`) as a mount: a host directory, or a named
    /// volume, created on first use; `-v /path` alone is an anonymous volume, which `rm -v`
    /// removes with its container.
    pub fn bind_mount(&self, spec: &str) -> Result<Mount, Error> {
        if spec.starts_with('/') && !spec.contains(':') {
            let labels = BTreeMap::from([(ANONYMOUS.to_string(), String::new())]);
            let volume = self.create_volume(None, labels)?;
            return Mount::parse(&format!("{}:{spec}", volume.mountpoint))
                .map_err(Error::InvalidArgument);
        }
        let source = spec.split(':').next().unwrap_or("");
        if !names_a_volume(source) {
            return Mount::parse(spec).map_err(Error::InvalidArgument);
        }
        let volume = self.create_volume(Some(source), BTreeMap::new())?;
        let rest = &spec[source.len()..];
        Mount::parse(&format!("{}{rest}", volume.mountpoint)).map_err(Error::InvalidArgument)
    }

    /// Removes container `name_or_id` (as [`Wharf::remove_container`]) and, with `volumes`,
    /// the anonymous volumes it mounted that no other container uses (`rm -v`); named volumes
    /// stay, as Docker keeps them.
    pub fn remove_container_with_volumes(
        &self,
        name_or_id: &str,
        force: bool,
        volumes: bool,
    ) -> Result<String, Error> {
        let mounted = match volumes {
            true => self.container(name_or_id)?.0.config.mounts,
            false => Vec::new(),
        };
        let id = self.remove_container(name_or_id, force)?;
        let root = self.root.path().canonicalize().map_err(Error::io)?;
        for mount in mounted {
            let Some(name) = volume_of(&root, &mount.host) else {
                continue;
            };
            let anonymous = self
                .volume(&name)
                .is_ok_and(|v| v.labels.contains_key(ANONYMOUS));
            if anonymous && self.volume_users(&name)?.is_empty() {
                self.remove_volume(&name, false)?;
            }
        }
        Ok(id)
    }
}

/// The label of a volume made for `-v /path` (Docker's own).
const ANONYMOUS: &str = "com.docker.volume.anonymous";

/// The bytes of the files under `dir` (symbolic links are not followed).
pub(crate) fn size_of_tree(dir: &Path) -> u64 {
    let mut total = 0;
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            match entry.metadata() {
                Ok(m) if m.is_dir() => dirs.push(entry.path()),
                Ok(m) => total += m.len(),
                Err(_) => {}
            }
        }
    }
    total
}

/// Whether `path` is the data directory of a volume under `root` (for `rm -v`).
pub(crate) fn volume_of(root: &Path, path: &str) -> Option<String> {
    let rest = Path::new(path).strip_prefix(root.join("volumes")).ok()?;
    let mut parts = rest.components();
    let name = parts.next()?.as_os_str().to_str()?.to_string();
    (parts.next()?.as_os_str() == "_data" && parts.next().is_none()).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_volume_is_made_on_first_use_kept_and_removed_when_unused() {
        let tmp = tempfile::tempdir().unwrap();
        let wharf = Wharf::open(crate::Root::open(tmp.path().join("root")).unwrap()).unwrap();
        assert!(names_a_volume("data") && !names_a_volume("./data") && !names_a_volume("/x"));
        let mount = wharf.bind_mount("data:/var/data:ro").unwrap();
        assert!(mount.read_only && mount.guest == "/var/data");
        assert!(
            mount.host.ends_with("volumes/data/_data"),
            "{:?}",
            mount.host
        );
        std::fs::write(mount.host.join("kept"), "x").unwrap();
        // Made again: the same volume, its files kept.
        let again = wharf.create_volume(Some("data"), BTreeMap::new()).unwrap();
        assert!(Path::new(&again.mountpoint).join("kept").exists());
        assert_eq!(wharf.volumes().unwrap().len(), 1);
        assert_eq!(
            volume_of(wharf.root().path(), &again.mountpoint).as_deref(),
            Some("data")
        );
        assert!(wharf.create_volume(Some("../x"), BTreeMap::new()).is_err());
        let anonymous = wharf.bind_mount("/scratch").unwrap();
        std::fs::write(anonymous.host.join("f"), "12345").unwrap();
        let (pruned, freed) = wharf.prune_volumes(false).unwrap();
        assert_eq!((pruned.len(), freed), (1, 5), "only the anonymous one");
        assert_eq!(wharf.prune_volumes(true).unwrap().0, ["data"]);
        assert_eq!(
            wharf.volume("data").unwrap_err().kind(),
            crate::ErrorKind::NotFound
        );
    }
}
