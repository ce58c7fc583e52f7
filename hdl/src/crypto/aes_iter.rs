//! AES-256 iterative core (`Config::Compact`): one round unit, one round
//! per clock, per-block direction. Port contract: docs/ENGINES.md
//! "AES-256 core" (same ports as [`super::aes_pipe::AesPipe`]).
//!
//! Schedule of one block (FIPS-197 §5.1 / §5.3 Fig. 12):
//! * load clock: `state <= in_data ^ w[0]` (`^ w[14]` for InvCipher),
//! * 14 clocks: round r = 1..=14 with key `w[r]` (`w[14-r]` for InvCipher),
//!   the 14th writes the output register.
//!
//! The load of the next block overlaps the 14th round of the current one
//! (the output register is separate from the state register), so blocks
//! stream at **14 clocks per block** (16/14 = 1.14 B/clock) and the
//! **latency is 15 clocks** (accepted on the edge ending cycle *c*, on
//! `out_*` during cycle *c + 15*). `in_ready` is high while idle, or in the
//! 14th round when the output register is free (`!out_valid || out_ready`).
//! Key load: `key_ready` rises 15 clocks after the `key_load` strobe.
//!
//! Round keys are held in the key schedule's registers; the round key is
//! selected by a 15:1 multiplexer indexed by the round counter.
//!
//! Key banks ([`AesIter::with_banks`]`(2)`): as in [`super::aes_pipe`],
//! `key_load` expands into bank `key_bank` (reported by `key_ready`) and
//! each block names its bank in `in_bank`; the block in the round unit
//! keeps its bank's round keys while the other bank is (re)loaded. One
//! bank (the default) ignores both bank inputs.

use super::aes_key_schedule::AesKeySchedule;
use super::aes_round::AesRound;
use rust_hdl::prelude::*;

/// Clocks per block when streaming (input to input).
pub const AES_ITER_CYCLES_PER_BLOCK: usize = 14;
/// Latency of [`AesIter`] in clocks (input handshake to output valid).
pub const AES_ITER_LATENCY: usize = 15;

/// Iterative AES-256, one round per clock. `TAG` bits ride along each block.
#[derive(LogicBlock)]
pub struct AesIter<const TAG: usize> {
    /// Clock.
    pub clock: Signal<In, Clock>,
    /// Synchronous reset: drops the block in flight and forgets the key.
    pub reset: Signal<In, Bit>,
    /// AES-256 key, byte *i* at `[8i+7:8i]`.
    pub key: Signal<In, Bits<256>>,
    /// Strobe: expand `key` into bank `key_bank` (only while no block of
    /// that bank is in flight).
    pub key_load: Signal<In, Bit>,
    /// Bank loaded by `key_load`.
    pub key_bank: Signal<In, Bit>,
    /// Round keys of the bank named by the latest `key_load` usable (a
    /// register-only output: no input reaches it combinationally).
    pub key_ready: Signal<Out, Bit>,
    /// Input handshake.
    pub in_valid: Signal<In, Bit>,
    /// Input handshake.
    pub in_ready: Signal<Out, Bit>,
    /// Plaintext (encrypt) or ciphertext (decrypt).
    pub in_data: Signal<In, Bits<128>>,
    /// 0 = FIPS-197 Cipher, 1 = InvCipher, per block.
    pub in_decrypt: Signal<In, Bit>,
    /// Key bank of the block.
    pub in_bank: Signal<In, Bit>,
    /// Carried unchanged to `out_tag`.
    pub in_tag: Signal<In, Bits<TAG>>,
    /// Output handshake.
    pub out_valid: Signal<Out, Bit>,
    /// Output handshake.
    pub out_ready: Signal<In, Bit>,
    /// Result block.
    pub out_data: Signal<Out, Bits<128>>,
    /// The block's `in_tag`.
    pub out_tag: Signal<Out, Bits<TAG>>,
    out_free: Signal<Local, Bit>,
    finish: Signal<Local, Bit>,
    load: Signal<Local, Bit>,
    key_index: Signal<Local, Bits<4>>,
    key_shift: Signal<Local, Bits<11>>,
    keys_shifted: Signal<Local, Bits<1920>>,
    rdy0: Signal<Local, Bit>,
    rdy1: Signal<Local, Bit>,
    in_key_ready: Signal<Local, Bit>,
    c14: Constant<Bits<4>>,
    ks: Vec<AesKeySchedule>,
    kb: DFF<Bit>,
    round: AesRound,
    state: DFF<Bits<128>>,
    rnd: DFF<Bits<4>>,
    busy: DFF<Bit>,
    dec: DFF<Bit>,
    bank: DFF<Bit>,
    tag: DFF<Bits<TAG>>,
    res: DFF<Bits<128>>,
    res_tag: DFF<Bits<TAG>>,
    res_valid: DFF<Bit>,
}

impl<const TAG: usize> Default for AesIter<TAG> {
    fn default() -> Self {
        Self::with_banks(1)
    }
}

impl<const TAG: usize> AesIter<TAG> {
    /// An iterative core with `banks` (1 or 2) independent key schedules.
    pub fn with_banks(banks: usize) -> Self {
        assert!(TAG >= 1, "AesIter needs TAG >= 1");
        assert!((1..=2).contains(&banks), "AesIter has 1 or 2 key banks");
        Self {
            clock: Signal::default(),
            reset: Signal::default(),
            key: Signal::default(),
            key_load: Signal::default(),
            key_bank: Signal::default(),
            key_ready: Signal::default(),
            in_valid: Signal::default(),
            in_ready: Signal::default(),
            in_data: Signal::default(),
            in_decrypt: Signal::default(),
            in_bank: Signal::default(),
            in_tag: Signal::default(),
            out_valid: Signal::default(),
            out_ready: Signal::default(),
            out_data: Signal::default(),
            out_tag: Signal::default(),
            out_free: Signal::default(),
            finish: Signal::default(),
            load: Signal::default(),
            key_index: Signal::default(),
            key_shift: Signal::default(),
            keys_shifted: Signal::default(),
            rdy0: Signal::default(),
            rdy1: Signal::default(),
            in_key_ready: Signal::default(),
            c14: Constant::new(14.into()),
            ks: (0..banks).map(|_| AesKeySchedule::default()).collect(),
            kb: DFF::default(),
            round: AesRound::default(),
            state: DFF::default(),
            rnd: DFF::default(),
            busy: DFF::default(),
            dec: DFF::default(),
            bank: DFF::default(),
            tag: DFF::default(),
            res: DFF::default(),
            res_tag: DFF::default(),
            res_valid: DFF::default(),
        }
    }
}

impl<const TAG: usize> Logic for AesIter<TAG> {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clock, state, rnd, busy, dec, bank, tag, res, res_tag, res_valid);
        // Key banks: bank 1 aliases bank 0 when there is only one.
        for b in 0..self.ks.len() {
            self.ks[b].clock.next = self.clock.val();
            self.ks[b].reset.next = self.reset.val();
            self.ks[b].key.next = self.key.val();
        }
        self.ks[0].load.next = self.key_load.val();
        self.rdy0.next = self.ks[0].ready.val();
        self.rdy1.next = self.ks[0].ready.val();
        for b in 1..self.ks.len() {
            self.ks[0].load.next = self.key_load.val() & !self.key_bank.val();
            self.ks[b].load.next = self.key_load.val() & self.key_bank.val();
            self.rdy1.next = self.ks[b].ready.val();
        }
        self.kb.clock.next = self.clock.val();
        self.kb.d.next = self.kb.q.val();
        if self.key_load.val() {
            self.kb.d.next = self.key_bank.val();
        }
        self.key_ready.next = self.rdy0.val();
        if self.kb.q.val() {
            self.key_ready.next = self.rdy1.val();
        }
        self.in_key_ready.next = self.rdy0.val();
        if self.in_bank.val() {
            self.in_key_ready.next = self.rdy1.val();
        }

        self.out_free.next = !self.res_valid.q.val() | self.out_ready.val();
        self.finish.next =
            self.busy.q.val() & (self.rnd.q.val() == self.c14.val()) & self.out_free.val();
        self.in_ready.next = self.in_key_ready.val() & (!self.busy.q.val() | self.finish.val());
        self.load.next = self.in_valid.val() & self.in_ready.val();

        // Round r uses w[r] (Cipher) or w[14-r] (InvCipher, §5.3).
        self.key_index.next = self.rnd.q.val();
        if self.dec.q.val() {
            self.key_index.next = self.c14.val() - self.rnd.q.val();
        }
        self.key_shift.next = bit_cast::<11, 4>(self.key_index.val()) << 7;
        self.round.state.next = self.state.q.val();
        self.round.decrypt.next = self.dec.q.val();
        self.round.last.next = self.rnd.q.val() == self.c14.val();
        // The running block's bank, read straight from its schedule (no
        // 1,920-bit bank multiplexer for Verilator to copy).
        self.keys_shifted.next = self.ks[0].round_keys.val() >> self.key_shift.val();
        for b in 1..self.ks.len() {
            if self.bank.q.val() {
                self.keys_shifted.next = self.ks[b].round_keys.val() >> self.key_shift.val();
            }
        }
        self.round.round_key.next = self.keys_shifted.val().get_bits::<128>(0);

        if self.out_ready.val() {
            self.res_valid.d.next = false;
        }
        if self.busy.q.val() & (self.rnd.q.val() != self.c14.val()) {
            self.state.d.next = self.round.result.val();
            self.rnd.d.next = self.rnd.q.val() + 1;
        }
        if self.finish.val() {
            self.res.d.next = self.round.result.val();
            self.res_tag.d.next = self.tag.q.val();
            self.res_valid.d.next = true;
            self.busy.d.next = false;
        }
        if self.load.val() {
            // Initial AddRoundKey: w[0] (Cipher) or w[14] (InvCipher).
            self.state.d.next = self.in_data.val() ^ self.ks[0].round_keys.val().get_bits::<128>(0);
            if self.in_decrypt.val() {
                self.state.d.next =
                    self.in_data.val() ^ self.ks[0].round_keys.val().get_bits::<128>(1792);
            }
            for b in 1..self.ks.len() {
                if self.in_bank.val() {
                    self.state.d.next =
                        self.in_data.val() ^ self.ks[b].round_keys.val().get_bits::<128>(0);
                    if self.in_decrypt.val() {
                        self.state.d.next =
                            self.in_data.val() ^ self.ks[b].round_keys.val().get_bits::<128>(1792);
                    }
                }
            }
            self.rnd.d.next = 1.into();
            self.busy.d.next = true;
            self.dec.d.next = self.in_decrypt.val();
            self.bank.d.next = self.in_bank.val();
            self.tag.d.next = self.in_tag.val();
        }
        if self.reset.val() {
            self.busy.d.next = false;
            self.res_valid.d.next = false;
        }
        self.out_valid.next = self.res_valid.q.val();
        self.out_data.next = self.res.q.val();
        self.out_tag.next = self.res_tag.q.val();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::aes_testkit::*;

    crate::impl_aes_core_sim!(AesIter<8>);

    fn new_iter() -> AesIter<8> {
        let mut uut = AesIter::<8>::default();
        uut.connect_all();
        uut
    }

    #[test]
    fn aes_iter_fips197_and_random_vs_rustcrypto() {
        let mut uut = new_iter();
        check_core(&mut uut, 32, 3);
    }

    #[test]
    fn aes_iter_cycles_per_block_and_latency() {
        use rand::SeedableRng;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(4);
        let mut uut = new_iter();
        let key = [9u8; 32];
        assert_eq!(load_key(&mut uut, &key), 15);
        let n = 16;
        let blocks: Vec<([u8; 16], bool)> = (0..n as u8).map(|i| ([i; 16], i % 2 == 0)).collect();
        let r = stream(&mut uut, &blocks, 1.0, 1.0, &mut rng);
        assert_eq!(r.first_latency, AES_ITER_LATENCY);
        assert_eq!(
            r.cycles,
            (n - 1) * AES_ITER_CYCLES_PER_BLOCK + AES_ITER_LATENCY + 1
        );
        for (i, (d, dec)) in blocks.iter().enumerate() {
            assert_eq!(r.out[i].0, golden_aes(&key, d, *dec));
        }
    }

    /// Two key banks: blocks of one bank keep flowing while the other is
    /// loaded, interleaved blocks of both banks each use their own key.
    #[test]
    fn aes_iter_two_key_banks() {
        for seed in 0..3 {
            let mut uut = AesIter::<8>::with_banks(2);
            uut.connect_all();
            let overlap = check_banks(&mut uut, seed);
            assert!(overlap > 0, "no bank-0 block finished while bank 1 loaded");
        }
    }

    #[test]
    fn aes_iter_is_synthesizable() {
        let uut = new_iter();
        let t = std::time::Instant::now();
        let r = crate::synth::check_synthesizable("aes_iter", &generate_verilog(&uut)).unwrap();
        println!(
            "aes_iter: {} cells, yosys {:.1} s",
            r.cells,
            t.elapsed().as_secs_f64()
        );
    }
}
