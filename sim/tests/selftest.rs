//! The Verilator binding against the `sim_selftest` top
//! (hdl/src/sim_selftest.rs): typed and by-name port access, errors,
//! wide ports, cycle counting, waveform traces. Expected values come from a
//! Rust reference model of the table in that file's docs.
#![cfg(nsim_top_sim_selftest)]

use nitrous_sim::models::SimSelftest;
use nitrous_sim::{Error, Model, PortDir, Sim};
use std::path::PathBuf;

const MASK100: u128 = (1u128 << 100) - 1;

/// SplitMix64 (Steele, Lea, Flood 2014): a small seeded PRNG, so that the
/// crate needs no extra dependencies for its tests.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Self(seed)
    }
    fn u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn u128(&mut self) -> u128 {
        (self.u64() as u128) << 64 | self.u64() as u128
    }
    /// True with probability about `percent`/100.
    fn chance(&mut self, percent: u64) -> bool {
        self.u64() % 100 < percent
    }
}

/// Inputs of one cycle.
#[derive(Clone, Copy, Debug)]
struct Inputs {
    bit: bool,
    byte: u8,
    word: u32,
    dword: u64,
    odd: u128,
    block: u128,
    wide: [u32; 16],
}

impl Inputs {
    fn random(r: &mut Rng) -> Self {
        let mut wide: [u32; 16] = std::array::from_fn(|_| r.u64() as u32);
        // Runs of all-ones words make long carry chains likely.
        if r.chance(30) {
            let from = (r.u64() % 8) as usize;
            for w in &mut wide[from..from + 5] {
                *w = u32::MAX;
            }
        }
        Self {
            bit: r.chance(50),
            byte: r.u64() as u8,
            word: r.u64() as u32,
            dword: r.u64(),
            odd: r.u128() & MASK100,
            block: r.u128(),
            wide,
        }
    }

    fn apply(&self, m: &mut SimSelftest) {
        m.set_in_bit(self.bit);
        m.set_in_byte(self.byte);
        m.set_in_word(self.word);
        m.set_in_dword(self.dword);
        m.set_in_odd(self.odd);
        m.set_in_block(self.block);
        m.set_in_wide(&self.wide);
    }
}

/// 512-bit little-endian word addition (mod 2^512), written independently
/// of the hardware.
fn add512(a: &[u32; 16], b: u128) -> [u32; 16] {
    let mut out = [0u32; 16];
    let mut carry = 0u64;
    for i in 0..16 {
        let bw = if i < 4 { (b >> (32 * i)) as u32 } else { 0 };
        let s = a[i] as u64 + bw as u64 + carry;
        out[i] = s as u32;
        carry = s >> 32;
    }
    out
}

/// Registered outputs expected after a rising edge that sampled `i` while
/// the counter held `count`.
struct Expected {
    bit: bool,
    byte: u8,
    word: u32,
    dword: u64,
    odd: u128,
    block: u128,
    wide: [u32; 16],
}

fn expected(i: &Inputs, count: u32) -> Expected {
    Expected {
        bit: !i.bit,
        byte: i.byte.wrapping_add(1),
        word: i.word.wrapping_add(i.byte as u32),
        dword: i.dword ^ count as u64,
        odd: (i.odd + 1) & MASK100,
        block: i.block ^ i.dword as u128,
        wide: add512(&i.wide, i.block),
    }
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("nitrous-sim-test-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d.join(name)
}

fn new_sim() -> Sim<SimSelftest> {
    let mut sim = Sim::<SimSelftest>::new().unwrap();
    sim.apply_reset(2).unwrap();
    sim
}

#[test]
fn ports_are_described_in_declaration_order() {
    let names: Vec<_> = SimSelftest::PORTS.iter().map(|p| p.name).collect();
    assert_eq!(&names[..4], &["clock", "reset", "in_bit", "in_byte"]);
    assert_eq!(names.len(), 18);
    let (idx, p) = SimSelftest::port("in_odd").unwrap();
    assert_eq!(
        (idx, p.width, p.dir),
        (SimSelftest::PORT_IN_ODD, 100, PortDir::In)
    );
    let (_, p) = SimSelftest::port("out_wide").unwrap();
    assert_eq!(
        (p.width, p.dir, p.words(), p.bytes()),
        (512, PortDir::Out, 16, 64)
    );
    assert!(nitrous_sim::models::TOPS.contains(&"sim_selftest"));
}

#[test]
fn typed_accessors_match_reference_model() {
    let mut r = Rng::new(0x5e1f_7e57);
    let mut sim = new_sim();
    assert_eq!(sim.count(), 0, "reset clears the counter");
    assert_eq!(sim.out_wide(), [0; 16], "reset clears registers");
    for cycle in 0..2000u32 {
        let i = Inputs::random(&mut r);
        i.apply(&mut sim);
        sim.settle();
        assert_eq!(sim.comb_byte(), i.byte ^ 0xa5, "combinational output");
        // Inputs read back unchanged.
        assert_eq!(sim.in_odd(), i.odd);
        assert_eq!(sim.in_wide(), i.wide);
        let count_before = sim.count();
        assert_eq!(count_before, cycle);
        sim.tick();
        let e = expected(&i, count_before);
        assert_eq!(sim.out_bit(), e.bit, "cycle {cycle}");
        assert_eq!(sim.out_byte(), e.byte, "cycle {cycle}");
        assert_eq!(sim.out_word(), e.word, "cycle {cycle}");
        assert_eq!(sim.out_dword(), e.dword, "cycle {cycle}");
        assert_eq!(sim.out_odd(), e.odd, "cycle {cycle}");
        assert_eq!(sim.out_block(), e.block, "cycle {cycle}");
        assert_eq!(sim.out_wide(), e.wide, "cycle {cycle}");
        assert_eq!(sim.count(), cycle + 1);
    }
}

#[test]
fn by_name_access_matches_typed_access() {
    let mut r = Rng::new(7);
    let mut sim = new_sim();
    for _ in 0..200 {
        let i = Inputs::random(&mut r);
        sim.set("in_bit", &[i.bit as u32]).unwrap();
        sim.set_u64("in_byte", i.byte as u64).unwrap();
        sim.set("in_word", &[i.word]).unwrap();
        sim.set_u64("in_dword", i.dword).unwrap();
        let odd_bytes = i.odd.to_le_bytes();
        sim.set_bytes("in_odd", &odd_bytes[..13]).unwrap();
        sim.set_bytes("in_block", &i.block.to_le_bytes()).unwrap();
        sim.set("in_wide", &i.wide).unwrap();
        // Same values as the typed getters see.
        assert_eq!(sim.in_byte(), i.byte);
        assert_eq!(sim.in_dword(), i.dword);
        assert_eq!(sim.in_odd(), i.odd);
        assert_eq!(sim.in_block(), i.block);
        assert_eq!(sim.in_wide(), i.wide);
        let count = sim.count();
        sim.tick();
        let e = expected(&i, count);
        assert_eq!(sim.get("out_bit").unwrap(), vec![e.bit as u32]);
        assert_eq!(sim.get_u64("out_byte").unwrap(), e.byte as u64);
        assert_eq!(sim.get("out_word").unwrap(), vec![e.word]);
        assert_eq!(
            sim.get("out_dword").unwrap(),
            vec![e.dword as u32, (e.dword >> 32) as u32]
        );
        assert_eq!(
            sim.get_bytes("out_odd").unwrap(),
            e.odd.to_le_bytes()[..13].to_vec()
        );
        assert_eq!(
            sim.get_bytes("out_block").unwrap(),
            e.block.to_le_bytes().to_vec()
        );
        assert_eq!(sim.get("out_wide").unwrap(), e.wide.to_vec());
        let wide_bytes: Vec<u8> = e.wide.iter().flat_map(|w| w.to_le_bytes()).collect();
        assert_eq!(sim.get_bytes("out_wide").unwrap(), wide_bytes);
    }
    // Short values are zero-extended; extra zero words are accepted.
    sim.set("in_wide", &[5]).unwrap();
    assert_eq!(sim.in_wide(), {
        let mut w = [0u32; 16];
        w[0] = 5;
        w
    });
    sim.set("in_word", &[9, 0, 0]).unwrap();
    assert_eq!(sim.in_word(), 9);
}

#[test]
fn bad_port_names_and_values_are_errors() {
    let mut m = SimSelftest::new();
    match m.set("no_such_port", &[1]) {
        Err(Error::UnknownPort { model, port }) => {
            assert_eq!(model, "sim_selftest");
            assert_eq!(port, "no_such_port");
        }
        other => panic!("expected UnknownPort, got {other:?}"),
    }
    assert!(matches!(
        m.get("no_such_port"),
        Err(Error::UnknownPort { .. })
    ));
    assert!(matches!(
        m.get_bytes("In_byte"),
        Err(Error::UnknownPort { .. })
    ));
    assert!(matches!(
        SimSelftest::port(""),
        Err(Error::UnknownPort { .. })
    ));
    assert!(matches!(
        m.set("out_byte", &[1]),
        Err(Error::NotAnInput {
            port: "out_byte",
            ..
        })
    ));
    // Bits above the port width.
    assert!(matches!(
        m.set("in_byte", &[0x100]),
        Err(Error::ValueTooWide { width: 8, .. })
    ));
    assert!(matches!(
        m.set("in_bit", &[2]),
        Err(Error::ValueTooWide { width: 1, .. })
    ));
    assert!(matches!(
        m.set("in_odd", &[0, 0, 0, 1 << 4]),
        Err(Error::ValueTooWide { width: 100, .. })
    ));
    assert!(matches!(
        m.set("in_word", &[1, 1]),
        Err(Error::ValueTooWide { .. })
    ));
    assert!(matches!(
        m.set_bytes("in_byte", &[1, 2]),
        Err(Error::ValueTooWide { .. })
    ));
    assert!(matches!(
        m.get_u64("in_block"),
        Err(Error::PortTooWide { max: 64, .. })
    ));
    // The largest legal values are accepted.
    m.set("in_odd", &[u32::MAX, u32::MAX, u32::MAX, 0xf])
        .unwrap();
    assert_eq!(m.in_odd(), MASK100);
    let e = m.set("nope", &[]).unwrap_err().to_string();
    assert!(e.contains("nope") && e.contains("sim_selftest"), "{e}");
}

#[test]
#[should_panic(expected = "does not fit port `in_odd`")]
fn typed_setter_rejects_values_wider_than_the_port() {
    let mut m = SimSelftest::new();
    m.set_in_odd(1u128 << 100);
}

#[test]
fn wide_ports_round_trip_and_carry() {
    let mut sim = new_sim();
    // All ones + 1 wraps to zero across all 16 words (mod 2^512).
    sim.set_in_wide(&[u32::MAX; 16]);
    sim.set_in_block(1);
    sim.tick();
    assert_eq!(sim.out_wide(), [0u32; 16]);
    // A carry out of the low 128 bits only.
    let mut w = [0u32; 16];
    w[..4].copy_from_slice(&[u32::MAX; 4]);
    w[15] = 0x8000_0000;
    sim.set_in_wide(&w);
    sim.set_in_block(2);
    sim.tick();
    let mut e = [0u32; 16];
    e[0] = 1;
    e[4] = 1;
    e[15] = 0x8000_0000;
    assert_eq!(sim.out_wide(), e);
    // Distinct pattern in every word survives set -> get unchanged.
    let pat: [u32; 16] =
        std::array::from_fn(|i| 0x0101_0101u32.wrapping_mul(i as u32 + 1) ^ 0xa5a5_0000);
    sim.set_in_wide(&pat);
    sim.set_in_block(0);
    assert_eq!(sim.in_wide(), pat);
    sim.tick();
    assert_eq!(sim.out_wide(), pat);
    // 64-byte little-endian key-style access of the same value.
    let bytes: Vec<u8> = pat.iter().flat_map(|w| w.to_le_bytes()).collect();
    assert_eq!(sim.get_bytes("in_wide").unwrap(), bytes);
}

#[test]
fn cycles_are_counted() {
    let mut sim = Sim::<SimSelftest>::new().unwrap();
    assert_eq!(sim.cycle(), 0);
    sim.apply_reset(3).unwrap();
    assert_eq!(sim.cycle(), 3);
    assert_eq!(sim.count(), 0);
    sim.ticks(1000);
    assert_eq!(sim.cycle(), 1003);
    assert_eq!(sim.count(), 1000);
    assert_eq!(sim.time(), 1003 * 2 * nitrous_sim::HALF_PERIOD);
    let n = sim
        .run_until(100, "count == 1050", |m| m.count() == 1050)
        .unwrap();
    assert_eq!(n, 50);
    assert_eq!(sim.cycle(), 1053);
    match sim.run_until(10, "count == 0", |m| m.count() == 0) {
        Err(Error::Timeout { cycles: 10, .. }) => {}
        other => panic!("expected Timeout, got {other:?}"),
    }
    assert_eq!(sim.cycle(), 1063);
    // Evaluating without a clock edge changes nothing registered.
    sim.settle();
    assert_eq!(sim.count(), 1060);
}

#[test]
fn instances_are_independent_and_send() {
    let mut a = new_sim();
    let b = std::thread::spawn(|| {
        let mut b = new_sim();
        b.set_in_byte(10);
        b.ticks(7);
        b
    })
    .join()
    .unwrap();
    a.set_in_byte(200);
    a.ticks(3);
    assert_eq!((a.count(), a.out_byte()), (3, 201));
    assert_eq!((b.count(), b.out_byte()), (7, 11));
    // A model moved to another thread keeps its state.
    let m = a.into_model();
    let h = std::thread::spawn(move || (m.count(), m.out_byte()));
    assert_eq!(h.join().unwrap(), (3, 201));
}

#[test]
fn trace_is_written_when_enabled() {
    let fmt = nitrous_sim::models::TRACE_FORMAT;
    let short = tmp(&format!("short.{fmt}"));
    let long = tmp(&format!("long.{fmt}"));
    for (path, cycles) in [(&short, 4u64), (&long, 4000)] {
        let mut sim = Sim::<SimSelftest>::new().unwrap();
        if sim.trace_path().is_none() {
            sim.trace_to(path).unwrap();
        }
        assert!(sim.is_tracing());
        let mut r = Rng::new(cycles);
        for _ in 0..cycles {
            Inputs::random(&mut r).apply(&mut sim);
            sim.tick();
        }
        // Drop closes the file.
    }
    let s = std::fs::read(&short).unwrap();
    let l = std::fs::read(&long).unwrap();
    assert!(!s.is_empty());
    assert!(
        l.len() > s.len() + 10_000,
        "4000 random cycles: {} vs {} bytes",
        l.len(),
        s.len()
    );
    eprintln!(
        "{fmt} sizes: 4 cycles {} B, 4000 cycles {} B",
        s.len(),
        l.len()
    );
    if fmt == "fst" {
        // FST files start with a header block (block type FST_BL_HDR = 0).
        assert_eq!(s.first(), Some(&0u8), "FST header block");
        assert_eq!(l.first(), Some(&0u8), "FST header block");
    } else {
        // VCD: every port declared, one timestamp per clock edge.
        let text = String::from_utf8_lossy(&s);
        for p in SimSelftest::PORTS {
            assert!(text.contains(&format!(" {} ", p.name)), "{} in VCD", p.name);
        }
        assert!(text.contains("$enddefinitions"));
        for t in [0u64, 5, 10, 35] {
            assert!(text.contains(&format!("\n#{t}\n")), "timestamp {t}");
        }
    }
    let _ = std::fs::remove_file(short);
    let _ = std::fs::remove_file(long);
}

#[test]
fn trace_errors() {
    let mut sim = Sim::<SimSelftest>::new().unwrap();
    let other = if nitrous_sim::models::TRACE_FORMAT == "fst" {
        "vcd"
    } else {
        "fst"
    };
    let wrong = tmp(&format!("wrong.{other}"));
    assert!(matches!(sim.trace_to(&wrong), Err(Error::Trace { .. })));
    assert!(!wrong.exists());
    let bad_dir = tmp("no/such/dir/x.fst");
    assert!(matches!(sim.trace_to(&bad_dir), Err(Error::Trace { .. })));
    assert!(!sim.is_tracing());
    if sim.trace_path().is_none() {
        let ok = tmp(&format!("once.{}", nitrous_sim::models::TRACE_FORMAT));
        sim.trace_to(&ok).unwrap();
        let again = tmp(&format!("twice.{}", nitrous_sim::models::TRACE_FORMAT));
        assert!(matches!(sim.trace_to(&again), Err(Error::Trace { .. })));
        drop(sim);
        assert!(std::fs::metadata(&ok).unwrap().len() > 0);
        let _ = std::fs::remove_file(ok);
    }
}

#[test]
fn models_can_be_chosen_at_run_time() {
    assert!(nitrous_sim::models::by_name("no_such_top").is_none());
    let mut m = nitrous_sim::models::by_name("sim_selftest").expect("built");
    assert_eq!(m.name(), "sim_selftest");
    assert_eq!(m.ports().len(), SimSelftest::PORTS.len());
    m.set("in_byte", &[0x0f]).unwrap();
    m.eval();
    assert_eq!(m.get("comb_byte").unwrap(), vec![0x0f ^ 0xa5]);
    assert!(matches!(m.get("nope"), Err(Error::UnknownPort { .. })));
    // Every built top can be constructed by name.
    for name in nitrous_sim::models::TOPS {
        let m = nitrous_sim::models::by_name(name).unwrap();
        assert_eq!(m.name(), *name);
    }
}
