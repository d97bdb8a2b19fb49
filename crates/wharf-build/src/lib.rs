//! Builds Wasm images from Dockerfiles as Docker users write them for Wasm: `FROM scratch`,
//! `COPY app.wasm /`, `ENTRYPOINT ["/app.wasm"]`.
//!
//! [`dockerfile::parse`] reads the Dockerfile; [`build`] turns it and a build context into an OCI
//! image (platform `wasi/wasm`) in the store, one gzip layer per COPY (multi-stage: `FROM ... AS name`, `COPY --from=name|image`); [`build_artifact`] packs one `.wasm` as the CNCF Wasm artifact.

#![warn(missing_docs)]

mod artifact;
mod builder;
mod context;
pub mod dockerfile;
mod stages;

pub use artifact::{artifact_source, build_artifact};
pub use builder::{build, BuildError, BuildOptions, BuildStep};
