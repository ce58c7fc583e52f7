//! AES-256 pipelined core (`Config::Full`): 14 round stages, one block per
//! clock, per-block direction. Port contract: docs/ENGINES.md "AES-256 core".
//!
//! Structure: stage *j* (j = 0..13) computes round *j+1* of the block it
//! holds and registers the result. Stage 0 also performs the initial
//! AddRoundKey on `in_data` (FIPS-197 §5.1 / §5.3 Fig. 12), so the datapath
//! is exactly 14 round units and 14 register stages. Each stage carries its
//! block's `decrypt` bit and computes the Cipher round (key `w[j+1]`) or the
//! InvCipher round (key `w[13-j]`) accordingly, so encryption and
//! decryption blocks may be interleaved freely.
//!
//! Flow control: one global advance, `advance = out_ready || !out_valid`;
//! `in_ready = advance && key_ready`. When the consumer is always ready the
//! pipeline never bubbles (one block per clock).
//!
//! Key banks ([`AesPipe::with_banks`]`(2)`): two independent key
//! schedules. `key_load` expands `key` into bank `key_bank` (and
//! `key_ready` reports that bank) while blocks of the other bank keep
//! flowing; each block names its bank in `in_bank`, which rides along the
//! stages like `decrypt`, so every stage takes its round key from the
//! block's own bank. With one bank (the default) both bank inputs are
//! ignored.
//!
//! **Latency: 14 clocks** — a block accepted on the rising edge ending cycle
//! *c* is presented on `out_*` during cycle *c + 14* (if never stalled).
//! Key load: `key_ready` rises 15 clocks after the `key_load` strobe.

use super::aes_key_schedule::AesKeySchedule;
use super::aes_round::AesRound;
use rust_hdl::prelude::*;

/// Number of AES-256 rounds (FIPS-197 §5, Nr = 14).
pub const ROUNDS: usize = 14;
/// Fixed latency of [`AesPipe`] in clocks.
pub const AES_PIPE_LATENCY: usize = 14;

/// Pipelined AES-256, one block per clock. `TAG` bits ride along each block.
#[derive(LogicBlock)]
pub struct AesPipe<const TAG: usize> {
    /// Clock.
    pub clock: Signal<In, Clock>,
    /// Synchronous reset: empties the pipeline and forgets the key.
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
    advance: Signal<Local, Bit>,
    rdy0: Signal<Local, Bit>,
    rdy1: Signal<Local, Bit>,
    in_key_ready: Signal<Local, Bit>,
    ks: Vec<AesKeySchedule>,
    kb: DFF<Bit>,
    rounds: [AesRound; ROUNDS],
    data: [DFF<Bits<128>>; ROUNDS],
    tag: [DFF<Bits<TAG>>; ROUNDS],
    dec: [DFF<Bit>; ROUNDS],
    bank: [DFF<Bit>; ROUNDS],
    valid: [DFF<Bit>; ROUNDS],
}

impl<const TAG: usize> Default for AesPipe<TAG> {
    fn default() -> Self {
        Self::with_banks(1)
    }
}

impl<const TAG: usize> AesPipe<TAG> {
    /// A pipeline with `banks` (1 or 2) independent key schedules.
    pub fn with_banks(banks: usize) -> Self {
        assert!(TAG >= 1, "AesPipe needs TAG >= 1");
        assert!((1..=2).contains(&banks), "AesPipe has 1 or 2 key banks");
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
            advance: Signal::default(),
            rdy0: Signal::default(),
            rdy1: Signal::default(),
            in_key_ready: Signal::default(),
            ks: (0..banks).map(|_| AesKeySchedule::default()).collect(),
            kb: DFF::default(),
            rounds: core::array::from_fn(|_| AesRound::default()),
            data: core::array::from_fn(|_| DFF::default()),
            tag: core::array::from_fn(|_| DFF::default()),
            dec: core::array::from_fn(|_| DFF::default()),
            bank: core::array::from_fn(|_| DFF::default()),
            valid: core::array::from_fn(|_| DFF::default()),
        }
    }
}

impl<const TAG: usize> Logic for AesPipe<TAG> {
    #[hdl_gen]
    fn update(&mut self) {
        for j in 0..14 {
            self.data[j].clock.next = self.clock.val();
            self.tag[j].clock.next = self.clock.val();
            self.dec[j].clock.next = self.clock.val();
            self.bank[j].clock.next = self.clock.val();
            self.valid[j].clock.next = self.clock.val();
            self.data[j].d.next = self.data[j].q.val();
            self.tag[j].d.next = self.tag[j].q.val();
            self.dec[j].d.next = self.dec[j].q.val();
            self.bank[j].d.next = self.bank[j].q.val();
            self.valid[j].d.next = self.valid[j].q.val();
            self.rounds[j].last.next = false;
        }
        self.rounds[13].last.next = true;
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

        self.advance.next = self.out_ready.val() | !self.valid[13].q.val();
        self.in_ready.next = self.advance.val() & self.in_key_ready.val();

        // Stage 0: initial AddRoundKey (w[0], or w[14] for InvCipher) + round 1.
        // Round keys are selected 128 bits at a time straight from the
        // bank's schedule (no 1,920-bit bank multiplexer: Verilator copies
        // wide signals word by word on every evaluation).
        self.rounds[0].state.next =
            self.in_data.val() ^ self.ks[0].round_keys.val().get_bits::<128>(0);
        self.rounds[0].round_key.next = self.ks[0].round_keys.val().get_bits::<128>(128);
        if self.in_decrypt.val() {
            self.rounds[0].state.next =
                self.in_data.val() ^ self.ks[0].round_keys.val().get_bits::<128>(1792);
            self.rounds[0].round_key.next = self.ks[0].round_keys.val().get_bits::<128>(1664);
        }
        for b in 1..self.ks.len() {
            if self.in_bank.val() {
                self.rounds[0].state.next =
                    self.in_data.val() ^ self.ks[b].round_keys.val().get_bits::<128>(0);
                self.rounds[0].round_key.next = self.ks[b].round_keys.val().get_bits::<128>(128);
                if self.in_decrypt.val() {
                    self.rounds[0].state.next =
                        self.in_data.val() ^ self.ks[b].round_keys.val().get_bits::<128>(1792);
                    self.rounds[0].round_key.next =
                        self.ks[b].round_keys.val().get_bits::<128>(1664);
                }
            }
        }
        self.rounds[0].decrypt.next = self.in_decrypt.val();
        // Stages 1..13: round j+1 on the block held by stage j-1.
        for j in 1..14 {
            self.rounds[j].state.next = self.data[j - 1].q.val();
            self.rounds[j].decrypt.next = self.dec[j - 1].q.val();
            self.rounds[j].round_key.next =
                self.ks[0].round_keys.val().get_bits::<128>(128 * (j + 1));
            if self.dec[j - 1].q.val() {
                self.rounds[j].round_key.next =
                    self.ks[0].round_keys.val().get_bits::<128>(128 * (13 - j));
            }
            for b in 1..self.ks.len() {
                if self.bank[j - 1].q.val() {
                    self.rounds[j].round_key.next =
                        self.ks[b].round_keys.val().get_bits::<128>(128 * (j + 1));
                    if self.dec[j - 1].q.val() {
                        self.rounds[j].round_key.next =
                            self.ks[b].round_keys.val().get_bits::<128>(128 * (13 - j));
                    }
                }
            }
        }
        if self.advance.val() {
            self.data[0].d.next = self.rounds[0].result.val();
            self.tag[0].d.next = self.in_tag.val();
            self.dec[0].d.next = self.in_decrypt.val();
            self.bank[0].d.next = self.in_bank.val();
            self.valid[0].d.next = self.in_valid.val() & self.in_key_ready.val();
            for j in 1..14 {
                self.data[j].d.next = self.rounds[j].result.val();
                self.tag[j].d.next = self.tag[j - 1].q.val();
                self.dec[j].d.next = self.dec[j - 1].q.val();
                self.bank[j].d.next = self.bank[j - 1].q.val();
                self.valid[j].d.next = self.valid[j - 1].q.val();
            }
        }
        if self.reset.val() {
            for j in 0..14 {
                self.valid[j].d.next = false;
            }
        }
        self.out_valid.next = self.valid[13].q.val();
        self.out_data.next = self.data[13].q.val();
        self.out_tag.next = self.tag[13].q.val();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::aes_testkit::*;

    crate::impl_aes_core_sim!(AesPipe<8>);

    fn new_pipe() -> AesPipe<8> {
        let mut uut = AesPipe::<8>::default();
        uut.connect_all();
        uut
    }

    #[test]
    fn aes_pipe_fips197_and_random_vs_rustcrypto() {
        let mut uut = new_pipe();
        check_core(&mut uut, 40, 1);
    }

    #[test]
    fn aes_pipe_one_block_per_clock_and_latency() {
        use rand::SeedableRng;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(2);
        let mut uut = new_pipe();
        let key = [7u8; 32];
        assert_eq!(load_key(&mut uut, &key), 15);
        let blocks: Vec<([u8; 16], bool)> = (0..64u8).map(|i| ([i; 16], i % 3 == 0)).collect();
        let r = stream(&mut uut, &blocks, 1.0, 1.0, &mut rng);
        assert_eq!(r.first_latency, AES_PIPE_LATENCY);
        // 64 blocks, one per clock, plus the pipeline fill.
        assert_eq!(r.cycles, 64 + AES_PIPE_LATENCY);
        for (i, (d, dec)) in blocks.iter().enumerate() {
            assert_eq!(r.out[i].0, golden_aes(&key, d, *dec));
        }
    }

    /// Two key banks: blocks of one bank keep flowing while the other is
    /// loaded, interleaved blocks of both banks each use their own key.
    #[test]
    fn aes_pipe_two_key_banks() {
        for seed in 0..3 {
            let mut uut = AesPipe::<8>::with_banks(2);
            uut.connect_all();
            let overlap = check_banks(&mut uut, seed);
            assert!(overlap > 0, "no bank-0 block finished while bank 1 loaded");
        }
    }

    #[test]
    fn aes_pipe_is_synthesizable() {
        let uut = new_pipe();
        let t = std::time::Instant::now();
        let r = crate::synth::check_synthesizable("aes_pipe", &generate_verilog(&uut)).unwrap();
        println!(
            "aes_pipe: {} cells, yosys {:.1} s",
            r.cells,
            t.elapsed().as_secs_f64()
        );
    }
}
