//! Registries: pull, push, login and logout.

use wharf_image::Reference;
use wharf_registry::{Credentials, DockerConfig};
use wharf_store::Digest;

use crate::images::resolve;
use crate::{Error, Wharf};

pub use wharf_registry::{BlobEvent, NoProgress, Options as RegistryOptions, Progress, Pulled};

/// What a push sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pushed {
    /// The manifest digest.
    pub digest: Digest,
    /// The manifest's size in bytes.
    pub size: u64,
}

impl Wharf {
    /// Pulls an image (`docker pull`, `POST /images/create`): fetches `reference` into the store and tags it.
    pub fn pull(&self, reference: &str, options: &RegistryOptions) -> Result<Pulled, Error> {
        let parsed = Reference::parse(reference).map_err(Error::InvalidArgument)?;
        let store = self.store()?;
        let _writing = store.writing()?;
        let pulled = wharf_registry::pull(&store, &parsed, options)?;
        self.image_event("pull", &parsed.to_string(), Some(&parsed.familiar_name()));
        Ok(pulled)
    }

    /// Pushes an image (`docker push`, `POST /images/{name}/push`): sends the stored image `reference` to the registry its name points at.
    /// Returns what was pushed: the manifest digest, which is the same on both sides, and the
    /// manifest's size (what `docker push` reports).
    pub fn push(&self, reference: &str, options: &RegistryOptions) -> Result<Pushed, Error> {
        let target = Reference::parse(reference).map_err(Error::InvalidArgument)?;
        if target.digest.is_some() {
            return Err(Error::InvalidArgument(format!(
                "cannot push to a digest ({target}); push a tag"
            )));
        }
        let store = self.store()?;
        let index = store.index()?;
        let digest = resolve(&index, reference)
            .map_err(|_| Error::NotFound(format!("no such image: {reference}")))?;
        wharf_registry::push(&store, &digest, &target, options)?;
        let size = std::fs::metadata(store.blob_path(&digest)).map_or(0, |m| m.len());
        self.image_event("push", &target.to_string(), Some(&target.familiar_name()));
        Ok(Pushed { digest, size })
    }

    /// Checks `credentials` against `registry` (default Docker Hub) and keeps nothing
    /// (`POST /auth`). Returns the registry as normalized.
    pub fn check_login(
        &self,
        registry: Option<&str>,
        credentials: &Credentials,
        options: &RegistryOptions,
    ) -> Result<String, Error> {
        let registry = normalize_registry(registry);
        wharf_registry::check_login(&registry, credentials, options)?;
        Ok(registry)
    }

    /// Logs in (`docker login`): [`Wharf::check_login`], then saves the credentials in the
    /// caller's Docker config file (`$DOCKER_CONFIG/config.json`), as the docker CLI does.
    /// Returns the file's path.
    pub fn login(
        &self,
        registry: Option<&str>,
        credentials: &Credentials,
        options: &RegistryOptions,
    ) -> Result<std::path::PathBuf, Error> {
        let registry = self.check_login(registry, credentials, options)?;
        let path = wharf_registry::config_path();
        let mut config = DockerConfig::load(&path)?;
        config.set_credentials(&registry, credentials);
        config.save()?;
        Ok(path)
    }

    /// Logs out (`docker logout`): forgets the login for `registry`; returns whether there was one.
    pub fn logout(&self, registry: Option<&str>) -> Result<bool, Error> {
        let registry = normalize_registry(registry);
        let path = wharf_registry::config_path();
        let mut config = DockerConfig::load(&path)?;
        let removed = config.remove_credentials(&registry);
        if removed {
            config.save()?;
        }
        Ok(removed)
    }
}

/// `host[:port]` from what the user typed (`https://host:port/`, `host`, nothing for Docker Hub).
pub fn normalize_registry(registry: Option<&str>) -> String {
    let Some(registry) = registry else {
        return wharf_image::DEFAULT_REGISTRY.to_string();
    };
    let host = registry
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap_or_default();
    match host {
        "index.docker.io" | "registry-1.docker.io" => wharf_image::DEFAULT_REGISTRY.to_string(),
        other => other.to_string(),
    }
}
