//! PF manager: SR-IOV enable/disable, NVMe secondary controller bring-up
//! with Virtualization Management (NVMe 1.4 §5.22), and vfio-pci binding.
//!
//! The PF stays bound to the kernel nvme driver (it owns SR-IOV enable
//! through `sriov_numvfs`); our code builds every admin command and sends
//! it through the kernel's admin passthrough ioctl.

use crate::nvme::spec::{admin, cns};
use crate::{Error, Result};
use std::fs;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const SYS_PCI: &str = "/sys/bus/pci/devices";

/// PCIe SR-IOV extended capability (PCIe Base 4.0 §9.3.3), the fields we use.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SriovCap {
    /// Offset of the capability in config space.
    pub offset: u16,
    pub total_vfs: u16,
    pub initial_vfs: u16,
    pub num_vfs: u16,
    pub first_vf_offset: u16,
    pub vf_stride: u16,
    pub vf_device_id: u16,
}

/// Find and decode the SR-IOV capability (ID 0010h) in a config-space dump.
pub fn parse_sriov(config: &[u8]) -> Option<SriovCap> {
    let rd16 = |o: usize| {
        config
            .get(o..o + 2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]))
    };
    let rd32 = |o: usize| {
        config
            .get(o..o + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    let mut off = 0x100usize;
    for _ in 0..64 {
        let h = rd32(off)?;
        if h == 0 || h == u32::MAX {
            return None;
        }
        if h & 0xffff == 0x0010 {
            return Some(SriovCap {
                offset: off as u16,
                initial_vfs: rd16(off + 0x0c)?,
                total_vfs: rd16(off + 0x0e)?,
                num_vfs: rd16(off + 0x10)?,
                first_vf_offset: rd16(off + 0x14)?,
                vf_stride: rd16(off + 0x16)?,
                vf_device_id: rd16(off + 0x1a)?,
            });
        }
        let next = (h >> 20) as usize;
        if next < 0x100 {
            return None;
        }
        off = next;
    }
    None
}

/// One virtual function as reported to the user.
#[derive(Clone, Debug)]
pub struct VfInfo {
    /// VF number (1-based, as in the secondary controller list).
    pub vf: u16,
    pub bdf: String,
    /// NVMe secondary controller id, if known.
    pub cntlid: Option<u16>,
    pub iommu_group: Option<u32>,
    pub driver: Option<String>,
}

impl VfInfo {
    /// Arguments that hand this VF to a QEMU/KVM guest.
    pub fn vmm_args(&self) -> String {
        format!("-device vfio-pci,host={}", self.bdf)
    }
}

/// Secondary Controller Entry (§5.15.2.13, Figure 264).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecondaryController {
    pub scid: u16,
    pub pcid: u16,
    pub online: bool,
    pub vfn: u16,
    pub nvq: u16,
    pub nvi: u16,
}

/// Decode an Identify Secondary Controller List (CNS 15h).
pub fn parse_secondary_list(d: &[u8]) -> Vec<SecondaryController> {
    let n = d.first().copied().unwrap_or(0) as usize;
    (0..n.min(127))
        .filter_map(|i| {
            let e = d.get(32 + 32 * i..64 + 32 * i)?;
            let u = |o: usize| u16::from_le_bytes([e[o], e[o + 1]]);
            Some(SecondaryController {
                scid: u(0),
                pcid: u(2),
                online: e[4] & 1 == 1,
                vfn: u(8),
                nvq: u(10),
                nvi: u(12),
            })
        })
        .collect()
}

/// Primary Controller Capabilities (CNS 14h, §5.15.2.12, Figure 263), the
/// parts we use.
#[derive(Clone, Debug, Default)]
pub struct PrimaryCaps {
    pub cntlid: u16,
    /// VQ / VI flexible resources: total, max per secondary.
    pub vqfrt: u32,
    pub vqfrsm: u16,
    pub vifrt: u32,
    pub vifrsm: u16,
}

fn parse_primary_caps(d: &[u8]) -> PrimaryCaps {
    let u16at = |o: usize| u16::from_le_bytes([d[o], d[o + 1]]);
    let u32at = |o: usize| u32::from_le_bytes([d[o], d[o + 1], d[o + 2], d[o + 3]]);
    PrimaryCaps {
        cntlid: u16at(0),
        vqfrt: u32at(32),
        vqfrsm: u16at(44),
        vifrt: u32at(64),
        vifrsm: u16at(76),
    }
}

// struct nvme_passthru_cmd (include/uapi/linux/nvme_ioctl.h), 72 bytes.
#[repr(C)]
#[derive(Default)]
struct PassthruCmd {
    opcode: u8,
    flags: u8,
    rsvd1: u16,
    nsid: u32,
    cdw2: u32,
    cdw3: u32,
    metadata: u64,
    addr: u64,
    metadata_len: u32,
    data_len: u32,
    cdw10: u32,
    cdw11: u32,
    cdw12: u32,
    cdw13: u32,
    cdw14: u32,
    cdw15: u32,
    timeout_ms: u32,
    result: u32,
}
const _: () = assert!(std::mem::size_of::<PassthruCmd>() == 72);
/// _IOWR('N', 0x41, struct nvme_admin_cmd)
const NVME_IOCTL_ADMIN_CMD: u64 = 0xC048_4E41;

fn sysfs_write(p: &Path, v: &str) -> Result<()> {
    fs::write(p, v).map_err(|e| Error::io(format!("write {v:?} to {}", p.display()), e))
}

fn sysfs_read(p: &Path) -> Result<String> {
    fs::read_to_string(p)
        .map(|s| s.trim().to_string())
        .map_err(|e| Error::io(format!("read {}", p.display()), e))
}

/// Validate a PCI address like `0000:01:00.0`.
pub fn check_bdf(bdf: &str) -> Result<()> {
    let b = bdf.as_bytes();
    let ok = b.len() == 12
        && b[4] == b':'
        && b[7] == b':'
        && b[10] == b'.'
        && bdf[..4].chars().all(|c| c.is_ascii_hexdigit())
        && bdf[5..7].chars().all(|c| c.is_ascii_hexdigit())
        && bdf[8..10].chars().all(|c| c.is_ascii_hexdigit())
        && matches!(b[11], b'0'..=b'7');
    if ok {
        Ok(())
    } else {
        Err(Error::Invalid(format!(
            "bad PCI address {bdf:?} (want DDDD:BB:DD.F)"
        )))
    }
}

/// Driver currently bound to `bdf`, if any.
pub fn bound_driver(bdf: &str) -> Option<String> {
    fs::read_link(Path::new(SYS_PCI).join(bdf).join("driver"))
        .ok()
        .and_then(|p| p.file_name().map(|s| s.to_string_lossy().to_string()))
}

/// Bind `bdf` to vfio-pci via `driver_override` (unbinding it first).
pub fn bind_vfio(bdf: &str) -> Result<()> {
    check_bdf(bdf)?;
    let dev = Path::new(SYS_PCI).join(bdf);
    if bound_driver(bdf).as_deref() == Some("vfio-pci") {
        return Ok(());
    }
    sysfs_write(&dev.join("driver_override"), "vfio-pci")?;
    if bound_driver(bdf).is_some() {
        sysfs_write(&dev.join("driver/unbind"), bdf)?;
    }
    sysfs_write(Path::new("/sys/bus/pci/drivers_probe"), bdf)?;
    if bound_driver(bdf).as_deref() != Some("vfio-pci") {
        return Err(Error::Pf(format!(
            "{bdf} did not bind to vfio-pci (is the module loaded?)"
        )));
    }
    Ok(())
}

/// Unbind `bdf` from its driver and clear `driver_override`.
pub fn unbind(bdf: &str) -> Result<()> {
    let dev = Path::new(SYS_PCI).join(bdf);
    if bound_driver(bdf).is_some() {
        sysfs_write(&dev.join("driver/unbind"), bdf)?;
    }
    let _ = sysfs_write(&dev.join("driver_override"), "\n");
    Ok(())
}

/// Functions currently bound to vfio-pci.
pub fn vfio_bound() -> Vec<(String, Option<u32>, String)> {
    let mut v = Vec::new();
    if let Ok(rd) = fs::read_dir("/sys/bus/pci/drivers/vfio-pci") {
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            if check_bdf(&name).is_err() {
                continue;
            }
            let dev = Path::new(SYS_PCI).join(&name);
            let id = format!(
                "{}:{}",
                sysfs_read(&dev.join("vendor"))
                    .unwrap_or_default()
                    .trim_start_matches("0x"),
                sysfs_read(&dev.join("device"))
                    .unwrap_or_default()
                    .trim_start_matches("0x")
            );
            v.push((name.clone(), crate::vfio::iommu_group(&name).ok(), id));
        }
    }
    v.sort();
    v
}

/// The SR-IOV + NVMe virtualization manager of one PF.
pub struct PfManager {
    bdf: String,
    dev: PathBuf,
    ctrl_path: PathBuf,
    ctrl_name: String,
}

impl PfManager {
    /// Open the PF at `bdf` (bound to the kernel nvme driver).
    pub fn open(bdf: &str) -> Result<Self> {
        check_bdf(bdf)?;
        let dev = Path::new(SYS_PCI).join(bdf);
        if !dev.exists() {
            return Err(Error::Pf(format!("no PCI function {bdf}")));
        }
        let ctrl_name = fs::read_dir(dev.join("nvme"))
            .map_err(|e| {
                Error::io(
                    format!("{bdf}: no nvme controller (bind the PF to nvme)"),
                    e,
                )
            })?
            .flatten()
            .map(|e| e.file_name().to_string_lossy().to_string())
            .find(|n| n.starts_with("nvme"))
            .ok_or_else(|| Error::Pf(format!("{bdf}: no nvme controller")))?;
        Ok(PfManager {
            bdf: bdf.to_string(),
            ctrl_path: PathBuf::from("/dev").join(&ctrl_name),
            ctrl_name,
            dev,
        })
    }

    pub fn bdf(&self) -> &str {
        &self.bdf
    }

    /// The SR-IOV capability from config space.
    pub fn sriov(&self) -> Result<SriovCap> {
        let cfg =
            fs::read(self.dev.join("config")).map_err(|e| Error::io("read config space", e))?;
        parse_sriov(&cfg).ok_or_else(|| Error::Pf(format!("{}: no SR-IOV capability", self.bdf)))
    }

    /// Issue an admin command through the kernel passthrough; returns
    /// dword 0. `data` (if any) is the command's data buffer.
    pub fn admin(
        &self,
        opcode: u8,
        nsid: u32,
        cdw10: u32,
        cdw11: u32,
        data: Option<&mut [u8]>,
    ) -> Result<u32> {
        let f = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&self.ctrl_path)
            .map_err(|e| Error::io(format!("open {}", self.ctrl_path.display()), e))?;
        let mut cmd = PassthruCmd {
            opcode,
            nsid,
            cdw10,
            cdw11,
            timeout_ms: 10_000,
            ..Default::default()
        };
        if let Some(d) = data {
            cmd.addr = d.as_mut_ptr() as u64;
            cmd.data_len = d.len() as u32;
        }
        // SAFETY: syscall. `cmd` is a live nvme_passthru_cmd; `addr` (if
        // set) points to a live buffer of data_len bytes that the kernel
        // copies to/from before returning.
        let r = unsafe {
            libc::ioctl(
                f.as_raw_fd(),
                NVME_IOCTL_ADMIN_CMD as _,
                &mut cmd as *mut PassthruCmd,
            )
        };
        if r < 0 {
            return Err(Error::last_os(format!(
                "{} admin opcode {opcode:#04x}",
                self.ctrl_name
            )));
        }
        if r > 0 {
            let st = crate::nvme::Status::from_field(r as u16);
            return Err(Error::Command {
                qid: 0,
                opcode,
                status: st,
            });
        }
        Ok(cmd.result)
    }

    /// Virtualization Management (§5.22): CDW10 = ACT | RT<<8 | CNTLID<<16,
    /// CDW11 = NR.
    pub fn virt_mgmt(&self, act: u8, rt: u8, cntlid: u16, nr: u16) -> Result<u32> {
        self.admin(
            admin::VIRT_MGMT,
            0,
            (act as u32) | (rt as u32) << 8 | (cntlid as u32) << 16,
            nr as u32,
            None,
        )
    }

    fn identify(&self, cns: u32) -> Result<Vec<u8>> {
        let mut d = vec![0u8; 4096];
        self.admin(admin::IDENTIFY, 0, cns, 0, Some(&mut d))?;
        Ok(d)
    }

    /// Primary Controller Capabilities.
    pub fn primary_caps(&self) -> Result<PrimaryCaps> {
        Ok(parse_primary_caps(&self.identify(0x14)?))
    }

    /// Secondary controllers of this PF.
    pub fn secondaries(&self) -> Result<Vec<SecondaryController>> {
        Ok(parse_secondary_list(
            &self.identify(cns::SECONDARY_CTRL_LIST)?,
        ))
    }

    /// Controller reset through the kernel driver (sysfs `reset_controller`),
    /// then wait until the controller is `live` again.
    fn reset_controller(&self) -> Result<()> {
        let class = Path::new("/sys/class/nvme").join(&self.ctrl_name);
        sysfs_write(&class.join("reset_controller"), "1")?;
        let state = Path::new("/sys/class/nvme")
            .join(&self.ctrl_name)
            .join("state");
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(30) {
            if sysfs_read(&state).map(|s| s == "live").unwrap_or(false) {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err(Error::Pf(format!(
            "{} not live after reset",
            self.ctrl_name
        )))
    }

    /// VF addresses, in VF order.
    pub fn vf_bdfs(&self) -> Vec<String> {
        let mut v = Vec::new();
        for i in 0.. {
            match fs::read_link(self.dev.join(format!("virtfn{i}"))) {
                Ok(p) => v.push(
                    p.file_name()
                        .map(|s| s.to_string_lossy().to_string())
                        .unwrap_or_default(),
                ),
                Err(_) => break,
            }
        }
        v
    }

    /// Current VFs with their secondary controller ids and drivers.
    pub fn vfs(&self) -> Result<Vec<VfInfo>> {
        let secs = self.secondaries().unwrap_or_default();
        Ok(self
            .vf_bdfs()
            .into_iter()
            .enumerate()
            .map(|(i, bdf)| VfInfo {
                vf: i as u16 + 1,
                cntlid: secs.iter().find(|s| s.vfn == i as u16 + 1).map(|s| s.scid),
                iommu_group: crate::vfio::iommu_group(&bdf).ok(),
                driver: bound_driver(&bdf),
                bdf,
            })
            .collect())
    }

    /// Enable `count` VFs and bring their NVMe secondary controllers
    /// online: release the PF's flexible resources (action 1), reset the
    /// PF, disable autoprobe, write sriov_numvfs, assign VQ/VI resources
    /// (action 8) and set each secondary online (action 9).
    pub fn enable_vfs(&self, count: u16) -> Result<Vec<VfInfo>> {
        let cap = self.sriov()?;
        if count == 0 || count > cap.total_vfs {
            return Err(Error::Invalid(format!(
                "VF count {count} (TotalVFs {})",
                cap.total_vfs
            )));
        }
        let current: u16 = sysfs_read(&self.dev.join("sriov_numvfs"))?
            .parse()
            .unwrap_or(0);
        if current != 0 {
            self.disable_vfs()?;
        }
        let caps = self.primary_caps()?;
        if caps.vqfrt == 0 || caps.vifrt == 0 {
            return Err(Error::Unsupported(format!(
                "{}: no flexible VQ/VI resources (VQFRT {}, VIFRT {})",
                self.bdf, caps.vqfrt, caps.vifrt
            )));
        }
        // Action 1: Primary Controller Flexible Allocation with NR=0 for
        // VQ (RT 0) and VI (RT 1) resources; effective after a reset.
        self.virt_mgmt(1, 0, caps.cntlid, 0)?;
        self.virt_mgmt(1, 1, caps.cntlid, 0)?;
        self.reset_controller()?;
        sysfs_write(&self.dev.join("sriov_drivers_autoprobe"), "0")?;
        sysfs_write(&self.dev.join("sriov_numvfs"), &count.to_string())?;
        let nvq = ((caps.vqfrt / count as u32) as u16).min(caps.vqfrsm);
        let nvi = ((caps.vifrt / count as u32) as u16).min(caps.vifrsm);
        if nvq < 2 || nvi < 1 {
            return Err(Error::Unsupported(format!(
                "too few flexible resources per VF (VQ {nvq}, VI {nvi})"
            )));
        }
        let secs = self.secondaries()?;
        for vf in 1..=count {
            let s = secs
                .iter()
                .find(|s| s.vfn == vf)
                .ok_or_else(|| Error::Pf(format!("no secondary controller for VF {vf}")))?;
            if s.online {
                self.virt_mgmt(7, 0, s.scid, 0)?;
            }
            self.virt_mgmt(8, 0, s.scid, nvq)?;
            self.virt_mgmt(8, 1, s.scid, nvi)?;
            self.virt_mgmt(9, 0, s.scid, 0)?;
        }
        self.vfs()
    }

    /// Bind every VF to vfio-pci.
    pub fn bind_vfio(&self) -> Result<Vec<VfInfo>> {
        let vfs = self.vf_bdfs();
        if vfs.is_empty() {
            return Err(Error::Pf(format!("{}: no VFs enabled", self.bdf)));
        }
        for bdf in &vfs {
            bind_vfio(bdf)?;
        }
        self.vfs()
    }

    /// Undo: offline every secondary controller (action 7), unbind the
    /// VFs, set sriov_numvfs=0, restore autoprobe.
    pub fn disable_vfs(&self) -> Result<()> {
        for bdf in self.vf_bdfs() {
            unbind(&bdf)?;
        }
        if let Ok(secs) = self.secondaries() {
            for s in secs.iter().filter(|s| s.online) {
                self.virt_mgmt(7, 0, s.scid, 0)?;
            }
        }
        sysfs_write(&self.dev.join("sriov_numvfs"), "0")?;
        sysfs_write(&self.dev.join("sriov_drivers_autoprobe"), "1")?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sriov_cap_parse() {
        let mut cfg = vec![0u8; 4096];
        // An AER cap at 0x100 pointing to SR-IOV at 0x160.
        cfg[0x100..0x104].copy_from_slice(&(0x0001u32 | 1 << 16 | 0x160 << 20).to_le_bytes());
        cfg[0x160..0x164].copy_from_slice(&(0x0010u32 | 1 << 16).to_le_bytes());
        cfg[0x16c..0x16e].copy_from_slice(&2u16.to_le_bytes());
        cfg[0x16e..0x170].copy_from_slice(&2u16.to_le_bytes());
        cfg[0x174..0x176].copy_from_slice(&1u16.to_le_bytes());
        cfg[0x176..0x178].copy_from_slice(&1u16.to_le_bytes());
        cfg[0x17a..0x17c].copy_from_slice(&0x0010u16.to_le_bytes());
        let c = parse_sriov(&cfg).unwrap();
        assert_eq!(c.offset, 0x160);
        assert_eq!(c.total_vfs, 2);
        assert_eq!(c.first_vf_offset, 1);
        assert_eq!(c.vf_device_id, 0x10);
        assert_eq!(parse_sriov(&vec![0u8; 4096]), None);
    }

    #[test]
    fn secondary_list_parse() {
        let mut d = vec![0u8; 4096];
        d[0] = 2;
        for i in 0..2usize {
            let e = 32 + 32 * i;
            d[e..e + 2].copy_from_slice(&(i as u16 + 1).to_le_bytes());
            d[e + 4] = (i == 1) as u8;
            d[e + 8..e + 10].copy_from_slice(&(i as u16 + 1).to_le_bytes());
            d[e + 10..e + 12].copy_from_slice(&3u16.to_le_bytes());
        }
        let l = parse_secondary_list(&d);
        assert_eq!(l.len(), 2);
        assert_eq!(l[1].scid, 2);
        assert!(l[1].online && !l[0].online);
        assert_eq!(l[0].vfn, 1);
        assert_eq!(l[0].nvq, 3);
    }

    #[test]
    fn bdf_check() {
        assert!(check_bdf("0000:01:00.1").is_ok());
        assert!(check_bdf("01:00.1").is_err());
        assert!(check_bdf("0000:01:00.8").is_err());
        assert!(check_bdf("0000:0g:00.0").is_err());
    }
}
