//! Test helpers shared by the AES / XTS block tests: manual clock stepping
//! in RustHDL's own simulator and conversions between byte strings and
//! `Bits<N>` (byte *i* at bits `[8i+7:8i]`, docs/ENGINES.md "Byte order").

use rust_hdl::prelude::*;

/// Bits from a little-endian byte string (byte *i* at `[8i+7:8i]`).
pub fn bits_le<const N: usize>(bytes: &[u8]) -> Bits<N> {
    assert_eq!(bytes.len() * 8, N, "byte string does not fill Bits<{N}>");
    let mut acc = Bits::<N>::default();
    for (i, chunk) in bytes.chunks(8).enumerate() {
        let mut w = [0u8; 8];
        w[..chunk.len()].copy_from_slice(chunk);
        acc = acc | (bits::<N>(u64::from_le_bytes(w)) << (64 * i as u64));
    }
    acc
}

/// The little-endian byte string of `Bits<N>`.
pub fn le_bytes<const N: usize>(x: Bits<N>) -> Vec<u8> {
    (0..N / 8).map(|i| x.get_bits::<8>(8 * i).to_u8()).collect()
}

/// `Bits<128>` of a 16-byte block.
pub fn blk(b: &[u8]) -> Bits<128> {
    bits_le::<128>(b)
}

/// Hex string (FIPS / IEEE listing order: byte 0 first) to bytes.
pub fn unhex(s: &str) -> Vec<u8> {
    hex::decode(s.replace([' ', '\n'], "")).expect("bad hex in test vector")
}

/// Settles combinational logic; panics on a combinational loop.
pub fn settle<B: Block>(uut: &mut B) {
    assert!(simulate(uut, 200), "circuit did not settle");
}

/// One full clock period: rising edge, settle, falling edge, settle.
/// Inputs set before the call are sampled at the rising edge.
pub fn tick<B: Block>(uut: &mut B, clock: fn(&mut B) -> &mut Signal<In, Clock>) {
    clock(uut).next = true.into();
    settle(uut);
    clock(uut).next = false.into();
    settle(uut);
}

/// Uniform test access to the two AES cores (same ports, different types).
pub trait AesCoreSim: Block {
    fn clk(&mut self) -> &mut Signal<In, Clock>;
    fn drive_ctrl(&mut self, reset: bool, key: Bits<256>, key_load: bool);
    fn key_is_ready(&self) -> bool;
    fn drive_in(&mut self, valid: bool, data: Bits<128>, decrypt: bool, tag: u8);
    fn drive_out_ready(&mut self, ready: bool);
    fn is_in_ready(&self) -> bool;
    /// `key_bank` (bank `key_load` loads) and `in_bank` (bank of the block).
    fn drive_banks(&mut self, key_bank: bool, in_bank: bool);
    /// (`out_valid`, `out_data`, `out_tag`)
    fn out(&self) -> (bool, Bits<128>, u8);
}

#[macro_export]
#[doc(hidden)]
macro_rules! impl_aes_core_sim {
    ($t:ty) => {
        impl $crate::crypto::aes_testkit::AesCoreSim for $t {
            fn clk(&mut self) -> &mut Signal<In, Clock> {
                &mut self.clock
            }
            fn drive_ctrl(&mut self, reset: bool, key: Bits<256>, key_load: bool) {
                self.reset.next = reset;
                self.key.next = key;
                self.key_load.next = key_load;
            }
            fn key_is_ready(&self) -> bool {
                self.key_ready.val()
            }
            fn drive_in(&mut self, valid: bool, data: Bits<128>, decrypt: bool, tag: u8) {
                self.in_valid.next = valid;
                self.in_data.next = data;
                self.in_decrypt.next = decrypt;
                self.in_tag.next = bits::<8>(tag as u64);
            }
            fn drive_out_ready(&mut self, ready: bool) {
                self.out_ready.next = ready;
            }
            fn is_in_ready(&self) -> bool {
                self.in_ready.val()
            }
            fn drive_banks(&mut self, key_bank: bool, in_bank: bool) {
                self.key_bank.next = key_bank;
                self.in_bank.next = in_bank;
            }
            fn out(&self) -> (bool, Bits<128>, u8) {
                (
                    self.out_valid.val(),
                    self.out_data.val(),
                    self.out_tag.val().to_u8(),
                )
            }
        }
    };
}

/// Reset the core, load `key`, wait for `key_ready`; returns the clocks
/// from the `key_load` edge to `key_ready`.
pub fn load_key<C: AesCoreSim>(uut: &mut C, key: &[u8; 32]) -> usize {
    let k = bits_le::<256>(key);
    uut.drive_in(false, Bits::default(), false, 0);
    uut.drive_out_ready(true);
    uut.drive_ctrl(true, k, false);
    tick(uut, C::clk);
    assert!(!uut.key_is_ready(), "key_ready must be low after reset");
    uut.drive_ctrl(false, k, true);
    tick(uut, C::clk);
    uut.drive_ctrl(false, k, false);
    let mut n = 1;
    while !uut.key_is_ready() {
        tick(uut, C::clk);
        n += 1;
        assert!(n < 100, "key_ready never rose");
    }
    n
}

/// Result of streaming blocks through a core.
pub struct StreamRun {
    /// Output blocks in arrival order with their tags.
    pub out: Vec<([u8; 16], u8)>,
    /// Clock edges from the first input handshake to the last output one.
    pub cycles: usize,
    /// Clocks from the first input handshake to the first output handshake.
    pub first_latency: usize,
}

/// Stream `blocks` (data, decrypt) through a keyed core with tags
/// `index mod 256`. `p_in` / `p_out`: probability that the producer offers
/// a block / the consumer is ready in a given cycle (1.0 = never stalls).
/// Obeys the AXI-Stream rules (valid held until accepted, data stable).
pub fn stream<C: AesCoreSim>(
    uut: &mut C,
    blocks: &[([u8; 16], bool)],
    p_in: f64,
    p_out: f64,
    rng: &mut impl rand::Rng,
) -> StreamRun {
    let mut out = Vec::new();
    let mut next_in = 0usize;
    let mut offered = false;
    let mut cycle = 0usize;
    let mut first_in = None;
    let mut first_out = None;
    let mut last_out = 0;
    let mut held = None;
    while out.len() < blocks.len() {
        if next_in < blocks.len() && !offered {
            offered = rng.gen_bool(p_in);
        }
        let (d, dec) = if next_in < blocks.len() {
            blocks[next_in]
        } else {
            ([0; 16], false)
        };
        uut.drive_in(offered, blk(&d), dec, next_in as u8);
        let ready = rng.gen_bool(p_out);
        uut.drive_out_ready(ready);
        settle(uut);
        let took_in = offered && uut.is_in_ready();
        let (ov, od, ot) = uut.out();
        // A valid output that was not taken stays, unchanged, until taken.
        if let Some((hd, ht)) = held.take() {
            assert!(ov, "cycle {cycle}: out_valid dropped before out_ready");
            assert!(
                od == hd && ot == ht,
                "cycle {cycle}: output changed before out_ready"
            );
        }
        if ov && !ready {
            held = Some((od, ot));
        }
        if ov && ready {
            first_out.get_or_insert(cycle);
            last_out = cycle;
            out.push((le_bytes(od).try_into().unwrap(), ot));
        }
        if took_in {
            first_in.get_or_insert(cycle);
            next_in += 1;
            offered = false;
        }
        tick(uut, C::clk);
        cycle += 1;
        assert!(
            cycle < 100 * blocks.len() + 1000,
            "core stopped producing output"
        );
    }
    let first_in = first_in.unwrap_or(0);
    StreamRun {
        out,
        cycles: last_out + 1 - first_in,
        first_latency: first_out.unwrap_or(0) - first_in,
    }
}

/// RustCrypto `aes` golden model: FIPS-197 Cipher / InvCipher.
pub fn golden_aes(key: &[u8; 32], block: &[u8; 16], decrypt: bool) -> [u8; 16] {
    use aes::cipher::{generic_array::GenericArray, BlockDecrypt, BlockEncrypt, KeyInit};
    let c = aes::Aes256::new(GenericArray::from_slice(key));
    let mut b = GenericArray::clone_from_slice(block);
    if decrypt {
        c.decrypt_block(&mut b);
    } else {
        c.encrypt_block(&mut b);
    }
    b.into()
}

/// The shared core test body: FIPS-197 C.3 both directions, then random
/// mixed-direction blocks under random stalls against RustCrypto `aes`.
pub fn check_core<C: AesCoreSim>(uut: &mut C, n_random: usize, seed: u64) {
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    // FIPS-197 Appendix C.3: AES-256, key 000102..1f.
    let key: [u8; 32] = core::array::from_fn(|i| i as u8);
    let pt: [u8; 16] = unhex("00112233445566778899aabbccddeeff")
        .try_into()
        .unwrap();
    let ct: [u8; 16] = unhex("8ea2b7ca516745bfeafc49904b496089")
        .try_into()
        .unwrap();
    load_key(uut, &key);
    let r = stream(uut, &[(pt, false), (ct, true)], 1.0, 1.0, &mut rng);
    assert_eq!(r.out[0], (ct, 0), "FIPS-197 C.3 Cipher");
    assert_eq!(r.out[1], (pt, 1), "FIPS-197 C.3 InvCipher");
    // Random keys, blocks, directions and stalls vs RustCrypto.
    for round in 0..2 {
        let key: [u8; 32] = rng.gen();
        load_key(uut, &key);
        let blocks: Vec<([u8; 16], bool)> = (0..n_random).map(|_| (rng.gen(), rng.gen())).collect();
        let (p_in, p_out) = if round == 0 { (0.7, 0.6) } else { (1.0, 1.0) };
        let r = stream(uut, &blocks, p_in, p_out, &mut rng);
        assert_eq!(r.out.len(), blocks.len());
        for (i, ((d, dec), (o, tag))) in blocks.iter().zip(&r.out).enumerate() {
            assert_eq!(*tag, i as u8, "blocks out of order");
            assert_eq!(*o, golden_aes(&key, d, *dec), "block {i} (decrypt={dec})");
        }
    }
}

/// One step of a two-bank schedule (see [`check_banks`]).
enum BankStep {
    /// Load a key into a bank as soon as no block of that bank is in flight.
    Load(bool, [u8; 32]),
    /// A block of a bank (data, decrypt).
    Block(bool, [u8; 16], bool),
}

/// Two key banks: blocks of bank 0 stream while bank 1 is loaded, then
/// blocks of both banks interleave at random (a bank-1 block waits for its
/// key, never a wrong key), then bank 0 is reloaded while bank-1 blocks
/// flow. Every output is checked against RustCrypto with the key its bank
/// held when the block entered. Random input and output stalls.
/// Returns how many bank-0 blocks left the core in the 15 clocks after the
/// bank-1 `key_load` strobe (a single-bank core would have none).
pub fn check_banks<C: AesCoreSim>(uut: &mut C, seed: u64) -> usize {
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let keys: [[u8; 32]; 3] = [rng.gen(), rng.gen(), rng.gen()];
    uut.drive_banks(false, false);
    load_key(uut, &keys[0]);
    let mut steps = std::collections::VecDeque::new();
    for _ in 0..6 {
        steps.push_back(BankStep::Block(false, rng.gen(), rng.gen()));
    }
    steps.push_back(BankStep::Load(true, keys[1]));
    for _ in 0..30 {
        steps.push_back(BankStep::Block(false, rng.gen(), rng.gen()));
    }
    for _ in 0..40 {
        steps.push_back(BankStep::Block(rng.gen(), rng.gen(), rng.gen()));
    }
    for _ in 0..4 {
        steps.push_back(BankStep::Block(true, rng.gen(), rng.gen()));
    }
    steps.push_back(BankStep::Load(false, keys[2]));
    for _ in 0..30 {
        steps.push_back(BankStep::Block(rng.gen(), rng.gen(), rng.gen()));
    }
    let total = steps
        .iter()
        .filter(|s| matches!(s, BankStep::Block(..)))
        .count();
    let mut held = [keys[0], keys[0]];
    let mut in_flight = [0usize; 2];
    let mut expected = std::collections::VecDeque::new();
    let mut outs = 0usize;
    let mut offered = false;
    let mut overlap = 0usize;
    let mut bank1_load_at = None;
    let mut cycle = 0usize;
    while outs < total {
        let mut load = false;
        let mut key = [0u8; 32];
        let mut key_bank = false;
        let (mut valid, mut data, mut dec, mut bank) = (false, [0u8; 16], false, false);
        match steps.front() {
            Some(BankStep::Load(b, k)) if in_flight[*b as usize] == 0 => {
                load = true;
                key = *k;
                key_bank = *b;
            }
            Some(BankStep::Load(..)) => {}
            Some(BankStep::Block(b, d, de)) => {
                if !offered {
                    offered = rng.gen_bool(0.8);
                }
                (valid, data, dec, bank) = (offered, *d, *de, *b);
            }
            None => {}
        }
        uut.drive_ctrl(false, bits_le::<256>(&key), load);
        uut.drive_banks(key_bank, bank);
        uut.drive_in(valid, blk(&data), dec, expected.len() as u8);
        let ready = rng.gen_bool(0.7);
        uut.drive_out_ready(ready);
        settle(uut);
        let took = valid && uut.is_in_ready();
        let (ov, od, _) = uut.out();
        if ov && ready {
            let (b, want): (usize, [u8; 16]) = expected.pop_front().expect("output without input");
            let got: [u8; 16] = le_bytes(od).try_into().unwrap();
            assert_eq!(got, want, "output {outs} (bank {b}) wrong");
            in_flight[b] -= 1;
            outs += 1;
            if b == 0 && bank1_load_at.is_some_and(|c| cycle - c <= 15) {
                overlap += 1;
            }
        }
        if load {
            held[key_bank as usize] = key;
            if key_bank {
                bank1_load_at = Some(cycle);
            }
            steps.pop_front();
        }
        if took {
            expected.push_back((bank as usize, golden_aes(&held[bank as usize], &data, dec)));
            in_flight[bank as usize] += 1;
            offered = false;
            steps.pop_front();
        }
        tick(uut, C::clk);
        cycle += 1;
        assert!(cycle < 20_000, "two-bank stream stalled");
    }
    overlap
}
