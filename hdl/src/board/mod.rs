//! Board tops and their debug link.
//!
//! ECP5 has no PCIe hard block usable with the open toolchain, so the ULX3S
//! board top does not carry the host transaction interface: it bridges the
//! compact XTS and GCM engines to the board's FTDI USB serial port with a
//! small byte protocol (see `debug_link.rs` and bitstreams/README.md).

pub mod board_ulx3s;
pub mod debug_link;
pub mod uart_rx;
pub mod uart_tx;

pub use board_ulx3s::BoardUlx3s;
pub use debug_link::DebugLink;
pub use uart_rx::UartRx;
pub use uart_tx::UartTx;

/// One clock cycle in RustHDL's simulator, stepped by hand: rising edge,
/// settle, falling edge, settle. Inputs set before the call are sampled at
/// the rising edge; outputs read after it show the new state.
#[cfg(test)]
macro_rules! tick {
    ($uut:expr) => {{
        $uut.clock.next = true.into();
        assert!(
            rust_hdl::prelude::simulate(&mut $uut, 200),
            "did not settle"
        );
        $uut.clock.next = false.into();
        assert!(
            rust_hdl::prelude::simulate(&mut $uut, 200),
            "did not settle"
        );
    }};
}
#[cfg(test)]
pub(crate) use tick;
