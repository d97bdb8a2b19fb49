//! Docker's shapes, in one home: wharf's containers and images as the Docker Engine API
//! describes them (the [bollard-stubs](https://docs.rs/bollard-stubs) models), so that
//! `wharf inspect` prints exactly what `GET /containers/{id}/json` serves, and `wharf ps` shows
//! the `Status` text the API's container list carries.
//!
//! Front ends print or serve these; none builds Docker JSON of its own.

mod container;
mod image;
mod progress;
mod pull;
mod stats;

pub use bollard_stubs::models as api;
pub use container::{container_inspect, container_summary, human_duration, status_text, time_ago};
pub use image::{image_details, ImageDetails, ImageFacts, WasmLayout};
pub use progress::{Aux, BuildMessage, ProgressLine, PushMessage};
pub use pull::PullMessage;
pub use stats::container_stats;
