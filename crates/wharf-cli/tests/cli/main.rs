//! End-to-end tests of the `wharf` binary with real WASI guests built from `tests/guests/`.

mod cache;
mod compose;
mod containers;
mod crash;
mod docker_api;
mod docker_images;
mod docker_py;
mod exit_codes;
mod formats;
mod habits;
mod http;
mod images;
mod inside;
mod limits;
mod network;
mod registry;
mod sandbox;
mod services;
mod signals;
mod support;
mod system;
mod trust;
