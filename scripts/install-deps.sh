#!/usr/bin/env bash
# Installs the system packages wharf's tests and examples need on Debian 12: clang, lld and
# wasi-libc build the C test guests into WASI modules; docker-registry (a real OCI registry),
# skopeo (interop checks) and apache2-utils (htpasswd, for the basic-auth registry) and openssl (signing
# bearer tokens) serve the registry tests; containerd (with ctr), containernetworking-plugins (the CRI pod network), iproute2 (ip netns), curl and protobuf-compiler (the CRI client) run the shim tests; docker-compose, docker-py (PyPI docker) and the docker CLI drive the Engine API service's tests. componentize-py (PyPI) and componentize-js (npm) build
# the Python and JavaScript wasi:http test guests. Skips what is already installed.
set -euo pipefail

source "$(dirname "$0")/lib/apt.sh"
apt_install clang lld wasi-libc libclang-rt-14-dev-wasm32 docker-registry skopeo apache2-utils openssl containerd containernetworking-plugins iproute2 curl protobuf-compiler docker-compose

if ! componentize-py --version 2>/dev/null | grep -q "0.25.1"; then
  pip install -q --disable-pip-version-check --root-user-action=ignore componentize-py==0.25.1
fi
if ! python3 -c 'import docker, sys; sys.exit(docker.__version__ != "7.2.0")' 2>/dev/null; then
  pip install -q --disable-pip-version-check --root-user-action=ignore docker==7.2.0
fi
# The stock docker CLI drives the API service's tests: this machine kind has it; Debian's
# docker.io client (20.10) where it is missing.
if ! command -v docker >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >/dev/null
fi
if ! componentize-js --version 2>/dev/null | grep -q "0.23.0"; then
  npm install -g --silent @bytecodealliance/componentize-js@0.23.0
fi
