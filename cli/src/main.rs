//! `nitrous`: the command-line tool of the nitrous card.
//!
//! Errors policy: a bad argument prints one line on stderr and exits 2;
//! an operational failure prints one line and exits 1.

use clap::{Parser, Subcommand};

/// `println!` that ends the process quietly when stdout is closed (e.g.
/// `nitrous demo | head`) instead of panicking.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if writeln!(std::io::stdout(), $($arg)*).is_err() {
            std::process::exit(1);
        }
    }};
}

#[cfg(feature = "sim")]
mod bench;
#[cfg(feature = "sim")]
mod cardfile;
#[cfg(feature = "sim")]
mod crypto;
#[cfg(feature = "sim")]
mod demo;
mod host;
#[cfg(feature = "sim")]
mod sim;

#[derive(Parser)]
#[command(
    name = "nitrous",
    version,
    about = "nitrous I/O offload card: simulator, drivers, tools"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run data through the simulated (verilated) crypto engines.
    #[cfg(feature = "sim")]
    #[command(subcommand)]
    Crypto(crypto::CryptoCmd),
    /// Cycle-accurate benchmarks of the simulated card.
    #[cfg(feature = "sim")]
    #[command(subcommand)]
    Bench(bench::BenchCmd),
    /// Sample data through the simulated engines, with a short report.
    #[cfg(feature = "sim")]
    Demo,
    /// The simulated card (card file, NVMe VFs through the driver, lspci).
    #[cfg(feature = "sim")]
    Sim(sim::SimArgs),
    #[command(flatten)]
    Host(host::HostCmd),
}

/// A failure with the exit code it maps to.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Bad user input (exit 2).
    #[error("{0}")]
    Usage(String),
    /// The operation failed (exit 1).
    #[error("{0}")]
    Failed(String),
}

fn main() {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            use clap::error::ErrorKind;
            match e.kind() {
                ErrorKind::DisplayHelp
                | ErrorKind::DisplayVersion
                | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
                    let _ = e.print();
                    std::process::exit(
                        if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                            2
                        } else {
                            0
                        },
                    );
                }
                _ => {
                    // One line: clap's first line ("error: ...").
                    let text = e.render().to_string();
                    let first = text.lines().next().unwrap_or("error: bad arguments");
                    eprintln!("nitrous: {}", first.trim_start_matches("error: "));
                    std::process::exit(2);
                }
            }
        }
    };
    let result = match cli.cmd {
        #[cfg(feature = "sim")]
        Cmd::Crypto(c) => crypto::run(c),
        #[cfg(feature = "sim")]
        Cmd::Bench(c) => bench::run(c),
        #[cfg(feature = "sim")]
        Cmd::Demo => demo::run(),
        #[cfg(feature = "sim")]
        Cmd::Sim(a) => sim::run(a),
        Cmd::Host(c) => host::run(c),
    };
    if let Err(e) = result {
        eprintln!("nitrous: {e}");
        std::process::exit(match e {
            CliError::Usage(_) => 2,
            CliError::Failed(_) => 1,
        });
    }
}
