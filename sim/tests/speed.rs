//! Verilator speed of the self-test top, measured and printed (never
//! asserted on: wall time depends on the machine). Run with
//! `cargo test --release -p nitrous-sim --test speed -- --nocapture`.
#![cfg(nsim_top_sim_selftest)]

use nitrous_sim::models::SimSelftest;
use nitrous_sim::Sim;
use std::time::Instant;

fn rate(cycles: u64, f: impl FnOnce()) -> f64 {
    let t = Instant::now();
    f();
    cycles as f64 / t.elapsed().as_secs_f64()
}

#[test]
fn verilator_speed_of_selftest() {
    let mut sim = Sim::<SimSelftest>::new().unwrap();
    sim.apply_reset(1).unwrap();
    let n = 2_000_000u64;
    let idle = rate(n, || sim.ticks(n));
    let start = sim.count();
    let busy = rate(n, || {
        for i in 0..n {
            sim.set_in_byte(i as u8);
            sim.set_in_block(i as u128 * 0x9e37_79b9_7f4a_7c15);
            sim.tick();
            std::hint::black_box(sim.out_block());
        }
    });
    assert_eq!(sim.count(), start.wrapping_add(n as u32), "all cycles ran");

    let dir = std::env::temp_dir().join(format!("nitrous-sim-speed-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("speed.{}", nitrous_sim::models::TRACE_FORMAT));
    let mut traced = Sim::<SimSelftest>::new().unwrap();
    if traced.trace_path().is_none() {
        traced.trace_to(&path).unwrap();
    }
    let nt = 100_000u64;
    let with_trace = rate(nt, || {
        for i in 0..nt {
            traced.set_in_byte(i as u8);
            traced.tick();
        }
    });
    drop(traced);
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    let _ = std::fs::remove_dir_all(&dir);

    println!("sim_selftest Verilator speed:");
    println!(
        "  clock only:                  {:>8.2} M cycles/s",
        idle / 1e6
    );
    println!(
        "  + 2 typed sets + 1 get/cycle:{:>8.2} M cycles/s",
        busy / 1e6
    );
    println!(
        "  + {} trace, 1 set/cycle:    {:>8.2} M cycles/s ({} B for {nt} cycles)",
        nitrous_sim::models::TRACE_FORMAT,
        with_trace / 1e6,
        size
    );
    println!("build: {}", nitrous_sim::models::BUILD_REPORT.trim());
}
