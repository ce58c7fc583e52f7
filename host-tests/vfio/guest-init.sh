#!/bin/busybox sh
# /init of the VFIO test guest: loads VFIO + nvme, then runs every check
# with the `nitrous` binary. One "PASS: name" / "FAIL: name" line per check.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs dev /dev
mkdir -p /tmp
M=/lib/modules/$(uname -r)/kernel
for m in crypto/crct10dif_common crypto/crct10dif_generic lib/crc-t10dif lib/crc64 \
         crypto/crc64_rocksoft_generic lib/crc64-rocksoft block/t10-pi \
         drivers/nvme/host/nvme-core drivers/nvme/host/nvme \
         drivers/vfio/vfio drivers/vfio/vfio_iommu_type1 drivers/vfio/vfio_virqfd \
         virt/lib/irqbypass drivers/vfio/pci/vfio-pci-core drivers/vfio/pci/vfio-pci; do
  insmod $M/$m.ko 2>/tmp/insmod.err || { echo "insmod $m: $(cat /tmp/insmod.err)"; }
done

FAILS=0
check() { # check NAME command...
  name=$1; shift
  if "$@" >/tmp/out 2>&1; then
    sed 's/^/    /' /tmp/out | tail -n 12
    echo "PASS: $name"
  else
    rc=$?
    sed 's/^/    /' /tmp/out | tail -n 20
    echo "FAIL: $name (exit $rc)"
    FAILS=$((FAILS+1))
  fi
}
finish() {
  echo "NITROUS-GUEST-DONE fails=$FAILS"
  poweroff -f
}

PF=""
for d in /sys/bus/pci/devices/*; do
  [ -f $d/sriov_totalvfs ] && [ "$(cat $d/class)" = 0x010802 ] && PF=$(basename $d)
done
[ -n "$PF" ] || { echo "FAIL: find-sriov-nvme-pf"; FAILS=1; finish; }
i=0
while [ ! -e /dev/nvme0n1 ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
echo "PF $PF, iommu groups: $(ls /sys/kernel/iommu_groups | wc -l)"

N=/bin/nitrous
check pf-enable-vfs-2 $N pf enable-vfs $PF --count 2
check pf-bind-vfio $N pf bind-vfio $PF
VFS=""
for l in /sys/bus/pci/devices/$PF/virtfn*; do VFS="$VFS $(basename $(readlink $l))"; done
set -- $VFS
VF1=$1; VF2=$2
check vfio-list-shows-vfs sh -c "$N vfio list | tee /dev/stderr | grep -q $VF1 && $N vfio list | grep -q $VF2"
check vf-own-iommu-groups sh -c "[ \$(basename \$(readlink /sys/bus/pci/devices/$VF1/iommu_group)) != \$(basename \$(readlink /sys/bus/pci/devices/$VF2/iommu_group)) ]"
check identify-$VF1 $N nvme identify $VF1
check identify-$VF2 $N nvme identify $VF2 --poll
check verify-16MiB-2q-msix-$VF1 $N nvme verify $VF1 --mib 16 --queues 2 --seed 1
check verify-4MiB-2q-poll-$VF2 $N nvme verify $VF2 --mib 4 --queues 2 --poll --seed 2
check bad-dma-unmapped-iova-$VF1 $N nvme bad-dma $VF1
check iommu-blocked-bad-dma sh -c "dmesg | grep -E 'DMAR: \\[DMA (Read|Write).*Request device \\[01:00.1\\]' | tail -n 3 | grep ."
check guest-alive-after-bad-dma sh -c "$N nvme identify $VF1 | grep -q 'active namespaces \\[1\\]'"
dd if=/dev/urandom of=/tmp/a bs=4096 count=4 2>/dev/null
check write-read-stdio-$VF2 sh -c "$N nvme write $VF2 --lba 100 --blocks 32 </tmp/a && $N nvme read $VF2 --lba 100 --blocks 32 >/tmp/b && cmp /tmp/a /tmp/b"
check cli-bad-args-exit-2 sh -c "$N nvme perf $VF1 --size 3x; [ \$? = 2 ] && $N nvme perf nonsense; [ \$? = 2 ]"
check perf-4k-qd32-randread-$VF1 $N nvme perf $VF1 --qd 32 --size 4k --read-pct 100 --ios 20000
check perf-128k-qd8-mixed-$VF1 $N nvme perf $VF1 --qd 8 --size 128k --read-pct 70 --ios 1000

check flr-reset-$VF2 $N nvme reset $VF2

# Userspace driver vs Linux nvme driver (PF namespace /dev/nvme0n1), same
# guest, 4 KiB reads. busybox dd has no queue depth, so Linux QD N is N
# dd processes in parallel (O_DIRECT); nitrous QD N is one thread.
IOS=${NITROUS_CMP_IOS:-4000}
# Whole-guest busy CPU time (user+nice+system+irq+softirq+steal, USER_HZ
# ticks) around each run: the same yardstick for both drivers, including
# interrupt and kernel work that per-process accounting misses.
busy() { awk '/^cpu /{print $2+$3+$4+$7+$8+$9}' /proc/stat; }
cmp_nitrous() { # tag qd [extra args]
  tag=$1; qd=$2; shift 2
  echo "COMPARE $tag: cmd taskset 1 $N nvme perf $VF1 --qd $qd --size 4k --read-pct 100 --ios $IOS --queues 1 $*"
  b0=$(busy)
  taskset 1 $N nvme perf $VF1 --qd $qd --size 4k --read-pct 100 --ios $IOS --queues 1 "$@" >/tmp/cmp 2>&1
  b1=$(busy)
  sed "s/^/COMPARE $tag: /" /tmp/cmp
  echo "COMPARE $tag: busy_ticks $((b1-b0))"
}
cmp_linux() { # tag jobs
  tag=$1; jobs=$2; per=$((IOS / jobs))
  echo "COMPARE $tag: cmd $jobs x dd if=/dev/nvme0n1 of=/dev/null bs=4k count=$per iflag=direct (parallel, disjoint ranges)"
  b0=$(busy)
  ( time sh -c "i=0; while [ \$i -lt $jobs ]; do dd if=/dev/nvme0n1 of=/dev/null bs=4k count=$per skip=\$((i*per)) iflag=direct 2>/dev/null & i=\$((i+1)); done; wait" ) >/tmp/cmp 2>&1
  b1=$(busy)
  sed "s/^/COMPARE $tag: /" /tmp/cmp
  echo "COMPARE $tag: busy_ticks $((b1-b0))"
}
# Keep the VF's MSI-X interrupts and the nitrous thread on one CPU (what
# the kernel nvme driver gets from its per-CPU queues with managed IRQ
# affinity); otherwise every completion needs a cross-CPU wakeup, which
# under TCG often waits for the next 4 ms tick.
echo 1 > /proc/irq/default_smp_affinity
echo "COMPARE ios $IOS"
for r in ${NITROUS_CMP_ROUNDS:-1 2 3 4 5}; do
  cmp_nitrous r$r-nitrous-msix-qd1 1
  cmp_nitrous r$r-nitrous-poll-qd1 1 --poll
  cmp_linux r$r-linux-qd1 1
  cmp_nitrous r$r-nitrous-msix-qd8 8
  cmp_linux r$r-linux-qd8 8
done

check pf-disable-vfs $N pf disable-vfs $PF
check pf-vfs-gone sh -c "[ \$(cat /sys/bus/pci/devices/$PF/sriov_numvfs) = 0 ]"
finish
