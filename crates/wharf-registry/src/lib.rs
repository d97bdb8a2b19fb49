//! Pulls images from OCI registries into wharf's store and pushes them back out.
//!
//! The protocol is `oci-client`'s (the OCI distribution spec, with basic and bearer-token
//! auth); this crate decides what to fetch and send, verifies every byte against its digest
//! on the way into the store, refuses images that are not WebAssembly before downloading their
//! layers, and turns registry failures into sentences that say what to do.
//!
//! The functions are blocking: each runs its own small tokio runtime, so callers (the CLI,
//! the core) stay synchronous.

#![warn(missing_docs)]

mod auth;
mod errors;
mod pull;
mod push;

use std::sync::Arc;
use std::time::Duration;

pub use auth::{config_key, config_path, Credentials, DockerConfig};
pub use errors::Error;
pub use pull::{pull, Pulled};
pub use push::push;

use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::secrets::RegistryAuth;
use wharf_image::Reference;

/// How to talk to registries.
#[derive(Clone)]
pub struct Options {
    /// Registries (`host` or `host:port`) to reach over plain HTTP. Loopback registries
    /// (`localhost`, `127.0.0.0/8`, `[::1]`) always are, as Docker does.
    pub insecure: Vec<String>,
    /// Credentials to use; `None` reads Docker's config file.
    pub credentials: Option<Credentials>,
    /// Gives up on a registry that sends nothing for this long.
    pub timeout: Duration,
    /// The largest layer accepted, whatever its descriptor claims.
    pub max_blob_size: u64,
    /// Told about each blob's progress.
    pub progress: Arc<dyn Progress>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            insecure: Vec::new(),
            credentials: None,
            timeout: Duration::from_secs(30),
            max_blob_size: 4 << 30,
            progress: Arc::new(NoProgress),
        }
    }
}

/// What is happening to one blob during a pull or push.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlobEvent {
    /// The other side already has it: nothing to transfer.
    AlreadyExists,
    /// Transfer started; the blob has this many bytes.
    Started(u64),
    /// This many bytes have been transferred so far.
    Advanced(u64),
    /// Transferred and verified.
    Done,
}

/// Receives progress reports (the CLI draws bars or prints lines from them).
pub trait Progress: Send + Sync {
    /// `digest`'s transfer moved on.
    fn blob(&self, digest: &wharf_store::Digest, event: BlobEvent);
}

/// Reports nothing (`-q`).
pub struct NoProgress;

impl Progress for NoProgress {
    fn blob(&self, _: &wharf_store::Digest, _: BlobEvent) {}
}

/// Whether `registry` is reached over plain HTTP: loopback addresses always, others only when
/// the user lists them as insecure.
pub fn uses_plain_http(registry: &str, insecure: &[String]) -> bool {
    let host = match registry.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or_default(),
        None => registry.split(':').next().unwrap_or_default(),
    };
    let loopback = host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    loopback || insecure.iter().any(|i| i == registry || i == host)
}

/// The oci-client reference for one of ours.
fn oci_reference(reference: &Reference) -> oci_client::Reference {
    match (&reference.tag, &reference.digest) {
        (Some(tag), Some(digest)) => oci_client::Reference::with_tag_and_digest(
            reference.registry.clone(),
            reference.repository.clone(),
            tag.clone(),
            digest.clone(),
        ),
        (_, Some(digest)) => oci_client::Reference::with_digest(
            reference.registry.clone(),
            reference.repository.clone(),
            digest.clone(),
        ),
        (tag, None) => oci_client::Reference::with_tag(
            reference.registry.clone(),
            reference.repository.clone(),
            tag.clone().unwrap_or_else(|| "latest".into()),
        ),
    }
}

/// A client for `reference`'s registry and the auth to use with it.
fn client_for(
    reference: &Reference,
    options: &Options,
) -> Result<(oci_client::Client, RegistryAuth), Error> {
    // reqwest's rustls is built without a default crypto provider; install ring's once.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let registry = &reference.registry;
    let plain = uses_plain_http(registry, &options.insecure);
    let config = ClientConfig {
        protocol: if plain {
            ClientProtocol::Http
        } else {
            ClientProtocol::Https
        },
        read_timeout: Some(options.timeout),
        connect_timeout: Some(options.timeout.min(Duration::from_secs(10))),
        platform_resolver: None,
        // One PUT per blob, streamed: the chunked PATCH protocol costs a round trip and a
        // registry-side append per 4 MiB chunk (3x slower than skopeo on a 10 MB layer).
        use_monolithic_push: true,
        user_agent: concat!("wharf/", env!("CARGO_PKG_VERSION")),
        ..Default::default()
    };
    let client = oci_client::Client::try_from(config)
        .map_err(|e| Error::Registry(format!("cannot set up a client for {registry}: {e}")))?;
    let credentials = match &options.credentials {
        Some(c) => Some(c.clone()),
        None => DockerConfig::load(&config_path())?.credentials(registry)?,
    };
    let auth = match credentials {
        Some(c) => RegistryAuth::Basic(c.username, c.password),
        None => RegistryAuth::Anonymous,
    };
    Ok((client, auth))
}

fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Registry(format!("cannot start the network runtime: {e}")))
}

/// Checks that `credentials` are accepted by `registry` (what `wharf login` does before it
/// saves them).
pub fn check_login(
    registry: &str,
    credentials: &Credentials,
    options: &Options,
) -> Result<(), Error> {
    // Any repository will do: a registry that accepts the login answers 404 (or 200), one that
    // does not answers 401.
    let reference = Reference {
        registry: registry.to_string(),
        repository: "wharf/login-check".into(),
        tag: Some("latest".into()),
        digest: None,
    };
    let options = Options {
        credentials: Some(credentials.clone()),
        ..options.clone()
    };
    let (client, auth) = client_for(&reference, &options)?;
    let oci = oci_reference(&reference);
    let result = runtime()?.block_on(async {
        client
            .auth(&oci, &auth, oci_client::RegistryOperation::Pull)
            .await?;
        client.fetch_manifest_digest(&oci, &auth).await.map(|_| ())
    });
    match result.map_err(|e| errors::from_oci(e, &reference)) {
        Ok(()) | Err(Error::NotFound(_)) => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_only_for_loopback_and_listed_registries() {
        assert!(uses_plain_http("localhost:5000", &[]));
        assert!(uses_plain_http("127.0.0.1:5000", &[]));
        assert!(uses_plain_http("127.1.2.3", &[]));
        assert!(uses_plain_http("[::1]:5000", &[]));
        assert!(!uses_plain_http("docker.io", &[]));
        assert!(!uses_plain_http("10.0.0.5:5000", &[]));
        assert!(!uses_plain_http("localhost.example.com", &[]));
        assert!(uses_plain_http("10.0.0.5:5000", &["10.0.0.5:5000".into()]));
        assert!(uses_plain_http("reg.lan:5000", &["reg.lan".into()]));
        assert!(!uses_plain_http("reg.lan:5000", &["other.lan".into()]));
    }
}
