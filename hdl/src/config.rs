//! Build configurations of throughput-critical blocks (DESIGN.md, "Configurations").

use std::fmt;
use std::str::FromStr;

/// Parallelism of a throughput-critical block.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Config {
    /// 128-bit datapath, one AES block per clock, full-rate GHASH.
    Full,
    /// Iterative AES, digit-serial GHASH; sized for a Lattice ECP5-85F.
    Compact,
}

impl Config {
    pub const ALL: [Config; 2] = [Config::Full, Config::Compact];

    pub fn name(self) -> &'static str {
        match self {
            Config::Full => "full",
            Config::Compact => "compact",
        }
    }
}

impl fmt::Display for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Config {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "full" => Ok(Config::Full),
            "compact" => Ok(Config::Compact),
            other => Err(format!(
                "unknown config '{other}' (expected full or compact)"
            )),
        }
    }
}
