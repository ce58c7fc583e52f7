//! One AES round, both directions, on a 128-bit word (FIPS-197 §5.1, §5.3).
//!
//! State layout: byte *i* of the block (FIPS-197 `in[i]`, state `s[r,c]`
//! with `i = r + 4c`) sits at bits `[8i+7:8i]`, so column *c* is the 32-bit
//! lane `[32c+31:32c]` and row *r* is byte *r* of every lane. All steps are
//! whole-word operations:
//!
//! * ShiftRows (§5.1.2): row *r* rotated right by `32r` bits (left for
//!   InvShiftRows, §5.3.1) — masked 128-bit rotations.
//! * SubBytes / InvSubBytes (§5.1.1 / §5.3.2): [`SubBytes`].
//! * MixColumns (§5.1.3): `s'_r = xtime(s_r ^ s_(r+1)) ^ s_(r+1) ^ s_(r+2) ^
//!   s_(r+3)`, with the column rotations done as masked lane shifts and
//!   `xtime` on all 16 bytes at once.
//! * InvMixColumns (§5.3.3) = MixColumns ∘ P with
//!   `P(s)_r = s_r ^ xtime(xtime(s_r ^ s_(r+2)))` (the circulant
//!   {05,00,04,00} — Daemen & Rijmen, "The Design of Rijndael", §4.1.3),
//!   so both directions share one MixColumns.
//!
//! Encryption round (§5.1): `MixColumns(ShiftRows(SubBytes(s))) ^ k`.
//! Decryption round (straightforward InvCipher, §5.3 Fig. 12):
//! `InvMixColumns(InvSubBytes(InvShiftRows(s)) ^ k)`.
//! With `last` set, MixColumns / InvMixColumns is skipped (final round).
//! The round key order for decryption is simply reversed (round *r* of the
//! inverse cipher uses `w[14 - r]`); no separate decryption schedule.

use super::aes_sbox::SubBytes;
use rust_hdl::prelude::*;

/// `Bits<128>` with the 32-bit word `w` in every column lane.
pub fn rep_word(w: u32) -> Bits<128> {
    let mut acc = Bits::<128>::default();
    for i in 0..4 {
        acc = acc | (bits::<128>(w as u64) << (32 * i as u64));
    }
    acc
}

/// Combinational AES round datapath (one encryption or decryption round).
#[derive(LogicBlock)]
pub struct AesRound {
    /// State entering the round.
    pub state: Signal<In, Bits<128>>,
    /// Round key: `w[r]` for encryption round *r*, `w[14-r]` for decryption.
    pub round_key: Signal<In, Bits<128>>,
    /// 0 = Cipher round, 1 = InvCipher round.
    pub decrypt: Signal<In, Bit>,
    /// Final round: no (Inv)MixColumns.
    pub last: Signal<In, Bit>,
    /// State leaving the round.
    pub result: Signal<Out, Bits<128>>,
    sr: Signal<Local, Bits<128>>,
    a: Signal<Local, Bits<128>>,
    t: Signal<Local, Bits<128>>,
    h1: Signal<Local, Bits<128>>,
    t1: Signal<Local, Bits<128>>,
    h2: Signal<Local, Bits<128>>,
    t2: Signal<Local, Bits<128>>,
    b: Signal<Local, Bits<128>>,
    b1: Signal<Local, Bits<128>>,
    b2: Signal<Local, Bits<128>>,
    b3: Signal<Local, Bits<128>>,
    u: Signal<Local, Bits<128>>,
    h3: Signal<Local, Bits<128>>,
    m: Signal<Local, Bits<128>>,
    row0: Constant<Bits<128>>,
    row1: Constant<Bits<128>>,
    row2: Constant<Bits<128>>,
    row3: Constant<Bits<128>>,
    lane_lo8: Constant<Bits<128>>,
    lane_lo16: Constant<Bits<128>>,
    lane_lo24: Constant<Bits<128>>,
    lane_hi8: Constant<Bits<128>>,
    lane_hi16: Constant<Bits<128>>,
    lane_hi24: Constant<Bits<128>>,
    byte_lsb: Constant<Bits<128>>,
    byte_hi7: Constant<Bits<128>>,
    zero: Constant<Bits<128>>,
    sub: SubBytes<128>,
}

impl Default for AesRound {
    fn default() -> Self {
        Self {
            state: Signal::default(),
            round_key: Signal::default(),
            decrypt: Signal::default(),
            last: Signal::default(),
            result: Signal::default(),
            sr: Signal::default(),
            a: Signal::default(),
            t: Signal::default(),
            h1: Signal::default(),
            t1: Signal::default(),
            h2: Signal::default(),
            t2: Signal::default(),
            b: Signal::default(),
            b1: Signal::default(),
            b2: Signal::default(),
            b3: Signal::default(),
            u: Signal::default(),
            h3: Signal::default(),
            m: Signal::default(),
            row0: Constant::new(rep_word(0x0000_00ff)),
            row1: Constant::new(rep_word(0x0000_ff00)),
            row2: Constant::new(rep_word(0x00ff_0000)),
            row3: Constant::new(rep_word(0xff00_0000)),
            lane_lo8: Constant::new(rep_word(0x0000_00ff)),
            lane_lo16: Constant::new(rep_word(0x0000_ffff)),
            lane_lo24: Constant::new(rep_word(0x00ff_ffff)),
            lane_hi8: Constant::new(rep_word(0xff00_0000)),
            lane_hi16: Constant::new(rep_word(0xffff_0000)),
            lane_hi24: Constant::new(rep_word(0xffff_ff00)),
            byte_lsb: Constant::new(rep_word(0x0101_0101)),
            byte_hi7: Constant::new(rep_word(0xfefe_fefe)),
            zero: Constant::new(Bits::default()),
            sub: SubBytes::default(),
        }
    }
}

impl Logic for AesRound {
    #[hdl_gen]
    fn update(&mut self) {
        // ShiftRows (§5.1.2): row r moves right by r columns = 32r bits.
        self.sr.next = (self.state.val() & self.row0.val())
            | ((self.state.val() & self.row1.val()) >> 32)
            | ((self.state.val() & self.row1.val()) << 96)
            | ((self.state.val() & self.row2.val()) >> 64)
            | ((self.state.val() & self.row2.val()) << 64)
            | ((self.state.val() & self.row3.val()) >> 96)
            | ((self.state.val() & self.row3.val()) << 32);
        if self.decrypt.val() {
            // InvShiftRows (§5.3.1): row r moves left by r columns.
            self.sr.next = (self.state.val() & self.row0.val())
                | ((self.state.val() & self.row1.val()) << 32)
                | ((self.state.val() & self.row1.val()) >> 96)
                | ((self.state.val() & self.row2.val()) << 64)
                | ((self.state.val() & self.row2.val()) >> 64)
                | ((self.state.val() & self.row3.val()) << 96)
                | ((self.state.val() & self.row3.val()) >> 32);
        }
        // SubBytes / InvSubBytes (§5.1.1 / §5.3.2).
        self.sub.x.next = self.sr.val();
        self.sub.inverse.next = self.decrypt.val();
        // InvCipher adds the round key before InvMixColumns (§5.3, Fig. 12).
        self.a.next = self.sub.y.val();
        if self.decrypt.val() {
            self.a.next = self.sub.y.val() ^ self.round_key.val();
        }
        // P(a) = a ^ xtime(xtime(a ^ rot2(a))): InvMixColumns = MixColumns ∘ P.
        self.t.next = self.a.val()
            ^ ((self.a.val() >> 16) & self.lane_lo16.val())
            ^ ((self.a.val() << 16) & self.lane_hi16.val());
        self.h1.next = (self.t.val() >> 7) & self.byte_lsb.val();
        self.t1.next = ((self.t.val() << 1) & self.byte_hi7.val())
            ^ self.h1.val()
            ^ (self.h1.val() << 1)
            ^ (self.h1.val() << 3)
            ^ (self.h1.val() << 4);
        self.h2.next = (self.t1.val() >> 7) & self.byte_lsb.val();
        self.t2.next = ((self.t1.val() << 1) & self.byte_hi7.val())
            ^ self.h2.val()
            ^ (self.h2.val() << 1)
            ^ (self.h2.val() << 3)
            ^ (self.h2.val() << 4);
        self.b.next = self.a.val();
        if self.decrypt.val() & !self.last.val() {
            self.b.next = self.a.val() ^ self.t2.val();
        }
        // MixColumns (§5.1.3): b'_r = xtime(b_r ^ b_(r+1)) ^ b_(r+1) ^ b_(r+2) ^ b_(r+3).
        self.b1.next = ((self.b.val() >> 8) & self.lane_lo24.val())
            | ((self.b.val() << 24) & self.lane_hi8.val());
        self.b2.next = ((self.b.val() >> 16) & self.lane_lo16.val())
            | ((self.b.val() << 16) & self.lane_hi16.val());
        self.b3.next = ((self.b.val() >> 24) & self.lane_lo8.val())
            | ((self.b.val() << 8) & self.lane_hi24.val());
        self.u.next = self.b.val() ^ self.b1.val();
        self.h3.next = (self.u.val() >> 7) & self.byte_lsb.val();
        self.m.next = ((self.u.val() << 1) & self.byte_hi7.val())
            ^ self.h3.val()
            ^ (self.h3.val() << 1)
            ^ (self.h3.val() << 3)
            ^ (self.h3.val() << 4)
            ^ self.b1.val()
            ^ self.b2.val()
            ^ self.b3.val();
        if self.last.val() {
            self.m.next = self.b.val();
        }
        // Cipher adds the round key last (§5.1.4).
        self.result.next = self.m.val() ^ self.round_key.val();
        if self.decrypt.val() {
            self.result.next = self.m.val() ^ self.zero.val();
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::crypto::aes_testkit::*;

    /// FIPS-197 Appendix C.3 (AES-256), Cipher listing: `round[r].start`
    /// for r = 1..=14 followed by the output, and `round[r].k_sch` for
    /// r = 0..=14. Key 000102..1f, plaintext 00112233..ff.
    pub(crate) const C3_START: [&str; 15] = [
        "00102030405060708090a0b0c0d0e0f0",
        "4f63760643e0aa85efa7213201a4e705",
        "1859fbc28a1c00a078ed8aadc42f6109",
        "975c66c1cb9f3fa8a93a28df8ee10f63",
        "1c05f271a417e04ff921c5c104701554",
        "c357aae11b45b7b0a2c7bd28a8dc99fa",
        "7f074143cb4e243ec10c815d8375d54c",
        "d653a4696ca0bc0f5acaab5db96c5e7d",
        "5aa858395fd28d7d05e1a38868f3b9c5",
        "4a824851c57e7e47643de50c2af3e8c9",
        "c14907f6ca3b3aa070e9aa313b52b5ec",
        "5f9c6abfbac634aa50409fa766677653",
        "516604954353950314fb86e401922521",
        "627bceb9999d5aaac945ecf423f56da5",
        "8ea2b7ca516745bfeafc49904b496089",
    ];
    pub(crate) const C3_KSCH: [&str; 15] = [
        "000102030405060708090a0b0c0d0e0f",
        "101112131415161718191a1b1c1d1e1f",
        "a573c29fa176c498a97fce93a572c09c",
        "1651a8cd0244beda1a5da4c10640bade",
        "ae87dff00ff11b68a68ed5fb03fc1567",
        "6de1f1486fa54f9275f8eb5373b8518d",
        "c656827fc9a799176f294cec6cd5598b",
        "3de23a75524775e727bf9eb45407cf39",
        "0bdc905fc27b0948ad5245a4c1871c2f",
        "45f5a66017b2d387300d4d33640a820a",
        "7ccff71cbeb4fe5413e6bbf0d261a7df",
        "f01afafee7a82979d7a5644ab3afe640",
        "2541fe719bf500258813bbd55a721c0a",
        "4e5a6699a9f24fe07e572baacdf8cdea",
        "24fc79ccbf0979e9371ac23c6d68de36",
    ];
    /// FIPS-197 C.3 `round[r].s_row` for r = 1..=14 (index r-1). The
    /// InvCipher listing's `round[r].istart` is `s_row` of Cipher round 15-r.
    pub(crate) const C3_SROW: [&str; 14] = [
        "6353e08c0960e104cd70b751bacad0e7",
        "84e1fd6b1a5c946fdf4938977cfbac23",
        "ad9c7e017e55ef25bc150fe01ccb6395",
        "88db34fb1f807678d3f833c2194a759e",
        "9cf0a62049fd59a399518984f26be178",
        "2e6e7a2dafc6eef83a86ace7c25ba934",
        "d22f0c291ffe031a789d83b2ecc5364c",
        "f6e062ff507458f9be50497656ed654c",
        "beb50aa6cff856126b0d6aff45c25dc4",
        "d6f3d9dda6279bd1430d52a0e513f3fe",
        "78e2acce741ed5425100c5e0e23b80c7",
        "cfb4dbedf4093808538502ac33de185c",
        "d1ed44fd1a0f3f2afa4ff27b7c332a69",
        "aa5ece06ee6e3c56dde68bac2621bebf",
    ];

    fn round(uut: &mut AesRound, s: &str, k: &str, dec: bool, last: bool) -> Vec<u8> {
        uut.state.next = blk(&unhex(s));
        uut.round_key.next = blk(&unhex(k));
        uut.decrypt.next = dec;
        uut.last.next = last;
        settle(uut);
        le_bytes(uut.result.val())
    }

    #[test]
    fn aes_round_fips197_c3_cipher_rounds() {
        let mut uut = AesRound::default();
        uut.connect_all();
        for r in 1..=14 {
            let out = round(&mut uut, C3_START[r - 1], C3_KSCH[r], false, r == 14);
            assert_eq!(hex::encode(out), C3_START[r], "Cipher round {r}");
        }
    }

    #[test]
    fn aes_round_fips197_c3_inv_cipher_rounds() {
        let mut uut = AesRound::default();
        uut.connect_all();
        // InvCipher round r: istart = s_row(15-r) -> istart(r+1) = s_row(14-r)
        // with key w[14-r]; the last round yields the plaintext.
        for r in 1..=14 {
            let want = if r == 14 {
                "00112233445566778899aabbccddeeff"
            } else {
                C3_SROW[14 - r - 1]
            };
            let out = round(
                &mut uut,
                C3_SROW[15 - r - 1],
                C3_KSCH[14 - r],
                true,
                r == 14,
            );
            assert_eq!(hex::encode(out), want, "InvCipher round {r}");
        }
    }

    #[test]
    fn aes_round_is_synthesizable() {
        let mut uut = AesRound::default();
        uut.connect_all();
        let r = crate::synth::check_synthesizable("aes_round", &generate_verilog(&uut)).unwrap();
        println!("aes_round: {} cells", r.cells);
    }
}
