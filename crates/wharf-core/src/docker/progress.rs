//! What Docker says while it builds and pushes, in order: each message is a line of
//! `docker build` (the legacy builder) or `docker push`, and a JSON line of `POST /build` or
//! `POST /images/{name}/push`. (Per-blob transfer progress comes as `BlobEvent`s.)
//!
//! bollard-stubs' `BuildInfo` cannot be serialized and `PushImageInfo` lacks `aux`, so the
//! lines a server writes are [`ProgressLine`]s, with Docker's field names.

use serde::Serialize;
use wharf_build::BuildStep;
use wharf_image::Reference;
use wharf_store::Digest;

use crate::Pushed;

/// One JSON line of a build or push stream, as Docker's daemon writes it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ProgressLine {
    /// Text for the client to print as is (build output).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream: Option<String>,
    /// A status sentence (push).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Machine-readable result.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aux: Option<Aux>,
}

/// The result a stream's `aux` field carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Aux {
    /// A build's image: `{"ID": "sha256:..."}` (what docker-py's `build()` returns).
    Image {
        /// The image ID.
        #[serde(rename = "ID")]
        id: String,
    },
    /// A push's result: `{"Tag": ..., "Digest": ..., "Size": ...}`.
    Push {
        /// The tag pushed.
        #[serde(rename = "Tag")]
        tag: String,
        /// The manifest digest.
        #[serde(rename = "Digest")]
        digest: String,
        /// The manifest's size.
        #[serde(rename = "Size")]
        size: u64,
    },
}

/// One of Docker's build messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuildMessage {
    /// `Step 2/5 : COPY app.wasm /`
    Step {
        /// 1-based.
        index: usize,
        /// How many steps.
        total: usize,
        /// The instruction, as a Dockerfile line.
        instruction: String,
    },
    /// The image is built: `Successfully built 0123456789ab`.
    Built(Digest),
    /// A tag given to it: `Successfully tagged app:1`.
    Tagged(String),
}

impl BuildMessage {
    /// The message for a step the builder is about to take.
    pub fn step(step: BuildStep<'_>) -> BuildMessage {
        BuildMessage::Step {
            index: step.index,
            total: step.total,
            instruction: step.instruction.to_string(),
        }
    }

    /// The messages that end a build of `digest` tagged `tags`.
    pub fn end(digest: &Digest, tags: &[Reference]) -> Vec<BuildMessage> {
        let mut messages = vec![BuildMessage::Built(digest.clone())];
        messages.extend(tags.iter().map(|t| BuildMessage::Tagged(t.familiar_tag())));
        messages
    }

    /// Docker's words for it.
    pub fn text(&self) -> String {
        match self {
            BuildMessage::Step {
                index,
                total,
                instruction,
            } => format!("Step {index}/{total} : {instruction}"),
            BuildMessage::Built(digest) => {
                format!("Successfully built {}", crate::short_id(digest.hex()))
            }
            BuildMessage::Tagged(name) => format!("Successfully tagged {name}"),
        }
    }

    /// As lines of `POST /build`'s stream: the text, and the image ID once built.
    pub fn to_api(&self) -> Vec<ProgressLine> {
        let mut lines = vec![ProgressLine {
            stream: Some(format!("{}\n", self.text())),
            ..Default::default()
        }];
        if let BuildMessage::Built(digest) = self {
            lines.insert(
                0,
                ProgressLine {
                    aux: Some(Aux::Image {
                        id: digest.to_string(),
                    }),
                    ..Default::default()
                },
            );
        }
        lines
    }
}

/// One of Docker's push messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushMessage {
    /// `The push refers to repository [localhost:5000/app]`
    RefersTo(String),
    /// The end: `1: digest: sha256:... size: 528`.
    Pushed {
        /// The tag pushed.
        tag: String,
        /// What was pushed.
        pushed: Pushed,
    },
}

impl PushMessage {
    /// The message before a push of `reference`.
    pub fn before(reference: &Reference) -> PushMessage {
        PushMessage::RefersTo(reference.name())
    }

    /// The message after `pushed` went up as `reference`.
    pub fn after(reference: &Reference, pushed: &Pushed) -> PushMessage {
        PushMessage::Pushed {
            tag: reference.tag.clone().unwrap_or_else(|| "latest".into()),
            pushed: pushed.clone(),
        }
    }

    /// Docker's words for it.
    pub fn text(&self) -> String {
        match self {
            PushMessage::RefersTo(name) => format!("The push refers to repository [{name}]"),
            PushMessage::Pushed { tag, pushed } => {
                format!("{tag}: digest: {} size: {}", pushed.digest, pushed.size)
            }
        }
    }

    /// As lines of `POST /images/{name}/push`'s stream.
    pub fn to_api(&self) -> Vec<ProgressLine> {
        let status = ProgressLine {
            status: Some(self.text()),
            ..Default::default()
        };
        match self {
            PushMessage::RefersTo(_) => vec![status],
            PushMessage::Pushed { tag, pushed } => vec![
                status,
                ProgressLine {
                    aux: Some(Aux::Push {
                        tag: tag.clone(),
                        digest: pushed.digest.to_string(),
                        size: pushed.size,
                    }),
                    ..Default::default()
                },
            ],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_and_push_read_as_docker_s() {
        let digest = Digest::parse(&format!("sha256:{}", "ab".repeat(32))).unwrap();
        let tags = [Reference::parse("app:1").unwrap()];
        let end = BuildMessage::end(&digest, &tags);
        let texts: Vec<String> = end.iter().map(BuildMessage::text).collect();
        assert_eq!(
            texts,
            [
                "Successfully built abababababab",
                "Successfully tagged app:1"
            ]
        );
        let lines = serde_json::to_value(end[0].to_api()).unwrap();
        assert_eq!(lines[0]["aux"]["ID"], digest.to_string());
        assert_eq!(lines[1]["stream"], "Successfully built abababababab\n");
        assert!(lines[1].get("aux").is_none());

        let reference = Reference::parse("localhost:5000/app:2").unwrap();
        assert_eq!(
            PushMessage::before(&reference).text(),
            "The push refers to repository [localhost:5000/app]"
        );
        let pushed = Pushed {
            digest: digest.clone(),
            size: 528,
        };
        let after = PushMessage::after(&reference, &pushed);
        assert_eq!(after.text(), format!("2: digest: {digest} size: 528"));
        let lines = serde_json::to_value(after.to_api()).unwrap();
        assert_eq!(lines[1]["aux"]["Tag"], "2");
        assert_eq!(lines[1]["aux"]["Size"], 528);
    }
}
