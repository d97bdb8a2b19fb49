#!/usr/bin/env bash
# The Docker Engine API service against the wharf CLI, in one run (release build, a root and
# socket under target/bench/api):
#   - `docker run --rm hello` through the service vs `wharf run hello` (what the API path costs:
#     the docker CLI's own start, five requests, the monitor instead of the foreground);
#   - `docker ps` with N (default 100) containers vs `wharf ps`;
#   - the service's memory (PSS) idle and with N containers listed.
#
#   bench/api.sh
#   N=20 bench/api.sh
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-100}
PROFILE=${PROFILE:-release}
work=$PWD/target/bench/api
rm -rf "$work"; mkdir -p "$work/ctx-hello" "$work/ctx-sleep"

scripts/install-deps.sh
command -v hyperfine >/dev/null || apt-get install -y -qq hyperfine >/dev/null
cargo build --profile "$PROFILE" --locked -p wharf-cli
WHARF=$PWD/target/$PROFILE/wharf
export WHARF_ROOT=$work/root DOCKER_HOST=unix://$work/docker.sock DOCKER_CONFIG=$work/docker
for guest in hello sleep; do
  clang --target=wasm32-wasi -O2 -Wl,--strip-debug -o "$work/ctx-$guest/$guest.wasm" "tests/guests/$guest.c"
  printf 'FROM scratch\nCOPY %s.wasm /\nENTRYPOINT ["/%s.wasm"]\n' "$guest" "$guest" > "$work/ctx-$guest/Dockerfile"
  "$WHARF" build -q -t "$guest:1" "$work/ctx-$guest" >/dev/null
done
"$WHARF" system service --socket "$work/docker.sock" 2>"$work/service.log" & service=$!
cleanup() {
  "$WHARF" ps -a -q | xargs -r "$WHARF" rm -f >/dev/null 2>&1 || true
  kill "$service" 2>/dev/null || true
}
trap cleanup EXIT
for _ in $(seq 100); do docker version >/dev/null 2>&1 && break; sleep 0.05; done
pss() { awk '/^Pss:/ {print $2}' "/proc/$1/smaps_rollup"; }

"$WHARF" run --rm hello:1 >/dev/null   # compile once (AOT cache)
idle=$(pss "$service")
echo "== run --rm hello"
hyperfine -N --warmup 3 --runs 30 --export-json "$work/run.json" \
  -n "docker run (API)" "docker run --rm hello:1" \
  -n "wharf run" "$WHARF run --rm hello:1" \
  -n "wharf run -d + wait" "sh -c '$WHARF wait \$($WHARF run -d hello:1) >/dev/null'" \
  2>&1 | grep -E "^\s+(Time|Range)|Benchmark" || true
"$WHARF" ps -a -q | xargs -r "$WHARF" rm -f >/dev/null

for i in $(seq 1 "$N"); do "$WHARF" run -d -q sleep:1 >/dev/null; done
echo "== ps with $N containers"
hyperfine -N --warmup 3 --runs 20 --export-json "$work/ps.json" \
  -n "docker ps" "docker ps" -n "wharf ps" "$WHARF ps" \
  2>&1 | grep -E "^\s+(Time|Range)|Benchmark" || true
busy=$(pss "$service")
python3 - "$work/run.json" "$work/ps.json" "$idle" "$busy" "$N" <<'PY'
import json, sys
def load(p): return {x["command"]: x for x in json.load(open(p))["results"]}
run, ps = load(sys.argv[1]), load(sys.argv[2])
idle, busy, n = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
d, w, wd = run["docker run (API)"], run["wharf run"], run["wharf run -d + wait"]
print(f"run --rm hello: docker via the API {d['mean']*1000:.1f} ms, wharf run {w['mean']*1000:.1f} ms "
      f"(ratio {d['mean']/w['mean']:.2f}), wharf run -d + wait {wd['mean']*1000:.1f} ms (ratio {d['mean']/wd['mean']:.2f})")
dp, wp = ps["docker ps"], ps["wharf ps"]
print(f"ps with {n} containers: docker ps {dp['mean']*1000:.1f} ms, wharf ps {wp['mean']*1000:.1f} ms (ratio {dp['mean']/wp['mean']:.2f})")
print(f"service PSS: idle {idle/1024:.1f} MiB, after listing {n} containers {busy/1024:.1f} MiB")
PY
