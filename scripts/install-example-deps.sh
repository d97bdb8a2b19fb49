#!/usr/bin/env bash
# Installs only what README's first command (scripts/example.sh) needs on Debian 12: clang and
# lld compile C to WebAssembly, wasi-libc is its C library, libclang-rt-14-dev-wasm32 its
# compiler runtime. The test suite's toolchain is scripts/install-deps.sh. Skips what is there.
set -euo pipefail

source "$(dirname "$0")/lib/apt.sh"
apt_install clang lld wasi-libc libclang-rt-14-dev-wasm32
