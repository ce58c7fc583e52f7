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
    /// Strobe: expand `key` (only while nothing is in flight).
    pub key_load: Signal<In, Bit>,
    /// Round keys usable.
    pub key_ready: Signal<Out, Bit>,
    /// Input handshake.
    pub in_valid: Signal<In, Bit>,
    /// Input handshake.
    pub in_ready: Signal<Out, Bit>,
    /// Plaintext (encrypt) or ciphertext (decrypt).
    pub in_data: Signal<In, Bits<128>>,
    /// 0 = FIPS-197 Cipher, 1 = InvCipher, per block.
    pub in_decrypt: Signal<In, Bit>,
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
    ks: AesKeySchedule,
    rounds: [AesRound; ROUNDS],
    data: [DFF<Bits<128>>; ROUNDS],
    tag: [DFF<Bits<TAG>>; ROUNDS],
    dec: [DFF<Bit>; ROUNDS],
    valid: [DFF<Bit>; ROUNDS],
}

impl<const TAG: usize> Default for AesPipe<TAG> {
    fn default() -> Self {
        assert!(TAG >= 1, "AesPipe needs TAG >= 1");
        Self {
            clock: Signal::default(),
            reset: Signal::default(),
            key: Signal::default(),
            key_load: Signal::default(),
            key_ready: Signal::default(),
            in_valid: Signal::default(),
            in_ready: Signal::default(),
            in_data: Signal::default(),
            in_decrypt: Signal::default(),
            in_tag: Signal::default(),
            out_valid: Signal::default(),
            out_ready: Signal::default(),
            out_data: Signal::default(),
            out_tag: Signal::default(),
            advance: Signal::default(),
            ks: AesKeySchedule::default(),
            rounds: core::array::from_fn(|_| AesRound::default()),
            data: core::array::from_fn(|_| DFF::default()),
            tag: core::array::from_fn(|_| DFF::default()),
            dec: core::array::from_fn(|_| DFF::default()),
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
            self.valid[j].clock.next = self.clock.val();
            self.data[j].d.next = self.data[j].q.val();
            self.tag[j].d.next = self.tag[j].q.val();
            self.dec[j].d.next = self.dec[j].q.val();
            self.valid[j].d.next = self.valid[j].q.val();
            self.rounds[j].last.next = false;
        }
        self.rounds[13].last.next = true;
        self.ks.clock.next = self.clock.val();
        self.ks.reset.next = self.reset.val();
        self.ks.key.next = self.key.val();
        self.ks.load.next = self.key_load.val();
        self.key_ready.next = self.ks.ready.val();

        self.advance.next = self.out_ready.val() | !self.valid[13].q.val();
        self.in_ready.next = self.advance.val() & self.ks.ready.val();

        // Stage 0: initial AddRoundKey (w[0], or w[14] for InvCipher) + round 1.
        self.rounds[0].state.next =
            self.in_data.val() ^ self.ks.round_keys.val().get_bits::<128>(0);
        self.rounds[0].round_key.next = self.ks.round_keys.val().get_bits::<128>(128);
        if self.in_decrypt.val() {
            self.rounds[0].state.next =
                self.in_data.val() ^ self.ks.round_keys.val().get_bits::<128>(1792);
            self.rounds[0].round_key.next = self.ks.round_keys.val().get_bits::<128>(1664);
        }
        self.rounds[0].decrypt.next = self.in_decrypt.val();
        // Stages 1..13: round j+1 on the block held by stage j-1.
        for j in 1..14 {
            self.rounds[j].state.next = self.data[j - 1].q.val();
            self.rounds[j].decrypt.next = self.dec[j - 1].q.val();
            self.rounds[j].round_key.next = self.ks.round_keys.val().get_bits::<128>(128 * (j + 1));
            if self.dec[j - 1].q.val() {
                self.rounds[j].round_key.next =
                    self.ks.round_keys.val().get_bits::<128>(128 * (13 - j));
            }
        }
        if self.advance.val() {
            self.data[0].d.next = self.rounds[0].result.val();
            self.tag[0].d.next = self.in_tag.val();
            self.dec[0].d.next = self.in_decrypt.val();
            self.valid[0].d.next = self.in_valid.val() & self.ks.ready.val();
            for j in 1..14 {
                self.data[j].d.next = self.rounds[j].result.val();
                self.tag[j].d.next = self.tag[j - 1].q.val();
                self.dec[j].d.next = self.dec[j - 1].q.val();
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
