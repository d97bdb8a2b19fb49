#!/usr/bin/env bash
# The containerd shim against runc (and runwasi's wasmtime shim when RUNWASI names its binary),
# in one run on Debian's containerd (private root, state and sockets under target/bench/shim):
#   - `ctr run --rm` of hello: wharf's shim running the hello guest vs runc running a static
#     native hello in a one-file image;
#   - pod start to first output through containerd's CRI plugin (RunPodSandbox, CreateContainer,
#     StartContainer, until the first line is in the CRI log), with the runtime handler `wharf`
#     vs `runc` (whose sandbox is a native pause process);
#   - memory per pod with N (1, then 10) idle pods through CRI: the PSS of every process of
#     the pod's shim (wharf: shim + its pod-sandbox child, the guest is a thread; runc:
#     containerd-shim-runc-v2 + pause + the native process).
# Needs root.
#
#   sudo bench/shim.sh
#   sudo RUNWASI=/path/to/containerd-shim-wasmtime-v1 bench/shim.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PROFILE=${PROFILE:-release}
work=$PWD/target/bench/shim
rm -rf "$work"; mkdir -p "$work"/{root,state,reg,wharf,cni,logs}

scripts/install-deps.sh
command -v hyperfine >/dev/null || apt-get install -y -qq hyperfine >/dev/null
cargo build --profile "$PROFILE" --locked -p wharf-cli -p wharf-shim --bins --example cri_bench
bin=$PWD/target/$PROFILE
cri_bench=$bin/examples/cri_bench
# containerd finds shims on its PATH: wharf's, and runwasi's when given.
mkdir -p "$work/bin"; ln -sf "$bin/containerd-shim-wharf-v1" "$work/bin/"
if [ -n "${RUNWASI:-}" ]; then ln -sf "$RUNWASI" "$work/bin/containerd-shim-wasmtime-v1"; fi
sock=$work/containerd.sock
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
registry=127.0.0.1:$port

printf 'version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: %s\n' \
  "$work/reg" "$registry" > "$work/registry.yml"
cat > "$work/containerd.toml" <<EOF
version = 2
root = "$work/root"
state = "$work/state"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "docker.io/bench/native-sleep:1"
  restrict_oom_score_adj = true
[plugins."io.containerd.grpc.v1.cri".containerd]
  snapshotter = "overlayfs"
  default_runtime_name = "runc"
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.wharf]
  runtime_type = "io.containerd.wharf.v1"
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.wasmtime]
  runtime_type = "io.containerd.wasmtime.v1"
[plugins."io.containerd.grpc.v1.cri".cni]
  bin_dir = "$work/cni"
  conf_dir = "$work/cni"
[grpc]
  address = "$sock"
[ttrpc]
  address = "$sock.ttrpc"
EOF
docker-registry serve "$work/registry.yml" >"$work/registry.log" 2>&1 & reg_pid=$!
PATH=$work/bin:$PATH WHARF_ROOT=$work/wharf containerd --config "$work/containerd.toml" \
  >"$work/containerd.log" 2>&1 & ctd_pid=$!
cleanup() {
  ctr -a "$sock" -n bench task ls -q 2>/dev/null | xargs -r -n1 ctr -a "$sock" -n bench task kill -s SIGKILL >/dev/null 2>&1 || true
  sleep 0.5
  kill "$ctd_pid" "$reg_pid" 2>/dev/null || true
  pkill -9 -f "containerd-shim-.*-address $sock" 2>/dev/null || true
  awk '{print $2}' /proc/self/mounts | grep "^$work" | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
}
trap cleanup EXIT
for _ in $(seq 100); do [ -S "$sock" ] && curl -s "http://$registry/v2/" >/dev/null && break; sleep 0.1; done
ctr() { command ctr -a "$sock" -n bench "$@"; }
cri() { "$cri_bench" "$sock" "$work/logs" "$@"; }

# The Wasm images, built and pushed with wharf.
export WHARF_ROOT=$work/builder WHARF_INSECURE_REGISTRIES=$registry
for guest in hello sleep; do
  mkdir -p "$work/ctx-$guest"
  clang --target=wasm32-wasi -O2 -Wl,--strip-debug -o "$work/ctx-$guest/$guest.wasm" "tests/guests/$guest.c"
  printf 'FROM scratch\nCOPY %s.wasm /\nENTRYPOINT ["/%s.wasm"]\n' "$guest" "$guest" > "$work/ctx-$guest/Dockerfile"
  "$bin/wharf" build -q -t "$registry/wasm-$guest:1" "$work/ctx-$guest" >/dev/null
  "$bin/wharf" push -q "$registry/wasm-$guest:1"
  ctr images pull --plain-http "$registry/wasm-$guest:1" >/dev/null
  ctr -n k8s.io images pull --plain-http "$registry/wasm-$guest:1" >/dev/null
done
# The native images: one static program each, as an OCI layout archive.
for native in hello sleep; do
  src=$work/native-$native.c
  if [ $native = hello ]; then
    printf '#include <stdio.h>\nint main(void){puts("hello from native");return 0;}\n' > "$src"
  else
    printf '#include <unistd.h>\nint main(void){pause();return 0;}\n' > "$src"
  fi
  clang -O2 -static -o "$work/$native" "$src"
  python3 bench/oci_image.py "$work/$native" "/$native" "bench/native-$native:1" "$work/native-$native.tar"
  ctr images import "$work/native-$native.tar" >/dev/null
  ctr -n k8s.io images import "$work/native-$native.tar" >/dev/null
done

echo "== ctr run --rm of hello"
ctr run --rm --runtime io.containerd.wharf.v1 "$registry/wasm-hello:1" warmup >/dev/null   # compile once
runwasi_cmd=()
if [ -n "${RUNWASI:-}" ]; then
  ctr run --rm --runtime io.containerd.wasmtime.v1 "$registry/wasm-hello:1" warmup2 >/dev/null
  runwasi_cmd=(-n runwasi-wasmtime "ctr -a $sock -n bench run --rm --runtime io.containerd.wasmtime.v1 $registry/wasm-hello:1 h3")
fi
hyperfine -N --warmup 3 --runs 30 --export-json "$work/run.json" \
  -n wharf-shim "ctr -a $sock -n bench run --rm --runtime io.containerd.wharf.v1 $registry/wasm-hello:1 h1" \
  -n runc "ctr -a $sock -n bench run --rm docker.io/bench/native-hello:1 h2" \
  "${runwasi_cmd[@]}" 2>&1 | grep -E "^\s+(Time|Range)|Benchmark" || true
python3 - "$work/run.json" <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
w, n = r["wharf-shim"], r["runc"]
line = (f"ctr run --rm hello: wharf shim {w['mean']*1000:.1f} ms (min {w['min']*1000:.1f}), "
        f"runc {n['mean']*1000:.1f} ms (min {n['min']*1000:.1f}); ratio wharf/runc {w['mean']/n['mean']:.2f}")
if "runwasi-wasmtime" in r:
    x = r["runwasi-wasmtime"]
    line += f"; runwasi wasmtime {x['mean']*1000:.1f} ms, ratio wharf/runwasi {w['mean']/x['mean']:.2f}"
print(line)
PY

echo "== pod start to first output through CRI (20 pods each, one after another)"
handlers="wharf:$registry/wasm-hello:1 runc:docker.io/bench/native-hello:1"
if [ -n "${RUNWASI:-}" ]; then handlers="$handlers wasmtime:$registry/wasm-hello:1"; fi
for pair in $handlers; do
  handler=${pair%%:*}; image=${pair#*:}
  cri time "$handler" "$image" 2 >/dev/null        # warm: compiled code, snapshots
  read -r mean min < <(cri time "$handler" "$image" 20)
  echo "CRI pod start to first output, $handler: mean $mean ms (min $min)"
done

pss_of_shims() {   # $1: pattern of the shim binary; prints the PSS (KiB) of each shim and its children
  python3 - "$1" "$sock" <<'PY'
import os, sys
pattern, sock = sys.argv[1], sys.argv[2]
def cmd(pid):
    try: return open(f"/proc/{pid}/cmdline","rb").read().replace(b"\0", b" ").decode()
    except OSError: return ""
def pss(pid):
    try:
        for line in open(f"/proc/{pid}/smaps_rollup"):
            if line.startswith("Pss:"): return int(line.split()[1])
    except OSError: pass
    return 0
def children(pid):
    out = []
    for tid in os.listdir(f"/proc/{pid}/task"):
        try: out += [int(c) for c in open(f"/proc/{pid}/task/{tid}/children").read().split()]
        except OSError: pass
    return out
pids = [int(p) for p in os.listdir("/proc") if p.isdigit()]
shims = [p for p in pids if p != os.getpid() and pattern in cmd(p) and sock in cmd(p)]
total = 0
for s in shims:
    total += pss(s) + sum(pss(c) for c in children(s))
print(len(shims), total)
PY
}
for n in 1 10; do
  for pair in $handlers; do
    handler=${pair%%:*}; image=${pair#*:}
    image=${image/hello/sleep}
    cri start "$handler" "$image" "$n"
    sleep 1
    case $handler in
      wharf) pattern=containerd-shim-wharf-v1 ;;
      runc) pattern=containerd-shim-runc-v2 ;;
      wasmtime) pattern=containerd-shim-wasmtime-v1 ;;
    esac
    read -r shims kib < <(pss_of_shims "$pattern")
    echo "$n idle pods, $handler: $shims shims, PSS $((kib / n)) KiB per pod (shim + its processes)"
    cri clean
    sleep 0.5
  done
done
