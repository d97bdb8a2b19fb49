#!/usr/bin/env bash
# Container benchmark: starts N (default 200) detached containers of a sleeping guest and
# reports the time to start them all, memory per idle container (RSS of its monitor, which
# hosts the guest), the time of `wharf ps` with N containers, and of one more `run -d`.
#
#   bench/containers.sh
#   N=50 bench/containers.sh
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-200}
PROFILE=${PROFILE:-release}
work=$PWD/target/bench/containers
rm -rf "$work"; mkdir -p "$work"

scripts/install-deps.sh
command -v hyperfine >/dev/null || apt-get install -y -qq hyperfine >/dev/null
cargo build --profile "$PROFILE" --locked -p wharf-cli
WHARF=$PWD/target/$PROFILE/wharf
export WHARF_ROOT=$work/root
clang --target=wasm32-wasi -O2 -Wl,--strip-debug -o "$work/sleep.wasm" tests/guests/sleep.c
cleanup() { "$WHARF" ps -a -q | xargs -r "$WHARF" rm -f >/dev/null 2>&1 || true; }
trap cleanup EXIT

"$WHARF" run "$work/sleep.wasm" 0 >/dev/null   # compile once (AOT cache)
start=$(date +%s.%N)
for i in $(seq 1 "$N"); do "$WHARF" run -d -q "$work/sleep.wasm" >/dev/null; done
end=$(date +%s.%N)
running=$("$WHARF" ps -q | wc -l)
python3 - "$start" "$end" "$N" "$running" <<'PY'
import sys
start, end, n, running = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
print(f"started {n} containers in {end-start:.2f} s ({(end-start)/n*1000:.1f} ms each, sequential); {running} running")
PY
sleep 2
pids=$("$WHARF" inspect $("$WHARF" ps -q) | python3 -c 'import json,sys; print(" ".join(str(c["State"]["Pid"]) for c in json.load(sys.stdin)))')
python3 - $pids <<'PY'
import sys
rss, pss = [], []
for pid in sys.argv[1:]:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"): rss.append(int(line.split()[1]))
    try:
        for line in open(f"/proc/{pid}/smaps_rollup"):
            if line.startswith("Pss:"): pss.append(int(line.split()[1]))
    except OSError: pass
rss.sort(); pss.sort()
print(f"idle container (monitor + guest): RSS median {rss[len(rss)//2]/1024:.1f} MiB, "
      f"PSS median {pss[len(pss)//2]/1024:.1f} MiB (PSS shares the mapped binary and code among them)")
PY
python3 - $pids <<'PY'
import os, sys, time
# CPU the idle containers take: their monitors' user + system time over 3 s, as a share of one core.
def cpu():
    total = 0
    for pid in sys.argv[1:]:
        try:
            fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except OSError: pass
    return total
before, t = cpu(), time.time(); time.sleep(3)
used = (cpu() - before) / os.sysconf("SC_CLK_TCK") / (time.time() - t)
print(f"idle containers' CPU: {used*100:.1f}% of one core for {len(sys.argv)-1} of them")
PY
hyperfine -N --warmup 3 --runs 20 "$WHARF ps" "$WHARF ps -a" 2>/dev/null | grep -E "Time|±|ps" | head -6
# One more start with N running, timed by hyperfine (the loop above also counts bash's fork
# and exec of each `wharf`).
hyperfine -N --warmup 3 --runs 30 "$WHARF run -d -q $work/sleep.wasm" 2>/dev/null | grep -E "Time|Range"
