//! The card top: the host transaction interface ("the seam", docs/CARD.md)
//! and every function behind it.
//!
//! Function 0 is the PF, a management function whose BAR0 holds the passive
//! mailbox (control/mailbox.rs); functions 1..=N are SR-IOV VFs, each an
//! NVMe controller. Config space, SR-IOV enable and FLR belong to the PCIe
//! hard IP (on the simulator: `nitrous_sim::platform`); the card sees them
//! as sideband signals.

use crate::control::mailbox::Mailbox;
use crate::nvme::front::NvmeFront;
use crate::nvme::mover::NvmeMover;
use crate::pcie::dma_arbiter::DmaArbiter;
use crate::pcie::msix::Msix;
use crate::pcie::router::Router;
use crate::Config;
use nitrous_regmap::card::{CQ_ADDR_BITS, FUNC_BITS, LEN_BITS, TAG_BITS};
use rust_hdl::prelude::*;

#[derive(LogicBlock)]
pub struct Card {
    pub clock: Signal<In, Clock>,
    pub reset: Signal<In, bool>,
    // Sideband from the hard IP.
    pub cfg_vf_enable: Signal<In, Bits<32>>,
    pub cfg_bus_master: Signal<In, Bits<32>>,
    /// Bit f: MSI-X Enable of function f (MSI-X capability, config space).
    pub cfg_msix_en: Signal<In, Bits<32>>,
    /// Bit f: function f requests its INTx asserted (level; docs/CARD.md).
    pub intx_level: Signal<Out, Bits<32>>,
    pub flr_valid: Signal<In, bool>,
    pub flr_func: Signal<In, Bits<FUNC_BITS>>,
    // Completer.
    pub cq_valid: Signal<In, bool>,
    pub cq_ready: Signal<Out, bool>,
    pub cq_func: Signal<In, Bits<FUNC_BITS>>,
    pub cq_bar: Signal<In, Bits<3>>,
    pub cq_addr: Signal<In, Bits<CQ_ADDR_BITS>>,
    pub cq_write: Signal<In, bool>,
    pub cq_wdata: Signal<In, Bits<32>>,
    pub cc_valid: Signal<Out, bool>,
    pub cc_data: Signal<Out, Bits<32>>,
    // DMA requester.
    pub rq_valid: Signal<Out, bool>,
    pub rq_ready: Signal<In, bool>,
    pub rq_func: Signal<Out, Bits<FUNC_BITS>>,
    pub rq_write: Signal<Out, bool>,
    pub rq_addr: Signal<Out, Bits<64>>,
    pub rq_len: Signal<Out, Bits<LEN_BITS>>,
    pub rq_tag: Signal<Out, Bits<TAG_BITS>>,
    pub wd_valid: Signal<Out, bool>,
    pub wd_ready: Signal<In, bool>,
    pub wd_data: Signal<Out, Bits<128>>,
    pub wd_last: Signal<Out, bool>,
    pub rc_valid: Signal<In, bool>,
    pub rc_ready: Signal<Out, bool>,
    pub rc_tag: Signal<In, Bits<TAG_BITS>>,
    pub rc_data: Signal<In, Bits<128>>,
    pub rc_last: Signal<In, bool>,
    pub rc_err: Signal<In, bool>,
    // MSI-X messages.
    pub mx_valid: Signal<Out, bool>,
    pub mx_ready: Signal<In, bool>,
    pub mx_func: Signal<Out, Bits<FUNC_BITS>>,
    pub mx_vector: Signal<Out, Bits<5>>,
    pub mx_addr: Signal<Out, Bits<64>>,
    pub mx_data: Signal<Out, Bits<32>>,
    // Storage backend.
    pub bq_valid: Signal<Out, bool>,
    pub bq_ready: Signal<In, bool>,
    pub bq_write: Signal<Out, bool>,
    pub bq_addr: Signal<Out, Bits<64>>,
    pub bq_len: Signal<Out, Bits<LEN_BITS>>,
    pub bq_tag: Signal<Out, Bits<TAG_BITS>>,
    pub bw_valid: Signal<Out, bool>,
    pub bw_ready: Signal<In, bool>,
    pub bw_data: Signal<Out, Bits<128>>,
    pub bw_last: Signal<Out, bool>,
    pub br_valid: Signal<In, bool>,
    pub br_ready: Signal<Out, bool>,
    pub br_tag: Signal<In, Bits<TAG_BITS>>,
    pub br_data: Signal<In, Bits<128>>,
    pub br_last: Signal<In, bool>,
    pub br_err: Signal<In, bool>,

    router: Router,
    mbox: Mailbox,
    msix: Msix,
    front: NvmeFront,
    mover: NvmeMover,
    arb: DmaArbiter,
    /// A mailbox Disable waiting for a cycle without a platform FLR.
    dis_pend: DFF<bool>,
    dis_pend_func: DFF<Bits<FUNC_BITS>>,
    /// The function-reset strobe given to the front and MSI-X: a platform
    /// FLR, else a pending mailbox Disable.
    fn_reset: Signal<Local, bool>,
    fn_reset_func: Signal<Local, Bits<FUNC_BITS>>,
}

impl Card {
    /// A card with `num_vfs` NVMe VFs and crypto engines in `cfg`.
    pub fn new(cfg: Config, num_vfs: usize) -> Self {
        assert!(
            (1..=nitrous_regmap::card::MAX_VFS).contains(&num_vfs),
            "num_vfs must be 1..={}",
            nitrous_regmap::card::MAX_VFS
        );
        Card {
            clock: Default::default(),
            reset: Default::default(),
            cfg_vf_enable: Default::default(),
            cfg_bus_master: Default::default(),
            cfg_msix_en: Default::default(),
            intx_level: Default::default(),
            flr_valid: Default::default(),
            flr_func: Default::default(),
            cq_valid: Default::default(),
            cq_ready: Default::default(),
            cq_func: Default::default(),
            cq_bar: Default::default(),
            cq_addr: Default::default(),
            cq_write: Default::default(),
            cq_wdata: Default::default(),
            cc_valid: Default::default(),
            cc_data: Default::default(),
            rq_valid: Default::default(),
            rq_ready: Default::default(),
            rq_func: Default::default(),
            rq_write: Default::default(),
            rq_addr: Default::default(),
            rq_len: Default::default(),
            rq_tag: Default::default(),
            wd_valid: Default::default(),
            wd_ready: Default::default(),
            wd_data: Default::default(),
            wd_last: Default::default(),
            rc_valid: Default::default(),
            rc_ready: Default::default(),
            rc_tag: Default::default(),
            rc_data: Default::default(),
            rc_last: Default::default(),
            rc_err: Default::default(),
            mx_valid: Default::default(),
            mx_ready: Default::default(),
            mx_func: Default::default(),
            mx_vector: Default::default(),
            mx_addr: Default::default(),
            mx_data: Default::default(),
            bq_valid: Default::default(),
            bq_ready: Default::default(),
            bq_write: Default::default(),
            bq_addr: Default::default(),
            bq_len: Default::default(),
            bq_tag: Default::default(),
            bw_valid: Default::default(),
            bw_ready: Default::default(),
            bw_data: Default::default(),
            bw_last: Default::default(),
            br_valid: Default::default(),
            br_ready: Default::default(),
            br_tag: Default::default(),
            br_data: Default::default(),
            br_last: Default::default(),
            br_err: Default::default(),
            router: Default::default(),
            mbox: Mailbox::new(num_vfs),
            msix: Default::default(),
            front: NvmeFront::new(num_vfs),
            mover: NvmeMover::new(cfg),
            arb: Default::default(),
            dis_pend: Default::default(),
            dis_pend_func: Default::default(),
            fn_reset: Default::default(),
            fn_reset_func: Default::default(),
        }
    }
}

impl Logic for Card {
    #[hdl_gen]
    fn update(&mut self) {
        // Clocks and resets.
        self.router.clock.next = self.clock.val();
        self.mbox.clock.next = self.clock.val();
        self.msix.clock.next = self.clock.val();
        self.router.reset.next = self.reset.val();
        self.mbox.reset.next = self.reset.val();
        self.msix.reset.next = self.reset.val();

        // Completer -> router -> register blocks.
        self.router.cfg_vf_enable.next = self.cfg_vf_enable.val() | 1;
        self.router.cq_valid.next = self.cq_valid.val();
        self.router.cq_func.next = self.cq_func.val();
        self.router.cq_bar.next = self.cq_bar.val();
        self.router.cq_addr.next = self.cq_addr.val();
        self.router.cq_write.next = self.cq_write.val();
        self.router.cq_wdata.next = self.cq_wdata.val();
        self.cq_ready.next = self.router.cq_ready.val();
        self.cc_valid.next = self.router.cc_valid.val();
        self.cc_data.next = self.router.cc_data.val();

        self.mbox.rb_valid.next = self.router.mb_valid.val();
        self.mbox.rb_addr.next = self.router.rb_addr.val();
        self.mbox.rb_write.next = self.router.rb_write.val();
        self.mbox.rb_wdata.next = self.router.rb_wdata.val();
        self.router.mb_rvalid.next = self.mbox.rb_rvalid.val();
        self.router.mb_rdata.next = self.mbox.rb_rdata.val();

        self.msix.rb_valid.next = self.router.mx_valid.val();
        self.msix.rb_func.next = self.router.rb_func.val();
        self.msix.rb_addr.next = self.router.rb_addr.val();
        self.msix.rb_write.next = self.router.rb_write.val();
        self.msix.rb_wdata.next = self.router.rb_wdata.val();
        self.router.mx_rvalid.next = self.msix.rb_rvalid.val();
        self.router.mx_rdata.next = self.msix.rb_rdata.val();

        // Function resets: a platform FLR (PCIe 4.0 §6.6.2) and a mailbox
        // Disable both reset the function's controller and mask its MSI-X
        // vectors. A Disable that coincides with an FLR waits a cycle.
        dff_setup!(self, clock, dis_pend, dis_pend_func);
        if self.mbox.dis_valid.val() {
            self.dis_pend.d.next = true;
            self.dis_pend_func.d.next = self.mbox.dis_func.val();
        }
        self.fn_reset.next = self.flr_valid.val() | self.dis_pend.q.val();
        self.fn_reset_func.next = self.dis_pend_func.q.val();
        if self.flr_valid.val() {
            self.fn_reset_func.next = self.flr_func.val();
        } else if self.dis_pend.q.val() & !self.mbox.dis_valid.val() {
            self.dis_pend.d.next = false;
        }
        if self.reset.val() {
            self.dis_pend.d.next = false;
        }

        // NVMe front: registers of every VF.
        self.front.clock.next = self.clock.val();
        self.front.reset.next = self.reset.val();
        self.front.cfg_vf_enable.next = self.cfg_vf_enable.val();
        self.front.flr_valid.next = self.fn_reset.val();
        self.front.flr_func.next = self.fn_reset_func.val();
        self.front.rb_valid.next = self.router.fr_valid.val();
        self.front.rb_func.next = self.router.rb_func.val();
        self.front.rb_addr.next = self.router.rb_addr.val();
        self.front.rb_write.next = self.router.rb_write.val();
        self.front.rb_wdata.next = self.router.rb_wdata.val();
        self.router.fr_rvalid.next = self.front.rb_rvalid.val();
        self.router.fr_rdata.next = self.front.rb_rdata.val();

        // Provisioning lookup and counters.
        self.mbox.prov_func.next = self.front.prov_func.val();
        self.front.prov_enabled.next = self.mbox.prov_enabled.val();
        self.front.prov_blocks.next = self.mbox.prov_blocks.val();
        self.front.prov_lba_shift.next = self.mbox.prov_lba_shift.val();
        self.front.prov_base.next = self.mbox.prov_base.val();
        self.front.prov_slot.next = self.mbox.prov_slot.val();
        self.mbox.cnt_served.next = self.front.cnt_served.val();
        self.mbox.cnt_rejected.next = self.front.cnt_rejected.val();
        self.mbox.cnt_func.next = self.front.cnt_func.val();
        self.mbox.cnt_fault.next = self.mover.cnt_fault.val();
        self.mbox.cnt_fault_func.next = self.mover.cnt_fault_func.val();

        // Front -> mover commands; key slots -> the mover's XTS key port only.
        self.mover.clock.next = self.clock.val();
        self.mover.reset.next = self.reset.val();
        self.mover.flr_valid.next = self.fn_reset.val();
        self.mover.flr_func.next = self.fn_reset_func.val();
        self.mover.mv_valid.next = self.front.mv_valid.val();
        self.front.mv_ready.next = self.mover.mv_ready.val();
        self.mover.mv_func.next = self.front.mv_func.val();
        self.mover.mv_op.next = self.front.mv_op.val();
        self.mover.mv_prp1.next = self.front.mv_prp1.val();
        self.mover.mv_prp2.next = self.front.mv_prp2.val();
        self.mover.mv_len.next = self.front.mv_len.val();
        self.mover.mv_slba.next = self.front.mv_slba.val();
        self.mover.mv_lba_shift.next = self.front.mv_lba_shift.val();
        self.mover.mv_base.next = self.front.mv_base.val();
        self.mover.mv_slot.next = self.front.mv_slot.val();
        self.mover.gd_valid.next = self.front.gd_valid.val();
        self.front.gd_ready.next = self.mover.gd_ready.val();
        self.mover.gd_data.next = self.front.gd_data.val();
        self.front.md_valid.next = self.mover.md_valid.val();
        self.front.md_status.next = self.mover.md_status.val();
        self.mbox.key_sel.next = self.mover.key_sel.val();
        self.mover.key_data.next = self.mbox.key_data.val();

        // MSI-X: VF interrupts from the front, PF vector 0 from the mailbox.
        // A function with MSI-X Enable = 0 uses INTx instead (PCIe 4.0
        // §7.7.2.2): the front's pin-based level (NVMe 1.4 §7.5.1), which a
        // function with MSI-X enabled never requests. The PF's mailbox has
        // no INTx (bit 0 is 0).
        self.msix.cfg_msix_en.next = self.cfg_msix_en.val();
        self.intx_level.next = self.front.intx_level.val() & !self.cfg_msix_en.val();
        self.msix.flr_valid.next = self.fn_reset.val();
        self.msix.flr_func.next = self.fn_reset_func.val();
        self.msix.irq_valid.next = self.front.irq_valid.val();
        self.front.irq_ready.next = self.msix.irq_ready.val();
        self.msix.irq_func.next = self.front.irq_func.val();
        self.msix.irq_vector.next = self.front.irq_vector.val();
        self.msix.pf_irq_valid.next = self.mbox.irq_valid.val();
        self.mbox.irq_ready.next = self.msix.pf_irq_ready.val();
        self.mx_valid.next = self.msix.mx_valid.val();
        self.msix.mx_ready.next = self.mx_ready.val();
        self.mx_func.next = self.msix.mx_func.val();
        self.mx_vector.next = self.msix.mx_vector.val();
        self.mx_addr.next = self.msix.mx_addr.val();
        self.mx_data.next = self.msix.mx_data.val();

        // DMA: front (tags 0x00..0x7F) and mover (0x80..0xFF) -> arbiter.
        self.arb.clock.next = self.clock.val();
        self.arb.reset.next = self.reset.val();
        self.arb.a_rq_valid.next = self.front.rq_valid.val();
        self.front.rq_ready.next = self.arb.a_rq_ready.val();
        self.arb.a_rq_func.next = self.front.rq_func.val();
        self.arb.a_rq_write.next = self.front.rq_write.val();
        self.arb.a_rq_addr.next = self.front.rq_addr.val();
        self.arb.a_rq_len.next = self.front.rq_len.val();
        self.arb.a_rq_tag.next = self.front.rq_tag.val();
        self.arb.a_wd_valid.next = self.front.wd_valid.val();
        self.front.wd_ready.next = self.arb.a_wd_ready.val();
        self.arb.a_wd_data.next = self.front.wd_data.val();
        self.arb.a_wd_last.next = self.front.wd_last.val();
        self.front.rc_valid.next = self.arb.a_rc_valid.val();
        self.arb.a_rc_ready.next = self.front.rc_ready.val();
        self.arb.b_rq_valid.next = self.mover.rq_valid.val();
        self.mover.rq_ready.next = self.arb.b_rq_ready.val();
        self.arb.b_rq_func.next = self.mover.rq_func.val();
        self.arb.b_rq_write.next = self.mover.rq_write.val();
        self.arb.b_rq_addr.next = self.mover.rq_addr.val();
        self.arb.b_rq_len.next = self.mover.rq_len.val();
        self.arb.b_rq_tag.next = self.mover.rq_tag.val();
        self.arb.b_wd_valid.next = self.mover.wd_valid.val();
        self.mover.wd_ready.next = self.arb.b_wd_ready.val();
        self.arb.b_wd_data.next = self.mover.wd_data.val();
        self.arb.b_wd_last.next = self.mover.wd_last.val();
        self.mover.rc_valid.next = self.arb.b_rc_valid.val();
        self.arb.b_rc_ready.next = self.mover.rc_ready.val();
        self.rq_valid.next = self.arb.rq_valid.val();
        self.arb.rq_ready.next = self.rq_ready.val();
        self.rq_func.next = self.arb.rq_func.val();
        self.rq_write.next = self.arb.rq_write.val();
        self.rq_addr.next = self.arb.rq_addr.val();
        self.rq_len.next = self.arb.rq_len.val();
        self.rq_tag.next = self.arb.rq_tag.val();
        self.wd_valid.next = self.arb.wd_valid.val();
        self.arb.wd_ready.next = self.wd_ready.val();
        self.wd_data.next = self.arb.wd_data.val();
        self.wd_last.next = self.arb.wd_last.val();
        self.arb.rc_valid.next = self.rc_valid.val();
        self.rc_ready.next = self.arb.rc_ready.val();
        self.arb.rc_tag.next = self.rc_tag.val();
        self.front.rc_tag.next = self.rc_tag.val();
        self.front.rc_data.next = self.rc_data.val();
        self.front.rc_last.next = self.rc_last.val();
        self.front.rc_err.next = self.rc_err.val();
        self.mover.rc_tag.next = self.rc_tag.val();
        self.mover.rc_data.next = self.rc_data.val();
        self.mover.rc_last.next = self.rc_last.val();
        self.mover.rc_err.next = self.rc_err.val();

        // Storage backend: the mover's port (ciphertext only).
        self.bq_valid.next = self.mover.bq_valid.val();
        self.mover.bq_ready.next = self.bq_ready.val();
        self.bq_write.next = self.mover.bq_write.val();
        self.bq_addr.next = self.mover.bq_addr.val();
        self.bq_len.next = self.mover.bq_len.val();
        self.bq_tag.next = self.mover.bq_tag.val();
        self.bw_valid.next = self.mover.bw_valid.val();
        self.mover.bw_ready.next = self.bw_ready.val();
        self.bw_data.next = self.mover.bw_data.val();
        self.bw_last.next = self.mover.bw_last.val();
        self.mover.br_valid.next = self.br_valid.val();
        self.br_ready.next = self.mover.br_ready.val();
        self.mover.br_tag.next = self.br_tag.val();
        self.mover.br_data.next = self.br_data.val();
        self.mover.br_last.next = self.br_last.val();
        self.mover.br_err.next = self.br_err.val();
    }
}
