//! Registry of verilatable / synthesizable tops.
//!
//! `sim/build.rs` verilates every entry of [`all`]; the `nitrous-gen` binary
//! writes any of them as Verilog for synthesis. Add one line per top.

/// A named top-level design.
pub struct Top {
    /// Short identifier: `[a-z0-9_]+`, used for file, C and Rust names.
    pub name: &'static str,
    /// One line for humans.
    pub description: &'static str,
    /// Produces the Verilog text (top module named `top`).
    pub verilog: fn() -> String,
}

/// Every top the project builds.
pub fn all() -> Vec<Top> {
    vec![
        Top {
            name: "aes_full",
            description: "AES-256 pipelined core, 1 block/clock, 8-bit tag (crypto/aes_pipe.rs)",
            verilog: aes_full,
        },
        Top {
            name: "aes_compact",
            description: "AES-256 iterative core, 14 clocks/block, 8-bit tag (crypto/aes_iter.rs)",
            verilog: aes_compact,
        },
    ]
}

/// Tag width of the standalone AES tops.
pub const AES_TOP_TAG: usize = 8;

fn aes_full() -> String {
    use rust_hdl::prelude::*;
    let mut uut = crate::crypto::aes_pipe::AesPipe::<AES_TOP_TAG>::default();
    uut.connect_all();
    generate_verilog(&uut)
}

fn aes_compact() -> String {
    use rust_hdl::prelude::*;
    let mut uut = crate::crypto::aes_iter::AesIter::<AES_TOP_TAG>::default();
    uut.connect_all();
    generate_verilog(&uut)
}

/// Looks a top up by name.
pub fn find(name: &str) -> Option<Top> {
    all().into_iter().find(|t| t.name == name)
}
