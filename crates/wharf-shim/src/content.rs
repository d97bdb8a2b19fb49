//! containerd's content store, read for what a task's image says beyond its rootfs: the Wasm
//! layer of a Wasm-layer image (containerd 1.6.25+, 1.7.7+ and 2.x start such a task with an
//! empty rootfs) and the ports the image EXPOSEs.
//!
//! The path is runwasi's: Containers.Get (the container's image) → Images.Get (its top
//! document) → Content.Read of each blob. What the documents mean is the core's
//! ([`wharf_core::read_image_facts`]); this module only speaks containerd's gRPC.

use std::path::PathBuf;
use std::time::Duration;

use containerd_client::services::v1::containers_client::ContainersClient;
use containerd_client::services::v1::content_client::ContentClient;
use containerd_client::services::v1::images_client::ImagesClient;
use containerd_client::services::v1::{GetContainerRequest, GetImageRequest, ReadContentRequest};
use containerd_client::tonic::transport::Channel;
use containerd_client::tonic::Request;
use containerd_client::with_namespace;
use wharf_core::{BlobRef, ImageFacts};

/// How long one call to containerd may take: a task must not hang on a stuck daemon.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// containerd's gRPC API, as the shim's `-address` and `-namespace` flags name it.
#[derive(Debug, Clone)]
pub struct ContentStore {
    address: PathBuf,
    namespace: String,
}

impl ContentStore {
    /// The store of the containerd at `address` (its gRPC socket), in `namespace`.
    pub fn new(address: &str, namespace: &str) -> ContentStore {
        ContentStore {
            address: PathBuf::from(address.strip_prefix("unix://").unwrap_or(address)),
            namespace: namespace.to_string(),
        }
    }

    /// What the image of container `id` says; `None` when the container names no image
    /// (`ctr run --rootfs`).
    pub fn image_facts(&self, id: &str) -> Result<Option<ImageFacts>, String> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        let ns = self.namespace.as_str();
        let (channel, target) = runtime.block_on(async {
            let channel = timed(async {
                containerd_client::connect(&self.address)
                    .await
                    .map_err(|e| format!("cannot reach containerd at {:?}: {e}", self.address))
            })
            .await?;
            let request = with_namespace!(GetContainerRequest { id: id.into() }, ns);
            let container = timed(async {
                let reply = ContainersClient::new(channel.clone()).get(request).await;
                reply.map_err(|e| format!("container {id}: {}", e.message()))
            })
            .await?;
            let image = container.into_inner().container.unwrap_or_default().image;
            if image.is_empty() {
                return Ok::<_, String>((channel, None));
            }
            let request = with_namespace!(
                GetImageRequest {
                    name: image.clone()
                },
                ns
            );
            let found = timed(async {
                let reply = ImagesClient::new(channel.clone()).get(request).await;
                reply.map_err(|e| format!("image {image}: {}", e.message()))
            })
            .await?;
            let target = found.into_inner().image.and_then(|i| i.target);
            let target = target.ok_or(format!("image {image} has no target"))?;
            Ok((
                channel,
                Some(BlobRef {
                    digest: target.digest,
                    media_type: target.media_type,
                    size: u64::try_from(target.size).unwrap_or(0),
                }),
            ))
        })?;
        let Some(target) = target else {
            return Ok(None);
        };
        let mut read = |blob: &BlobRef| runtime.block_on(read_blob(&channel, ns, blob));
        wharf_core::read_image_facts(&target, &mut read)
            .map(Some)
            .map_err(|e| e.to_string())
    }
}

/// One blob's bytes, read in the chunks containerd streams.
async fn read_blob(channel: &Channel, ns: &str, blob: &BlobRef) -> Result<Vec<u8>, String> {
    let request = ReadContentRequest {
        digest: blob.digest.clone(),
        offset: 0,
        size: 0,
    };
    let request = with_namespace!(request, ns);
    timed(async {
        let mut stream = ContentClient::new(channel.clone())
            .read(request)
            .await
            .map_err(|e| e.message().to_string())?
            .into_inner();
        let mut bytes = Vec::with_capacity(usize::try_from(blob.size).unwrap_or(0));
        while let Some(chunk) = stream
            .message()
            .await
            .map_err(|e| e.message().to_string())?
        {
            // The descriptor's size bounds what is read; the core checks the digest.
            if (bytes.len() + chunk.data.len()) as u64 > blob.size {
                return Err("the content store holds more than its descriptor says".into());
            }
            bytes.extend_from_slice(&chunk.data);
        }
        Ok(bytes)
    })
    .await
}

async fn timed<T>(call: impl std::future::Future<Output = Result<T, String>>) -> Result<T, String> {
    tokio::time::timeout(CALL_TIMEOUT, call)
        .await
        .unwrap_or_else(|_| Err(format!("containerd did not answer within {CALL_TIMEOUT:?}")))
}
