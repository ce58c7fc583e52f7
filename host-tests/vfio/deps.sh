#!/usr/bin/env bash
# Idempotent installer for the VFIO QEMU test host (host-tests/vfio/run.sh).
# - apt: qemu-system-x86, cpio (the host side)
# - apt-get download (not installed): Debian's versioned kernel image that
#   linux-image-amd64 depends on, and busybox-static;
#   unpacked under <repo>/.cache/vfio-host/ (gitignored).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
CACHE="${NITROUS_CACHE:-$ROOT/.cache}/vfio-host"
mkdir -p "$CACHE/debs" "$CACHE/root"

SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"

need_apt=()
command -v qemu-system-x86_64 >/dev/null || need_apt+=(qemu-system-x86)
command -v cpio >/dev/null || need_apt+=(cpio)
command -v zstd >/dev/null || need_apt+=(zstd)
if [ ${#need_apt[@]} -gt 0 ] || [ ! -f "$CACHE/.apt-updated" ]; then
  $SUDO apt-get update -qq
  touch "$CACHE/.apt-updated"
fi
if [ ${#need_apt[@]} -gt 0 ]; then
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

# The kernel: the versioned package linux-image-amd64 points at.
if [ ! -f "$CACHE/kernel.name" ]; then
  kpkg="$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/{print $2; exit}')"
  [ -n "$kpkg" ] || { echo "deps.sh: cannot resolve linux-image-amd64" >&2; exit 1; }
  echo "$kpkg" > "$CACHE/kernel.name.tmp"
  mv "$CACHE/kernel.name.tmp" "$CACHE/kernel.name"
fi
kpkg="$(cat "$CACHE/kernel.name")"

fetch() { # fetch <pkg>: download + unpack into root/ once
  local p="$1"
  [ -f "$CACHE/debs/$p.done" ] && return 0
  local sandbox=()
  [ "$(id -u)" = 0 ] && sandbox=(-o APT::Sandbox::User=root)
  (cd "$CACHE/debs" && rm -f "${p}"_*.deb && apt-get download -qq "${sandbox[@]}" "$p" >/dev/null)
  dpkg-deb -x "$CACHE/debs/${p}"_*.deb "$CACHE/root"
  touch "$CACHE/debs/$p.done"
}
fetch "$kpkg"
fetch busybox-static
echo "deps.sh: kernel $kpkg, cache $CACHE"
