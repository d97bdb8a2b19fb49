#!/usr/bin/env bash
# wharf's main job on the bundled example: compile examples/hello/hello.c to a WASI module, build
# it into an image with examples/hello/Dockerfile, and run the image in the sandbox.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
cargo build --release --locked -p wharf-cli
clang --target=wasm32-wasi -O2 -Wl,--strip-debug -o examples/hello/hello.wasm examples/hello/hello.c
export WHARF_ROOT=${WHARF_ROOT:-$PWD/target/example-root}
wharf=target/release/wharf
"$wharf" build -t wharf-example:latest examples/hello
"$wharf" images
exec "$wharf" run wharf-example:latest
