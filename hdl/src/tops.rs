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
            name: "sim_selftest",
            description: "Verilator-binding self-test: ports of 1..512 bits, adders, a counter",
            verilog: crate::sim_selftest::verilog,
        },
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
        Top {
            name: "xts_full",
            description: "XTS-AES-256 engine, 16 B/clock (crypto/xts.rs, Config::Full)",
            verilog: xts_full,
        },
        Top {
            name: "xts_compact",
            description: "XTS-AES-256 engine, 16 B / 14 clocks (crypto/xts.rs, Config::Compact)",
            verilog: xts_compact,
        },
        Top {
            name: "ghash_full",
            description: "GHASH (SP 800-38D §6.4), one block per clock (crypto/ghash.rs)",
            verilog: || ghash_verilog(crate::Config::Full),
        },
        Top {
            name: "ghash_compact",
            description: "GHASH, 32-bit digit-serial, 4 clocks per block (crypto/ghash.rs)",
            verilog: || ghash_verilog(crate::Config::Compact),
        },
        Top {
            name: "gcm_full",
            description: "AES-256-GCM engine, pipelined AES + full-rate GHASH (crypto/gcm.rs)",
            verilog: || gcm_verilog(crate::Config::Full),
        },
        Top {
            name: "gcm_compact",
            description: "AES-256-GCM engine, iterative AES + digit-serial GHASH (crypto/gcm.rs)",
            verilog: || gcm_verilog(crate::Config::Compact),
        },
        Top {
            name: "nvme_front",
            description: "NVMe 1.4 controller front-end for 4 VFs: registers, queues, admin, I/O checks (nvme/front.rs)",
            verilog: nvme_front,
        },
        Top {
            name: "nvme_mover",
            description:
                "NVMe data mover: PRPs, host DMA, inline XTS, backend (nvme/mover.rs, Config::Full)",
            verilog: || nvme_mover_verilog(crate::Config::Full),
        },
        Top {
            name: "nvme_mover_compact",
            description:
                "NVMe data mover with the iterative XTS engine (nvme/mover.rs, Config::Compact)",
            verilog: || nvme_mover_verilog(crate::Config::Compact),
        },
        Top {
            name: "board_ulx3s",
            description: "ULX3S (ECP5-85F) board: UART debug link + compact XTS and GCM (board/)",
            verilog: board_ulx3s,
        },
        Top {
            name: "card",
            description:
                "the card: PF mailbox + 4 NVMe VFs behind the host seam, full XTS (card.rs)",
            verilog: || card_verilog(crate::Config::Full, nitrous_regmap::card::DEFAULT_VFS),
        },
        Top {
            name: "card16",
            description:
                "the card with 16 NVMe VFs and the compact (iterative) XTS engine (card.rs)",
            verilog: || card_verilog(crate::Config::Compact, 16),
        },
    ]
}

fn card_verilog(cfg: crate::Config, num_vfs: usize) -> String {
    use rust_hdl::prelude::*;
    let mut uut = crate::card::Card::new(cfg, num_vfs);
    uut.connect_all();
    generate_verilog(&uut)
}

fn ghash_verilog(cfg: crate::Config) -> String {
    use rust_hdl::prelude::*;
    let mut uut = crate::crypto::ghash::Ghash::new(cfg);
    uut.connect_all();
    generate_verilog(&uut)
}

fn nvme_mover_verilog(cfg: crate::Config) -> String {
    use rust_hdl::prelude::*;
    let mut uut = crate::nvme::mover::NvmeMover::new(cfg);
    uut.connect_all();
    generate_verilog(&uut)
}

fn gcm_verilog(cfg: crate::Config) -> String {
    use rust_hdl::prelude::*;
    let mut uut = crate::crypto::gcm::GcmEngine::new(cfg);
    uut.connect_all();
    generate_verilog(&uut)
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
    let mut uut = crate::crypto::aes_ring::AesRing::<AES_TOP_TAG>::default();
    uut.connect_all();
    generate_verilog(&uut)
}

fn board_ulx3s() -> String {
    use rust_hdl::prelude::*;
    let mut uut = crate::board::board_ulx3s::BoardUlx3s::ulx3s();
    uut.connect_all();
    generate_verilog(&uut)
}

/// VF count of the standalone `nvme_front` top.
pub const NVME_FRONT_TOP_VFS: usize = 4;

fn nvme_front() -> String {
    use rust_hdl::prelude::*;
    let mut uut = crate::nvme::front::NvmeFront::new(NVME_FRONT_TOP_VFS);
    uut.connect_all();
    generate_verilog(&uut)
}

/// Looks a top up by name.
pub fn find(name: &str) -> Option<Top> {
    all().into_iter().find(|t| t.name == name)
}

fn xts(cfg: crate::Config) -> String {
    use rust_hdl::prelude::*;
    let mut uut = crate::crypto::xts::XtsEngine::new(cfg);
    uut.connect_all();
    generate_verilog(&uut)
}

fn xts_full() -> String {
    xts(crate::Config::Full)
}

fn xts_compact() -> String {
    xts(crate::Config::Compact)
}
