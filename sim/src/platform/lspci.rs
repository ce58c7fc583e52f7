//! Configuration space in the hex format of `lspci -xxxx` (pciutils
//! `lspci.c`, `show_hex_dump`): a device line `BB:DD.F <class>: <name>`,
//! then lines of 16 bytes, `"%02x:"` offset then `" %02x"` per byte, for
//! the whole 4 KiB space. `lspci -F <file> -vvv` reads such a dump back
//! and decodes it (pciutils `lib/dump.c`).

use super::config::{ConfigSpace, CONFIG_SIZE};
use nitrous_regmap as regmap;

/// Bus number the simulated card sits on.
pub const BUS: u8 = 1;

/// Routing ID (device << 3 | function) of function `func` of the card
/// (0 = PF at 00.0; VF i at First VF Offset + (i-1) * VF Stride, PCIe 4.0
/// §9.2.1.2).
pub fn routing_id(func: u8) -> u16 {
    if func == 0 {
        0
    } else {
        regmap::pci::FIRST_VF_OFFSET + (func as u16 - 1) * regmap::pci::VF_STRIDE
    }
}

/// `BB:DD.F` of function `func`.
pub fn bdf(func: u8) -> String {
    let rid = routing_id(func);
    format!("{:02x}:{:02x}.{:x}", BUS, (rid >> 3) & 0x1f, rid & 7)
}

fn class_name(class: u32) -> &'static str {
    match class >> 8 {
        0x0108 => "Non-Volatile memory controller",
        0x0880 => "System peripheral",
        _ => "Device",
    }
}

/// One function's dump: device line and 256 lines of hex.
pub fn format_function(func: u8, space: &ConfigSpace) -> String {
    format_bytes(&bdf(func), space.bytes())
}

/// A dump of raw config bytes under device line `bdf`.
pub fn format_bytes(bdf: &str, b: &[u8; CONFIG_SIZE]) -> String {
    let w16 = |o: usize| u16::from_le_bytes([b[o], b[o + 1]]);
    let class = u32::from_le_bytes([b[8], b[9], b[10], b[11]]) >> 8;
    let mut s = format!(
        "{bdf} {}: Device {:04x}:{:04x} (rev {:02x})\n",
        class_name(class),
        w16(0),
        w16(2),
        b[8]
    );
    for (i, line) in b.chunks(16).enumerate() {
        s.push_str(&format!("{:02x}:", i * 16));
        for x in line {
            s.push_str(&format!(" {x:02x}"));
        }
        s.push('\n');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::config::{
        MSIX_CTRL, SRIOV_CTRL, SRIOV_NUM_VFS, SRIOV_VF_ENABLE, SRIOV_VF_MSE,
    };
    use std::process::Command;

    #[test]
    fn hex_layout() {
        let pf = ConfigSpace::pf(4);
        let t = format_function(0, &pf);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 1 + 256);
        assert!(lines[0].starts_with("01:00.0 System peripheral: Device 1234:4e54"));
        assert!(lines[1].starts_with("00: 34 12 54 4e "));
        assert!(lines[17].starts_with("100: 10 00 01 00 "));
        assert!(lines[256].starts_with("ff0:"));
        assert!(lines.iter().skip(1).all(|l| l.split(' ').count() == 17));
        assert_eq!(bdf(3), "01:00.3");
        assert_eq!(bdf(9), "01:01.1");
    }

    /// Decode our dumps with the real `lspci -F` (pciutils) if installed.
    #[test]
    fn lspci_decodes_the_dump() {
        let Ok(out) = Command::new("lspci").arg("--version").output() else {
            println!("NOTICE: lspci (pciutils) not installed; decode check skipped");
            return;
        };
        assert!(out.status.success());
        let mut pf = ConfigSpace::pf(4);
        let s = regmap::pci::EXTCAP_SRIOV;
        pf.write(s + SRIOV_NUM_VFS, &2u16.to_le_bytes()).unwrap();
        pf.write(
            s + SRIOV_CTRL,
            &(SRIOV_VF_ENABLE | SRIOV_VF_MSE).to_le_bytes(),
        )
        .unwrap();
        let mut vf = ConfigSpace::vf();
        vf.write(
            regmap::pci::CAP_MSIX as u16 + MSIX_CTRL,
            &0x8000u16.to_le_bytes(),
        )
        .unwrap();
        let dump = format_function(0, &pf) + "\n" + &format_function(1, &vf);
        let dir = std::env::temp_dir().join(format!("nsim-lspci-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("dump.txt");
        std::fs::write(&f, dump).unwrap();
        let out = Command::new("lspci")
            .arg("-F")
            .arg(&f)
            .arg("-vvv")
            .output()
            .unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{text}");
        println!("{text}");
        let pf_text = text.split("01:00.1").next().unwrap();
        let vf_text = text.split("01:00.1").nth(1).expect("VF decoded");
        for want in [
            "Single Root I/O Virtualization (SR-IOV)",
            "Initial VFs: 4, Total VFs: 4, Number of VFs: 2",
            "VF offset: 1, stride: 1, Device ID: 4e56",
            "Supported Page Size: 00000553, System Page Size: 00000001",
            "IOVCtl:\tEnable+ Migration- Interrupt- MSE+",
            "MSI-X: Enable- Count=1 Masked-",
            "Vector table: BAR=0 offset=00002000",
            "PBA: BAR=0 offset=00003000",
            "Express (v2) Endpoint",
            "FLReset+",
        ] {
            assert!(
                pf_text.contains(want),
                "PF decode lacks {want:?}:\n{pf_text}"
            );
        }
        let vf_count = format!("MSI-X: Enable+ Count={}", regmap::nvme::MSIX_VECTORS);
        for want in [
            "Non-Volatile memory controller",
            vf_count.as_str(),
            "Express (v2) Endpoint",
        ] {
            assert!(
                vf_text.contains(want),
                "VF decode lacks {want:?}:\n{vf_text}"
            );
        }
        assert!(!vf_text.contains("SR-IOV"));
    }
}
