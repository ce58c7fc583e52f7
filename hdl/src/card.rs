//! The card top: the host transaction interface ("the seam", docs/CARD.md)
//! and every function behind it.
//!
//! Function 0 is the PF, a management function whose BAR0 holds the passive
//! mailbox (control/mailbox.rs); functions 1..=N are SR-IOV VFs, each an
//! NVMe controller. Config space, SR-IOV enable and FLR belong to the PCIe
//! hard IP (on the simulator: `nitrous_sim::platform`); the card sees them
//! as sideband signals.

use crate::control::mailbox::Mailbox;
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
}

impl Card {
    /// A card with `num_vfs` NVMe VFs and crypto engines in `cfg`.
    pub fn new(cfg: Config, num_vfs: usize) -> Self {
        assert!(
            (1..=nitrous_regmap::card::MAX_VFS).contains(&num_vfs),
            "num_vfs must be 1..={}",
            nitrous_regmap::card::MAX_VFS
        );
        let _ = cfg;
        Card {
            clock: Default::default(),
            reset: Default::default(),
            cfg_vf_enable: Default::default(),
            cfg_bus_master: Default::default(),
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

        // NVMe front: not yet in this top (VF registers read 0).
        self.router.fr_rvalid.next = false;
        self.router.fr_rdata.next = 0.into();

        // Mailbox side ports.
        self.mbox.key_sel.next = 0.into();
        self.mbox.prov_func.next = 0.into();
        self.mbox.cnt_served.next = false;
        self.mbox.cnt_rejected.next = false;
        self.mbox.cnt_func.next = 0.into();
        self.mbox.cnt_fault.next = false;
        self.mbox.cnt_fault_func.next = 0.into();

        // MSI-X.
        self.msix.flr_valid.next = self.flr_valid.val();
        self.msix.flr_func.next = self.flr_func.val();
        self.msix.irq_valid.next = false;
        self.msix.irq_func.next = 0.into();
        self.msix.irq_vector.next = 0.into();
        self.msix.pf_irq_valid.next = self.mbox.irq_valid.val();
        self.mbox.irq_ready.next = self.msix.pf_irq_ready.val();
        self.mx_valid.next = self.msix.mx_valid.val();
        self.msix.mx_ready.next = self.mx_ready.val();
        self.mx_func.next = self.msix.mx_func.val();
        self.mx_vector.next = self.msix.mx_vector.val();
        self.mx_addr.next = self.msix.mx_addr.val();
        self.mx_data.next = self.msix.mx_data.val();

        // DMA and backend: no requester yet.
        self.rq_valid.next = false;
        self.rq_func.next = 0.into();
        self.rq_write.next = false;
        self.rq_addr.next = 0.into();
        self.rq_len.next = 0.into();
        self.rq_tag.next = 0.into();
        self.wd_valid.next = false;
        self.wd_data.next = 0.into();
        self.wd_last.next = false;
        self.rc_ready.next = true;
        self.bq_valid.next = false;
        self.bq_write.next = false;
        self.bq_addr.next = 0.into();
        self.bq_len.next = 0.into();
        self.bq_tag.next = 0.into();
        self.bw_valid.next = false;
        self.bw_data.next = 0.into();
        self.bw_last.next = false;
        self.br_ready.next = true;
    }
}
