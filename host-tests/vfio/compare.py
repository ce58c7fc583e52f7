#!/usr/bin/env python3
"""Summarise the guest's COMPARE lines: nitrous userspace driver (VF via
VFIO) vs Linux's nvme driver (PF namespace, busybox dd O_DIRECT), as IOPS
and CPU-time-per-IO, per round, plus ratios. Usage: compare.py compare.txt"""
import re
import sys
from collections import defaultdict

lines = open(sys.argv[1]).read().splitlines()
ios = None
runs = defaultdict(list)
for l in lines:
    m = re.match(r"COMPARE ios (\d+)", l)
    if m:
        ios = int(m.group(1))
        continue
    m = re.match(r"COMPARE (\S+): (.*)", l)
    if m:
        runs[m.group(1)].append(m.group(2))


def secs(t):  # busybox time: "0m 1.59s"
    m = re.match(r"(\d+)m\s*([\d.]+)s", t.strip())
    return int(m.group(1)) * 60 + float(m.group(2)) if m else None


# Per run: (IOPS, process CPU us per IO, whole-guest busy CPU us per IO).
res = {}
for tag, out in runs.items():
    text = "\n".join(out)
    b = re.search(r"busy_ticks (-?\d+)", text)
    busy = int(b.group(1)) * 10000.0 / ios if (b and ios) else float("nan")
    if "nitrous" in tag:
        a = re.search(r"([\d.]+) IOPS", text)
        c = re.search(r"\(([\d.]+) us per IO", text)
        # perf measures whole-system busy time around its I/O loop only
        # (bring-up and teardown excluded); busy_ticks is the fallback.
        sysb = re.search(r"system cpu: [\d.]+ s busy \(([\d.]+) us per IO", text)
        if sysb:
            busy = float(sysb.group(1))
        if a and c:
            res[tag] = (float(a.group(1)), float(c.group(1)), busy)
    else:
        t = {k: secs(v) for k, v in re.findall(r"^(real|user|sys)\s+(.*)$", text, re.M)}
        if ios and all(t.get(k) is not None for k in ("real", "user", "sys")) and t["real"] > 0:
            res[tag] = (ios / t["real"], (t["user"] + t["sys"]) * 1e6 / ios, busy)

# Rounds are interleaved; the host is shared and TCG timing is noisy, so
# report the median over rounds per configuration and the ratio of medians.
def median(v):
    v = sorted(v)
    return v[len(v) // 2] if len(v) % 2 else (v[len(v) // 2 - 1] + v[len(v) // 2]) / 2


by_cfg = defaultdict(list)
for tag, v in res.items():
    by_cfg[tag.split("-", 1)[1]].append(v)
med = {}
for cfg in sorted(by_cfg):
    vals = by_cfg[cfg]
    med[cfg] = tuple(median([x[i] for x in vals]) for i in range(3))
    spread = ", ".join(f"{x[0]:.0f}" for x in vals)
    print(
        f"RESULT {cfg}: median {med[cfg][0]:.0f} IOPS, CPU per IO {med[cfg][2]:.1f} us (whole guest)"
        f" / {med[cfg][1]:.1f} us (process) over {len(vals)} rounds (IOPS per round: {spread})"
    )
for qd, mode in (("qd1", "msix"), ("qd1", "poll"), ("qd8", "msix")):
    n = med.get(f"nitrous-{mode}-{qd}")
    lx = med.get(f"linux-{qd}")
    if n and lx:
        print(f"RATIO {qd} nitrous({mode})/linux: IOPS x{n[0] / lx[0]:.2f}, CPU per IO x{n[1] / lx[1]:.2f}")
