//! Start QEMU with one proxy device whose remote end is this process.
//!
//! The arguments QEMU 7.2 needs for `x-pci-proxy-dev` (measured, see
//! ../shared/GUEST-PROXY.md): guest RAM in a shared memfd backend (the
//! bridge maps it for the card's DMA), q35, one vCPU (with two, QEMU's
//! re-entrancy guard once dropped a BAR write), and the socket end as an
//! inherited descriptor.

use crate::mpqemu::Link;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::process::{Child, Command};

/// How to start QEMU.
#[derive(Clone, Debug)]
pub struct QemuSpec {
    /// The QEMU binary.
    pub qemu: String,
    /// Guest RAM size, QEMU syntax (e.g. "512M").
    pub mem: String,
    /// Further arguments (kernel, initrd, append, console, ...).
    pub extra: Vec<String>,
}

impl QemuSpec {
    /// The arguments for a proxy device on inherited descriptor `fd`.
    pub fn args(&self, fd: i32) -> Vec<String> {
        let mut a: Vec<String> = [
            "-machine",
            "q35,memory-backend=mem",
            "-object",
            &format!("memory-backend-memfd,id=mem,size={},share=on", self.mem),
            "-m",
            &self.mem,
            "-smp",
            "1",
            "-device",
            &format!("x-pci-proxy-dev,id=nitrous0,fd={fd}"),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        a.extend(self.extra.iter().cloned());
        a
    }

    /// Spawn QEMU; returns the child and our end of the link.
    pub fn spawn(&self) -> io::Result<(Child, Link)> {
        let (ours, theirs) = Link::pair()?;
        let fd = theirs.as_raw_fd();
        // The child inherits its end: clear close-on-exec on it only.
        // SAFETY: fcntl on a descriptor we own.
        if unsafe { libc::fcntl(fd, libc::F_SETFD, 0) } != 0 {
            return Err(io::Error::last_os_error());
        }
        let child = Command::new(&self.qemu)
            .args(self.args(fd))
            .spawn()
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", self.qemu)))?;
        drop::<OwnedFd>(theirs);
        Ok((child, Link::new(ours)))
    }
}
