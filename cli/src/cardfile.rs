//! The card file: a TOML description of a simulated card's VFs.
//!
//! ```toml
//! backend_latency = 0     # optional: backend cycles per request (default 0)
//! dma_latency = 64        # optional: host-memory read latency in cycles
//!
//! [[vf]]                  # VF 1
//! blocks = 2048           # namespace size in LBAs
//! lba_size = 4096         # 512 or 4096
//! key = "00112233..."     # the 512-bit XTS key Key1||Key2, 128 hex characters
//! queues = 2              # optional: I/O queue pairs the driver creates
//! ```
//!
//! VFs are numbered from 1 in file order (VF i is PCI function i). VF i's
//! namespace starts in the backend right after VF i-1's: its byte offset is
//! the sum of the earlier namespaces' sizes. The card's mailbox requires
//! namespace bases on 512-byte boundaries, which every namespace size is.

use serde::Deserialize;
use std::path::Path;

/// One VF of the card file, validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VfSpec {
    /// VF number (1-based, = PCI function number).
    pub vf: u8,
    pub blocks: u64,
    pub lba_size: u32,
    pub key: [u8; 64],
    pub queues: u16,
    /// Backend byte address of LBA 0.
    pub base: u64,
}

impl VfSpec {
    pub fn lba_shift(&self) -> u8 {
        self.lba_size.trailing_zeros() as u8
    }
    /// Namespace size in bytes.
    pub fn bytes(&self) -> u64 {
        self.blocks * self.lba_size as u64
    }
}

/// A validated card file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CardFile {
    pub vfs: Vec<VfSpec>,
    pub backend_latency: u64,
    pub dma_latency: u64,
}

impl CardFile {
    /// Backend size: all namespaces.
    pub fn backend_bytes(&self) -> u64 {
        self.vfs.last().map_or(0, |v| v.base + v.bytes())
    }

    /// VF `vf` (1-based), or an error naming the valid range.
    pub fn vf(&self, vf: u32) -> Result<&VfSpec, String> {
        match vf {
            1.. if (vf as usize) <= self.vfs.len() => Ok(&self.vfs[vf as usize - 1]),
            _ => Err(format!(
                "VF {vf} does not exist: the card file has VFs 1..={}",
                self.vfs.len()
            )),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVf {
    blocks: u64,
    lba_size: u32,
    key: String,
    #[serde(default = "default_queues")]
    queues: u16,
}

fn default_queues() -> u16 {
    2
}

const TOP_KEYS: [&str; 3] = ["vf", "backend_latency", "dma_latency"];

/// Most VFs any card can have.
const MAX_VFS: usize = nitrous_regmap::card::MAX_VFS;

/// Read and validate `path`. Errors are one line naming the file, VF and
/// field.
pub fn load(path: &Path) -> Result<CardFile, String> {
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("card file {}: {e}", path.display()))?;
    parse(&text).map_err(|e| format!("card file {}: {e}", path.display()))
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Parse and validate card-file text.
pub fn parse(text: &str) -> Result<CardFile, String> {
    let table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| format!("not valid TOML: {}", one_line(e.message())))?;
    for k in table.keys() {
        if !TOP_KEYS.contains(&k.as_str()) {
            return Err(format!(
                "unknown key `{k}` (expected {})",
                TOP_KEYS.join(", ")
            ));
        }
    }
    let cycles = |k: &str, default: u64| -> Result<u64, String> {
        match table.get(k) {
            None => Ok(default),
            Some(toml::Value::Integer(n)) if *n >= 0 && *n <= 1_000_000 => Ok(*n as u64),
            Some(v) => Err(format!("{k}: expected cycles 0..=1000000, got {v}")),
        }
    };
    let backend_latency = cycles("backend_latency", 0)?;
    let dma_latency = cycles("dma_latency", 64)?;
    let vfs_v = table
        .get("vf")
        .ok_or("no [[vf]] tables: a card needs at least one VF")?;
    let arr = vfs_v
        .as_array()
        .ok_or("`vf` must be an array of tables ([[vf]])")?;
    if arr.is_empty() {
        return Err("no [[vf]] tables: a card needs at least one VF".into());
    }
    if arr.len() > MAX_VFS {
        return Err(format!("{} VFs (at most {MAX_VFS})", arr.len()));
    }
    let mut vfs = Vec::new();
    let mut base = 0u64;
    for (i, v) in arr.iter().enumerate() {
        let n = i + 1;
        let ctx = |m: String| format!("vf {n}: {m}");
        let raw: RawVf = v
            .clone()
            .try_into()
            .map_err(|e: toml::de::Error| ctx(one_line(e.message())))?;
        if raw.blocks == 0 {
            return Err(ctx("blocks: must be at least 1".into()));
        }
        if raw.lba_size != 512 && raw.lba_size != 4096 {
            return Err(ctx(format!(
                "lba_size: {} (must be 512 or 4096)",
                raw.lba_size
            )));
        }
        let bytes = raw
            .blocks
            .checked_mul(raw.lba_size as u64)
            .filter(|b| base.checked_add(*b).is_some())
            .ok_or_else(|| ctx(format!("blocks: {} is too large", raw.blocks)))?;
        let k = raw.key.trim();
        if k.len() != 128 {
            return Err(ctx(format!(
                "key: {} characters (need 128 hex characters: the 512-bit XTS key)",
                k.len()
            )));
        }
        let kb = hex::decode(k).map_err(|e| ctx(format!("key: not hex ({e})")))?;
        let mut key = [0u8; 64];
        key.copy_from_slice(&kb);
        let max_q = nitrous_regmap::nvme::IO_QUEUES as u16;
        if raw.queues == 0 || raw.queues > max_q {
            return Err(ctx(format!("queues: {} (must be 1..={max_q})", raw.queues)));
        }
        vfs.push(VfSpec {
            vf: n as u8,
            blocks: raw.blocks,
            lba_size: raw.lba_size,
            key,
            queues: raw.queues,
            base,
        });
        base += bytes;
    }
    Ok(CardFile {
        vfs,
        backend_latency,
        dma_latency,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(b: u8) -> String {
        hex::encode([b; 64])
    }

    #[test]
    fn namespaces_follow_each_other() {
        let t = format!(
            "[[vf]]\nblocks = 16\nlba_size = 512\nkey = \"{}\"\n\
             [[vf]]\nblocks = 3\nlba_size = 4096\nkey = \"{}\"\nqueues = 4\n\
             [[vf]]\nblocks = 8\nlba_size = 512\nkey = \"{}\"\n",
            key(1),
            key(2),
            key(3)
        );
        let c = parse(&t).unwrap();
        assert_eq!(c.vfs.len(), 3);
        assert_eq!(c.vfs[0].base, 0);
        assert_eq!(c.vfs[1].base, 16 * 512);
        assert_eq!(c.vfs[2].base, 16 * 512 + 3 * 4096);
        assert_eq!(c.backend_bytes(), 16 * 512 + 3 * 4096 + 8 * 512);
        assert_eq!(c.vfs[1].queues, 4);
        assert_eq!(c.vfs[0].queues, 2);
        assert_eq!(c.vfs[1].key, [2; 64]);
        assert_eq!(c.vfs[1].lba_shift(), 12);
        assert_eq!(c.backend_latency, 0);
        assert_eq!(c.dma_latency, 64);
        assert_eq!(c.vf(2).unwrap().vf, 2);
        assert!(c.vf(0).unwrap_err().contains("VF 0 does not exist"));
        assert!(c.vf(4).is_err());
    }

    #[test]
    fn errors_name_vf_and_field() {
        let good = format!("blocks = 8\nlba_size = 512\nkey = \"{}\"\n", key(1));
        let cases: Vec<(String, &str)> = vec![
            ("[[vf]\n".into(), "not valid TOML"),
            ("x = 1\n".into(), "unknown key `x`"),
            ("backend_latency = 5\n".into(), "no [[vf]]"),
            (
                format!(
                    "[[vf]]\n{good}[[vf]]\nblocks = 8\nlba_size = 1024\nkey = \"{}\"\n",
                    key(1)
                ),
                "vf 2: lba_size: 1024",
            ),
            (
                format!("[[vf]]\nblocks = 0\nlba_size = 512\nkey = \"{}\"\n", key(1)),
                "vf 1: blocks",
            ),
            (
                "[[vf]]\nblocks = 8\nlba_size = 512\nkey = \"abcd\"\n".into(),
                "vf 1: key: 4 characters",
            ),
            (
                format!(
                    "[[vf]]\nblocks = 8\nlba_size = 512\nkey = \"{}zz\"\n",
                    &key(1)[..126]
                ),
                "vf 1: key: not hex",
            ),
            (
                "[[vf]]\nblocks = 8\nlba_size = 512\n".into(),
                "vf 1: missing field `key`",
            ),
            (
                format!("[[vf]]\n{good}colour = 1\n"),
                "vf 1: unknown field `colour`",
            ),
            (format!("[[vf]]\n{good}queues = 99\n"), "vf 1: queues: 99"),
            (
                format!(
                    "[[vf]]\nblocks = \"many\"\nlba_size = 512\nkey = \"{}\"\n",
                    key(1)
                ),
                "vf 1: invalid type",
            ),
        ];
        for (text, want) in cases {
            let e = parse(&text).unwrap_err();
            assert!(e.contains(want), "{text:?}: got {e:?}, want {want:?}");
            assert!(!e.contains('\n'), "multi-line error {e:?}");
        }
        let latency = format!("backend_latency = -1\n[[vf]]\n{good}");
        assert!(parse(&latency).unwrap_err().contains("backend_latency"));
    }
}
