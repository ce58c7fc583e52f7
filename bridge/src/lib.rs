//! nitrous-bridge: a real Linux guest drives the simulated card.
//!
//! QEMU 7.2's `x-pci-proxy-dev` forwards a PCI function's config and BAR
//! accesses to another process over a UNIX socket (the "mpqemu" protocol)
//! and gives that process the guest's RAM as shared memory. This crate is
//! that other process for one VF of the simulated card: config accesses
//! are answered from a conventional view of the VF ([`config_view`]), BAR
//! accesses become completer requests into the Verilated card, the card's
//! DMA reaches guest RAM through the VF's IOMMU domain ([`guest_ram`]),
//! and the card's pin-based interrupt becomes the proxy's INTx eventfd
//! ([`server`]).
//!
//! `nitrous sim ... serve-proxy` is the command-line front; see the README
//! for attaching a VF to your own QEMU guest.

pub mod config_view;
pub mod guest_ram;
pub mod launch;
pub mod mpqemu;
pub mod server;

pub use server::{Bridge, BridgeError, Options, Stats};
