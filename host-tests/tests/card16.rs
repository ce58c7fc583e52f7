//! The card built with 16 VFs (`card16`: compact XTS engine) — the router,
//! mailbox tables, MSI-X and NVMe front at full function count. Every VF
//! gets its own key and namespace; each writes its own pattern through the
//! unchanged NVMe driver; then every VF reads back only its own data, the
//! backend holds 16 different ciphertexts (RustCrypto `xts-mode`), and no
//! VF's BAR reaches another's state or the PF mailbox.

use nitrous_driver::nvme::{Nvme, Options};
use nitrous_driver::sim::SimCard;
use nitrous_host_tests::xts;
use nitrous_regmap::mailbox as mb;
use nitrous_sim::platform::{card16_platform, MemStore, PlatformConfig};
use std::time::Duration;

const VFS: u8 = 16;
const BLOCKS: u64 = 64; // 512-byte LBAs: 32 KiB per VF

fn key(vf: u8) -> [u8; 64] {
    std::array::from_fn(|j| (j as u8) ^ vf.wrapping_mul(0x3b))
}

#[test]
fn sixteen_vfs_each_see_only_their_own_encrypted_namespace() {
    let p = card16_platform(
        PlatformConfig::default(),
        Box::new(MemStore::new(VFS as u64 * BLOCKS * 512)),
    )
    .expect("this build has the card16 model");
    let card = SimCard::new(p);
    let pf = card.pf().unwrap();
    assert_eq!(pf.sriov().unwrap().total_vfs, 16);
    pf.enable_vfs(VFS as u16).unwrap();
    for vf in 1..=VFS {
        pf.setup_vf(vf, BLOCKS, 9, (vf as u64 - 1) * BLOCKS * 512, &key(vf))
            .unwrap();
    }
    let mut devs: Vec<_> = (1..=VFS)
        .map(|vf| {
            Nvme::new(
                card.function(vf).unwrap(),
                Options {
                    io_queues: 1,
                    queue_size: 16,
                    interrupts: true,
                    cmd_timeout: Duration::from_secs(600),
                },
            )
            .unwrap()
        })
        .collect();
    let pattern = |vf: u8| -> Vec<u8> { (0..1024).map(|i| (i as u8) ^ vf).collect() };
    for (i, d) in devs.iter_mut().enumerate() {
        assert_eq!(d.controller().cntlid, i as u16 + 1);
        d.write(0, 2, &pattern(i as u8 + 1)).unwrap();
    }
    for (i, d) in devs.iter_mut().enumerate() {
        let vf = i as u8 + 1;
        let mut back = vec![0u8; 1024];
        d.read(0, 2, &mut back).unwrap();
        assert_eq!(back, pattern(vf), "VF {vf}");
        // A never-written LBA reads as this VF's decryption of the zeroed
        // backend (tweak 4), never another VF's data.
        d.read(0, 4, &mut back).unwrap();
        assert_eq!(
            back,
            xts(&key(vf), 4, 512, &[0u8; 1024], false),
            "VF {vf} LBA 4"
        );
    }
    let mut pl = card.platform();
    for vf in 1..=VFS {
        let want = xts(&key(vf), 2, 512, &pattern(vf), true);
        let mut raw = vec![0u8; 1024];
        pl.backend()
            .read((vf as u64 - 1) * BLOCKS * 512 + 1024, &mut raw)
            .unwrap();
        assert_eq!(raw, want, "VF {vf} backend ciphertext");
    }
    // Register isolation at 16 VFs: every VF reads its own CC (enabled),
    // and none reaches the PF's mailbox ID.
    for vf in 1..=VFS {
        let cc = pl
            .bar_read32(vf, 0, nitrous_regmap::nvme::CC as u64)
            .unwrap();
        assert_eq!(cc & 1, 1, "VF {vf} CC.EN");
        assert_ne!(
            pl.bar_read32(vf, 0, mb::ID as u64).unwrap(),
            nitrous_regmap::CARD_ID
        );
    }
    assert!(pl.faults().is_empty());
}
