//! `nitrous crypto ...`: run data through the verilated crypto engines.

use crate::CliError;
use clap::{Args, Subcommand, ValueEnum};
use nitrous_sim::engines::gcm::Message;
use nitrous_sim::engines::stream::Stall;
use nitrous_sim::engines::xts::DataUnit;
use nitrous_sim::engines::{AnyGcm, AnyXts, EngineConfig};
use std::io::{Read, Write};

#[derive(Copy, Clone, Debug, ValueEnum)]
pub enum ConfigArg {
    Full,
    Compact,
}

impl From<ConfigArg> for EngineConfig {
    fn from(c: ConfigArg) -> Self {
        match c {
            ConfigArg::Full => EngineConfig::Full,
            ConfigArg::Compact => EngineConfig::Compact,
        }
    }
}

#[derive(Args, Debug)]
pub struct XtsArgs {
    /// 512-bit XTS key `Key1 || Key2` as 128 hex characters (IEEE 1619 §5.1).
    #[arg(long)]
    key: String,
    /// Data unit number of the first unit (decimal); later units count up.
    #[arg(long)]
    dun: u128,
    /// Data unit size in bytes.
    #[arg(long, default_value_t = 512, value_parser = parse_unit_size)]
    unit_size: usize,
    #[arg(long, value_enum, default_value_t = ConfigArg::Full)]
    config: ConfigArg,
}

#[derive(Args, Debug)]
pub struct GcmArgs {
    /// AES-256 key as 64 hex characters.
    #[arg(long)]
    key: String,
    /// 96-bit IV as 24 hex characters.
    #[arg(long)]
    iv: String,
    /// Additional authenticated data, hex (may be empty).
    #[arg(long, default_value = "")]
    aad: String,
    #[arg(long, value_enum, default_value_t = ConfigArg::Full)]
    config: ConfigArg,
}

#[derive(Args, Debug)]
pub struct GcmDecArgs {
    #[command(flatten)]
    common: GcmArgs,
    /// Expected 128-bit tag as 32 hex characters.
    #[arg(long)]
    tag: String,
}

#[derive(Subcommand, Debug)]
pub enum CryptoCmd {
    /// XTS-AES-256 encrypt whole data units from stdin to stdout.
    XtsEnc(XtsArgs),
    /// XTS-AES-256 decrypt whole data units from stdin to stdout.
    XtsDec(XtsArgs),
    /// AES-256-GCM encrypt stdin; stdout = ciphertext || 16-byte tag.
    GcmEnc(GcmArgs),
    /// AES-256-GCM decrypt stdin; plaintext only if the tag verifies.
    GcmDec(GcmDecArgs),
}

fn parse_unit_size(s: &str) -> Result<usize, String> {
    match s {
        "512" => Ok(512),
        "4096" => Ok(4096),
        _ => Err(format!("'{s}' is not a data unit size (512 or 4096)")),
    }
}

/// Parses exactly `N` bytes of hex for option `name`.
pub fn hex_exact<const N: usize>(name: &str, s: &str) -> Result<[u8; N], CliError> {
    let v = hex_any(name, s)?;
    v.as_slice().try_into().map_err(|_| {
        CliError::Usage(format!(
            "--{name} must be {} hex characters ({N} bytes), got {}",
            2 * N,
            s.len()
        ))
    })
}

fn hex_any(name: &str, s: &str) -> Result<Vec<u8>, CliError> {
    hex::decode(s).map_err(|e| CliError::Usage(format!("--{name} is not valid hex: {e}")))
}

fn read_stdin() -> Result<Vec<u8>, CliError> {
    let mut buf = Vec::new();
    std::io::stdin()
        .read_to_end(&mut buf)
        .map_err(|e| CliError::Failed(format!("reading stdin: {e}")))?;
    Ok(buf)
}

fn write_stdout(parts: &[&[u8]]) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    for p in parts {
        out.write_all(p)
            .map_err(|e| CliError::Failed(format!("writing stdout: {e}")))?;
    }
    out.flush()
        .map_err(|e| CliError::Failed(format!("writing stdout: {e}")))
}

fn run_xts(a: XtsArgs, decrypt: bool) -> Result<(), CliError> {
    let key = hex_exact::<64>("key", &a.key)?;
    let data = read_stdin()?;
    if data.is_empty() || data.len() % 16 != 0 {
        return Err(CliError::Usage(format!(
            "input length {} is not a non-zero multiple of 16 bytes",
            data.len()
        )));
    }
    if data.len() % a.unit_size != 0 {
        return Err(CliError::Usage(format!(
            "input length {} is not a whole number of {}-byte data units",
            data.len(),
            a.unit_size
        )));
    }
    let units: Vec<DataUnit> = data
        .chunks(a.unit_size)
        .enumerate()
        .map(|(i, c)| DataUnit {
            number: a.dun.wrapping_add(i as u128),
            decrypt,
            data: c.to_vec(),
        })
        .collect();
    let mut eng = AnyXts::new(a.config.into());
    eng.load_key(&key)
        .map_err(|e| CliError::Failed(e.to_string()))?;
    let (out, _) = eng
        .run(&units, Stall::never(), Stall::never())
        .map_err(|e| CliError::Failed(e.to_string()))?;
    write_stdout(&[&out])
}

fn gcm_message(
    a: &GcmArgs,
    decrypt: bool,
    tag: [u8; 16],
) -> Result<(EngineConfig, [u8; 32], Message), CliError> {
    let key = hex_exact::<32>("key", &a.key)?;
    let iv = hex_exact::<12>("iv", &a.iv)?;
    let aad = hex_any("aad", &a.aad)?;
    let data = read_stdin()?;
    Ok((
        a.config.into(),
        key,
        Message {
            iv,
            aad,
            data,
            decrypt,
            tag,
        },
    ))
}

fn run_gcm(
    a: &GcmArgs,
    decrypt: bool,
    tag: [u8; 16],
) -> Result<nitrous_sim::engines::gcm::Sealed, CliError> {
    let (cfg, key, msg) = gcm_message(a, decrypt, tag)?;
    let mut eng = AnyGcm::new(cfg);
    eng.load_key(&key)
        .map_err(|e| CliError::Failed(e.to_string()))?;
    let (mut out, _) = eng
        .run(std::slice::from_ref(&msg), Stall::never(), Stall::never())
        .map_err(|e| CliError::Failed(e.to_string()))?;
    out.pop()
        .ok_or_else(|| CliError::Failed("engine returned no result".into()))
}

pub fn run(cmd: CryptoCmd) -> Result<(), CliError> {
    match cmd {
        CryptoCmd::XtsEnc(a) => run_xts(a, false),
        CryptoCmd::XtsDec(a) => run_xts(a, true),
        CryptoCmd::GcmEnc(a) => {
            let r = run_gcm(&a, false, [0; 16])?;
            write_stdout(&[&r.data, &r.tag])
        }
        CryptoCmd::GcmDec(a) => {
            let tag = hex_exact::<16>("tag", &a.tag)?;
            let r = run_gcm(&a.common, true, tag)?;
            if !r.tag_ok {
                // SP 800-38D §7.2 step 10: return FAIL and no plaintext.
                return Err(CliError::Failed(
                    "authentication failed: tag does not verify".into(),
                ));
            }
            write_stdout(&[&r.data])
        }
    }
}
