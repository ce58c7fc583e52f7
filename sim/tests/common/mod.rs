//! Helpers shared by the platform-level tests (`mod common;`): config
//! writes, PF and SR-IOV bring-up, and one PF mailbox command, all through
//! the platform's config and BAR paths (docs/CARD.md, PCIe 4.0 §9.3.3).
#![allow(dead_code)]

use nitrous_regmap::mailbox::{self as mb, Op, Status};
use nitrous_regmap::pci;
use nitrous_sim::platform::config::{
    CMD_BUS_MASTER, CMD_MEMORY, COMMAND, SRIOV_CTRL, SRIOV_NUM_VFS, SRIOV_VF_ENABLE, SRIOV_VF_MSE,
};
use nitrous_sim::platform::Platform;

/// Write a 16-bit config register of `func`.
pub fn cfg16(p: &mut Platform, func: u8, off: u16, v: u16) {
    p.config_write(func, off, &v.to_le_bytes()).unwrap();
}

/// PF: Memory Space and Bus Master on.
pub fn enable_pf(p: &mut Platform) {
    cfg16(p, 0, COMMAND, CMD_MEMORY | CMD_BUS_MASTER);
}

/// NumVFs = `n`, then VF Enable and VF MSE (SR-IOV §9.3.3.3).
pub fn enable_vfs(p: &mut Platform, n: u16) {
    cfg16(p, 0, pci::EXTCAP_SRIOV + SRIOV_NUM_VFS, n);
    cfg16(
        p,
        0,
        pci::EXTCAP_SRIOV + SRIOV_CTRL,
        SRIOV_VF_ENABLE | SRIOV_VF_MSE,
    );
}

/// One mailbox command through the platform's BAR path.
pub fn mbox(p: &mut Platform, op: Op, func: u8, slot: u8, args: &[u32]) -> (Status, u64) {
    let before = p.bar_read32(0, 0, mb::STATUS as u64).unwrap() >> 16;
    for (i, a) in args.iter().enumerate() {
        p.bar_write32(0, 0, (mb::ARG0 + 4 * i as u32) as u64, *a)
            .unwrap();
    }
    let cmd = op as u32 | (func as u32) << 8 | (slot as u32) << 16;
    p.bar_write32(0, 0, mb::CMD as u64, cmd).unwrap();
    for _ in 0..200 {
        let s = p.bar_read32(0, 0, mb::STATUS as u64).unwrap();
        if s & 1 == 0 && s >> 16 != before {
            let r0 = p.bar_read32(0, 0, mb::RES0 as u64).unwrap() as u64;
            let r1 = p.bar_read32(0, 0, mb::RES1 as u64).unwrap() as u64;
            return (Status::from_u8((s >> 8) as u8).unwrap(), r0 | r1 << 32);
        }
    }
    panic!("mailbox command {op:?} did not complete");
}
