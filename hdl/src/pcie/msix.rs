//! MSI-X tables and pending-bit arrays of every function (PCIe 4.0 §6.1.4,
//! §7.7.2), at BAR0 `MSIX_TABLE_OFFSET` / `MSIX_PBA_OFFSET`
//! (`nitrous_regmap`), plus message generation for interrupt requests.
//!
//! Per function 16 table entries are decoded (the capability advertises
//! fewer: see `regmap::nvme::MSIX_VECTORS`, `regmap::pci::PF_MSIX_VECTORS`).
//! Message Address / Data live in block RAM indexed by {function, vector};
//! the Vector Control mask bits and the PBA live in registers so that reset
//! and FLR mask every vector at once (§7.7.2.4: a reset leaves every vector
//! masked). A request for a masked vector sets its pending bit; unmasking a
//! vector with its pending bit set sends the message and clears the bit
//! (§6.1.4.5). The function-wide mask and MSI-X Enable live in config space,
//! which the platform (hard IP) owns and applies to `mx_*`; the hard IP also
//! exports each function's MSI-X Enable (`cfg_msix_en`): a function with
//! MSI-X Enable = 0 must not use MSI-X (PCIe 4.0 §7.7.2.2; it uses INTx), so
//! its requests are dropped (no message, no pending bit) and a message not
//! yet sent when Enable clears is dropped too.

use nitrous_regmap::card::FUNC_BITS;
use rust_hdl::prelude::*;

/// Functions addressed by a 5-bit function number.
pub const FUNCS: usize = 1 << FUNC_BITS;
/// Table entries decoded per function.
pub const VECTORS: usize = 16;

#[derive(Copy, Clone, PartialEq, Debug, LogicState)]
enum State {
    Idle,
    Lookup,
    Read,
    Send,
}

#[derive(LogicBlock)]
pub struct Msix {
    pub clock: Signal<In, Clock>,
    pub reset: Signal<In, bool>,
    // Register bus: BAR0 0x2000..0x3FFF of any function.
    pub rb_valid: Signal<In, bool>,
    pub rb_func: Signal<In, Bits<FUNC_BITS>>,
    pub rb_addr: Signal<In, Bits<16>>,
    pub rb_write: Signal<In, bool>,
    pub rb_wdata: Signal<In, Bits<32>>,
    pub rb_rvalid: Signal<Out, bool>,
    pub rb_rdata: Signal<Out, Bits<32>>,
    /// Bit f: MSI-X Enable of function f's MSI-X capability (from the hard IP).
    pub cfg_msix_en: Signal<In, Bits<32>>,
    /// Function Level Reset: mask every vector of `flr_func`, clear its PBA.
    pub flr_valid: Signal<In, bool>,
    pub flr_func: Signal<In, Bits<FUNC_BITS>>,
    /// Interrupt requests from the VFs' NVMe front.
    pub irq_valid: Signal<In, bool>,
    pub irq_ready: Signal<Out, bool>,
    pub irq_func: Signal<In, Bits<FUNC_BITS>>,
    pub irq_vector: Signal<In, Bits<5>>,
    /// PF vector 0 requests (mailbox completion).
    pub pf_irq_valid: Signal<In, bool>,
    pub pf_irq_ready: Signal<Out, bool>,
    /// Message to the platform (seam `mx_*`).
    pub mx_valid: Signal<Out, bool>,
    pub mx_ready: Signal<In, bool>,
    pub mx_func: Signal<Out, Bits<FUNC_BITS>>,
    pub mx_vector: Signal<Out, Bits<5>>,
    pub mx_addr: Signal<Out, Bits<64>>,
    pub mx_data: Signal<Out, Bits<32>>,

    addr_lo: RAM<Bits<32>, 9>,
    addr_hi: RAM<Bits<32>, 9>,
    msg_data: RAM<Bits<32>, 9>,
    mask: [DFF<Bits<VECTORS>>; FUNCS],
    pba: [DFF<Bits<VECTORS>>; FUNCS],
    state: DFF<State>,
    cur_func: DFF<Bits<FUNC_BITS>>,
    cur_vec: DFF<Bits<4>>,
    resend: DFF<bool>,
    resend_func: DFF<Bits<FUNC_BITS>>,
    resend_vec: DFF<Bits<4>>,
    rd_pending: DFF<bool>,
    rd_word: DFF<Bits<2>>,
    rd_pba: DFF<bool>,
    rd_ctrl: DFF<Bits<32>>,
    out_addr: DFF<Bits<64>>,
    out_data: DFF<Bits<32>>,
    a_table: Constant<Bits<16>>,
    a_pba: Constant<Bits<16>>,
    // Decode of the current register access.
    in_table: Signal<Local, bool>,
    in_pba: Signal<Local, bool>,
    entry: Signal<Local, Bits<4>>,
    word: Signal<Local, Bits<2>>,
    req_masked: Signal<Local, bool>,
    sel_mask: Signal<Local, Bits<VECTORS>>,
    sel_pba: Signal<Local, Bits<VECTORS>>,
    req_en: Signal<Local, bool>,
    cur_en: Signal<Local, bool>,
}

impl Default for Msix {
    fn default() -> Self {
        Msix {
            clock: Default::default(),
            reset: Default::default(),
            rb_valid: Default::default(),
            rb_func: Default::default(),
            rb_addr: Default::default(),
            rb_write: Default::default(),
            rb_wdata: Default::default(),
            rb_rvalid: Default::default(),
            rb_rdata: Default::default(),
            cfg_msix_en: Default::default(),
            flr_valid: Default::default(),
            flr_func: Default::default(),
            irq_valid: Default::default(),
            irq_ready: Default::default(),
            irq_func: Default::default(),
            irq_vector: Default::default(),
            pf_irq_valid: Default::default(),
            pf_irq_ready: Default::default(),
            mx_valid: Default::default(),
            mx_ready: Default::default(),
            mx_func: Default::default(),
            mx_vector: Default::default(),
            mx_addr: Default::default(),
            mx_data: Default::default(),
            addr_lo: Default::default(),
            addr_hi: Default::default(),
            msg_data: Default::default(),
            mask: std::array::from_fn(|_| Default::default()),
            pba: std::array::from_fn(|_| Default::default()),
            state: Default::default(),
            cur_func: Default::default(),
            cur_vec: Default::default(),
            resend: Default::default(),
            resend_func: Default::default(),
            resend_vec: Default::default(),
            rd_pending: Default::default(),
            rd_word: Default::default(),
            rd_pba: Default::default(),
            rd_ctrl: Default::default(),
            out_addr: Default::default(),
            out_data: Default::default(),
            a_table: Constant::new((nitrous_regmap::MSIX_TABLE_OFFSET as u64).to_bits()),
            a_pba: Constant::new((nitrous_regmap::MSIX_PBA_OFFSET as u64).to_bits()),
            in_table: Default::default(),
            in_pba: Default::default(),
            entry: Default::default(),
            word: Default::default(),
            req_masked: Default::default(),
            sel_mask: Default::default(),
            sel_pba: Default::default(),
            req_en: Default::default(),
            cur_en: Default::default(),
        }
    }
}

impl Logic for Msix {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self,
            clock,
            state,
            cur_func,
            cur_vec,
            resend,
            resend_func,
            resend_vec,
            rd_pending,
            rd_word,
            rd_pba,
            rd_ctrl,
            out_addr,
            out_data
        );
        for i in 0..FUNCS {
            self.mask[i].clock.next = self.clock.val();
            self.mask[i].d.next = self.mask[i].q.val();
            self.pba[i].clock.next = self.clock.val();
            self.pba[i].d.next = self.pba[i].q.val();
        }
        self.addr_lo.read_clock.next = self.clock.val();
        self.addr_lo.write_clock.next = self.clock.val();
        self.addr_hi.read_clock.next = self.clock.val();
        self.addr_hi.write_clock.next = self.clock.val();
        self.msg_data.read_clock.next = self.clock.val();
        self.msg_data.write_clock.next = self.clock.val();

        // Register decode: table entries 0x2000 + 16v + 4w (v < 16), PBA
        // dword at 0x3000 (bits of vectors 0..15).
        self.in_table.next = (self.rb_addr.val() >= self.a_table.val())
            & (self.rb_addr.val() < self.a_table.val() + 256);
        self.in_pba.next = self.rb_addr.val() == self.a_pba.val();
        self.entry.next = self.rb_addr.val().get_bits::<4>(4);
        self.word.next = self.rb_addr.val().get_bits::<2>(2);

        // RAM ports: writes from the host; the read port serves host reads
        // first, the interrupt lookup otherwise.
        self.addr_lo.write_address.next =
            bit_cast::<9, 5>(self.rb_func.val()) << 4 | bit_cast::<9, 4>(self.entry.val());
        self.addr_hi.write_address.next = self.addr_lo.write_address.val();
        self.msg_data.write_address.next = self.addr_lo.write_address.val();
        self.addr_lo.write_data.next = self.rb_wdata.val();
        self.addr_hi.write_data.next = self.rb_wdata.val();
        self.msg_data.write_data.next = self.rb_wdata.val();
        self.addr_lo.write_enable.next = false;
        self.addr_hi.write_enable.next = false;
        self.msg_data.write_enable.next = false;
        if self.rb_valid.val() {
            self.addr_lo.read_address.next = self.addr_lo.write_address.val();
        } else {
            self.addr_lo.read_address.next = bit_cast::<9, 5>(self.cur_func.q.val()) << 4
                | bit_cast::<9, 4>(self.cur_vec.q.val());
        }
        self.addr_hi.read_address.next = self.addr_lo.read_address.val();
        self.msg_data.read_address.next = self.addr_lo.read_address.val();

        // The accessed function's mask and pending bits.
        self.sel_mask.next = 0.into();
        self.sel_pba.next = 0.into();
        for i in 0..FUNCS {
            if self.rb_func.val().index() == i {
                self.sel_mask.next = self.mask[i].q.val();
                self.sel_pba.next = self.pba[i].q.val();
            }
        }

        // Host accesses.
        self.rd_pending.d.next = false;
        if self.rb_valid.val() & !self.rb_write.val() {
            self.rd_pending.d.next = true;
            self.rd_word.d.next = self.word.val();
            self.rd_pba.d.next = self.in_pba.val();
            self.rd_ctrl.d.next = 0.into();
            if !self.in_table.val() & !self.in_pba.val() {
                // Outside the table and the PBA: reads 0.
                self.rd_word.d.next = 3.into();
            }
            if self.in_table.val() {
                self.rd_ctrl.d.next =
                    bit_cast::<32, 1>(self.sel_mask.val().get_bit(self.entry.val().index()).into());
            }
            if self.in_pba.val() {
                self.rd_ctrl.d.next = bit_cast::<32, VECTORS>(self.sel_pba.val());
            }
        }
        if self.rb_valid.val() & self.rb_write.val() & self.in_table.val() {
            if self.word.val() == 0 {
                self.addr_lo.write_enable.next = true;
            }
            if self.word.val() == 1 {
                self.addr_hi.write_enable.next = true;
            }
            if self.word.val() == 2 {
                self.msg_data.write_enable.next = true;
            }
            if self.word.val() == 3 {
                for i in 0..FUNCS {
                    if self.rb_func.val().index() == i {
                        self.mask[i].d.next = self.mask[i]
                            .q
                            .val()
                            .replace_bit(self.entry.val().index(), self.rb_wdata.val().get_bit(0));
                        // Unmasking a pending vector sends its message.
                        if !self.rb_wdata.val().get_bit(0)
                            & self.pba[i].q.val().get_bit(self.entry.val().index())
                            & !self.resend.q.val()
                        {
                            self.pba[i].d.next = self.pba[i]
                                .q
                                .val()
                                .replace_bit(self.entry.val().index(), false);
                            self.resend.d.next = true;
                            self.resend_func.d.next = self.rb_func.val();
                            self.resend_vec.d.next = self.entry.val();
                        }
                    }
                }
            }
        }
        self.rb_rvalid.next = self.rd_pending.q.val();
        self.rb_rdata.next = self.rd_ctrl.q.val();
        if self.rd_pending.q.val() & !self.rd_pba.q.val() {
            if self.rd_word.q.val() == 0 {
                self.rb_rdata.next = self.addr_lo.read_data.val();
            }
            if self.rd_word.q.val() == 1 {
                self.rb_rdata.next = self.addr_hi.read_data.val();
            }
            if self.rd_word.q.val() == 2 {
                self.rb_rdata.next = self.msg_data.read_data.val();
            }
        }

        // Interrupt requests.
        self.irq_ready.next = false;
        self.pf_irq_ready.next = false;
        self.req_masked.next = false;
        for i in 0..FUNCS {
            if self.irq_func.val().index() == i {
                self.req_masked.next = self.mask[i]
                    .q
                    .val()
                    .get_bit(self.irq_vector.val().get_bits::<4>(0).index());
            }
        }
        self.req_en.next = self.cfg_msix_en.val().get_bit(self.irq_func.val().index());
        self.cur_en.next = self
            .cfg_msix_en
            .val()
            .get_bit(self.cur_func.q.val().index());
        self.mx_valid.next = false;
        self.mx_func.next = self.cur_func.q.val();
        self.mx_vector.next = bit_cast::<5, 4>(self.cur_vec.q.val());
        self.mx_addr.next = self.out_addr.q.val();
        self.mx_data.next = self.out_data.q.val();
        match self.state.q.val() {
            State::Idle => {
                if self.resend.q.val() {
                    self.resend.d.next = false;
                    self.cur_func.d.next = self.resend_func.q.val();
                    self.cur_vec.d.next = self.resend_vec.q.val();
                    self.state.d.next = State::Lookup;
                } else if self.pf_irq_valid.val() {
                    self.pf_irq_ready.next = true;
                    if !self.cfg_msix_en.val().get_bit(0) {
                        // MSI-X disabled: no message, no pending bit.
                    } else if self.mask[0].q.val().get_bit(0) {
                        self.pba[0].d.next = self.pba[0].q.val() | 1;
                    } else {
                        self.cur_func.d.next = 0.into();
                        self.cur_vec.d.next = 0.into();
                        self.state.d.next = State::Lookup;
                    }
                } else if self.irq_valid.val() {
                    self.irq_ready.next = true;
                    if self.irq_vector.val().get_bit(4) | !self.req_en.val() {
                        // No such vector, or MSI-X disabled: nothing to send.
                    } else if self.req_masked.val() {
                        for i in 0..FUNCS {
                            if self.irq_func.val().index() == i {
                                self.pba[i].d.next = self.pba[i].q.val().replace_bit(
                                    self.irq_vector.val().get_bits::<4>(0).index(),
                                    true,
                                );
                            }
                        }
                    } else {
                        self.cur_func.d.next = self.irq_func.val();
                        self.cur_vec.d.next = self.irq_vector.val().get_bits::<4>(0);
                        self.state.d.next = State::Lookup;
                    }
                }
            }
            State::Lookup => {
                // The read port is ours in a cycle without a host access.
                if !self.rb_valid.val() {
                    self.state.d.next = State::Read;
                }
            }
            State::Read => {
                self.out_addr.d.next = bit_cast::<64, 32>(self.addr_lo.read_data.val())
                    | (bit_cast::<64, 32>(self.addr_hi.read_data.val()) << 32);
                self.out_data.d.next = self.msg_data.read_data.val();
                if self.cur_en.val() {
                    self.state.d.next = State::Send;
                } else {
                    // MSI-X Enable cleared meanwhile (or a resend of a
                    // disabled function): drop the message.
                    self.state.d.next = State::Idle;
                }
            }
            State::Send => {
                self.mx_valid.next = true;
                if self.mx_ready.val() {
                    self.state.d.next = State::Idle;
                }
            }
            _ => {
                self.state.d.next = State::Idle;
            }
        }

        if self.flr_valid.val() {
            for i in 0..FUNCS {
                if self.flr_func.val().index() == i {
                    self.mask[i].d.next = 0xFFFF.into();
                    self.pba[i].d.next = 0.into();
                }
            }
        }
        if self.reset.val() {
            self.state.d.next = State::Idle;
            self.resend.d.next = false;
            self.rd_pending.d.next = false;
            for i in 0..FUNCS {
                self.mask[i].d.next = 0xFFFF.into();
                self.pba[i].d.next = 0.into();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Masking, pending bits, delivery and FLR are tested through the card
    // top in Verilator (sim/tests/card_control.rs).

    #[test]
    fn msix_is_synthesizable() {
        let mut uut = Msix::default();
        uut.connect_all();
        let r = crate::synth::check_synthesizable("msix", &generate_verilog(&uut))
            .unwrap_or_else(|e| panic!("msix is not synthesizable: {e}"));
        assert!(r.cells > 0, "yosys produced no cells");
    }
}
