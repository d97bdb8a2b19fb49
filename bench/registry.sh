#!/usr/bin/env bash
# Push/pull benchmark: a ~10 MB Wasm image to Debian's docker-registry on 127.0.0.1, wharf vs
# skopeo, in one run. Prints medians and ratios.
#
#   bench/registry.sh              # 7 rounds
#   ROUNDS=15 bench/registry.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-7}
PROFILE=${PROFILE:-release}
work=$PWD/target/bench/registry
rm -rf "$work"; mkdir -p "$work/ctx"

scripts/install-deps.sh
cargo build --profile "$PROFILE" --locked -p wharf-cli
WHARF=$PWD/target/$PROFILE/wharf
export WHARF_ROOT=$work/root DOCKER_CONFIG=$work/docker

# A valid 10 MiB module: one memory and one data segment of incompressible bytes.
python3 - "$work/ctx/big.wasm" <<'PY'
import os, sys
def leb(n):
    out = bytearray()
    while True:
        b = n & 0x7f; n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n: return bytes(out)
def section(id, body): return bytes([id]) + leb(len(body)) + body
data = os.urandom(10 << 20)
memory = section(5, leb(1) + b"\x00" + leb(161))
segment = leb(0) + b"\x41\x00\x0b" + leb(len(data)) + data
open(sys.argv[1], "wb").write(b"\0asm\x01\0\0\0" + memory + section(11, leb(1) + segment))
PY
printf 'FROM scratch\nCOPY big.wasm /\nENTRYPOINT ["/big.wasm"]\n' > "$work/ctx/Dockerfile"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$work/registry.yml" <<YML
version: 0.1
log: {level: error}
storage: {filesystem: {rootdirectory: $work/registry}, delete: {enabled: true}}
http: {addr: 127.0.0.1:$port}
YML
docker-registry serve "$work/registry.yml" >/dev/null 2>&1 &
registry_pid=$!
trap 'kill $registry_pid 2>/dev/null' EXIT
until curl -sf "http://127.0.0.1:$port/v2/" >/dev/null; do sleep 0.1; done

"$WHARF" build -q -t bench:1 "$work/ctx" >/dev/null
# The same image as an OCI layout directory for skopeo, via wharf save.
"$WHARF" save -o "$work/bench.tar" bench:1
mkdir -p "$work/oci" && tar -xf "$work/bench.tar" -C "$work/oci"
echo "image: $(du -h "$work/ctx/big.wasm" | cut -f1) wasm, $(du -h "$work/bench.tar" | cut -f1) archive; wharf $PROFILE, $(skopeo --version)"
python3 bench/registry.py "$WHARF" "127.0.0.1:$port" bench:1 "$work/oci" "$ROUNDS"
