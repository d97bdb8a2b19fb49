//! What wharf's root holds, as `docker system df` shows it, and `system prune`. Compiled code
//! (the AOT cache) is wharf's build cache: counted, bounded and pruned with images.

use std::collections::BTreeSet;

use crate::docker::api;
use crate::{Digest, Error, Wharf};

/// The AOT cache's default bound (`WHARF_AOT_CACHE_SIZE` changes it, e.g. `1g`).
pub(crate) const DEFAULT_CACHE_LIMIT: u64 = 4 << 30;

/// What `wharf system prune` removed.
#[derive(Debug, Default)]
pub struct SystemPrune {
    /// Stopped containers.
    pub containers: Vec<String>,
    /// Networks no container is on.
    pub networks: Vec<String>,
    /// Volumes (only when asked).
    pub volumes: Vec<String>,
    /// Images, as `image prune` reports them.
    pub images: api::ImagePruneResponse,
    /// Compiled-code entries removed.
    pub compiled: usize,
    /// Bytes freed, all of it together.
    pub reclaimed: u64,
}

impl Wharf {
    /// Images, containers and volumes with their sizes (`GET /system/df`, `wharf system df`).
    pub fn disk_usage(&self) -> Result<api::SystemDataUsageResponse, Error> {
        let containers = self.list_containers(true)?.0;
        let images = self.images()?;
        let mut volumes = self.volumes()?;
        let layers = images.iter().map(|i| i.size).sum();
        for volume in &mut volumes {
            let data = volume.mountpoint.clone();
            let users = containers
                .iter()
                .filter(|c| c.config.mounts.iter().any(|m| m.host == data))
                .count();
            volume.usage_data = Some(api::VolumeUsageData {
                size: crate::volumes::size_of_tree(std::path::Path::new(&data)) as i64,
                ref_count: users as i64,
            });
        }
        Ok(api::SystemDataUsageResponse {
            layers_size: Some(layers),
            images: Some(images),
            containers: Some(
                containers
                    .iter()
                    .map(crate::docker::container_summary)
                    .collect(),
            ),
            volumes: Some(volumes),
            build_cache: Some(self.compiled_code()?),
        })
    }

    /// The AOT cache's entries as Docker's build cache records: in use while a stored image
    /// has the layer it was compiled from.
    fn compiled_code(&self) -> Result<Vec<api::BuildCache>, Error> {
        let layers = self.stored_blob_hexes()?;
        let time = |t: std::time::SystemTime| humantime::format_rfc3339(t).to_string();
        Ok(self
            .cache
            .entries()
            .into_iter()
            .map(|entry| {
                let layer = format!("sha256:{}", entry.sha256_hex);
                let in_use = layers.contains(&entry.sha256_hex);
                api::BuildCache {
                    id: Some(entry.sha256_hex.clone()),
                    typ: Some(api::BuildCacheTypeEnum::REGULAR),
                    description: Some(format!("compiled code of {layer}")),
                    in_use: Some(in_use),
                    shared: Some(false),
                    size: Some(entry.bytes as i64),
                    created_at: Some(time(entry.last_used)),
                    last_used_at: Some(time(entry.last_used)),
                    ..Default::default()
                }
            })
            .collect())
    }

    /// What `docker info` (`GET /info`, `wharf info`) shows: counts, versions, the machine.
    pub fn system_info(&self) -> Result<api::SystemInfo, Error> {
        let root = self.root().path().to_string_lossy().into_owned();
        let (containers, images) = (self.list_containers(true)?.0, self.images()?);
        let running = containers
            .iter()
            .filter(|c| c.state.status.is_live())
            .count() as i64;
        let (kernel, hostname) = (crate::docker::kernel_release(), host_name());
        let memory = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|m| {
                m.lines()
                    .find_map(|l| l.strip_prefix("MemTotal:"))
                    .and_then(|kb| kb.trim().trim_end_matches("kB").trim().parse::<i64>().ok())
            })
            .map_or(0, |kb| kb * 1024);
        Ok(api::SystemInfo {
            id: Some(format!("wharf:{root}")),
            containers: Some(containers.len() as i64),
            containers_running: Some(running),
            containers_paused: Some(0),
            containers_stopped: Some(containers.len() as i64 - running),
            images: Some(images.len() as i64),
            driver: Some("wharf".into()),
            docker_root_dir: Some(root),
            logging_driver: Some("json-file".into()),
            cgroup_driver: Some(api::SystemInfoCgroupDriverEnum::NONE),
            kernel_version: Some(kernel),
            operating_system: Some("wharf (WebAssembly)".into()),
            os_type: Some("linux".into()),
            architecture: Some(std::env::consts::ARCH.into()),
            ncpu: Some(std::thread::available_parallelism().map_or(1, |n| n.get() as i64)),
            mem_total: Some(memory),
            name: Some(hostname),
            server_version: Some(env!("CARGO_PKG_VERSION").into()),
            default_runtime: Some("wharf".into()),
            runtimes: Some(
                [("wharf".to_string(), api::Runtime::default())]
                    .into_iter()
                    .collect(),
            ),
            experimental_build: Some(false),
            ..Default::default()
        })
    }

    /// The compiled code the AOT cache holds: entries and bytes (`wharf info`), without the
    /// tree walks of [`Wharf::disk_usage`].
    pub fn compiled_code_usage(&self) -> (usize, u64) {
        let entries = self.cache.entries();
        (entries.len(), entries.iter().map(|e| e.bytes).sum())
    }

    /// The hex digest of every blob a stored image refers to: what compiled code is keyed by.
    fn stored_blob_hexes(&self) -> Result<BTreeSet<String>, Error> {
        let blobs = self.store()?.index()?.referenced_blobs();
        Ok(blobs.iter().map(|d| d.hex().to_string()).collect())
    }

    /// Removes the compiled code of `layers` (blobs no stored image refers to any more);
    /// returns the entries and bytes removed.
    pub(crate) fn forget_compiled(&self, layers: &BTreeSet<Digest>) -> (usize, u64) {
        if layers.is_empty() {
            return (0, 0);
        }
        let hexes: BTreeSet<&str> = layers.iter().map(|d| d.hex()).collect();
        self.cache
            .remove_entries(|e| hexes.contains(e.sha256_hex.as_str()))
    }

    /// `wharf system prune [-a] [--volumes]`: stopped containers, unused networks, dangling
    /// (with `all`: unused) images, anonymous volumes when asked, and compiled code that no
    /// stored image's layer is behind (files' code is compiled again on their next run).
    pub fn prune_system(&self, all: bool, volumes: bool) -> Result<SystemPrune, Error> {
        let containers = self.prune_containers()?;
        let networks = self.prune_networks()?;
        let (volumes, volume_bytes) = match volumes {
            true => self.prune_volumes(false)?,
            false => (Vec::new(), 0),
        };
        let images = self.prune_images(all)?;
        let layers = self.stored_blob_hexes()?;
        let (compiled, code_bytes) = self
            .cache
            .remove_entries(|e| !layers.contains(&e.sha256_hex));
        let reclaimed =
            images.space_reclaimed.unwrap_or(0).max(0) as u64 + volume_bytes + code_bytes;
        Ok(SystemPrune {
            containers,
            networks,
            volumes,
            images,
            compiled,
            reclaimed,
        })
    }
}

/// The machine's name, as `uname -n` gives it.
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap_or_default()
        .trim()
        .to_string()
}
