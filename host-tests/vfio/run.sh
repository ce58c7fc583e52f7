#!/usr/bin/env bash
# End-to-end test of the userspace driver on real kernel VFIO: boots a QEMU
# q35 guest (TCG) with an emulated Intel IOMMU and an SR-IOV NVMe
# controller, then runs host-tests/vfio/guest-init.sh inside it.
# Prints one PASS/FAIL line per check; exits non-zero on any failure.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
HERE="$ROOT/host-tests/vfio"
CACHE="${NITROUS_CACHE:-$ROOT/.cache}/vfio-host"
TIMEOUT="${NITROUS_VFIO_TIMEOUT:-280}"
T0=$(date +%s)

"$HERE/deps.sh"
kpkg="$(cat "$CACHE/kernel.name")"
kver="${kpkg#linux-image-}"
R="$CACHE/root"

# Static guest binary, own target dir so it doesn't thrash the host build.
GT="${NITROUS_GUEST_TARGET_DIR:-$ROOT/target/guest}"
( cd "$ROOT" && RUSTFLAGS='-C target-feature=+crt-static' CARGO_TARGET_DIR="$GT" \
    cargo build --quiet --release -p nitrous-cli --no-default-features --target x86_64-unknown-linux-gnu )
BIN="$GT/x86_64-unknown-linux-gnu/release/nitrous"

# Uncompressed kernel (PVH entry boots faster under TCG than the bzImage).
KERNEL="$R/boot/vmlinuz-$kver"
if [ ! -s "$CACHE/vmlinux" ]; then
  python3 - "$KERNEL" "$CACHE/vmlinux" <<'PY' || true
import sys, lzma, zlib
data = open(sys.argv[1], 'rb').read()
def try_xz(i):
    try: return lzma.LZMADecompressor(format=lzma.FORMAT_XZ).decompress(data[i:])
    except Exception: return None
def try_gz(i):
    try: return zlib.decompressobj(31).decompress(data[i:])
    except Exception: return None
out = None
for magic, fn in ((b'\xfd7zXZ\x00', try_xz), (b'\x1f\x8b\x08', try_gz)):
    i = data.find(magic)
    while i != -1 and out is None:
        r = fn(i)
        if r and r[:4] == b'\x7fELF': out = r
        i = data.find(magic, i + 1)
if out: open(sys.argv[2], 'wb').write(out)
PY
fi
[ -s "$CACHE/vmlinux" ] && KERNEL="$CACHE/vmlinux"

# initramfs: busybox, the modules we insmod, the binary, /init.
IR="$CACHE/initramfs"
rm -rf "$IR"; mkdir -p "$IR"/{bin,proc,sys,dev,tmp}
cp "$R/bin/busybox" "$IR/bin/busybox"
M="lib/modules/$kver/kernel"
for m in crypto/crct10dif_common crypto/crct10dif_generic lib/crc-t10dif lib/crc64 \
         crypto/crc64_rocksoft_generic lib/crc64-rocksoft block/t10-pi \
         drivers/nvme/host/nvme-core drivers/nvme/host/nvme \
         drivers/vfio/vfio drivers/vfio/vfio_iommu_type1 drivers/vfio/vfio_virqfd \
         virt/lib/irqbypass drivers/vfio/pci/vfio-pci-core drivers/vfio/pci/vfio-pci; do
  mkdir -p "$IR/$M/$(dirname $m)"; cp "$R/$M/$m.ko" "$IR/$M/$m.ko"
done
cp "$BIN" "$IR/bin/nitrous"
cp "$HERE/guest-init.sh" "$IR/init"
( cd "$IR" && find . | cpio -o -H newc --quiet ) > "$CACHE/initrd.cpio"

DISK="$CACHE/disk.img"
rm -f "$DISK"; truncate -s 64M "$DISK"
LOG="$CACHE/guest.log"
echo "booting guest (TCG; kernel $kver; log $LOG)"
set +e
timeout "$TIMEOUT" qemu-system-x86_64 -accel tcg,thread=multi -cpu max -smp 2 \
  -machine q35,kernel-irqchip=split -device intel-iommu,intremap=on,caching-mode=on \
  -m 1G -nographic -no-reboot -kernel "$KERNEL" -initrd "$CACHE/initrd.cpio" \
  -append 'console=ttyS0 intel_iommu=on iommu=pt panic=-1 rdinit=/init quiet' \
  -device pcie-root-port,id=rp1,chassis=1,slot=1 \
  -device nvme-subsys,id=subsys0,nqn=nitrous-vfio-test \
  -device nvme,id=nvme0,bus=rp1,serial=nitrous0,subsys=subsys0,sriov_max_vfs=2,sriov_vq_flexible=6,sriov_vi_flexible=6 \
  -blockdev driver=file,node-name=nvm0,filename="$DISK" \
  -device nvme-ns,drive=nvm0,bus=nvme0,nsid=1,shared=true \
  </dev/null >"$LOG" 2>&1
qrc=$?
set -e
tr -d '\r' < "$LOG" | grep -E '^(PASS|FAIL|PF )' || true
tr -d '\r' < "$LOG" | grep -E '^COMPARE' > "$CACHE/compare.txt" || true
python3 "$HERE/compare.py" "$CACHE/compare.txt" || true
T1=$(date +%s)
pass=$(tr -d '\r' < "$LOG" | grep -c '^PASS: ' || true)
fail=$(tr -d '\r' < "$LOG" | grep -c '^FAIL: ' || true)
if ! tr -d '\r' < "$LOG" | grep -q '^NITROUS-GUEST-DONE'; then
  echo "FAIL: guest did not finish (qemu exit $qrc); last lines:"
  tr -d '\r' < "$LOG" | tail -n 30
  fail=$((fail+1))
fi
echo "vfio host test: $pass passed, $fail failed ($((T1-T0)) s)"
[ "$fail" = 0 ] && [ "$pass" -gt 0 ]
