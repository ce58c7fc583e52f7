//! DMA request arbiter: merges two function-tagged requesters (the NVMe
//! front, tags 0x00..0x7F, and the data mover, tags 0x80..0xFF) onto the
//! seam's `rq_*`/`wd_*`/`rc_*` (docs/CARD.md "DMA port split").
//!
//! Round-robin between the requesters on each header; a write keeps the
//! grant until its `wd_last` beat has moved, so payloads never interleave.
//! Read completions are routed back by `rc_tag[7]`.

use nitrous_regmap::card::{FUNC_BITS, LEN_BITS, TAG_BITS};
use rust_hdl::prelude::*;

#[derive(Copy, Clone, PartialEq, Debug, LogicState)]
enum Phase {
    Header,
    PayloadA,
    PayloadB,
}

#[derive(LogicBlock, Default)]
pub struct DmaArbiter {
    pub clock: Signal<In, Clock>,
    pub reset: Signal<In, bool>,
    // Requester A (tags 0x00..0x7F).
    pub a_rq_valid: Signal<In, bool>,
    pub a_rq_ready: Signal<Out, bool>,
    pub a_rq_func: Signal<In, Bits<FUNC_BITS>>,
    pub a_rq_write: Signal<In, bool>,
    pub a_rq_addr: Signal<In, Bits<64>>,
    pub a_rq_len: Signal<In, Bits<LEN_BITS>>,
    pub a_rq_tag: Signal<In, Bits<TAG_BITS>>,
    pub a_wd_valid: Signal<In, bool>,
    pub a_wd_ready: Signal<Out, bool>,
    pub a_wd_data: Signal<In, Bits<128>>,
    pub a_wd_last: Signal<In, bool>,
    pub a_rc_valid: Signal<Out, bool>,
    pub a_rc_ready: Signal<In, bool>,
    // Requester B (tags 0x80..0xFF).
    pub b_rq_valid: Signal<In, bool>,
    pub b_rq_ready: Signal<Out, bool>,
    pub b_rq_func: Signal<In, Bits<FUNC_BITS>>,
    pub b_rq_write: Signal<In, bool>,
    pub b_rq_addr: Signal<In, Bits<64>>,
    pub b_rq_len: Signal<In, Bits<LEN_BITS>>,
    pub b_rq_tag: Signal<In, Bits<TAG_BITS>>,
    pub b_wd_valid: Signal<In, bool>,
    pub b_wd_ready: Signal<Out, bool>,
    pub b_wd_data: Signal<In, Bits<128>>,
    pub b_wd_last: Signal<In, bool>,
    pub b_rc_valid: Signal<Out, bool>,
    pub b_rc_ready: Signal<In, bool>,
    // The seam.
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

    phase: DFF<Phase>,
    /// Last header granted to B (round-robin).
    last_b: DFF<bool>,
    pick_b: Signal<Local, bool>,
}

impl Logic for DmaArbiter {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clock, phase, last_b);
        self.pick_b.next = self.b_rq_valid.val() & (!self.a_rq_valid.val() | !self.last_b.q.val());

        self.a_rq_ready.next = false;
        self.b_rq_ready.next = false;
        self.rq_valid.next = false;
        self.rq_func.next = self.a_rq_func.val();
        self.rq_write.next = self.a_rq_write.val();
        self.rq_addr.next = self.a_rq_addr.val();
        self.rq_len.next = self.a_rq_len.val();
        self.rq_tag.next = self.a_rq_tag.val();
        self.wd_valid.next = false;
        self.wd_data.next = self.a_wd_data.val();
        self.wd_last.next = self.a_wd_last.val();
        self.a_wd_ready.next = false;
        self.b_wd_ready.next = false;

        match self.phase.q.val() {
            Phase::Header => {
                if self.pick_b.val() {
                    self.rq_valid.next = true;
                    self.rq_func.next = self.b_rq_func.val();
                    self.rq_write.next = self.b_rq_write.val();
                    self.rq_addr.next = self.b_rq_addr.val();
                    self.rq_len.next = self.b_rq_len.val();
                    self.rq_tag.next = self.b_rq_tag.val();
                    self.b_rq_ready.next = self.rq_ready.val();
                    if self.rq_ready.val() {
                        self.last_b.d.next = true;
                        if self.b_rq_write.val() {
                            self.phase.d.next = Phase::PayloadB;
                        }
                    }
                } else if self.a_rq_valid.val() {
                    self.rq_valid.next = true;
                    self.a_rq_ready.next = self.rq_ready.val();
                    if self.rq_ready.val() {
                        self.last_b.d.next = false;
                        if self.a_rq_write.val() {
                            self.phase.d.next = Phase::PayloadA;
                        }
                    }
                }
            }
            Phase::PayloadA => {
                self.wd_valid.next = self.a_wd_valid.val();
                self.a_wd_ready.next = self.wd_ready.val();
                if self.a_wd_valid.val() & self.wd_ready.val() & self.a_wd_last.val() {
                    self.phase.d.next = Phase::Header;
                }
            }
            Phase::PayloadB => {
                self.wd_valid.next = self.b_wd_valid.val();
                self.wd_data.next = self.b_wd_data.val();
                self.wd_last.next = self.b_wd_last.val();
                self.b_wd_ready.next = self.wd_ready.val();
                if self.b_wd_valid.val() & self.wd_ready.val() & self.b_wd_last.val() {
                    self.phase.d.next = Phase::Header;
                }
            }
            _ => {
                self.phase.d.next = Phase::Header;
            }
        }

        // Completions by tag bit 7.
        self.a_rc_valid.next = self.rc_valid.val() & !self.rc_tag.val().get_bit(7);
        self.b_rc_valid.next = self.rc_valid.val() & self.rc_tag.val().get_bit(7);
        self.rc_ready.next = self.a_rc_ready.val();
        if self.rc_tag.val().get_bit(7) {
            self.rc_ready.next = self.b_rc_ready.val();
        }
        if self.reset.val() {
            self.phase.d.next = Phase::Header;
            self.last_b.d.next = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settle(uut: &mut DmaArbiter) {
        for _ in 0..50 {
            uut.update_all();
            if !uut.has_changed() {
                return;
            }
        }
        panic!("no settle");
    }

    fn tick(uut: &mut DmaArbiter) {
        uut.clock.next = false.into();
        settle(uut);
        uut.clock.next = true.into();
        settle(uut);
    }

    /// Both requesters issue a 2-beat write then a read, back to back; the
    /// seam must see whole requests, alternating, with each write's payload
    /// right after its header and never interleaved.
    #[test]
    fn grants_whole_requests_round_robin() {
        let mut uut = DmaArbiter::default();
        uut.connect_all();
        uut.rq_ready.next = true;
        uut.wd_ready.next = true;
        uut.reset.next = true;
        tick(&mut uut);
        uut.reset.next = false;
        // Each requester: [write(2 beats), read]; tag marks the requester.
        let mut a = vec![(true, 0x01u64), (false, 0x02)];
        let mut b = vec![(true, 0x81u64), (false, 0x82)];
        let mut a_beats = 0u32;
        let mut b_beats = 0u32;
        let mut seen: Vec<(u64, bool)> = Vec::new();
        let mut payload: Vec<u64> = Vec::new();
        for _ in 0..40 {
            uut.a_rq_valid.next = !a.is_empty() && a_beats == 0;
            if let Some(&(w, t)) = a.first() {
                uut.a_rq_write.next = w;
                uut.a_rq_tag.next = t.to_bits();
            }
            uut.b_rq_valid.next = !b.is_empty() && b_beats == 0;
            if let Some(&(w, t)) = b.first() {
                uut.b_rq_write.next = w;
                uut.b_rq_tag.next = t.to_bits();
            }
            uut.a_wd_valid.next = a_beats > 0;
            uut.a_wd_data.next = 0xA0u64.to_bits();
            uut.a_wd_last.next = a_beats == 1;
            uut.b_wd_valid.next = b_beats > 0;
            uut.b_wd_data.next = 0xB0u64.to_bits();
            uut.b_wd_last.next = b_beats == 1;
            settle(&mut uut);
            if uut.rq_valid.val() && uut.rq_ready.val() {
                seen.push((uut.rq_tag.val().index() as u64, uut.rq_write.val()));
            }
            if uut.wd_valid.val() && uut.wd_ready.val() {
                payload.push(uut.wd_data.val().get_bits::<8>(0).index() as u64);
            }
            let (ar, br) = (uut.a_rq_ready.val(), uut.b_rq_ready.val());
            let (aw, bw) = (
                uut.a_wd_ready.val() && uut.a_wd_valid.val(),
                uut.b_wd_ready.val() && uut.b_wd_valid.val(),
            );
            tick(&mut uut);
            if ar && a_beats == 0 && !a.is_empty() {
                let (w, _) = a.remove(0);
                a_beats = if w { 2 } else { 0 };
            }
            if br && b_beats == 0 && !b.is_empty() {
                let (w, _) = b.remove(0);
                b_beats = if w { 2 } else { 0 };
            }
            if aw {
                a_beats -= 1;
            }
            if bw {
                b_beats -= 1;
            }
        }
        assert_eq!(
            seen,
            vec![(0x81, true), (0x01, true), (0x82, false), (0x02, false)]
        );
        assert_eq!(payload, vec![0xB0, 0xB0, 0xA0, 0xA0]);
    }

    #[test]
    fn dma_arbiter_is_synthesizable() {
        let mut uut = DmaArbiter::default();
        uut.connect_all();
        let r = crate::synth::check_synthesizable("dma_arbiter", &generate_verilog(&uut))
            .unwrap_or_else(|e| panic!("dma_arbiter is not synthesizable: {e}"));
        assert!(r.cells > 0, "yosys produced no cells");
    }
}
