#!/usr/bin/env bash
# The whole test suite: installs what the tests need, then checks formatting, lints, and runs
# every test of the workspace (unit tests and end-to-end tests with real WASI guests).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh

# Line tables only and no incremental state: a cold build of the wasmtime stack fits CI's
# 2 cores in a few minutes and a couple of GB.
export CARGO_INCREMENTAL=0

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
# The fuzz targets (fuzz/, run with cargo-fuzz) must keep compiling against the crates they fuzz.
cargo check --manifest-path fuzz/Cargo.toml --locked --quiet
cargo test --workspace --locked
