#!/usr/bin/env bash
# wharf's main job on the bundled example: build examples/hello/hello.c into a WASI module and
# run it in the sandbox with an env var, an argument and a read-only mount.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
cargo build --release --locked -p wharf-cli
out=target/example
mkdir -p "$out"
clang --target=wasm32-wasi -O2 -Wl,--strip-debug -o "$out/hello.wasm" examples/hello/hello.c
exec target/release/wharf run -e GREETING=ahoy -v "$PWD/examples/hello:/app:ro" \
  "$out/hello.wasm" /app/message.txt
