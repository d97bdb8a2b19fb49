//! What Docker says around a pull, in order: each message is a line of `docker pull` and a
//! JSON line of `POST /images/create`. (Per-blob progress comes as `BlobEvent`s.)

use wharf_image::Reference;
use wharf_store::Digest;

use super::api;
use crate::Pulled;

/// One of Docker's pull messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PullMessage {
    /// The reference named no tag: `latest` is used.
    DefaultTag,
    /// The pull begins: `TAG: Pulling from REPOSITORY`.
    PullingFrom {
        /// The tag (or digest) pulled.
        what: String,
        /// The repository pulled from.
        repository: String,
    },
    /// The image's manifest digest.
    Digest(Digest),
    /// How it ended: newer image downloaded, or up to date.
    Status {
        /// The image as Docker names it (`app:1`, `app@sha256:...`).
        name: String,
        /// Whether the store had it already.
        up_to_date: bool,
    },
}

impl PullMessage {
    /// The messages before a pull of `image` (as the user wrote it), parsed as `reference`.
    pub fn before(image: &str, reference: &Reference) -> Vec<PullMessage> {
        let mut messages = Vec::new();
        let last = image.rsplit('/').next().unwrap_or(image);
        if reference.digest.is_none() && !last.contains(':') {
            messages.push(PullMessage::DefaultTag);
        }
        messages.push(PullMessage::PullingFrom {
            what: reference
                .tag
                .clone()
                .or(reference.digest.clone())
                .unwrap_or_default(),
            repository: reference.repository.clone(),
        });
        messages
    }

    /// The messages after `pulled` came in for `reference`.
    pub fn after(reference: &Reference, pulled: &Pulled) -> Vec<PullMessage> {
        let name = match &reference.tag {
            Some(tag) => format!("{}:{tag}", reference.familiar_name()),
            None => format!("{}@{}", reference.familiar_name(), pulled.digest),
        };
        vec![
            PullMessage::Digest(pulled.digest.clone()),
            PullMessage::Status {
                name,
                up_to_date: pulled.up_to_date,
            },
        ]
    }

    /// Docker's words for it.
    pub fn text(&self) -> String {
        match self {
            PullMessage::DefaultTag => "Using default tag: latest".into(),
            PullMessage::PullingFrom { what, repository } => {
                format!("{what}: Pulling from {repository}")
            }
            PullMessage::Digest(digest) => format!("Digest: {digest}"),
            PullMessage::Status {
                name,
                up_to_date: true,
            } => format!("Status: Image is up to date for {name}"),
            PullMessage::Status { name, .. } => {
                format!("Status: Downloaded newer image for {name}")
            }
        }
    }

    /// As a line of `POST /images/create`'s stream.
    pub fn to_api(&self) -> api::CreateImageInfo {
        let (id, status) = match self {
            PullMessage::PullingFrom { what, repository } => {
                (Some(what.clone()), format!("Pulling from {repository}"))
            }
            other => (None, other.text()),
        };
        api::CreateImageInfo {
            id,
            status: Some(status),
            ..Default::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_read_as_docker_s() {
        let reference = Reference::parse("app").unwrap();
        let texts: Vec<String> = PullMessage::before("app", &reference)
            .iter()
            .map(PullMessage::text)
            .collect();
        assert_eq!(
            texts,
            [
                "Using default tag: latest",
                "latest: Pulling from library/app"
            ]
        );
        let tagged = Reference::parse("localhost:5000/app:1").unwrap();
        assert_eq!(
            PullMessage::before("localhost:5000/app:1", &tagged).len(),
            1
        );
        let digest = Digest::parse(&format!("sha256:{}", "a".repeat(64))).unwrap();
        let pulled = Pulled {
            digest: digest.clone(),
            up_to_date: false,
        };
        let after = PullMessage::after(&tagged, &pulled);
        assert_eq!(
            after[1].text(),
            "Status: Downloaded newer image for localhost:5000/app:1"
        );
        let line =
            serde_json::to_value(PullMessage::before("app", &reference)[1].to_api()).unwrap();
        assert_eq!(line["id"], "latest");
        assert_eq!(line["status"], "Pulling from library/app");
    }
}
