#!/usr/bin/env bash
# make test-guest: the stock Linux nvme driver in a QEMU 7.2 guest drives
# VF 1 of the simulated card, served over x-pci-proxy-dev by
# `nitrous sim serve-proxy` (see ../../README.md, "Attach a VF to a QEMU
# guest"). Then, on the host, the backend must hold the AES-256-XTS
# ciphertext of what the guest wrote, and nothing else may have changed.
# Prints one PASS/FAIL line per check; exits non-zero on any failure.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
HERE="$ROOT/host-tests/guest"
CACHE="${NITROUS_CACHE:-$ROOT/.cache}/vfio-host"     # kernel + busybox (shared with test-host)
WORK="${NITROUS_CACHE:-$ROOT/.cache}/guest"
TIMEOUT="${NITROUS_GUEST_TIMEOUT:-280}"
T0=$(date +%s)
mkdir -p "$WORK"

"$ROOT/host-tests/vfio/deps.sh" >/dev/null
kpkg="$(cat "$CACHE/kernel.name")"; kver="${kpkg#linux-image-}"
R="$CACHE/root"
( cd "$ROOT" && cargo build --quiet --release -p nitrous-cli -p nitrous-host-tests --bin nitrous --bin xts-check )
N="$ROOT/target/release/nitrous"
XC="$ROOT/target/release/xts-check"
CARD="$HERE/card.toml"

# Kernel: the uncompressed vmlinux test-host extracts (PVH boots faster), else bzImage.
KERNEL="$R/boot/vmlinuz-$kver"
[ -s "$CACHE/vmlinux" ] && KERNEL="$CACHE/vmlinux"

IR="$WORK/initramfs"
rm -rf "$IR"; mkdir -p "$IR"/{bin,proc,sys,dev,tmp,mnt}
cp "$R/bin/busybox" "$IR/bin/busybox"
M="lib/modules/$kver/kernel"
for m in crypto/crct10dif_common crypto/crct10dif_generic lib/crc-t10dif lib/crc64 \
         crypto/crc64_rocksoft_generic lib/crc64-rocksoft block/t10-pi \
         drivers/nvme/host/nvme-core drivers/nvme/host/nvme \
         lib/crc16 crypto/crc32c_generic fs/mbcache fs/jbd2/jbd2 fs/ext4/ext4; do
  mkdir -p "$IR/$M/$(dirname $m)"; cp "$R/$M/$m.ko" "$IR/$M/$m.ko"
done
cp "$HERE/guest-init.sh" "$IR/init"
( cd "$IR" && find . | cpio -o -H newc --quiet ) > "$WORK/initrd.cpio"

# The card file's layout: VF 1 (served) then VF 2.
key1=$(sed -n 's/^key = "\(.*\)"/\1/p' "$CARD" | sed -n 1p)
VF1_BYTES=$((4096 * 4096)); VF2_OFF=$VF1_BYTES; VF2_BYTES=$((2048 * 512))

DISK="$WORK/disk.img"
rm -f "$DISK"
# VF 2 gets a pattern through the card; the guest must not change it.
head -c $VF2_BYTES /dev/urandom > "$WORK/vf2.bin"
"$N" sim --card "$CARD" --backend "$DISK" nvme-write --vf 2 --lba 0 < "$WORK/vf2.bin"
region() { # region <file> <byte offset> <bytes>: the bytes on stdout
  dd if="$1" iflag=skip_bytes,count_bytes skip="$2" count="$3" bs=64K status=none
}
vf2_before=$(region "$DISK" $VF2_OFF $VF2_BYTES | sha256sum)

LOG="$WORK/guest.log"
echo "booting guest (TCG, 1 vCPU; kernel $kver; log $LOG)"
set +e
timeout "$TIMEOUT" "$N" sim --card "$CARD" --backend "$DISK" serve-proxy --vf 1 --launch \
  --json "$WORK/proxy.json" -- \
  -accel tcg -nographic -no-reboot -kernel "$KERNEL" -initrd "$WORK/initrd.cpio" \
  -append "console=ttyS0 irqpoll nolapic_timer panic=-1 rdinit=/init quiet nitrous.ns_bytes=$VF1_BYTES" \
  </dev/null >"$LOG" 2>&1
rc=$?
set -e

fails=0
check() { # check <ok 0|1> <text>
  if [ "$1" = 0 ]; then echo "PASS $2"; else echo "FAIL $2"; fails=$((fails + 1)); fi
}
sed -n 's/^.*GUEST \(PASS\|FAIL\) /\1 guest: /p' "$LOG" | tr -d '\r'
fails=$((fails + $(grep -c 'GUEST FAIL' "$LOG" || true)))
grep -q 'GUEST DONE' "$LOG"; check $? "guest ran to the end (bridge exit $rc)"
[ "$rc" = 0 ]; check $? "bridge exited cleanly after the guest powered off"
grep -q 'guest done:' "$LOG" && sed -n 's/^guest done: /bridge: /p' "$LOG"

# At rest: read VF 1 in plaintext through the card and compare the raw
# backend with RustCrypto XTS(key, LBA) of it; the guest's dd data must be
# in that plaintext; VF 2's region and the image size are unchanged.
"$N" sim --card "$CARD" --backend "$DISK" nvme-read --vf 1 --lba 0 --blocks 4096 > "$WORK/vf1.plain"
out=$("$XC" --key "$key1" --lba-size 4096 --first-lba 0 --plain "$WORK/vf1.plain" --backend "$DISK" --offset 0 2>&1)
check $? "backend of VF 1 is XTS ciphertext of the plaintext the card serves: $out"
ndd=0; ddok=0
while read -r _ off n sum; do
  ndd=$((ndd + 1))
  got=$(region "$WORK/vf1.plain" "$off" "$n" | md5sum | cut -d' ' -f1)
  [ "$got" = "$sum" ] && ddok=$((ddok + 1))
done < <(grep '^DDSUM' "$LOG" | tr -d '\r')
[ "$ndd" -gt 0 ] && [ "$ddok" = "$ndd" ]; check $? "the guest's dd data ($ddok/$ndd ranges) is what the card serves from that ciphertext"
vf2_after=$(region "$DISK" $VF2_OFF $VF2_BYTES | sha256sum)
[ "$vf2_before" = "$vf2_after" ]; check $? "VF 2's backend region unchanged"
size=$(stat -c %s "$DISK")
[ "$size" -le $((VF1_BYTES + VF2_BYTES)) ]; check $? "backend image not grown past the namespaces ($size bytes)"
lat=$(sed -n 's/^.*GUEST LAT \([0-9.]*\).*/\1/p' "$LOG" | tr -d '\r')
[ -n "$lat" ] && echo "guest-side latency: $lat ms per 4 KiB read at QD 1"
echo "test-guest: $(( $(date +%s) - T0 )) s, $fails failed"
[ "$fails" = 0 ]
