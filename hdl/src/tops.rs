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
    vec![Top {
        name: "sim_selftest",
        description: "Verilator-binding self-test: ports of 1..512 bits, adders, a counter",
        verilog: crate::sim_selftest::verilog,
    }]
}

/// Looks a top up by name.
pub fn find(name: &str) -> Option<Top> {
    all().into_iter().find(|t| t.name == name)
}
