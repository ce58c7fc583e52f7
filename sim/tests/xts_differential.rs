//! Randomized differential tests: the verilated XTS engines against
//! RustCrypto `xts-mode` (IEEE 1619-2007 XTS-AES-256, tweak = data unit
//! number as a 128-bit little-endian value, §5.1).
//!
//! `make test` runs 1,000 random cases per config; `make test-long`
//! (NITROUS_LONG=1) runs 100,000.
#![cfg(all(
    nsim_top_xts_full,
    nsim_top_xts_compact,
    nsim_top_gcm_full,
    nsim_top_gcm_compact
))]

use aes::cipher::KeyInit;
use nitrous_sim::engines::stream::Stall;
use nitrous_sim::engines::xts::DataUnit;
use nitrous_sim::engines::{AnyXts, EngineConfig};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn cases() -> usize {
    if std::env::var_os("NITROUS_LONG").is_some() {
        100_000
    } else {
        1_000
    }
}

fn golden(key: &[u8; 64], units: &[DataUnit]) -> Vec<u8> {
    let xts = xts_mode::Xts128::new(
        aes::Aes256::new(key[..32].into()),
        aes::Aes256::new(key[32..].into()),
    );
    let mut out = Vec::new();
    for u in units {
        let mut buf = u.data.clone();
        let tweak = xts_mode::get_tweak_default(u.number);
        if u.decrypt {
            xts.decrypt_sector(&mut buf, tweak);
        } else {
            xts.encrypt_sector(&mut buf, tweak);
        }
        out.extend_from_slice(&buf);
    }
    out
}

fn random_units(rng: &mut ChaCha8Rng) -> Vec<DataUnit> {
    let size = if rng.gen_bool(0.8) { 512 } else { 4096 };
    let count = if size == 512 { rng.gen_range(1..=4) } else { 1 };
    // Data unit numbers: small, random 128-bit, and near the 2^64 / 2^128 edges.
    let base: u128 = match rng.gen_range(0..4) {
        0 => rng.gen_range(0..1 << 20),
        1 => rng.gen(),
        2 => (1u128 << 64) - 2,
        _ => u128::MAX - 1,
    };
    (0..count)
        .map(|i| DataUnit {
            number: base.wrapping_add(i as u128),
            decrypt: rng.gen_bool(0.5),
            data: (0..size).map(|_| rng.gen()).collect(),
        })
        .collect()
}

fn differential(cfg: EngineConfig, seed: u64) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut eng = AnyXts::new(cfg);
    let mut key: [u8; 64] = [0; 64];
    let n = cases();
    for case in 0..n {
        // A new key every few cases exercises key reload between runs.
        if case % 4 == 0 {
            rng.fill(&mut key[..]);
            eng.load_key(&key)
                .unwrap_or_else(|e| panic!("case {case}: {e}"));
        }
        let units = random_units(&mut rng);
        let stall_pct = [0, 0, 10, 30, 60][rng.gen_range(0..5)];
        let (ins, outs) = (
            Stall::random(rng.gen(), stall_pct),
            Stall::random(rng.gen(), [0, 10, 30, 60][rng.gen_range(0..4)]),
        );
        let (got, _) = eng
            .run(&units, ins, outs)
            .unwrap_or_else(|e| panic!("{cfg:?} case {case}: {e}"));
        let want = golden(&key, &units);
        assert!(
            got == want,
            "{cfg:?} case {case}: {} units of {} B from DUN {:#x} differ from xts-mode",
            units.len(),
            units[0].data.len(),
            units[0].number
        );
    }
}

#[test]
fn xts_full_matches_xts_mode_on_random_cases() {
    differential(EngineConfig::Full, 0x1619_0001);
}

#[test]
fn xts_compact_matches_xts_mode_on_random_cases() {
    differential(EngineConfig::Compact, 0x1619_0002);
}

/// Mixed directions and sizes back to back in ONE run (no idle gap between
/// units): the engine must switch tweak, direction and length per unit.
#[test]
fn xts_back_to_back_mixed_units() {
    for cfg in [EngineConfig::Full, EngineConfig::Compact] {
        let mut rng = ChaCha8Rng::seed_from_u64(99);
        let key: [u8; 64] = std::array::from_fn(|_| rng.gen());
        let units: Vec<DataUnit> = (0..12)
            .map(|i| DataUnit {
                number: 5000 + 3 * i as u128,
                decrypt: i % 3 == 1,
                data: (0..if i % 5 == 4 { 4096 } else { 512 })
                    .map(|_| rng.gen())
                    .collect(),
            })
            .collect();
        let mut eng = AnyXts::new(cfg);
        eng.load_key(&key).unwrap();
        let (got, _) = eng.run(&units, Stall::never(), Stall::never()).unwrap();
        assert!(
            got == golden(&key, &units),
            "{cfg:?}: mixed back-to-back units differ"
        );
    }
}

/// Performance is measured by `make bench`; this checks the functional
/// property the full pipeline promises: with no stalls, one 16-byte block
/// leaves per clock across consecutive 512-byte data units.
#[test]
fn xts_full_streams_one_block_per_clock() {
    let key = [0x11u8; 64];
    let units: Vec<DataUnit> = (0..16)
        .map(|i| DataUnit {
            number: i,
            decrypt: false,
            data: vec![i as u8; 512],
        })
        .collect();
    let mut eng = AnyXts::new(EngineConfig::Full);
    eng.load_key(&key).unwrap();
    let (_, st) = eng.run(&units, Stall::never(), Stall::never()).unwrap();
    let beats = st.bytes / 16;
    assert_eq!(
        st.last_out_cycle - st.first_out_cycle + 1,
        beats,
        "full XTS must emit one block per clock (16 units x 32 blocks)"
    );
}

#[test]
fn xts_rejects_partial_blocks() {
    let mut eng = AnyXts::new(EngineConfig::Full);
    eng.load_key(&[0; 64]).unwrap();
    let bad = DataUnit {
        number: 0,
        decrypt: false,
        data: vec![0; 500],
    };
    assert!(eng.run(&[bad], Stall::never(), Stall::never()).is_err());
}
