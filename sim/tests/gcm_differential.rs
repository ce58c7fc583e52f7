//! Randomized differential tests: the verilated GCM engines against
//! RustCrypto `aes-gcm` (NIST SP 800-38D, AES-256, 96-bit IV).
//!
//! `make test` runs 1,000 random cases per config; `make test-long`
//! (NITROUS_LONG=1) runs 100,000.
#![cfg(all(
    nsim_top_xts_full,
    nsim_top_xts_compact,
    nsim_top_gcm_full,
    nsim_top_gcm_compact
))]

use aes_gcm::aead::{AeadInPlace, KeyInit};
use nitrous_sim::engines::gcm::Message;
use nitrous_sim::engines::stream::Stall;
use nitrous_sim::engines::{AnyGcm, EngineConfig};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn cases() -> usize {
    if std::env::var_os("NITROUS_LONG").is_some() {
        100_000
    } else {
        1_000
    }
}

fn len(rng: &mut ChaCha8Rng, max: usize) -> usize {
    match rng.gen_range(0..6) {
        0 => 0,
        1 => rng.gen_range(1..16),
        2 => 16 * rng.gen_range(1..4),
        _ => rng.gen_range(0..=max),
    }
}

fn differential(cfg: EngineConfig, seed: u64) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut eng = AnyGcm::new(cfg);
    let mut key = [0u8; 32];
    let mut golden = aes_gcm::Aes256Gcm::new(&key.into());
    for case in 0..cases() {
        if case % 4 == 0 {
            rng.fill(&mut key[..]);
            golden = aes_gcm::Aes256Gcm::new(&key.into());
            eng.load_key(&key)
                .unwrap_or_else(|e| panic!("case {case}: {e}"));
        }
        // 1..3 messages back to back.
        let n = rng.gen_range(1..=3);
        let mut msgs = Vec::new();
        let mut want = Vec::new();
        for _ in 0..n {
            let iv: [u8; 12] = rng.gen();
            let aad: Vec<u8> = (0..len(&mut rng, 80)).map(|_| rng.gen()).collect();
            let pt: Vec<u8> = (0..len(&mut rng, 700)).map(|_| rng.gen()).collect();
            let mut ct = pt.clone();
            let tag = golden
                .encrypt_in_place_detached(&iv.into(), &aad, &mut ct)
                .unwrap();
            let tag: [u8; 16] = tag.into();
            if rng.gen_bool(0.5) {
                msgs.push(Message {
                    iv,
                    aad,
                    data: pt,
                    decrypt: false,
                    tag: [0; 16],
                });
                want.push((ct, tag, true));
            } else {
                // Decrypt with the right tag, or with one flipped bit.
                let mut given = tag;
                let tamper = rng.gen_bool(0.3);
                if tamper {
                    given[rng.gen_range(0..16)] ^= 1 << rng.gen_range(0..8);
                }
                msgs.push(Message {
                    iv,
                    aad,
                    data: ct,
                    decrypt: true,
                    tag: given,
                });
                want.push((pt, tag, !tamper));
            }
        }
        let ins = Stall::random(rng.gen(), [0, 0, 10, 40][rng.gen_range(0..4)]);
        let outs = Stall::random(rng.gen(), [0, 10, 40][rng.gen_range(0..3)]);
        let (got, _) = eng.run(&msgs, ins, outs).unwrap_or_else(|e| {
            let shapes: Vec<String> = msgs
                .iter()
                .map(|m| {
                    format!(
                        "{}:{}A/{}D",
                        if m.decrypt { "dec" } else { "enc" },
                        m.aad.len(),
                        m.data.len()
                    )
                })
                .collect();
            panic!("{cfg:?} case {case} [{}]: {e}", shapes.join(", "))
        });
        assert_eq!(got.len(), msgs.len(), "{cfg:?} case {case}: result count");
        for (i, (g, (data, tag, ok))) in got.iter().zip(&want).enumerate() {
            let m = &msgs[i];
            let what = format!(
                "{cfg:?} case {case} msg {i} ({} AAD B, {} data B, {})",
                m.aad.len(),
                m.data.len(),
                if m.decrypt { "decrypt" } else { "encrypt" }
            );
            assert!(&g.data == data, "{what}: payload differs from aes-gcm");
            assert_eq!(&g.tag, tag, "{what}: tag differs from aes-gcm");
            assert_eq!(g.tag_ok, *ok, "{what}: tag_ok");
        }
    }
}

#[test]
fn gcm_full_matches_aes_gcm_on_random_cases() {
    differential(EngineConfig::Full, 0x38d0_0001);
}

#[test]
fn gcm_compact_matches_aes_gcm_on_random_cases() {
    differential(EngineConfig::Compact, 0x38d0_0002);
}

/// Functional pipeline property (performance itself is in `make bench`):
/// with no stalls the full engine emits one payload block per clock.
#[test]
fn gcm_full_streams_one_block_per_clock() {
    let mut eng = AnyGcm::new(EngineConfig::Full);
    eng.load_key(&[9; 32]).unwrap();
    let msg = Message {
        iv: [1; 12],
        aad: vec![2; 32],
        data: vec![3; 8192],
        decrypt: false,
        tag: [0; 16],
    };
    let (_, st) = eng.run(&[msg], Stall::never(), Stall::never()).unwrap();
    // RunStats covers payload beats only (the tag is not a payload beat).
    let payload_beats = 8192 / 16;
    assert_eq!(
        st.last_out_cycle - st.first_out_cycle + 1,
        payload_beats,
        "full GCM must emit one payload block per clock"
    );
}
