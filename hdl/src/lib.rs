//! nitrous card logic, written in RustHDL.
//!
//! Every block lives in its own file with its tests beside it and a
//! `<block>_is_synthesizable` test. This crate has no I/O and no host
//! knowledge; `sim/` verilates the tops listed in [`tops`].
//!
//! Bit conventions used throughout (see docs/ARCHITECTURE.md):
//! a 128-bit block is `Bits<128>` with byte *i* of the block (the *i*-th
//! byte in memory, FIPS-197 `in[i]`) at bits `[8i+7:8i]`, i.e. the value
//! `u128::from_le_bytes(block)`. Keys follow the same rule
//! (`Bits<256>` for AES-256, `Bits<512>` for XTS-AES-256).

pub mod board;
pub mod card;
pub mod config;
pub mod control;
pub mod crypto;
pub mod pcie;
pub mod sim_selftest;
pub mod synth;
pub mod tops;

pub use config::Config;
