//! Admin data dword generator: the bytes of the Identify data structures
//! (NVMe 1.4 §5.15.2) and log pages (§5.14.1) that `nvme/front` streams to
//! the host through the mover's HOST_WRITE (`gd_*`), one dword at a time.
//!
//! Purely combinational: `dw` is the dword index in the structure (byte
//! offset / 4); indices past 1023 read 0. Four instances side by side give
//! one 128-bit `gd_data` beat per clock.

use rust_hdl::prelude::*;

/// `kind`: nothing (zeros: Error Information log, §5.14.1.1, or an empty list).
pub const KIND_ZERO: u8 = 0;
/// `kind`: Identify Namespace data structure (CNS 00h, §5.15.2.1, Figure 247).
pub const KIND_ID_NS: u8 = 1;
/// `kind`: Identify Controller data structure (CNS 01h, §5.15.2.2, Figure 249).
pub const KIND_ID_CTRL: u8 = 2;
/// `kind`: Active Namespace ID list (CNS 02h, §5.15.2.3): [1].
pub const KIND_NS_LIST: u8 = 3;
/// `kind`: SMART / Health Information log (LID 02h, §5.14.1.2).
pub const KIND_SMART: u8 = 4;
/// `kind`: Firmware Slot Information log (LID 03h, §5.14.1.3).
pub const KIND_FW_SLOT: u8 = 5;
/// `kind`: Namespace Identification Descriptor list (CNS 03h, §5.15.2.4):
/// one NGUID descriptor (NIDT 02h, NIDL 16), then zeros.
pub const KIND_NS_DESC: u8 = 6;

/// Namespace Identification Type of the NGUID descriptor (§5.15.2.4).
pub const NIDT_NGUID: u8 = 0x02;
/// NGUID prefix: bytes 0..14 of every namespace's NGUID; byte 15 is the
/// function number, so NSID 1 of each VF has its own NGUID (Linux refuses a
/// namespace whose NGUID duplicates another one's).
pub const NGUID_PREFIX: [u8; 15] = *b"nitrous-nguid-\0";

/// NGUID of namespace 1 of function `func` (Identify Namespace bytes
/// 104..119, §5.15.2.1; the same value in the CNS 03h list).
pub fn nguid(func: u8) -> [u8; 16] {
    let mut g = [0u8; 16];
    g[..15].copy_from_slice(&NGUID_PREFIX);
    g[15] = func;
    g
}

/// Serial number prefix; the last two characters are the function number in
/// decimal (bytes 4..23 of Identify Controller).
pub const SERIAL_PREFIX: &str = "NTRS0000000000000F";
/// NVM Subsystem NVMe Qualified Name prefix (Identify Controller bytes
/// 768..1023, §5.15.2.2 and §7.9): each VF is its own subsystem, so the
/// two decimal digits of the function number follow, then NUL.
pub const SUBNQN_PREFIX: &str = "nqn.2026-11.io.nitrous:vf";

/// SUBNQN of function `func` (NUL-terminated, zero-padded to 256 bytes).
pub fn subnqn(func: u8) -> Vec<u8> {
    let mut b = format!("{SUBNQN_PREFIX}{func:02}").into_bytes();
    b.resize(256, 0);
    b
}

/// Model number (bytes 24..63, space padded).
pub const MODEL: &str = "nitrous NVMe VF";
/// Firmware revision (bytes 64..71, space padded; also Firmware Slot 1).
pub const FIRMWARE: &str = "0.1";
/// Asynchronous Event Request Limit (0-based): 4 outstanding.
pub const AERL: u8 = 3;
/// Abort Command Limit (0-based).
pub const ACL: u8 = 3;
/// SMART composite temperature in kelvin (0x0141 = 321 K, 48 C).
pub const COMPOSITE_TEMP_K: u16 = 0x0141;

/// Bytes 0..83 of Identify Controller with the per-function fields (SN
/// digits, CNTLID) zero: VID, SSVID, SN, MN, FR, RAB, IEEE, CMIC, MDTS, VER.
pub fn id_ctrl_template() -> [u8; 84] {
    let mut b = [0u8; 84];
    let vid = nitrous_regmap::card::VENDOR_ID.to_le_bytes();
    b[0..2].copy_from_slice(&vid); // VID
    b[2..4].copy_from_slice(&vid); // SSVID
    let pad = |dst: &mut [u8], s: &str| {
        dst.fill(b' ');
        dst[..s.len()].copy_from_slice(s.as_bytes());
    };
    pad(&mut b[4..24], SERIAL_PREFIX);
    b[22] = 0; // SN digits: filled per function
    b[23] = 0;
    pad(&mut b[24..64], MODEL);
    pad(&mut b[64..72], FIRMWARE);
    b[76] = 0x04; // CMIC bit 2: associated with an SR-IOV Virtual Function
    b[77] = nitrous_regmap::nvme::MDTS;
    b[80..84].copy_from_slice(&nitrous_regmap::nvme::VERSION_1_4.to_le_bytes()); // VER
    b
}

/// One dword of an admin data structure.
#[derive(LogicBlock)]
pub struct AdminData {
    /// Structure to produce (`KIND_*`).
    pub kind: Signal<In, Bits<3>>,
    /// Dword index in the structure.
    pub dw: Signal<In, Bits<12>>,
    /// Function number (CNTLID, serial number digits).
    pub func: Signal<In, Bits<5>>,
    /// Namespace size in LBAs (NSZE / NCAP / NUSE).
    pub blocks: Signal<In, Bits<64>>,
    /// LBA data size as a power of two (LBAF0.LBADS).
    pub lba_shift: Signal<In, Bits<4>>,
    /// The dword.
    pub data: Signal<Out, Bits<32>>,

    ctrl_template: Constant<Bits<672>>,
    acl_aerl: Constant<Bits<32>>,
    smart0: Constant<Bits<32>>,
    fw_dw2: Constant<Bits<32>>,
    tmpl_off: Signal<Local, Bits<10>>,
    tens: Signal<Local, Bits<5>>,
    ones: Signal<Local, Bits<5>>,
    fw_dw3: Constant<Bits<32>>,
    /// NGUID prefix (byte 15 = 0), byte i at bits 8i+7..8i.
    nguid_prefix: Constant<Bits<128>>,
    /// This function's NGUID.
    ng: Signal<Local, Bits<128>>,
    /// NGUID dword index that `dw` selects (low 2 bits used).
    ng_dw: Signal<Local, Bits<12>>,
    /// Bit offset of the NGUID dword that `dw` selects.
    ng_off: Signal<Local, Bits<7>>,
    /// SUBNQN bytes 0..27 with the digits (bytes 25, 26) zero.
    nqn: Constant<Bits<224>>,
    /// SUBNQN dword index that `dw` selects (low 3 bits used).
    nqn_dw: Signal<Local, Bits<12>>,
    /// Bit offset of that dword in `nqn`.
    nqn_off: Signal<Local, Bits<8>>,
}

impl Default for AdminData {
    fn default() -> Self {
        Self::new()
    }
}

impl AdminData {
    pub fn new() -> Self {
        let t = id_ctrl_template();
        let mut v = 0u128;
        let mut big: Bits<672> = Bits::default();
        for (i, chunk) in t.chunks(16).enumerate() {
            v = 0;
            for (j, &x) in chunk.iter().enumerate() {
                v |= (x as u128) << (8 * j);
            }
            let part: Bits<672> = bit_cast::<672, 128>(
                bits::<128>(v as u64)
                    | (bit_cast::<128, 64>(bits::<64>((v >> 64) as u64)) << 64u64),
            );
            big = big | (part << (128 * i) as u64);
        }
        let _ = v;
        let g = nguid(0);
        let g_lo = u64::from_le_bytes(g[0..8].try_into().unwrap());
        let g_hi = u64::from_le_bytes(g[8..16].try_into().unwrap());
        let p = SUBNQN_PREFIX.as_bytes();
        assert_eq!(p.len(), 25, "the digits are bytes 25, 26 of SUBNQN");
        let mut nqn: Bits<224> = Bits::default();
        for (i, &c) in p.iter().enumerate() {
            nqn = nqn | (bit_cast::<224, 8>(bits::<8>(c as u64)) << (8 * i) as u64);
        }
        let fr = FIRMWARE.as_bytes();
        let mut fw = [b' '; 8];
        fw[..fr.len()].copy_from_slice(fr);
        Self {
            kind: Default::default(),
            dw: Default::default(),
            func: Default::default(),
            blocks: Default::default(),
            lba_shift: Default::default(),
            data: Default::default(),
            ctrl_template: Constant::new(big),
            acl_aerl: Constant::new(bits::<32>(((ACL as u64) << 16) | ((AERL as u64) << 24))),
            // Critical Warning 0, Composite Temperature, Available Spare 100%.
            smart0: Constant::new(bits::<32>(
                ((COMPOSITE_TEMP_K as u64) << 8) | (100u64 << 24),
            )),
            fw_dw2: Constant::new(bits::<32>(
                u32::from_le_bytes(fw[0..4].try_into().unwrap()) as u64
            )),
            fw_dw3: Constant::new(bits::<32>(
                u32::from_le_bytes(fw[4..8].try_into().unwrap()) as u64
            )),
            tmpl_off: Default::default(),
            tens: Default::default(),
            ones: Default::default(),
            nguid_prefix: Constant::new(
                bits::<128>(g_lo) | (bit_cast::<128, 64>(bits::<64>(g_hi)) << 64u64),
            ),
            ng: Default::default(),
            ng_dw: Default::default(),
            ng_off: Default::default(),
            nqn: Constant::new(nqn),
            nqn_dw: Default::default(),
            nqn_off: Default::default(),
        }
    }
}

impl Logic for AdminData {
    #[hdl_gen]
    fn update(&mut self) {
        self.tmpl_off.next = bit_cast::<10, 12>(self.dw.val()) << 5;
        // Function number in decimal for the serial number (0..=31).
        if self.func.val() >= 30 {
            self.tens.next = bits::<5>(3);
            self.ones.next = self.func.val() - 30;
        } else if self.func.val() >= 20 {
            self.tens.next = bits::<5>(2);
            self.ones.next = self.func.val() - 20;
        } else if self.func.val() >= 10 {
            self.tens.next = bits::<5>(1);
            self.ones.next = self.func.val() - 10;
        } else {
            self.tens.next = bits::<5>(0);
            self.ones.next = self.func.val();
        }
        // NGUID (§5.15.2.1 bytes 104..119): the prefix, byte 15 = function.
        self.ng.next = self.nguid_prefix.val() | (bit_cast::<128, 5>(self.func.val()) << 120);
        // Identify Namespace dwords 26..29, descriptor list dwords 1..4.
        self.ng_dw.next = self.dw.val() - 1;
        if self.kind.val() == 1 {
            self.ng_dw.next = self.dw.val() - 26;
        }
        self.ng_off.next = bit_cast::<7, 2>(self.ng_dw.val().get_bits::<2>(0)) << 5;
        self.nqn_dw.next = self.dw.val() - 192;
        self.nqn_off.next = bit_cast::<8, 3>(self.nqn_dw.val().get_bits::<3>(0)) << 5;
        self.data.next = bits::<32>(0);
        if self.kind.val() == 2 {
            if self.dw.val() < 21 {
                self.data.next = self
                    .ctrl_template
                    .val()
                    .get_bits::<32>(self.tmpl_off.val().index());
            }
            if self.dw.val() == 5 {
                // Bytes 22, 23: SN digits ('0' | d).
                self.data.next = self.ctrl_template.val().get_bits::<32>(160)
                    | ((bit_cast::<32, 5>(self.tens.val()) | 0x30) << 16)
                    | ((bit_cast::<32, 5>(self.ones.val()) | 0x30) << 24);
            }
            if self.dw.val() == 19 {
                // Bytes 78..79: CNTLID = function number.
                self.data.next = self.ctrl_template.val().get_bits::<32>(608)
                    | (bit_cast::<32, 5>(self.func.val()) << 16);
            }
            if self.dw.val() == 27 {
                // Byte 111: CNTRLTYPE 1 = I/O controller.
                self.data.next = bits::<32>(0x0100_0000);
            }
            if self.dw.val() == 64 {
                // Bytes 258, 259: ACL, AERL.
                self.data.next = self.acl_aerl.val();
            }
            if self.dw.val() == 65 {
                // Byte 260: FRMW = slot 1 read-only, 1 slot.
                self.data.next = bits::<32>(0x03);
            }
            if self.dw.val() == 128 {
                // Bytes 512, 513: SQES 0x66, CQES 0x44.
                self.data.next = bits::<32>(0x4466);
            }
            if self.dw.val() == 129 {
                // NN = 1.
                self.data.next = bits::<32>(1);
            }
            if self.dw.val() == 130 {
                // ONCS bit 3: Write Zeroes.
                self.data.next = bits::<32>(0x08);
            }
            if self.dw.val() == 131 {
                // Byte 525: VWC bit 0 = volatile write cache present.
                self.data.next = bits::<32>(0x0100);
            }
            if (self.dw.val() >= 192) & (self.dw.val() <= 197) {
                // SUBNQN bytes 0..23.
                self.data.next = self.nqn.val().get_bits::<32>(self.nqn_off.val().index());
            }
            if self.dw.val() == 198 {
                // SUBNQN bytes 24..27: 'f', the two digits, NUL.
                self.data.next = self.nqn.val().get_bits::<32>(192)
                    | ((bit_cast::<32, 5>(self.tens.val()) | 0x30) << 8)
                    | ((bit_cast::<32, 5>(self.ones.val()) | 0x30) << 16);
            }
        }
        if self.kind.val() == 1 {
            if (self.dw.val() == 0) | (self.dw.val() == 2) | (self.dw.val() == 4) {
                // NSZE, NCAP, NUSE (low dwords).
                self.data.next = self.blocks.val().get_bits::<32>(0);
            }
            if (self.dw.val() == 1) | (self.dw.val() == 3) | (self.dw.val() == 5) {
                self.data.next = self.blocks.val().get_bits::<32>(32);
            }
            if self.dw.val() == 32 {
                // LBAF0 (bytes 128..131): LBADS in bits 23:16, MS = 0, RP = 0.
                self.data.next = bit_cast::<32, 4>(self.lba_shift.val()) << 16;
            }
            if (self.dw.val() >= 26) & (self.dw.val() <= 29) {
                // NGUID (bytes 104..119).
                self.data.next = self.ng.val().get_bits::<32>(self.ng_off.val().index());
            }
        }
        if self.kind.val() == 6 {
            // One descriptor (§5.15.2.4): NIDT 02h, NIDL 16, NGUID.
            if self.dw.val() == 0 {
                self.data.next = bits::<32>(0x1002);
            }
            if (self.dw.val() >= 1) & (self.dw.val() <= 4) {
                self.data.next = self.ng.val().get_bits::<32>(self.ng_off.val().index());
            }
        }
        if (self.kind.val() == 3) & (self.dw.val() == 0) {
            self.data.next = bits::<32>(1);
        }
        if self.kind.val() == 4 {
            if self.dw.val() == 0 {
                self.data.next = self.smart0.val();
            }
            if self.dw.val() == 1 {
                // Byte 4: Available Spare Threshold 10%.
                self.data.next = bits::<32>(10);
            }
        }
        if self.kind.val() == 5 {
            if self.dw.val() == 0 {
                // AFI: slot 1 active.
                self.data.next = bits::<32>(1);
            }
            if self.dw.val() == 2 {
                self.data.next = self.fw_dw2.val();
            }
            if self.dw.val() == 3 {
                self.data.next = self.fw_dw3.val();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dword(uut: &mut AdminData, kind: u8, dw: u16) -> u32 {
        uut.kind.next = bits::<3>(kind as u64);
        uut.dw.next = bits::<12>(dw as u64);
        // Settle the combinational logic (locals feed later statements).
        for _ in 0..8 {
            uut.update_all();
            if !uut.has_changed() {
                break;
            }
        }
        uut.data.val().to_u64() as u32
    }

    fn bytes(uut: &mut AdminData, kind: u8, n: usize) -> Vec<u8> {
        (0..n / 4)
            .flat_map(|i| dword(uut, kind, i as u16).to_le_bytes())
            .collect()
    }

    #[test]
    fn identify_controller_fields() {
        let mut uut = AdminData::new();
        uut.connect_all();
        uut.func.next = bits::<5>(17);
        let b = bytes(&mut uut, KIND_ID_CTRL, 4096);
        assert_eq!(
            u16::from_le_bytes([b[0], b[1]]),
            nitrous_regmap::card::VENDOR_ID
        );
        assert_eq!(&b[4..24], b"NTRS0000000000000F17");
        assert_eq!(&b[24..64], format!("{MODEL:<40}").as_bytes());
        assert_eq!(&b[64..72], b"0.1     ");
        assert_eq!(b[77], nitrous_regmap::nvme::MDTS);
        assert_eq!(u16::from_le_bytes([b[78], b[79]]), 17);
        assert_eq!(
            u32::from_le_bytes(b[80..84].try_into().unwrap()),
            nitrous_regmap::nvme::VERSION_1_4
        );
        assert_eq!((b[512], b[513]), (0x66, 0x44));
        assert_eq!(u32::from_le_bytes(b[516..520].try_into().unwrap()), 1);
        assert_eq!(b[520] & 0x08, 0x08);
        assert_eq!(b[525], 1);
        assert_eq!(b[259], AERL);
        assert_eq!(&b[768..1024], &subnqn(17)[..]);
        assert_eq!(&b[768..796], b"nqn.2026-11.io.nitrous:vf17\0");
        assert_eq!(dword(&mut uut, KIND_ID_CTRL, 1500), 0);
    }

    #[test]
    fn identify_namespace_and_logs() {
        let mut uut = AdminData::new();
        uut.connect_all();
        uut.func.next = bits::<5>(3);
        uut.blocks.next = bits::<64>(0x1_2345_6789);
        uut.lba_shift.next = bits::<4>(12);
        let b = bytes(&mut uut, KIND_ID_NS, 4096);
        for f in 0..3 {
            let v = u64::from_le_bytes(b[8 * f..8 * f + 8].try_into().unwrap());
            assert_eq!(v, 0x1_2345_6789);
        }
        assert_eq!((b[25], b[26], b[130]), (0, 0, 12));
        let l = bytes(&mut uut, KIND_NS_LIST, 16);
        assert_eq!(l, [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        let s = bytes(&mut uut, KIND_SMART, 512);
        assert_eq!(u16::from_le_bytes([s[1], s[2]]), COMPOSITE_TEMP_K);
        assert_eq!(s[3], 100);
        let fw = bytes(&mut uut, KIND_FW_SLOT, 64);
        assert_eq!(fw[0], 1);
        assert_eq!(&fw[8..16], b"0.1     ");
        assert!(bytes(&mut uut, KIND_ZERO, 64).iter().all(|&x| x == 0));
    }

    #[test]
    fn ns_descriptor_list_matches_identify_namespace() {
        let mut uut = AdminData::new();
        uut.connect_all();
        let mut seen = Vec::new();
        for f in [1u8, 2, 17, 31] {
            uut.func.next = bits::<5>(f as u64);
            let ns = bytes(&mut uut, KIND_ID_NS, 4096);
            let d = bytes(&mut uut, KIND_NS_DESC, 4096);
            // §5.15.2.4: NIDT, NIDL, 2 reserved bytes, NID; a zero NIDT ends the list.
            assert_eq!((d[0], d[1], d[2], d[3]), (NIDT_NGUID, 16, 0, 0));
            assert_eq!(&d[4..20], &ns[104..120], "NGUID as in CNS 00h");
            assert_eq!(&d[4..20], &nguid(f));
            assert!(d[20..].iter().all(|&x| x == 0), "one descriptor only");
            assert!(!seen.contains(&nguid(f)));
            seen.push(nguid(f));
        }
    }

    #[test]
    fn admin_data_is_synthesizable() {
        let mut uut = AdminData::new();
        uut.connect_all();
        let v = generate_verilog(&uut);
        crate::synth::check_synthesizable("admin_data", &v).unwrap();
    }
}
