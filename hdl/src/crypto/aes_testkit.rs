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
