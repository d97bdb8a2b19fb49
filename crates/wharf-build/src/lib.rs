//! Builds Wasm images from Dockerfiles as Docker users write them for Wasm: `FROM scratch`,
//! `COPY app.wasm /`, `ENTRYPOINT ["/app.wasm"]`.
//!
//! So far this crate parses Dockerfiles ([`dockerfile::parse`]); assembling layers and the image
//! config on top of the store is the next step of the images issue.

#![warn(missing_docs)]

pub mod dockerfile;
