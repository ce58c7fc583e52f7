#!/bin/busybox sh
# /init of the `make test-guest` guest: the stock Linux nvme driver on a
# VF of the simulated card (served by `nitrous sim serve-proxy`).
# Prints "GUEST PASS|FAIL <check>" lines, "DDSUM <offset> <bytes> <md5>"
# for the host's at-rest check, "GUEST LAT <ms per command>", then
# "GUEST DONE" and powers off.
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mkdir -p /mnt /tmp
FAILED=0
pass() { echo "GUEST PASS $*"; }
fail() { echo "GUEST FAIL $*"; FAILED=1; }
arg() { sed -n "s/.*nitrous\.$1=\([^ ]*\).*/\1/p" /proc/cmdline; }

K=/lib/modules/$(uname -r)/kernel
for m in crypto/crct10dif_common crypto/crct10dif_generic lib/crc-t10dif lib/crc64 \
         crypto/crc64_rocksoft_generic lib/crc64-rocksoft block/t10-pi \
         drivers/nvme/host/nvme-core drivers/nvme/host/nvme \
         lib/crc16 crypto/crc32c_generic fs/mbcache fs/jbd2/jbd2 fs/ext4/ext4; do
  insmod "$K/$m.ko" || fail "insmod $m"
done

D=/dev/nvme0n1
i=0
while [ ! -b $D ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
if [ -b $D ] && [ -e /sys/bus/pci/drivers/nvme ] && ls /sys/bus/pci/drivers/nvme | grep -q ':'; then
  pass "stock nvme driver bound ($(ls /sys/bus/pci/drivers/nvme | grep ':'))"
else
  fail "no $D after 60 s"
  dmesg | tail -30
  echo "GUEST DONE"; poweroff -f
fi

want=$(arg ns_bytes)
have=$(( $(cat /sys/block/nvme0n1/size) * 512 ))
[ "$have" = "$want" ] && pass "namespace size $have bytes (card file)" \
  || fail "namespace size $have, card file says $want"

# O_DIRECT round trips at the end of the namespace (the file system below
# stays in the first 12 MiB). 128 KiB = 32 pages: PRP lists.
ddcheck() { # ddcheck <bytes> <byte offset>
  n=$1; off=$2
  dd if=/dev/urandom of=/tmp/w bs=$n count=1 2>/dev/null
  dd if=/tmp/w of=$D bs=$n count=1 seek=$((off / n)) oflag=direct 2>/dev/null \
    || { fail "dd write $n B at $off"; return; }
  dd if=$D of=/tmp/r bs=$n count=1 skip=$((off / n)) iflag=direct 2>/dev/null \
    || { fail "dd read $n B at $off"; return; }
  if cmp -s /tmp/w /tmp/r; then
    pass "O_DIRECT $n B at $off round-trips"
    echo "DDSUM $off $n $(md5sum < /tmp/w | cut -d' ' -f1)"
  else
    fail "O_DIRECT $n B at $off differs"
  fi
}
ddcheck 4096 $((14 * 1048576))
ddcheck 4096 $((14 * 1048576 + 8192))
ddcheck 131072 $((15 * 1048576))
ddcheck 131072 $((15 * 1048576 + 131072))

# Guest-side latency: 64 sequential 4 KiB O_DIRECT reads (QD 1).
t0=$(cut -d' ' -f1 /proc/uptime)
dd if=$D of=/dev/null bs=4096 count=64 skip=$((14 * 256)) iflag=direct 2>/dev/null
t1=$(cut -d' ' -f1 /proc/uptime)
echo "GUEST LAT $(echo "$t0 $t1" | awk '{printf "%.2f", ($2 - $1) * 1000 / 64}')"

# A file system in the first 12 MiB: write, sync, remount, compare.
if mke2fs -q -b 4096 $D 3072 && mount -t ext2 $D /mnt; then
  pass "mke2fs + mount"
  mkdir -p /tmp/ref
  for f in a b c d; do dd if=/dev/urandom of=/tmp/ref/$f bs=65536 count=8 2>/dev/null; done
  echo "nitrous guest file" > /tmp/ref/small
  cp /tmp/ref/* /mnt/ && sync && umount /mnt || fail "write files + umount"
  if mount -t ext2 $D /mnt; then
    ok=1
    for f in a b c d small; do cmp -s /tmp/ref/$f /mnt/$f || { ok=0; fail "file $f differs after remount"; }; done
    [ $ok = 1 ] && pass "2 MiB in 5 files identical after umount + mount"
    umount /mnt || fail "final umount"
  else
    fail "second mount"
  fi
else
  fail "mke2fs / mount"
fi

if dmesg | grep -i nvme | grep -i -E 'timeout|error|abort|reset|fail|invalid'; then
  fail "nvme errors in dmesg"
else
  pass "no nvme timeout, error or invalid field in dmesg"
fi
dmesg | grep -i nvme | sed 's/^/DMESG /'
echo "GUEST DONE failed=$FAILED"
sync
poweroff -f
