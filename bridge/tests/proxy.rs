//! The bridge against a scripted proxy: this test plays QEMU's side of the
//! mpqemu link (config and BAR accesses, guest RAM in a memfd) and the
//! Verilated card runs behind the bridge in another thread. The guest is
//! a few lines of NVMe bring-up, enough to see the card fetch commands
//! from and complete them into "guest RAM" on its own time.

use nitrous_bridge::guest_ram::GuestRegion;
use nitrous_bridge::mpqemu::{Link, Msg, Region};
use nitrous_bridge::{Bridge, Options};
use nitrous_driver::sim::SimCard;
use nitrous_regmap as regmap;
use nitrous_sim::platform::{self, HostMemory, MemStore, PlatformConfig};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

const RAM: u64 = 1 << 20;
const BAR: u64 = 0xfe00_0000;
const ASQ: u64 = 0x1_0000;
const ACQ: u64 = 0x2_0000;
const DATA: u64 = 0x3_0000;
const IOSQ: u64 = 0x4_0000;
const IOCQ: u64 = 0x5_0000;

struct Qemu {
    link: Link,
    ram_fd: OwnedFd,
    ram: GuestRegion,
}

impl Qemu {
    fn ret(&self) -> u64 {
        match self.link.recv().unwrap() {
            Some(Msg::Ret(v)) => v,
            m => panic!("expected RET, got {m:?}"),
        }
    }
    fn cfg_read(&self, addr: u32, len: u32) -> u32 {
        self.link.send(&Msg::CfgRead { addr, len }).unwrap();
        self.ret() as u32
    }
    fn cfg_write(&self, addr: u32, val: u32, len: u32) {
        self.link.send(&Msg::CfgWrite { addr, val, len }).unwrap();
        self.ret();
    }
    fn read(&self, off: u64, size: u32) -> u64 {
        self.link
            .send(&Msg::BarRead {
                addr: BAR + off,
                size,
                memory: true,
            })
            .unwrap();
        self.ret()
    }
    fn write(&self, off: u64, val: u64, size: u32) {
        self.link
            .send(&Msg::BarWrite {
                addr: BAR + off,
                val,
                size,
                memory: true,
            })
            .unwrap();
        self.ret();
    }
    fn sync(&self) {
        let fd = self.ram_fd.try_clone().unwrap();
        self.link
            .send(&Msg::SyncSysmem(vec![Region {
                gpa: 0,
                size: RAM,
                offset: 0,
                fd,
            }]))
            .unwrap();
    }
    /// Wait (wall clock, no link traffic) for the CQE in slot `i` of the
    /// admin CQ with phase 1; returns (status field, command id).
    fn wait_cqe(&self, cq: u64, i: u64) -> (u16, u16) {
        let t0 = Instant::now();
        loop {
            let mut e = [0u8; 16];
            self.ram.read((cq + 16 * i) as usize, &mut e);
            let st = u16::from_le_bytes([e[14], e[15]]);
            if st & 1 == 1 {
                return (st >> 1, u16::from_le_bytes([e[12], e[13]]));
            }
            assert!(
                t0.elapsed() < Duration::from_secs(20),
                "no completion in slot {i}"
            );
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    /// Put an SQE in slot `slot` of SQ `qid` and ring its tail doorbell
    /// (NVMe 1.4 §3.1.24, DSTRD 0).
    #[allow(clippy::too_many_arguments)]
    fn submit(
        &self,
        qid: u64,
        slot: u64,
        opcode: u8,
        cid: u16,
        nsid: u32,
        prp1: u64,
        cdw10: u32,
        cdw11: u32,
    ) {
        let mut e = [0u8; 64];
        e[0] = opcode;
        e[2..4].copy_from_slice(&cid.to_le_bytes());
        e[4..8].copy_from_slice(&nsid.to_le_bytes());
        e[24..32].copy_from_slice(&prp1.to_le_bytes());
        e[40..44].copy_from_slice(&cdw10.to_le_bytes());
        e[44..48].copy_from_slice(&cdw11.to_le_bytes());
        let base = if qid == 0 { ASQ } else { IOSQ };
        self.ram.write((base + 64 * slot) as usize, &e);
        self.write(0x1000 + 8 * qid, slot + 1, 4);
    }
}

fn eventfd() -> OwnedFd {
    // SAFETY: plain syscall.
    let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
    assert!(fd >= 0);
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// The eventfd's counter (and reset it), 0 if it was not written.
fn take(fd: &OwnedFd) -> u64 {
    let mut b = [0u8; 8];
    // SAFETY: an 8-byte read from an eventfd we own.
    let n = unsafe { libc::read(fd.as_raw_fd(), b.as_mut_ptr().cast(), 8) };
    if n == 8 {
        u64::from_ne_bytes(b)
    } else {
        0
    }
}

/// Wait (wall clock) until Status.Interrupt Status equals `on`.
fn wait_intx(q: &Qemu, on: bool) {
    let t0 = Instant::now();
    while (q.cfg_read(6, 2) & 1 << 3 != 0) != on {
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "INTx never became {on}"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn memfds_named(name: &str) -> usize {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter(|t| t.to_string_lossy().contains(name))
        .count()
}

#[test]
fn a_scripted_guest_brings_up_the_vf_through_the_bridge() {
    let store = Box::new(MemStore::new(1 << 20));
    let card =
        SimCard::new(platform::card_platform_for(2, PlatformConfig::default(), store).unwrap());
    let pf = card.pf().unwrap();
    pf.enable_vfs(2).unwrap();
    pf.setup_vf(1, 256, 12, 0, &[7u8; 64]).unwrap();
    drop(pf);

    let (ours, theirs) = Link::pair().unwrap();
    let bridge = Bridge::new(card.clone(), 1, Link::new(theirs), Options::default()).unwrap();
    let server = std::thread::spawn(move || bridge.serve());

    // SAFETY: plain syscalls on a fresh memfd.
    let fd = unsafe { libc::memfd_create(c"nitrous-test-ram".as_ptr(), libc::MFD_CLOEXEC) };
    assert!(fd >= 0);
    let ram_fd = unsafe { OwnedFd::from_raw_fd(fd) };
    assert_eq!(
        unsafe { libc::ftruncate(ram_fd.as_raw_fd(), RAM as i64) },
        0
    );
    let ram = GuestRegion::map(Region {
        gpa: 0,
        size: RAM,
        offset: 0,
        fd: ram_fd.try_clone().unwrap(),
    })
    .unwrap();
    let q = Qemu {
        link: Link::new(ours),
        ram_fd,
        ram,
    };

    // Config space: identity, pin A, BAR sizing (PCI 3.0 §6.2.5.1).
    assert_eq!(q.cfg_read(0, 2), regmap::card::VENDOR_ID as u32);
    assert_eq!(q.cfg_read(2, 2), regmap::card::VF_DEVICE_ID as u32);
    assert_eq!(q.cfg_read(0x3d, 1), 1);
    q.cfg_write(0x10, u32::MAX, 4);
    assert_eq!(q.cfg_read(0x10, 4), !(regmap::BAR0_SIZE as u32 - 1));
    q.cfg_write(0x10, BAR as u32, 4);
    // Memory decoding off: the access is not claimed (all ones).
    assert_eq!(q.read(0, 4), 0xffff_ffff);
    q.cfg_write(4, 0b110, 2); // Memory Space + Bus Master
    for _ in 0..3 {
        q.sync(); // QEMU re-sends the map with new fds on every change
    }
    assert_eq!(
        memfds_named("nitrous-test-ram"),
        1,
        "the bridge closed every received fd"
    );
    let (irq, resample) = (eventfd(), eventfd());
    q.link
        .send(&Msg::SetIrqfd(vec![
            irq.try_clone().unwrap(),
            resample.try_clone().unwrap(),
        ]))
        .unwrap();

    // NVMe bring-up (NVMe 1.4 §7.6.1).
    let cap = q.read(0, 8);
    assert_eq!(
        cap & 0xffff,
        regmap::nvme::MQES as u64,
        "CAP.MQES, 64-bit read"
    );
    assert_eq!(q.read(8, 4), 0x0001_0400, "VS 1.4");
    q.write(0x24, 15 << 16 | 15, 4);
    q.write(0x28, ASQ, 8);
    q.write(0x30, ACQ, 8);
    assert_eq!(q.read(0x28, 8), ASQ);
    q.write(0x14, 1 | 6 << 16 | 4 << 20, 4);
    let t0 = Instant::now();
    while q.read(0x1c, 4) & 1 == 0 {
        assert!(t0.elapsed() < Duration::from_secs(10), "CSTS.RDY");
    }

    // Identify Controller: the card fetches the SQE from and writes data
    // and CQE into guest RAM with no further guest access.
    q.submit(0, 0, 0x06, 0x1234, 0, DATA, 1, 0);
    assert_eq!(q.wait_cqe(ACQ, 0), (0, 0x1234));
    let mut id = [0u8; 2];
    q.ram.read(DATA as usize, &mut id);
    assert_eq!(
        u16::from_le_bytes(id),
        regmap::card::VENDOR_ID,
        "Identify VID"
    );

    // INTx (NVMe 1.4 §7.5.1; no MSI-X through the proxy): the unconsumed
    // admin CQE asserts the line: Status.Interrupt Status and the eventfd.
    wait_intx(&q, true);
    assert!(take(&irq) >= 1, "interrupt eventfd written");
    // The guest ended the interrupt (resample) but did not consume the
    // entry: the level is still there, so the bridge signals again.
    let one = 1u64.to_ne_bytes();
    // SAFETY: an 8-byte write to an eventfd we own.
    unsafe { libc::write(resample.as_raw_fd(), one.as_ptr().cast(), 8) };
    let t0 = Instant::now();
    while take(&irq) == 0 {
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "no re-assertion after resample"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    // Consuming the entry (CQ 0 head doorbell) deasserts it.
    q.write(0x1004, 1, 4);
    wait_intx(&q, false);

    // I/O queue pair 1 (Create I/O CQ, then SQ: NVMe 1.4 §5.3, §5.4).
    q.submit(0, 1, 0x05, 1, 0, IOCQ, 15 << 16 | 1, 0b11);
    assert_eq!(q.wait_cqe(ACQ, 1), (0, 1));
    q.submit(0, 2, 0x01, 2, 0, IOSQ, 15 << 16 | 1, 1 << 16 | 1);
    assert_eq!(q.wait_cqe(ACQ, 2), (0, 2));
    q.write(0x1004, 3, 4);
    // Write LBA 3 from guest RAM, read it back elsewhere.
    let data: Vec<u8> = (0..4096u32).map(|i| (i * 7 + 1) as u8).collect();
    q.ram.write(DATA as usize, &data);
    q.submit(1, 0, 0x01, 10, 1, DATA, 3, 0);
    assert_eq!(q.wait_cqe(IOCQ, 0), (0, 10));
    q.submit(1, 1, 0x02, 11, 1, DATA + 0x1000, 3, 0);
    assert_eq!(q.wait_cqe(IOCQ, 1), (0, 11));
    let mut back = vec![0u8; 4096];
    q.ram.read((DATA + 0x1000) as usize, &mut back);
    assert_eq!(back, data, "read back through the card");
    // A write whose data lies outside guest RAM: the IOMMU blocks the
    // card's read, the command ends in Data Transfer Error (SCT 0, SC 04h).
    q.submit(1, 2, 0x01, 12, 1, 0x4000_0000, 4, 0);
    let (st, cid) = q.wait_cqe(IOCQ, 2);
    assert_eq!((st & 0x7ff, cid), (0x004, 12));

    // A byte write (read-modify-write of the dword): INTMS bit 0 set and
    // INTMC clears it again (NVMe 1.4 §3.1.3-4).
    q.write(0x0c, 1, 1);
    assert_eq!(q.read(0x0c, 4) & 1, 1);
    q.write(0x10, 1, 4);
    assert_eq!(q.read(0x0c, 4) & 1, 0);

    // DEVICE_RESET: the VF is reset (FLR), the guest's command register too.
    q.link.send(&Msg::DeviceReset).unwrap();
    q.ret();
    assert_eq!(q.cfg_read(4, 2) & 0b110, 0);
    assert_eq!(q.cfg_read(0x10, 4), 0, "BAR0 unassigned after reset");
    q.cfg_write(0x10, BAR as u32, 4);
    q.cfg_write(4, 0b110, 2);
    assert_eq!(q.read(0x14, 4) & 1, 0, "CC.EN after reset");
    assert_eq!(q.read(0x1c, 4) & 1, 0, "CSTS.RDY after reset");

    drop(q);
    let stats = server.join().unwrap().unwrap();
    assert!(stats.served >= 5 && stats.rejected >= 1, "{stats:?}");
    assert!(stats.dma_faults >= 1, "{stats:?}");
    assert_eq!(stats.resets, 1);
    assert_eq!(stats.ram_syncs, 3);
    assert!(stats.intx_assertions >= 2, "{stats:?}");
    assert!(stats.bar_unclaimed >= 1);
    let p = card.platform();
    assert_eq!(p.iommu().mappings(1), 0, "guest RAM left the VF's domain");
    assert!(p.faults().iter().all(|f| f.func == 1), "only VF 1 faulted");
}
