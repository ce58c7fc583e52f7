//! `nitrous bench crypto`: cycle-accurate engine benchmarks.
//!
//! Card performance is counted in cycles (deterministic); wall-clock only
//! measures simulator speed and the host CPU's software throughput, each as
//! a ratio measured in this run.

use crate::CliError;
use clap::{Args, Subcommand};
use nitrous_sim::engines::gcm::Message;
use nitrous_sim::engines::stream::Stall;
use nitrous_sim::engines::xts::DataUnit;
use nitrous_sim::engines::{AnyGcm, AnyXts, EngineConfig, RunStats};
use serde::Serialize;
use std::path::PathBuf;
use std::time::Instant;

#[derive(Subcommand, Debug)]
pub enum BenchCmd {
    /// XTS and GCM engines, both configs.
    Crypto(CryptoBench),
}

#[derive(Args, Debug)]
pub struct CryptoBench {
    /// Write the results as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Bytes streamed per engine run (>= 64 KiB).
    #[arg(long, default_value_t = 64 * 1024, value_parser = parse_bytes)]
    bytes: usize,
    /// Synthesis results with per-top Fmax (written by `make synth`).
    #[arg(long, default_value = "bitstreams/results.json")]
    synth: PathBuf,
}

fn parse_bytes(s: &str) -> Result<usize, String> {
    let v: usize = s
        .parse()
        .map_err(|_| format!("'{s}' is not a byte count"))?;
    if v < 64 * 1024 || !v.is_multiple_of(4096) {
        return Err(format!("{v} must be >= 65536 and a multiple of 4096"));
    }
    Ok(v)
}

/// One row of the report (the JSON schema of `--json`).
#[derive(Serialize, Debug, Clone)]
pub struct Row {
    pub engine: &'static str,
    pub config: &'static str,
    /// Sustained output bytes per cycle (first to last output beat).
    pub bytes_per_cycle: f64,
    /// Output bytes per cycle including the pipeline fill.
    pub bytes_per_cycle_with_fill: f64,
    /// First block in -> first block out.
    pub latency_cycles: u64,
    /// Bytes streamed.
    pub bytes: u64,
    /// Simulated cycles per wall-clock second (Verilator speed).
    pub sim_cycles_per_s: f64,
    /// RustCrypto on this CPU, MB/s (10^6 B/s).
    pub software_mb_per_s: f64,
    /// ECP5 Fmax of this top from `make synth`, if known.
    pub fmax_mhz: Option<f64>,
    /// bytes_per_cycle x Fmax, MB/s.
    pub hardware_mb_per_s: Option<f64>,
    /// hardware / software.
    pub hw_over_sw: Option<f64>,
}

fn cfg_name(c: EngineConfig) -> &'static str {
    match c {
        EngineConfig::Full => "full",
        EngineConfig::Compact => "compact",
    }
}

fn fail(e: impl std::fmt::Display) -> CliError {
    CliError::Failed(e.to_string())
}

fn bench_xts(cfg: EngineConfig, bytes: usize) -> Result<(RunStats, f64), CliError> {
    let key: [u8; 64] = std::array::from_fn(|i| (i as u8).wrapping_mul(37).wrapping_add(11));
    let units: Vec<DataUnit> = (0..bytes / 512)
        .map(|i| DataUnit {
            number: 1000 + i as u128,
            decrypt: false,
            data: (0..512).map(|j| (i * 7 + j) as u8).collect(),
        })
        .collect();
    let mut eng = AnyXts::new(cfg);
    eng.load_key(&key).map_err(fail)?;
    let c0 = eng.cycles();
    let t0 = Instant::now();
    let (_, stats) = eng
        .run(&units, Stall::never(), Stall::never())
        .map_err(fail)?;
    let secs = t0.elapsed().as_secs_f64();
    Ok((stats, (eng.cycles() - c0) as f64 / secs))
}

fn bench_gcm(cfg: EngineConfig, bytes: usize) -> Result<(RunStats, f64), CliError> {
    let key: [u8; 32] = std::array::from_fn(|i| (i as u8).wrapping_mul(13).wrapping_add(5));
    let msg = Message {
        iv: [7; 12],
        aad: vec![0xa5; 16],
        data: (0..bytes).map(|j| (j * 31) as u8).collect(),
        decrypt: false,
        tag: [0; 16],
    };
    let mut eng = AnyGcm::new(cfg);
    eng.load_key(&key).map_err(fail)?;
    let c0 = eng.cycles();
    let t0 = Instant::now();
    let (_, stats) = eng
        .run(&[msg], Stall::never(), Stall::never())
        .map_err(fail)?;
    let secs = t0.elapsed().as_secs_f64();
    Ok((stats, (eng.cycles() - c0) as f64 / secs))
}

/// RustCrypto throughput on this CPU in MB/s over `bytes` (best of 3).
fn software_mb_per_s(engine: &str, bytes: usize) -> f64 {
    use aes::cipher::KeyInit;
    let mut buf = vec![0x5au8; bytes.max(1 << 20)];
    let mut best = 0f64;
    for _ in 0..3 {
        let t0 = Instant::now();
        match engine {
            "xts" => {
                let c1 = aes::Aes256::new(&[1u8; 32].into());
                let c2 = aes::Aes256::new(&[2u8; 32].into());
                let xts = xts_mode::Xts128::new(c1, c2);
                xts.encrypt_area(&mut buf, 512, 1000, xts_mode::get_tweak_default);
            }
            _ => {
                use aes_gcm::aead::AeadInPlace;
                let g = aes_gcm::Aes256Gcm::new(&[3u8; 32].into());
                let _ = g.encrypt_in_place_detached(&[7u8; 12].into(), &[0xa5; 16], &mut buf);
            }
        }
        let mbps = buf.len() as f64 / t0.elapsed().as_secs_f64() / 1e6;
        best = best.max(mbps);
    }
    std::hint::black_box(&buf);
    best
}

fn load_fmax(path: &PathBuf) -> serde_json::Value {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or(serde_json::Value::Null)
}

/// Fmax of `top` in the synthesis report of `make synth`
/// (`{"results": [{"top": ..., "fmax_mhz": ...}, ...]}`).
fn fmax_of(v: &serde_json::Value, top: &str) -> Option<f64> {
    v.get("results")?
        .as_array()?
        .iter()
        .find(|r| r.get("top").and_then(|t| t.as_str()) == Some(top))?
        .get("fmax_mhz")?
        .as_f64()
}

pub fn run(cmd: BenchCmd) -> Result<(), CliError> {
    let BenchCmd::Crypto(a) = cmd;
    let synth = load_fmax(&a.synth);
    let mut rows = Vec::new();
    for engine in ["xts", "gcm"] {
        let sw = software_mb_per_s(engine, a.bytes);
        for cfg in [EngineConfig::Full, EngineConfig::Compact] {
            eprintln!(
                "bench: {engine} {} ({} KiB) ...",
                cfg_name(cfg),
                a.bytes / 1024
            );
            let (stats, speed) = match engine {
                "xts" => bench_xts(cfg, a.bytes)?,
                _ => bench_gcm(cfg, a.bytes)?,
            };
            let fmax = fmax_of(&synth, &format!("{engine}_{}", cfg_name(cfg)));
            let bpc = stats.sustained_bytes_per_cycle();
            let hw = fmax.map(|f| bpc * f);
            rows.push(Row {
                engine,
                config: cfg_name(cfg),
                bytes_per_cycle: bpc,
                bytes_per_cycle_with_fill: stats.bytes_per_cycle(),
                latency_cycles: stats.latency_cycles(),
                bytes: stats.bytes,
                sim_cycles_per_s: speed,
                software_mb_per_s: sw,
                fmax_mhz: fmax,
                hardware_mb_per_s: hw,
                hw_over_sw: hw.map(|h| h / sw),
            });
        }
    }
    print_table(&rows);
    if let Some(p) = &a.json {
        let text = serde_json::to_string_pretty(&rows).map_err(fail)?;
        std::fs::write(p, text + "\n")
            .map_err(|e| CliError::Failed(format!("writing {}: {e}", p.display())))?;
        eprintln!("bench: wrote {}", p.display());
    }
    Ok(())
}

fn opt(v: Option<f64>, prec: usize) -> String {
    v.map_or("n/a".into(), |x| format!("{x:.prec$}"))
}

pub fn print_table(rows: &[Row]) {
    out!(
        "| engine | config | B/cycle | latency (cycles) | sim cycles/s | RustCrypto MB/s | Fmax MHz | HW MB/s at Fmax | HW/SW |"
    );
    out!("|---|---|---:|---:|---:|---:|---:|---:|---:|");
    for r in rows {
        out!(
            "| {} | {} | {:.2} | {} | {:.0} | {:.0} | {} | {} | {} |",
            r.engine,
            r.config,
            r.bytes_per_cycle,
            r.latency_cycles,
            r.sim_cycles_per_s,
            r.software_mb_per_s,
            opt(r.fmax_mhz, 1),
            opt(r.hardware_mb_per_s, 0),
            opt(r.hw_over_sw, 2),
        );
    }
}
