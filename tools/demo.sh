#!/usr/bin/env bash
# make demo: the simulated engines doing real work, with a short report.
set -euo pipefail
cd "$(dirname "$0")/.."
exec ./target/release/nitrous demo
