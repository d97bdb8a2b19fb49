//! What wharf's root holds, as `docker system df` shows it.

use crate::docker::api;
use crate::{Error, Wharf};

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
            build_cache: Some(Vec::new()),
        })
    }
}
