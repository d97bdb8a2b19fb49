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

/// The kernel's release, as `uname -r` gives it (Docker's `KernelVersion`).
pub fn kernel_release() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// Go's name for this machine's architecture, as Docker reports it (`amd64`, `arm64`).
pub fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}
