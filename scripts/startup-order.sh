#!/usr/bin/env bash
# Regenerates crates/wharf-cli/startup.order: the functions a warm start runs, which the link
# places side by side at the front of the binary's text (lld's --symbol-ordering-file, passed by
# crates/wharf-cli/build.rs). Without it they are spread over 28 MB of code and a warm
# `wharf run` takes a page fault for each 64 KiB window of it that it touches.
#
#   scripts/startup-order.sh      # release build, then the commands below under callgrind
#
# Names that later changes remove or rename are skipped by the linker (they only lose their
# place), so the file needs regenerating after large changes, not after every one.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v valgrind >/dev/null || apt-get install -y -qq valgrind >/dev/null
# Profiled as the linker lays it out unordered (see below for why that order matters).
rm -f crates/wharf-cli/startup.order
cargo build --release --locked -p wharf-cli
wharf=$PWD/target/release/wharf
work=$(mktemp -d)
trap 'pkill -9 -f "wharf-monitor $work" 2>/dev/null || true; rm -rf "$work"' EXIT
export WHARF_ROOT=$work/root
for prog in hello sleep; do
  clang --target=wasm32-wasi -O2 -Wl,--strip-debug -o "$work/$prog.wasm" "tests/guests/$prog.c"
done
# Warm the AOT cache first, the order is for warm starts and not for compiling; under
# valgrind too, since its virtual CPU has other features and so other cache keys.
valgrind --tool=none -q "$wharf" run "$work/hello.wasm" >/dev/null
valgrind --tool=none -q "$wharf" run "$work/sleep.wasm" 0 >/dev/null

step=0
profile() {
  step=$((step + 1))
  valgrind --tool=callgrind --demangle=no --compress-strings=no --trace-children=yes \
    --callgrind-out-file="$work/cg.$step.%p" -q "$wharf" "$@" >/dev/null
}
profile --version
profile run "$work/hello.wasm"
profile run -d --name ordered "$work/sleep.wasm" 60
profile ps
profile ps -a
profile stop -t 60 ordered
# The monitor writes its profile as it exits, slowly under valgrind.
while pgrep -f "wharf-monitor $work" >/dev/null; do sleep 0.2; done
profile rm ordered

# Every function callgrind saw run that is the binary's own (not libc's or ld.so's): first
# those of `--version` (what every start runs), then what each later command adds. Within
# one command's share they keep the order they had in the binary, so code the compiler put
# together (one crate, one codegen unit) stays together.
nm --defined-only "$wharf" "$wharf-monitor" | awk '$2 ~ /^[tTwW]$/ {print $1, $3}' >"$work/ours"
python3 - "$work" >crates/wharf-cli/startup.order <<'EOF'
import glob, re, sys
work = sys.argv[1]
address = {}
for line in open(f"{work}/ours"):
    addr, name = line.split()
    address.setdefault(name, int(addr, 16))
placed = set()
steps = sorted({int(p.split(".")[-2]) for p in glob.glob(f"{work}/cg.*.*")})
for step in steps:
    ran = set()
    for path in glob.glob(f"{work}/cg.{step}.*"):
        ran.update(re.findall(r"^c?fn=(\S+)", open(path).read(), re.M))
    new = sorted((address[n], n) for n in ran - placed if n in address)
    placed.update(n for _, n in new)
    for _, name in new:
        print(name)
EOF
echo "crates/wharf-cli/startup.order: $(wc -l <crates/wharf-cli/startup.order) functions"
cargo build --release --locked -p wharf-cli
