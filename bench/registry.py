#!/usr/bin/env python3
"""Push and pull of a ~10 MB Wasm image to a local registry: wharf vs skopeo, side by side.

Called by bench/registry.sh (which builds wharf and starts the registry). Each round pushes the
same image to a fresh repository with both tools and pulls it back into an empty store/dir, so
every blob really travels; rounds alternate the tools to share the machine's noise. Prints
median seconds and the wharf/skopeo ratio (below 1 means wharf is faster).
"""
import os, statistics, subprocess, sys, tempfile, time

wharf, registry, image, oci_dir, rounds = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
root = os.environ["WHARF_ROOT"]
times = {k: [] for k in ("wharf push", "skopeo push", "wharf pull", "skopeo pull")}

def timed(key, cmd, env=None):
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    times[key].append(time.perf_counter() - start)

for i in range(rounds):
    w, s = f"{registry}/bench-w{i}:1", f"{registry}/bench-s{i}:1"
    subprocess.run([wharf, "tag", image, w], check=True)
    timed("wharf push", [wharf, "push", "-q", w])
    timed("skopeo push", ["skopeo", "copy", "-q", "--dest-tls-verify=false", "--preserve-digests",
                          f"oci:{oci_dir}:1", f"docker://{s}"])
    with tempfile.TemporaryDirectory() as fresh:
        env = dict(os.environ, WHARF_ROOT=fresh)
        timed("wharf pull", [wharf, "pull", "-q", w], env)
    with tempfile.TemporaryDirectory() as fresh:
        timed("skopeo pull", ["skopeo", "copy", "-q", "--src-tls-verify=false",
                              f"docker://{s}", f"oci:{fresh}/out:1"])

med = {k: statistics.median(v) for k, v in times.items()}
for op in ("push", "pull"):
    w, s = med[f"wharf {op}"], med[f"skopeo {op}"]
    print(f"{op}: wharf {w*1000:7.1f} ms   skopeo {s*1000:7.1f} ms   ratio {w/s:.2f}x  (median of {rounds})")
