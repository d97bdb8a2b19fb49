#!/usr/bin/env bash
# Installs only what README's first command (scripts/example.sh) needs on Debian 12: clang and
# lld compile C to WebAssembly, wasi-libc is its C library, libclang-rt-14-dev-wasm32 its
# compiler runtime. The test suite's toolchain is scripts/install-deps.sh. Skips what is there.
set -euo pipefail

packages=(clang lld wasi-libc libclang-rt-14-dev-wasm32)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi
