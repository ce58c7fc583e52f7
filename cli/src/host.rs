//! Commands that drive real hardware through VFIO (issue 3): `vfio`, `pf`, `nvme`.

use crate::CliError;
use clap::Subcommand;

#[derive(Subcommand)]
pub enum HostCmd {
    /// List PCI functions bound to vfio-pci (not implemented yet).
    Vfio,
}

pub fn run(cmd: HostCmd) -> Result<(), CliError> {
    match cmd {
        HostCmd::Vfio => Err(CliError::Failed("vfio: not implemented yet".into())),
    }
}
