//! Completer router: turns the seam's BAR accesses (`cq_*`) into register-
//! bus strobes for the block that owns the address, and returns read data on
//! `cc_*` (docs/CARD.md "Completer", "Register bus").
//!
//! Decode (BAR0 only): function 0 below 0x2000 -> mailbox; any function in
//! 0x2000..0x3FFF -> MSI-X; a VF below 0x2000 -> NVMe front. Other BARs,
//! offsets past BAR0, and functions that do not exist (`cfg_vf_enable` bit
//! low) read 0 and drop writes. This is the isolation boundary for
//! registers: a VF's access can only ever reach its own NVMe registers and
//! its own MSI-X table, never the mailbox. One access is in flight at a
//! time; a read that no block answers within 32 cycles completes with 0.

use nitrous_regmap::card::{CQ_ADDR_BITS, FUNC_BITS};
use rust_hdl::prelude::*;

#[derive(Copy, Clone, PartialEq, Debug, LogicState)]
enum Target {
    None,
    Mailbox,
    Msix,
    Front,
}

#[derive(LogicBlock, Default)]
pub struct Router {
    pub clock: Signal<In, Clock>,
    pub reset: Signal<In, bool>,
    /// Sideband: which functions exist.
    pub cfg_vf_enable: Signal<In, Bits<32>>,
    // Seam completer.
    pub cq_valid: Signal<In, bool>,
    pub cq_ready: Signal<Out, bool>,
    pub cq_func: Signal<In, Bits<FUNC_BITS>>,
    pub cq_bar: Signal<In, Bits<3>>,
    pub cq_addr: Signal<In, Bits<CQ_ADDR_BITS>>,
    pub cq_write: Signal<In, bool>,
    pub cq_wdata: Signal<In, Bits<32>>,
    pub cc_valid: Signal<Out, bool>,
    pub cc_data: Signal<Out, Bits<32>>,
    // The register bus, shared fields, one strobe per block.
    pub rb_func: Signal<Out, Bits<FUNC_BITS>>,
    pub rb_addr: Signal<Out, Bits<16>>,
    pub rb_write: Signal<Out, bool>,
    pub rb_wdata: Signal<Out, Bits<32>>,
    pub mb_valid: Signal<Out, bool>,
    pub mb_rvalid: Signal<In, bool>,
    pub mb_rdata: Signal<In, Bits<32>>,
    pub mx_valid: Signal<Out, bool>,
    pub mx_rvalid: Signal<In, bool>,
    pub mx_rdata: Signal<In, Bits<32>>,
    pub fr_valid: Signal<Out, bool>,
    pub fr_rvalid: Signal<In, bool>,
    pub fr_rdata: Signal<In, Bits<32>>,

    busy: DFF<bool>,
    strobe: DFF<bool>,
    target: DFF<Target>,
    func: DFF<Bits<FUNC_BITS>>,
    addr: DFF<Bits<16>>,
    write: DFF<bool>,
    wdata: DFF<Bits<32>>,
    timer: DFF<Bits<6>>,
    decoded: Signal<Local, Target>,
}

impl Logic for Router {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clock, busy, strobe, target, func, addr, write, wdata, timer);

        // Decode of the incoming access.
        self.decoded.next = Target::None;
        if (self.cq_bar.val() == 0)
            & (self.cq_addr.val() < 0x4000)
            & self.cfg_vf_enable.val().get_bit(self.cq_func.val().index())
        {
            if self.cq_addr.val().get_bit(13) {
                self.decoded.next = Target::Msix;
            } else if self.cq_func.val() == 0 {
                self.decoded.next = Target::Mailbox;
            } else {
                self.decoded.next = Target::Front;
            }
        }

        self.cq_ready.next = !self.busy.q.val() & !self.strobe.q.val();
        self.strobe.d.next = false;
        if self.cq_valid.val() & !self.busy.q.val() & !self.strobe.q.val() {
            self.strobe.d.next = true;
            self.target.d.next = self.decoded.val();
            self.func.d.next = self.cq_func.val();
            self.addr.d.next = self.cq_addr.val();
            self.write.d.next = self.cq_write.val();
            self.wdata.d.next = self.cq_wdata.val();
            self.busy.d.next = !self.cq_write.val();
            self.timer.d.next = 0.into();
        }

        self.rb_func.next = self.func.q.val();
        self.rb_addr.next = self.addr.q.val();
        self.rb_write.next = self.write.q.val();
        self.rb_wdata.next = self.wdata.q.val();
        self.mb_valid.next = self.strobe.q.val() & (self.target.q.val() == Target::Mailbox);
        self.mx_valid.next = self.strobe.q.val() & (self.target.q.val() == Target::Msix);
        self.fr_valid.next = self.strobe.q.val() & (self.target.q.val() == Target::Front);

        // Read completions.
        self.cc_valid.next = false;
        self.cc_data.next = 0.into();
        if self.busy.q.val() & !self.strobe.q.val() {
            self.timer.d.next = self.timer.q.val() + 1;
            if self.mb_rvalid.val() {
                self.cc_valid.next = true;
                self.cc_data.next = self.mb_rdata.val();
                self.busy.d.next = false;
            } else if self.mx_rvalid.val() {
                self.cc_valid.next = true;
                self.cc_data.next = self.mx_rdata.val();
                self.busy.d.next = false;
            } else if self.fr_rvalid.val() {
                self.cc_valid.next = true;
                self.cc_data.next = self.fr_rdata.val();
                self.busy.d.next = false;
            } else if (self.target.q.val() == Target::None) | (self.timer.q.val() == 32) {
                self.cc_valid.next = true;
                self.busy.d.next = false;
            }
        }
        if self.reset.val() {
            self.busy.d.next = false;
            self.strobe.d.next = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Decode and isolation are tested through the card top in Verilator
    // (sim/tests/card_control.rs: a VF cannot reach the mailbox; absent
    // functions and other BARs read 0).

    #[test]
    fn router_is_synthesizable() {
        let mut uut = Router::default();
        uut.connect_all();
        let r = crate::synth::check_synthesizable("router", &generate_verilog(&uut))
            .unwrap_or_else(|e| panic!("router is not synthesizable: {e}"));
        assert!(r.cells > 0, "yosys produced no cells");
    }
}
