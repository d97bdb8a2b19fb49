#!/usr/bin/env python3
"""Interleaved runs: A, B, A, B... and the median of the per-pair ratios A/B.

On a shared VM, noise from other tenants comes in bursts lasting seconds; hyperfine runs all of
one command before the next, so a burst lands on one side only. Pairing neighbouring runs cancels
most of it. Usage: paired.py RUNS 'command A' 'command B'
"""
import shlex
import statistics
import subprocess
import sys
import time

runs, a, b = int(sys.argv[1]), shlex.split(sys.argv[2]), shlex.split(sys.argv[3])
ratios = []
for _ in range(runs):
    times = []
    for cmd in (a, b):
        start = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - start)
    ratios.append(times[0] / times[1])
print(f"interleaved {runs} pairs: median ratio {statistics.median(ratios):.3f}x "
      f"(quartiles {statistics.quantiles(ratios, n=4)[0]:.3f} .. {statistics.quantiles(ratios, n=4)[2]:.3f})")
