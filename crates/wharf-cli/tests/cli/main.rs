//! End-to-end tests of the `wharf` binary with real WASI guests built from `tests/guests/`.

mod cache;
mod exit_codes;
mod images;
mod limits;
mod sandbox;
mod signals;
mod support;
