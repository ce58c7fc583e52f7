//! AES-256 key expansion (FIPS-197 §5.2), iterative: one round key
//! (four words `w[4k..4k+3]`) per clock after `load`, stored in
//! registers as a 1920-bit word with round key *k* at bits `[128k+127:128k]`.
//!
//! Decryption uses the straightforward inverse cipher (FIPS-197 §5.3,
//! Fig. 12), which consumes the same round keys in reverse order, so no
//! separate decryption schedule is stored (see `aes_round.rs`).
//!
//! Per clock, with `prev = w[4k-8..4k-5]`, `last = w[4k-4..4k-1]`:
//! `temp = SubWord(RotWord(w[4k-1])) ^ Rcon[k/2]` for even *k*
//! (`i mod Nk = 0`), `SubWord(w[4k-1])` for odd *k* (`i mod Nk = 4`), then
//! `w[4k] = w[4k-8] ^ temp` and `w[4k+j] = w[4k+j-8] ^ w[4k+j-1]`.

use super::aes_sbox::SubBytes;
use rust_hdl::prelude::*;

/// Clocks from the `load` edge to `ready` (one round key per clock).
pub const KEY_SCHEDULE_CLOCKS: usize = 15;
/// Clocks from the `load` edge to `ready` for [`AesKeySchedule::split`].
pub const KEY_SCHEDULE_SPLIT_CLOCKS: usize = 29;

/// Iterative AES-256 key expansion with round-key storage.
///
/// [`AesKeySchedule::split`] registers `temp` (SubWord / RotWord / Rcon)
/// before the XOR chain, so the S-box and the four chained XORs are in
/// different clocks: two clocks per round key from *k* = 2 on, and the
/// round-key register's enable comes straight from a flip-flop
/// ([`KEY_SCHEDULE_SPLIT_CLOCKS`]), for the compact core's Fmax.
#[derive(LogicBlock)]
pub struct AesKeySchedule {
    /// Clock.
    pub clock: Signal<In, Clock>,
    /// Synchronous reset: drops `ready` and aborts an expansion.
    pub reset: Signal<In, Bit>,
    /// AES-256 key, byte *i* at `[8i+7:8i]`.
    pub key: Signal<In, Bits<256>>,
    /// Strobe: start expanding `key`.
    pub load: Signal<In, Bit>,
    /// All 15 round keys are valid (15 clocks after the `load` edge).
    pub ready: Signal<Out, Bit>,
    /// Round key *k* at `[128k+127:128k]`, k = 0..=14 (internal use only).
    pub round_keys: Signal<Out, Bits<1920>>,
    /// Round key `rk_data` with index `rk_index` is produced this clock,
    /// for a core that keeps its round keys in a RAM instead of reading
    /// `round_keys` (internal use only).
    pub rk_we: Signal<Out, Bit>,
    /// Index (0..=14) of `rk_data`.
    pub rk_index: Signal<Out, Bits<4>>,
    /// `rk_we & (rk_index == 0)`: round key 0 is written this clock
    /// (split: a flip-flop, so a core's 128-bit w[0] register enable hangs
    /// off it directly).
    pub rk_we0: Signal<Out, Bit>,
    /// `rk_we & (rk_index == 14)` (split: a flip-flop).
    pub rk_we14: Signal<Out, Bit>,
    /// The round key produced this clock.
    pub rk_data: Signal<Out, Bits<128>>,
    keys: DFF<Bits<1920>>,
    prev: DFF<Bits<128>>,
    last: DFF<Bits<128>>,
    k: DFF<Bits<4>>,
    rcon: DFF<Bits<8>>,
    busy: DFF<Bit>,
    done: DFF<Bit>,
    temp: Signal<Local, Bits<32>>,
    n0: Signal<Local, Bits<32>>,
    n1: Signal<Local, Bits<32>>,
    n2: Signal<Local, Bits<32>>,
    n3: Signal<Local, Bits<32>>,
    next_key: Signal<Local, Bits<128>>,
    entry: Signal<Local, Bits<128>>,
    temp_use: Signal<Local, Bits<32>>,
    step: Signal<Local, Bit>,
    shift: Signal<Local, Bit>,
    split_mode: Constant<Bit>,
    temp_r: DFF<Bits<32>>,
    sh: DFF<Bit>,
    kz: DFF<Bit>,
    k1f: DFF<Bit>,
    /// Split: round key 14 is written this clock (`rk_we14`).
    w14f: DFF<Bit>,
    /// `busy & step & k >= 2` (this clock computes w[4k..4k+3] into
    /// `last`), a flip-flop set from the next values, so the 256 `prev` /
    /// `last` enables hang off a register.
    plf: DFF<Bit>,
    sub_word: SubBytes<32>,
}

impl Default for AesKeySchedule {
    fn default() -> Self {
        Self::with_split(false)
    }
}

impl AesKeySchedule {
    /// Two clocks per round key (registered `temp`), see the type docs.
    pub fn split() -> Self {
        Self::with_split(true)
    }

    fn with_split(split: bool) -> Self {
        Self {
            clock: Signal::default(),
            reset: Signal::default(),
            key: Signal::default(),
            load: Signal::default(),
            ready: Signal::default(),
            round_keys: Signal::default(),
            rk_we: Signal::default(),
            rk_index: Signal::default(),
            rk_we0: Signal::default(),
            rk_we14: Signal::default(),
            rk_data: Signal::default(),
            keys: DFF::default(),
            prev: DFF::default(),
            last: DFF::default(),
            k: DFF::default(),
            rcon: DFF::default(),
            busy: DFF::default(),
            done: DFF::default(),
            temp: Signal::default(),
            n0: Signal::default(),
            n1: Signal::default(),
            n2: Signal::default(),
            n3: Signal::default(),
            next_key: Signal::default(),
            entry: Signal::default(),
            temp_use: Signal::default(),
            step: Signal::default(),
            shift: Signal::default(),
            split_mode: Constant::new(split),
            temp_r: DFF::default(),
            sh: DFF::default(),
            kz: DFF::default(),
            k1f: DFF::default(),
            w14f: DFF::default(),
            plf: DFF::default(),
            sub_word: SubBytes::default(),
        }
    }
}

impl Logic for AesKeySchedule {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self, clock, keys, prev, last, k, rcon, busy, done, temp_r, sh, kz, k1f, w14f, plf
        );
        // SubWord(w[4k-1]), RotWord'ed for even k. SubWord works bytewise,
        // so it commutes with RotWord: the S-boxes read the register
        // directly and the k-dependent select comes after them (ECP5 Fmax;
        // FIPS-197 §5.2 computes SubWord(RotWord(temp)), the same word).
        // RotWord on the little-endian word [a0,a1,a2,a3] -> [a1,a2,a3,a0]
        // is a right rotation by 8.
        self.sub_word.x.next = self.last.q.val().get_bits::<32>(96);
        self.sub_word.inverse.next = false;
        self.temp.next = self.sub_word.y.val();
        if !self.k.q.val().get_bit(0) {
            self.temp.next = ((self.sub_word.y.val() >> 8) | (self.sub_word.y.val() << 24))
                ^ bit_cast::<32, 8>(self.rcon.q.val());
        }
        // Split: `sh` (a register, so the 1,920 clock enables hang off a
        // flip-flop) marks the clocks that shift a round key in: k = 0
        // (w[0..3]), k = 1 (w[4..7]), then every second clock, after the
        // clock that registered temp.
        self.temp_use.next = self.temp.val();
        self.step.next = true;
        self.shift.next = self.busy.q.val() | self.load.val();
        if self.split_mode.val() {
            self.temp_use.next = self.temp_r.q.val();
            self.step.next = self.sh.q.val();
            self.shift.next = self.sh.q.val();
            self.temp_r.d.next = self.temp.val();
            if self.busy.q.val() {
                self.sh.d.next = !self.sh.q.val() | (self.k.q.val() == 0);
            }
        }
        self.n0.next = self.prev.q.val().get_bits::<32>(0) ^ self.temp_use.val();
        self.n1.next = self.prev.q.val().get_bits::<32>(32) ^ self.n0.val();
        self.n2.next = self.prev.q.val().get_bits::<32>(64) ^ self.n1.val();
        self.n3.next = self.prev.q.val().get_bits::<32>(96) ^ self.n2.val();
        self.next_key.next = bit_cast::<128, 32>(self.n0.val())
            | (bit_cast::<128, 32>(self.n1.val()) << 32)
            | (bit_cast::<128, 32>(self.n2.val()) << 64)
            | (bit_cast::<128, 32>(self.n3.val()) << 96);
        // The round-key register only ever shifts by one round key, so each
        // of its 1920 flip-flops has a single source (plus clock enable).
        self.entry.next = self.next_key.val();
        // k == 1 / k == 0 as flip-flops (k1f, kz): the 128-bit entry
        // select hangs off a register.
        if self.k1f.q.val() {
            self.entry.next = self.last.q.val();
        }
        if self.kz.q.val() {
            self.entry.next = self.prev.q.val();
        }
        if self.load.val() {
            self.entry.next = self.key.val().get_bits::<128>(0);
        }
        self.rk_we.next = self.shift.val();
        self.rk_data.next = self.entry.val();
        self.rk_index.next = self.k.q.val();
        if self.load.val() & !self.split_mode.val() {
            self.rk_index.next = 0.into();
        }
        self.rk_we0.next = self.shift.val() & (self.rk_index.val() == 0);
        self.rk_we14.next = self.shift.val() & (self.rk_index.val() == 14);
        if self.split_mode.val() {
            // kz is set only by `load` and cleared by the step of the one
            // clock that shifts w[0..3] in (sh is set with it); w14f is set
            // in the clock at k = 14 that registers temp (sh clear), so it
            // marks the next one, which shifts w[56..59] in.
            self.rk_we0.next = self.kz.q.val();
            self.rk_we14.next = self.w14f.q.val();
            self.w14f.d.next = self.busy.q.val() & !self.sh.q.val() & (self.k.q.val() == 14);
        }
        if self.shift.val() {
            self.keys.d.next =
                (self.keys.q.val() >> 128) | (bit_cast::<1920, 128>(self.entry.val()) << 1792);
        }
        // plf = busy & step & k not in {0, 1} (see below).
        if self.plf.q.val() {
            self.prev.d.next = self.last.q.val();
            self.last.d.next = self.next_key.val();
        }
        if self.busy.q.val() & self.step.val() {
            self.k.d.next = self.k.q.val() + 1;
            self.kz.d.next = false;
            self.k1f.d.next = self.kz.q.val();
            if !self.k.q.val().get_bit(0) & (self.k.q.val() != 0) {
                self.rcon.d.next = self.rcon.q.val() << 1;
            }
            if self.k.q.val() == 14 {
                self.busy.d.next = false;
                self.done.d.next = true;
            }
        }
        // Next clock's plf. Split: a step clock (sh) is followed by one
        // that registers temp (sh clear, k kept), and only a clock with sh
        // clear and k >= 2 is followed by a step that computes a new key.
        // Otherwise every busy clock steps, k = 1..13 becomes 2..14 and
        // k = 14 ends the expansion. A load or reset clears it.
        if self.split_mode.val() {
            self.plf.d.next =
                self.busy.q.val() & !self.sh.q.val() & (self.k.q.val().get_bits::<3>(1) != 0);
        } else {
            self.plf.d.next = self.busy.q.val() & (self.k.q.val() != 0) & (self.k.q.val() != 14);
        }
        if self.load.val() {
            self.plf.d.next = false;
            // Round keys 0 and 1 are the cipher key itself (§5.2): w[0..3]
            // is stored on the load clock, w[4..7] on the next one.
            self.prev.d.next = self.key.val().get_bits::<128>(0);
            self.last.d.next = self.key.val().get_bits::<128>(128);
            self.k.d.next = 1.into();
            self.w14f.d.next = false;
            self.k1f.d.next = true;
            self.kz.d.next = false;
            if self.split_mode.val() {
                // Split: w[0..3] and w[4..7] shift in on the next two clocks.
                self.k.d.next = 0.into();
                self.k1f.d.next = false;
                self.kz.d.next = true;
                self.sh.d.next = true;
            }
            self.rcon.d.next = 1.into();
            self.busy.d.next = true;
            self.done.d.next = false;
        }
        if self.reset.val() {
            self.busy.d.next = false;
            self.done.d.next = false;
            self.sh.d.next = false;
            self.kz.d.next = false;
            self.w14f.d.next = false;
            self.plf.d.next = false;
        }
        self.ready.next = self.done.q.val();
        self.round_keys.next = self.keys.q.val();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::aes_testkit::*;

    fn expand(uut: &mut AesKeySchedule, key: &[u8]) -> (usize, Vec<u8>) {
        uut.key.next = bits_le::<256>(key);
        uut.load.next = true;
        tick(uut, |u| &mut u.clock);
        uut.load.next = false;
        let mut cycles = 1;
        while !uut.ready.val() {
            // The write strobes of round keys 0 and 14 (flip-flops in
            // split mode) agree with rk_we and the index on every clock.
            let (we, k) = (uut.rk_we.val(), uut.rk_index.val().index());
            assert_eq!(uut.rk_we0.val(), we && k == 0, "rk_we0, cycle {cycles}");
            assert_eq!(uut.rk_we14.val(), we && k == 14, "rk_we14, cycle {cycles}");
            tick(uut, |u| &mut u.clock);
            cycles += 1;
            assert!(cycles < 100, "key schedule never became ready");
        }
        (cycles, le_bytes(uut.round_keys.val()))
    }

    #[test]
    fn key_schedule_fips197_a3_and_c3() {
        let mut uut = AesKeySchedule::default();
        uut.connect_all();
        uut.reset.next = true;
        tick(&mut uut, |u| &mut u.clock);
        uut.reset.next = false;
        assert!(!uut.ready.val());
        // FIPS-197 Appendix A.3: expansion of 603deb10..dff4, w[0..59].
        let a3 = unhex(
            "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4\
             9ba354118e6925afa51a8b5f2067fcdea8b09c1a93d194cdbe49846eb75d5b9a\
             d59aecb85bf3c917fee94248de8ebe96b5a9328a2678a647983122292f6c79b3\
             812c81addadf48ba24360af2fab8b46498c5bfc9bebd198e268c3ba709e04214\
             68007bacb2df331696e939e46c518d80c814e20476a9fb8a5025c02d59c58239\
             de1369676ccc5a71fa2563959674ee155886ca5d2e2f31d77e0af1fa27cf73c3\
             749c47ab18501ddae2757e4f7401905acafaaae3e4d59b349adf6acebd10190d\
             fe4890d1e6188d0b046df344706c631e",
        );
        let (cycles, rk) = expand(&mut uut, &a3[..32]);
        assert_eq!(hex::encode(&rk), hex::encode(&a3));
        assert_eq!(cycles, 15, "load + key 1 + 13 expansion clocks");
        // FIPS-197 Appendix C.3: round[r].k_sch for key 000102..1f
        // (a reload overwrites the previous key completely).
        let key: Vec<u8> = (0u8..32).collect();
        let (_, rk) = expand(&mut uut, &key);
        for (r, want) in crate::crypto::aes_round::tests::C3_KSCH.iter().enumerate() {
            assert_eq!(
                hex::encode(&rk[16 * r..16 * r + 16]),
                *want,
                "round key {r}"
            );
        }
    }

    /// Split mode: same round keys (FIPS-197 A.3, then a reload with C.3),
    /// two clocks per round key.
    #[test]
    fn key_schedule_split_fips197() {
        let mut uut = AesKeySchedule::split();
        uut.connect_all();
        let mut plain = AesKeySchedule::default();
        plain.connect_all();
        let key: Vec<u8> = (0u8..32).map(|i| i.wrapping_mul(37) ^ 0x5a).collect();
        let (c_plain, rk_plain) = expand(&mut plain, &key);
        let (c_split, rk_split) = expand(&mut uut, &key);
        assert_eq!(c_plain, KEY_SCHEDULE_CLOCKS);
        assert_eq!(c_split, KEY_SCHEDULE_SPLIT_CLOCKS);
        assert_eq!(hex::encode(&rk_split), hex::encode(&rk_plain));
        let key: Vec<u8> = (0u8..32).collect();
        let (_, rk) = expand(&mut uut, &key);
        for (r, want) in crate::crypto::aes_round::tests::C3_KSCH.iter().enumerate() {
            assert_eq!(
                hex::encode(&rk[16 * r..16 * r + 16]),
                *want,
                "round key {r}"
            );
        }
    }

    #[test]
    fn aes_key_schedule_is_synthesizable() {
        let mut uut = AesKeySchedule::default();
        uut.connect_all();
        let r =
            crate::synth::check_synthesizable("aes_key_schedule", &generate_verilog(&uut)).unwrap();
        println!("aes_key_schedule: {} cells", r.cells);
    }
}
