//! NVMe data mover: PRP walking (NVMe 1.4 §4.3), host DMA of data, inline
//! AES-256-XTS (IEEE 1619-2007, one data unit = one LBA, tweak = namespace
//! LBA as a 128-bit little-endian number) and the storage backend port.
//! Port contracts: docs/CARD.md "Data mover command", "Key slots",
//! "Counters", "DMA requester" (tags 0x80..=0xFF, "DMA port split") and
//! "Storage backend"; XTS engine: docs/ENGINES.md.
//!
//! One command at a time; every `mv_*` field is latched on the accepting
//! edge (`mv_valid && mv_ready`) and never read afterwards, since the front
//! offers its next command while this one runs and may hold it back or
//! withdraw it (docs/CARD.md "Data mover command"). Ops (`mv_op`):
//! * 0 READ: backend reads (one per LBA) -> XTS decrypt -> host writes.
//! * 1 WRITE: host reads -> XTS encrypt -> backend writes (one per LBA).
//! * 2 ZEROES: zero blocks -> XTS encrypt -> backend writes.
//! * 3 HOST_WRITE: `gd_*` stream -> host writes (admin data, no XTS).
//!
//! Structure (all counters per command, all in 16-byte beats, since every
//! data pointer is 16-byte aligned the host stream and the LBA stream are
//! the same beat stream cut at different places):
//! * **command FSM** (`MvState`): accept (deriving the PRP layout and
//!   checking PRP1/PRP2 from the `mv_*` inputs), load the XTS key when the
//!   slot or the slot's key differs from what is loaded (or after reset:
//!   `key_sel` shows `mv_slot` while idle, and a copy of the loaded key is
//!   compared with `key_data`, so a slot rewritten through the mailbox or a
//!   later unwrap path is picked up without a flush port), validate a PRP
//!   list, run, strobe `md_valid`.
//! * **PRP walker** (`WalkState`): produces host segments (address, length;
//!   never crossing a 4 KiB page) into a one-entry register `nseg`.
//!   PRP1 (may have an offset), then PRP2 as the second data pointer or as a
//!   list pointer; list entries are fetched one per 8-byte DMA read (tag
//!   0xC0), one entry ahead of the segment in use; the last entry of a list
//!   page chains to the next list page when more than one entry is still
//!   needed (§4.3). A PRP list is first walked once without moving data
//!   (validation pass), so that a bad entry ends the command with status 2
//!   before anything reaches the backend; the data pass checks again (the
//!   host may change the list in between) and aborts if needed.
//! * **host side**: WRITE issues one read per segment, up to
//!   [`MAX_READS`] outstanding (tags 0x80..0xBF); completion beats go
//!   straight into the XTS engine (`rc_ready` follows its `in_ready`).
//!   READ / HOST_WRITE issue one write header per segment and then its
//!   payload from the XTS output / `gd_*`.
//! * **LBA side**: an XTS descriptor per LBA (`du_number = slba + i`), the
//!   backend request for LBA *i* right after its descriptor (so the next
//!   LBA's backend request overlaps the current LBA's data), backend read
//!   data into the engine, engine output to `bw_*` (never before its
//!   request).
//!
//! Errors. A length that is not a whole number of LBAs (HOST_WRITE: not a
//! multiple of 4) ends at once with status 3 (the front never sends one).
//! A faulted DMA read (`rc_err`: data or list) strobes `cnt_fault`
//! and sets status 1; a PRP entry with a bad offset sets status 2; `br_err`
//! sets status 3 (first status wins). Faults and bad entries *abort*: no
//! new descriptor, backend request or host request is issued; what was
//! started is finished so that every port stays consistent (the XTS engine
//! gets the blocks of every accepted descriptor, WRITE with zero blocks
//! once its host data stopped; a backend write that was requested gets its
//! payload, i.e. ciphertext; a host write whose header left gets its
//! payload, zeros once the engine is drained). Outstanding reads are
//! consumed. Then exactly one `md_valid`.

use crate::crypto::xts::XtsEngine;
use crate::Config;
use rust_hdl::prelude::*;

/// Host reads a WRITE keeps outstanding.
pub const MAX_READS: u64 = 4;

/// Command FSM.
#[derive(Copy, Clone, Debug, PartialEq, LogicState)]
pub enum MvState {
    /// `mv_ready` high.
    Idle,
    /// `key_load` strobe to the XTS engine.
    KeyLoad,
    /// Waiting for `key_ready`.
    KeyWait,
    /// PRP list validation pass (walker only).
    Validate,
    /// Moving data.
    Run,
}

/// PRP walker.
#[derive(Copy, Clone, Debug, PartialEq, LogicState)]
pub enum WalkState {
    /// Nothing (more) to produce.
    Done,
    /// Emit the PRP1 segment.
    First,
    /// Emit the PRP2 segment (PRP2 is the second data pointer).
    Second,
    /// List entry read request presented.
    ListReq,
    /// Waiting for the list entry.
    ListWait,
    /// Entry at hand: emit (data pass) or count (validation pass).
    Emit,
}

/// The NVMe data mover (one command at a time).
#[derive(LogicBlock)]
pub struct NvmeMover {
    /// Clock.
    pub clock: Signal<In, Clock>,
    /// Synchronous reset.
    pub reset: Signal<In, Bit>,
    // -- Command from the front (docs/CARD.md "Data mover command").
    /// Command handshake.
    pub mv_valid: Signal<In, Bit>,
    /// Command handshake (high while idle).
    pub mv_ready: Signal<Out, Bit>,
    /// Requester function of every DMA of the command.
    pub mv_func: Signal<In, Bits<5>>,
    /// 0 READ, 1 WRITE, 2 ZEROES, 3 HOST_WRITE.
    pub mv_op: Signal<In, Bits<2>>,
    /// PRP entry 1.
    pub mv_prp1: Signal<In, Bits<64>>,
    /// PRP entry 2.
    pub mv_prp2: Signal<In, Bits<64>>,
    /// Bytes to move.
    pub mv_len: Signal<In, Bits<21>>,
    /// First namespace LBA (first XTS data unit number).
    pub mv_slba: Signal<In, Bits<64>>,
    /// 9 or 12.
    pub mv_lba_shift: Signal<In, Bits<4>>,
    /// Backend byte address of namespace LBA 0.
    pub mv_base: Signal<In, Bits<64>>,
    /// Key slot.
    pub mv_slot: Signal<In, Bits<4>>,
    /// HOST_WRITE data.
    pub gd_valid: Signal<In, Bit>,
    /// HOST_WRITE data.
    pub gd_ready: Signal<Out, Bit>,
    /// HOST_WRITE data beat.
    pub gd_data: Signal<In, Bits<128>>,
    /// Strobe: command finished.
    pub md_valid: Signal<Out, Bit>,
    /// 0 success, 1 Data Transfer Error, 2 PRP Offset Invalid, 3 internal.
    pub md_status: Signal<Out, Bits<2>>,
    // -- Key slots (combinational read of slot `key_sel`).
    /// Key slot being read.
    pub key_sel: Signal<Out, Bits<4>>,
    /// Its 512-bit XTS key (`Key1 || Key2`).
    pub key_data: Signal<In, Bits<512>>,
    // -- Host DMA requester (tags 0x80..=0xFF).
    /// Request header.
    pub rq_valid: Signal<Out, Bit>,
    /// Request header.
    pub rq_ready: Signal<In, Bit>,
    /// Requester function.
    pub rq_func: Signal<Out, Bits<5>>,
    /// 1 = memory write.
    pub rq_write: Signal<Out, Bit>,
    /// IOVA.
    pub rq_addr: Signal<Out, Bits<64>>,
    /// Bytes (4..=4096, never crossing 4 KiB).
    pub rq_len: Signal<Out, Bits<13>>,
    /// Read tag.
    pub rq_tag: Signal<Out, Bits<8>>,
    /// Write payload.
    pub wd_valid: Signal<Out, Bit>,
    /// Write payload.
    pub wd_ready: Signal<In, Bit>,
    /// Write payload beat.
    pub wd_data: Signal<Out, Bits<128>>,
    /// Last beat of the write.
    pub wd_last: Signal<Out, Bit>,
    /// Read completion.
    pub rc_valid: Signal<In, Bit>,
    /// Read completion.
    pub rc_ready: Signal<Out, Bit>,
    /// Completion tag.
    pub rc_tag: Signal<In, Bits<8>>,
    /// Completion beat.
    pub rc_data: Signal<In, Bits<128>>,
    /// Last beat of the request.
    pub rc_last: Signal<In, Bit>,
    /// The request failed.
    pub rc_err: Signal<In, Bit>,
    // -- Storage backend (ciphertext only).
    /// Backend request.
    pub bq_valid: Signal<Out, Bit>,
    /// Backend request.
    pub bq_ready: Signal<In, Bit>,
    /// 1 = write.
    pub bq_write: Signal<Out, Bit>,
    /// Backend byte address.
    pub bq_addr: Signal<Out, Bits<64>>,
    /// One LBA: 512 or 4096.
    pub bq_len: Signal<Out, Bits<13>>,
    /// Request tag.
    pub bq_tag: Signal<Out, Bits<8>>,
    /// Backend write payload.
    pub bw_valid: Signal<Out, Bit>,
    /// Backend write payload.
    pub bw_ready: Signal<In, Bit>,
    /// Backend write beat.
    pub bw_data: Signal<Out, Bits<128>>,
    /// Last beat of the LBA.
    pub bw_last: Signal<Out, Bit>,
    /// Backend read data.
    pub br_valid: Signal<In, Bit>,
    /// Backend read data.
    pub br_ready: Signal<Out, Bit>,
    /// Backend read tag.
    pub br_tag: Signal<In, Bits<8>>,
    /// Backend read beat.
    pub br_data: Signal<In, Bits<128>>,
    /// Last beat of the LBA.
    pub br_last: Signal<In, Bit>,
    /// The backend read failed.
    pub br_err: Signal<In, Bit>,
    // -- Counters.
    /// Strobe: a DMA read completed with `rc_err`.
    pub cnt_fault: Signal<Out, Bit>,
    /// Its function.
    pub cnt_fault_func: Signal<Out, Bits<5>>,
    // -- Function reset (FLR, VF Enable clear, mailbox Disable).
    /// Strobe: function `flr_func` is being reset. A command of that
    /// function stops issuing DMA at once (PCIe 4.0 §6.6.2: a function
    /// under FLR must not initiate new requests) and ends as an abort;
    /// requests already issued are finished, as for a fault.
    pub flr_valid: Signal<In, Bit>,
    pub flr_func: Signal<In, Bits<5>>,
    // -- Internal.
    is_read: Signal<Local, Bit>,
    is_write: Signal<Local, Bit>,
    is_zeroes: Signal<Local, Bit>,
    is_hw: Signal<Local, Bit>,
    mv_zeroes: Signal<Local, Bit>,
    mv_hw: Signal<Local, Bit>,
    off1: Signal<Local, Bits<13>>,
    cap1: Signal<Local, Bits<13>>,
    len0: Signal<Local, Bits<13>>,
    rem1: Signal<Local, Bits<21>>,
    need_load: Signal<Local, Bit>,
    hit0: Signal<Local, Bit>,
    hit1: Signal<Local, Bit>,
    preload: Signal<Local, Bit>,
    lba_side_done: Signal<Local, Bit>,
    dual: Constant<Bit>,
    list_mode: Signal<Local, Bit>,
    bad_early: Signal<Local, Bit>,
    bad_len: Signal<Local, Bit>,
    lba_bytes: Signal<Local, Bits<13>>,
    bpl_m1: Signal<Local, Bits<9>>,
    run: Signal<Local, Bit>,
    wk_want: Signal<Local, Bit>,
    dt_want: Signal<Local, Bit>,
    sel_wk: Signal<Local, Bit>,
    sel_dt: Signal<Local, Bit>,
    rq_fire: Signal<Local, Bit>,
    rc_fire: Signal<Local, Bit>,
    rc_list: Signal<Local, Bit>,
    rc_data_ready: Signal<Local, Bit>,
    x_in_valid: Signal<Local, Bit>,
    x_in_data: Signal<Local, Bits<128>>,
    x_out_ready: Signal<Local, Bit>,
    in_fire: Signal<Local, Bit>,
    out_fire: Signal<Local, Bit>,
    du_fire: Signal<Local, Bit>,
    bq_fire: Signal<Local, Bit>,
    wd_fire: Signal<Local, Bit>,
    gd_fire: Signal<Local, Bit>,
    zero_fill: Signal<Local, Bit>,
    bw_ok: Signal<Local, Bit>,
    seg_len: Signal<Local, Bits<13>>,
    entry: Signal<Local, Bits<64>>,
    set_abort: Signal<Local, Bit>,
    abort_status: Signal<Local, Bits<2>>,
    done: Signal<Local, Bit>,
    c4096: Constant<Bits<13>>,
    max_reads: Constant<Bits<3>>,
    state: DFF<MvState>,
    c_func: DFF<Bits<5>>,
    c_op: DFF<Bits<2>>,
    c_prp1: DFF<Bits<64>>,
    c_prp2: DFF<Bits<64>>,
    c_len: DFF<Bits<21>>,
    c_4k: DFF<Bit>,
    c_slot: DFF<Bits<4>>,
    bk_ok0: DFF<Bit>,
    bk_slot0: DFF<Bits<4>>,
    bk_key0: DFF<Bits<512>>,
    bk_ok1: DFF<Bit>,
    bk_slot1: DFF<Bits<4>>,
    bk_key1: DFF<Bits<512>>,
    c_bank: DFF<Bit>,
    pf_sent: DFF<Bit>,
    pf_slba: DFF<Bits<64>>,
    pf_bank: DFF<Bit>,
    status: DFF<Bits<2>>,
    abort: DFF<Bit>,
    nlb: DFF<Bits<13>>,
    du_cnt: DFF<Bits<13>>,
    du_lba: DFF<Bits<64>>,
    bq_cnt: DFF<Bits<13>>,
    bq_addr_r: DFF<Bits<64>>,
    in_units: DFF<Bits<13>>,
    in_blk: DFF<Bits<9>>,
    out_units: DFF<Bits<13>>,
    rd_out: DFF<Bits<3>>,
    rd_seq: DFF<Bits<6>>,
    pay_active: DFF<Bit>,
    pay_beats: DFF<Bits<9>>,
    gd_cnt: DFF<Bits<17>>,
    gd_total: DFF<Bits<17>>,
    nseg_valid: DFF<Bit>,
    nseg_addr: DFF<Bits<64>>,
    nseg_len: DFF<Bits<13>>,
    w_state: DFF<WalkState>,
    w_rem: DFF<Bits<21>>,
    w_ptr: DFF<Bits<64>>,
    w_entry: DFF<Bits<64>>,
    w_validate: DFF<Bit>,
    w_rem1: DFF<Bits<21>>,
    w_len0: DFF<Bits<13>>,
    lock_wk: DFF<Bit>,
    lock_dt: DFF<Bit>,
    c_list: DFF<Bit>,
    fault_v: DFF<Bit>,
    xts: XtsEngine,
}

impl NvmeMover {
    /// `Full`: pipelined XTS data core (16 B/clock); `Compact`: iterative.
    pub fn new(cfg: Config) -> Self {
        Self {
            clock: Default::default(),
            reset: Default::default(),
            mv_valid: Default::default(),
            mv_ready: Default::default(),
            mv_func: Default::default(),
            mv_op: Default::default(),
            mv_prp1: Default::default(),
            mv_prp2: Default::default(),
            mv_len: Default::default(),
            mv_slba: Default::default(),
            mv_lba_shift: Default::default(),
            mv_base: Default::default(),
            mv_slot: Default::default(),
            gd_valid: Default::default(),
            gd_ready: Default::default(),
            gd_data: Default::default(),
            md_valid: Default::default(),
            md_status: Default::default(),
            key_sel: Default::default(),
            key_data: Default::default(),
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
            cnt_fault: Default::default(),
            cnt_fault_func: Default::default(),
            flr_valid: Default::default(),
            flr_func: Default::default(),
            is_read: Default::default(),
            is_write: Default::default(),
            is_zeroes: Default::default(),
            is_hw: Default::default(),
            mv_zeroes: Default::default(),
            mv_hw: Default::default(),
            off1: Default::default(),
            cap1: Default::default(),
            len0: Default::default(),
            rem1: Default::default(),
            need_load: Default::default(),
            hit0: Default::default(),
            hit1: Default::default(),
            preload: Default::default(),
            lba_side_done: Default::default(),
            dual: Constant::new(cfg == Config::Full),
            list_mode: Default::default(),
            bad_early: Default::default(),
            bad_len: Default::default(),
            lba_bytes: Default::default(),
            bpl_m1: Default::default(),
            run: Default::default(),
            wk_want: Default::default(),
            dt_want: Default::default(),
            sel_wk: Default::default(),
            sel_dt: Default::default(),
            rq_fire: Default::default(),
            rc_fire: Default::default(),
            rc_list: Default::default(),
            rc_data_ready: Default::default(),
            x_in_valid: Default::default(),
            x_in_data: Default::default(),
            x_out_ready: Default::default(),
            in_fire: Default::default(),
            out_fire: Default::default(),
            du_fire: Default::default(),
            bq_fire: Default::default(),
            wd_fire: Default::default(),
            gd_fire: Default::default(),
            zero_fill: Default::default(),
            bw_ok: Default::default(),
            seg_len: Default::default(),
            entry: Default::default(),
            set_abort: Default::default(),
            abort_status: Default::default(),
            done: Default::default(),
            c4096: Constant::new(bits::<13>(4096)),
            max_reads: Constant::new(bits::<3>(MAX_READS)),
            state: Default::default(),
            c_func: Default::default(),
            c_op: Default::default(),
            c_prp1: Default::default(),
            c_prp2: Default::default(),
            c_len: Default::default(),
            c_4k: Default::default(),
            c_slot: Default::default(),
            bk_ok0: Default::default(),
            bk_slot0: Default::default(),
            bk_key0: Default::default(),
            bk_ok1: Default::default(),
            bk_slot1: Default::default(),
            bk_key1: Default::default(),
            c_bank: Default::default(),
            pf_sent: Default::default(),
            pf_slba: Default::default(),
            pf_bank: Default::default(),
            status: Default::default(),
            abort: Default::default(),
            nlb: Default::default(),
            du_cnt: Default::default(),
            du_lba: Default::default(),
            bq_cnt: Default::default(),
            bq_addr_r: Default::default(),
            in_units: Default::default(),
            in_blk: Default::default(),
            out_units: Default::default(),
            rd_out: Default::default(),
            rd_seq: Default::default(),
            pay_active: Default::default(),
            pay_beats: Default::default(),
            gd_cnt: Default::default(),
            gd_total: Default::default(),
            nseg_valid: Default::default(),
            nseg_addr: Default::default(),
            nseg_len: Default::default(),
            w_state: Default::default(),
            w_rem: Default::default(),
            w_ptr: Default::default(),
            w_entry: Default::default(),
            w_validate: Default::default(),
            w_rem1: Default::default(),
            w_len0: Default::default(),
            lock_wk: Default::default(),
            lock_dt: Default::default(),
            c_list: Default::default(),
            fault_v: Default::default(),
            xts: XtsEngine::new(cfg),
        }
    }
}

impl Logic for NvmeMover {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self, clock, state, c_func, c_op, c_prp1, c_prp2, c_len, c_4k, c_slot, c_list, bk_ok0,
            bk_slot0, bk_key0, bk_ok1, bk_slot1, bk_key1, c_bank, pf_sent, pf_slba, pf_bank,
            status, abort, nlb, du_cnt, du_lba, bq_cnt, bq_addr_r, in_units, in_blk, out_units,
            rd_out, rd_seq, pay_active, pay_beats, gd_cnt, gd_total, nseg_valid, nseg_addr,
            nseg_len, w_state, w_rem, w_ptr, w_entry, w_validate, w_rem1, w_len0, lock_wk, lock_dt,
            fault_v
        );
        self.xts.clock.next = self.clock.val();
        self.xts.reset.next = self.reset.val();
        self.xts.key.next = self.key_data.val();
        self.xts.key_load.next = false;
        self.xts.key_bank.next = self.c_bank.q.val();
        // The slot of the command offered by the front (to compare its key
        // with the banks', and to preload it), except while a command's own
        // key is loaded.
        self.key_sel.next = self.mv_slot.val();
        if self.state.q.val() == MvState::KeyLoad {
            self.key_sel.next = self.c_slot.q.val();
        }

        // -- Decoded command.
        self.is_read.next = self.c_op.q.val() == 0;
        self.is_write.next = self.c_op.q.val() == 1;
        self.is_zeroes.next = self.c_op.q.val() == 2;
        self.is_hw.next = self.c_op.q.val() == 3;
        self.run.next = self.state.q.val() == MvState::Run;
        self.lba_bytes.next = bits::<13>(512);
        self.bpl_m1.next = bits::<9>(31);
        if self.c_4k.q.val() {
            self.lba_bytes.next = self.c4096.val();
            self.bpl_m1.next = bits::<9>(255);
        }
        // PRP layout of the command being accepted (NVMe 1.4 §4.3): PRP1
        // covers up to the end of its page; PRP2 is the second data pointer
        // or a list pointer.
        self.mv_zeroes.next = self.mv_op.val() == 2;
        self.mv_hw.next = self.mv_op.val() == 3;
        self.off1.next = bit_cast::<13, 12>(self.mv_prp1.val().get_bits::<12>(0));
        self.cap1.next = self.c4096.val() - self.off1.val();
        self.len0.next = self.cap1.val();
        if self.mv_len.val() <= bit_cast::<21, 13>(self.cap1.val()) {
            self.len0.next = self.mv_len.val().get_bits::<13>(0);
        }
        self.rem1.next = self.mv_len.val() - bit_cast::<21, 13>(self.len0.val());
        self.list_mode.next = self.rem1.val() > bit_cast::<21, 13>(self.c4096.val());
        // Every data pointer 16-byte aligned; PRP2 as a data pointer has no
        // page offset; a list pointer is 8-byte aligned (entries are 8 B).
        self.bad_early.next = false;
        if !self.mv_zeroes.val() & (self.mv_len.val() != 0) {
            if self.mv_prp1.val().get_bits::<4>(0) != 0 {
                self.bad_early.next = true;
            }
            if (self.rem1.val() != 0)
                & !self.list_mode.val()
                & (self.mv_prp2.val().get_bits::<12>(0) != 0)
            {
                self.bad_early.next = true;
            }
            if self.list_mode.val() & (self.mv_prp2.val().get_bits::<3>(0) != 0) {
                self.bad_early.next = true;
            }
        }
        // Lengths the front never sends (docs/CARD.md: nlb << lba_shift;
        // HOST_WRITE a multiple of 4) end with status 3 instead of a
        // mismatch between host bytes and LBA blocks.
        self.bad_len.next = self.mv_len.val().get_bits::<2>(0) != 0;
        if !self.mv_hw.val() {
            if self.mv_lba_shift.val() == 12 {
                self.bad_len.next = self.mv_len.val().get_bits::<12>(0) != 0;
            } else {
                self.bad_len.next = self.mv_len.val().get_bits::<9>(0) != 0;
            }
        }
        // Key banks (docs/ENGINES.md): does a bank hold the offered
        // command's key? Full has two, Compact one.
        self.hit0.next = self.bk_ok0.q.val()
            & (self.mv_slot.val() == self.bk_slot0.q.val())
            & (self.key_data.val() == self.bk_key0.q.val());
        self.hit1.next = self.dual.val()
            & self.bk_ok1.q.val()
            & (self.mv_slot.val() == self.bk_slot1.q.val())
            & (self.key_data.val() == self.bk_key1.q.val());
        self.need_load.next = !self.mv_hw.val() & !self.hit0.val() & !self.hit1.val();

        // -- DMA requester: walker (list entries) has priority; a presented
        // request stays presented until accepted (lock_*).
        self.wk_want.next = (self.w_state.q.val() == WalkState::ListReq)
            & (!self.abort.q.val() | self.lock_wk.q.val());
        self.dt_want.next = false;
        if self.run.val() & self.nseg_valid.q.val() & !self.abort.q.val() {
            if self.is_write.val() {
                self.dt_want.next = self.rd_out.q.val() < self.max_reads.val();
            } else if self.is_read.val() {
                // READ: the write header waits for its first decrypted
                // beat, so the host bus is never held by a header whose
                // payload is still in the XTS engine (key, tweak, pipeline).
                self.dt_want.next = !self.pay_active.q.val() & self.xts.out_valid.val();
            } else {
                self.dt_want.next = !self.pay_active.q.val();
            }
        }
        self.sel_wk.next = self.lock_wk.q.val() | (!self.lock_dt.q.val() & self.wk_want.val());
        self.sel_dt.next = self.lock_dt.q.val()
            | (!self.lock_wk.q.val() & !self.wk_want.val() & self.dt_want.val());
        self.rq_valid.next = self.sel_wk.val() | self.sel_dt.val();
        self.rq_func.next = self.c_func.q.val();
        self.rq_write.next = false;
        self.rq_addr.next = self.w_ptr.q.val();
        self.rq_len.next = bits::<13>(8);
        self.rq_tag.next = bits::<8>(0xC0);
        if !self.sel_wk.val() {
            self.rq_write.next = !self.is_write.val();
            self.rq_addr.next = self.nseg_addr.q.val();
            self.rq_len.next = self.nseg_len.q.val();
            self.rq_tag.next = bits::<8>(0x80) | bit_cast::<8, 6>(self.rd_seq.q.val());
        }
        self.rq_fire.next = self.rq_valid.val() & self.rq_ready.val();
        self.lock_wk.d.next = self.sel_wk.val() & !self.rq_ready.val();
        self.lock_dt.d.next = self.sel_dt.val() & !self.rq_ready.val();
        if self.rq_fire.val() & self.sel_dt.val() {
            self.nseg_valid.d.next = false;
            if self.is_write.val() {
                self.rd_seq.d.next = self.rd_seq.q.val() + 1;
            } else {
                self.pay_active.d.next = true;
                self.pay_beats.d.next = bit_cast::<9, 13>((self.nseg_len.q.val() + 15) >> 4);
            }
        }

        // -- Read completions: tag bit 6 = list entry, else data (WRITE).
        self.rc_list.next = self.rc_tag.val().get_bit(6);
        self.rc_data_ready.next = true;
        if self.is_write.val() & !self.abort.q.val() & !self.rc_err.val() {
            self.rc_data_ready.next = self.xts.in_ready.val();
        }
        self.rc_ready.next = self.rc_list.val() | self.rc_data_ready.val();
        self.rc_fire.next = self.rc_valid.val() & self.rc_ready.val();
        // Counters: one strobe per faulted read (data or list).
        self.fault_v.d.next = self.rc_fire.val() & self.rc_last.val() & self.rc_err.val();
        self.cnt_fault.next = self.fault_v.q.val();
        self.cnt_fault_func.next = self.c_func.q.val();
        self.set_abort.next = false;
        self.abort_status.next = bits::<2>(1);
        if self.rc_fire.val() & self.rc_err.val() {
            self.set_abort.next = true;
        }
        // A reset of the command's function aborts it (no new DMA). In Idle
        // this is harmless: accepting the next command clears `abort`.
        if self.flr_valid.val() & (self.flr_func.val() == self.c_func.q.val()) {
            self.set_abort.next = true;
        }
        self.rd_out.d.next = self.rd_out.q.val();
        if self.rq_fire.val() & self.sel_dt.val() & self.is_write.val() {
            self.rd_out.d.next = self.rd_out.q.val() + 1;
        }
        if self.rc_fire.val() & !self.rc_list.val() & self.rc_last.val() {
            if self.rq_fire.val() & self.sel_dt.val() & self.is_write.val() {
                self.rd_out.d.next = self.rd_out.q.val();
            } else {
                self.rd_out.d.next = self.rd_out.q.val() - 1;
            }
        }

        // -- PRP walker.
        self.seg_len.next = self.c4096.val();
        if self.w_rem.q.val() <= bit_cast::<21, 13>(self.c4096.val()) {
            self.seg_len.next = self.w_rem.q.val().get_bits::<13>(0);
        }
        self.entry.next = self.rc_data.val().get_bits::<64>(0);
        match self.w_state.q.val() {
            WalkState::Done => {}
            WalkState::First => {
                if self.abort.q.val() | (self.c_len.q.val() == 0) {
                    self.w_state.d.next = WalkState::Done;
                } else if !self.nseg_valid.q.val() {
                    self.nseg_valid.d.next = true;
                    self.nseg_addr.d.next = self.c_prp1.q.val();
                    self.nseg_len.d.next = self.w_len0.q.val();
                    if self.w_rem1.q.val() == 0 {
                        self.w_state.d.next = WalkState::Done;
                    } else if self.w_rem1.q.val() <= bit_cast::<21, 13>(self.c4096.val()) {
                        self.w_state.d.next = WalkState::Second;
                    } else {
                        self.w_state.d.next = WalkState::ListReq;
                        self.w_rem.d.next = self.w_rem1.q.val();
                        self.w_ptr.d.next = self.c_prp2.q.val();
                    }
                }
            }
            WalkState::Second => {
                if self.abort.q.val() {
                    self.w_state.d.next = WalkState::Done;
                } else if !self.nseg_valid.q.val() {
                    self.nseg_valid.d.next = true;
                    self.nseg_addr.d.next = self.c_prp2.q.val();
                    self.nseg_len.d.next = self.w_rem1.q.val().get_bits::<13>(0);
                    self.w_state.d.next = WalkState::Done;
                }
            }
            WalkState::ListReq => {
                if !self.wk_want.val() {
                    self.w_state.d.next = WalkState::Done;
                } else if self.rq_ready.val() & self.sel_wk.val() {
                    self.w_state.d.next = WalkState::ListWait;
                }
            }
            WalkState::ListWait => {
                if self.rc_fire.val() & self.rc_list.val() & self.rc_last.val() {
                    if self.rc_err.val() | self.abort.q.val() {
                        self.w_state.d.next = WalkState::Done;
                    } else if self.entry.val().get_bits::<12>(0) != 0 {
                        // NVMe 1.4 §4.3: entries in a PRP list have offset 0.
                        self.set_abort.next = true;
                        self.abort_status.next = bits::<2>(2);
                        self.w_state.d.next = WalkState::Done;
                    } else if (self.w_ptr.q.val().get_bits::<9>(3) == 0x1FF)
                        & (self.w_rem.q.val() > bit_cast::<21, 13>(self.c4096.val()))
                    {
                        // Last entry of a list page with more than one page
                        // still to go: pointer to the next list page.
                        self.w_ptr.d.next = self.entry.val();
                        self.w_state.d.next = WalkState::ListReq;
                    } else {
                        self.w_entry.d.next = self.entry.val();
                        self.w_state.d.next = WalkState::Emit;
                    }
                }
            }
            WalkState::Emit => {
                if self.abort.q.val() {
                    self.w_state.d.next = WalkState::Done;
                } else if self.w_validate.q.val() | !self.nseg_valid.q.val() {
                    if !self.w_validate.q.val() {
                        self.nseg_valid.d.next = true;
                        self.nseg_addr.d.next = self.w_entry.q.val();
                        self.nseg_len.d.next = self.seg_len.val();
                    }
                    self.w_rem.d.next = self.w_rem.q.val() - bit_cast::<21, 13>(self.seg_len.val());
                    self.w_ptr.d.next = self.w_ptr.q.val() + 8;
                    if self.w_rem.q.val() <= bit_cast::<21, 13>(self.c4096.val()) {
                        if self.w_validate.q.val() {
                            // Validation pass done: now the data pass.
                            self.w_validate.d.next = false;
                            self.w_state.d.next = WalkState::First;
                        } else {
                            self.w_state.d.next = WalkState::Done;
                        }
                    } else {
                        self.w_state.d.next = WalkState::ListReq;
                    }
                }
            }
        }

        // -- LBA side: XTS descriptors, backend requests.
        self.xts.du_valid.next = self.run.val()
            & !self.abort.q.val()
            & !self.is_hw.val()
            & (self.du_cnt.q.val() < self.nlb.q.val());
        self.xts.du_number.next = bit_cast::<128, 64>(self.du_lba.q.val());
        self.xts.du_blocks.next = self.bpl_m1.val() + 1;
        self.xts.du_decrypt.next = self.is_read.val();
        self.xts.du_bank.next = self.c_bank.q.val();
        self.du_fire.next = self.xts.du_valid.val() & self.xts.du_ready.val();
        if self.du_fire.val() {
            self.du_cnt.d.next = self.du_cnt.q.val() + 1;
            self.du_lba.d.next = self.du_lba.q.val() + 1;
        }
        self.bq_valid.next = self.run.val() & (self.bq_cnt.q.val() < self.du_cnt.q.val());
        self.bq_write.next = !self.is_read.val();
        self.bq_addr.next = self.bq_addr_r.q.val();
        self.bq_len.next = self.lba_bytes.val();
        self.bq_tag.next = self.bq_cnt.q.val().get_bits::<8>(0);
        self.bq_fire.next = self.bq_valid.val() & self.bq_ready.val();
        if self.bq_fire.val() {
            self.bq_cnt.d.next = self.bq_cnt.q.val() + 1;
            self.bq_addr_r.d.next =
                self.bq_addr_r.q.val() + bit_cast::<64, 13>(self.lba_bytes.val());
        }

        // -- The next command, while this one runs (the front offers it on
        // `mv_*` before this one ends; it may still be withdrawn, so nothing
        // here is more than a hint). Full: load its key into the bank this
        // command does not use. Both: once this command has issued all its
        // descriptors, prefetch the tweak of the next command's first LBA.
        self.preload.next =
            self.dual.val() & self.run.val() & self.mv_valid.val() & self.need_load.val();
        if self.preload.val() {
            self.xts.key_load.next = true;
            self.xts.key_bank.next = !self.c_bank.q.val();
            if self.c_bank.q.val() {
                self.bk_ok0.d.next = true;
                self.bk_slot0.d.next = self.mv_slot.val();
                self.bk_key0.d.next = self.key_data.val();
            } else {
                self.bk_ok1.d.next = true;
                self.bk_slot1.d.next = self.mv_slot.val();
                self.bk_key1.d.next = self.key_data.val();
            }
        }
        self.lba_side_done.next =
            self.is_hw.val() | self.abort.q.val() | (self.du_cnt.q.val() == self.nlb.q.val());
        self.xts.pf_valid.next = self.run.val()
            & self.lba_side_done.val()
            & self.mv_valid.val()
            & !self.mv_hw.val()
            & (self.hit0.val() | self.hit1.val())
            & !(self.pf_sent.q.val()
                & (self.pf_slba.q.val() == self.mv_slba.val())
                & (self.pf_bank.q.val() != self.hit0.val()));
        self.xts.pf_number.next = bit_cast::<128, 64>(self.mv_slba.val());
        self.xts.pf_bank.next = !self.hit0.val();
        if self.xts.pf_valid.val() & self.xts.pf_ready.val() {
            self.pf_sent.d.next = true;
            self.pf_slba.d.next = self.mv_slba.val();
            self.pf_bank.d.next = !self.hit0.val();
        }

        // -- XTS input: backend data (READ), host data (WRITE; zeros after
        // an abort), zeros (ZEROES).
        self.x_in_valid.next = false;
        self.x_in_data.next = 0.into();
        self.br_ready.next = false;
        if self.is_read.val() {
            self.x_in_valid.next = self.br_valid.val();
            self.x_in_data.next = self.br_data.val();
            self.br_ready.next = self.xts.in_ready.val();
        }
        if self.is_write.val() {
            if self.abort.q.val() {
                self.x_in_valid.next = self.in_units.q.val() < self.du_cnt.q.val();
            } else {
                self.x_in_valid.next =
                    self.rc_valid.val() & !self.rc_list.val() & !self.rc_err.val();
                self.x_in_data.next = self.rc_data.val();
            }
        }
        if self.is_zeroes.val() {
            self.x_in_valid.next = self.in_units.q.val() < self.du_cnt.q.val();
        }
        self.xts.in_valid.next = self.x_in_valid.val();
        self.xts.in_data.next = self.x_in_data.val();
        self.in_fire.next = self.x_in_valid.val() & self.xts.in_ready.val();
        if self.in_fire.val() {
            self.in_blk.d.next = self.in_blk.q.val() + 1;
            if self.in_blk.q.val() == self.bpl_m1.val() {
                self.in_blk.d.next = 0.into();
                self.in_units.d.next = self.in_units.q.val() + 1;
            }
        }

        // -- XTS output: backend writes (WRITE, ZEROES) or host writes (READ).
        self.bw_ok.next = self.out_units.q.val() < self.bq_cnt.q.val();
        self.zero_fill.next = self.is_read.val()
            & self.abort.q.val()
            & (self.out_units.q.val() == self.du_cnt.q.val());
        self.x_out_ready.next = true;
        if self.is_read.val() {
            self.x_out_ready.next =
                (self.pay_active.q.val() & self.wd_ready.val() & !self.zero_fill.val())
                    | (self.abort.q.val() & !self.pay_active.q.val());
        }
        if self.is_write.val() | self.is_zeroes.val() {
            self.x_out_ready.next = self.bw_ready.val() & self.bw_ok.val();
        }
        self.xts.out_ready.next = self.x_out_ready.val();
        self.bw_valid.next = (self.is_write.val() | self.is_zeroes.val())
            & self.xts.out_valid.val()
            & self.bw_ok.val();
        self.bw_data.next = self.xts.out_data.val();
        self.bw_last.next = self.xts.out_last.val();
        self.out_fire.next = self.xts.out_valid.val() & self.x_out_ready.val();
        if self.out_fire.val() & self.xts.out_last.val() {
            self.out_units.d.next = self.out_units.q.val() + 1;
        }

        // -- Host write payload (READ: XTS output, zeros once an aborted
        // command's engine is drained; HOST_WRITE: gd).
        self.wd_valid.next = false;
        self.wd_data.next = self.xts.out_data.val();
        self.gd_ready.next = false;
        if self.is_read.val() {
            self.wd_valid.next =
                self.pay_active.q.val() & (self.zero_fill.val() | self.xts.out_valid.val());
            if self.zero_fill.val() {
                self.wd_data.next = 0.into();
            }
        }
        if self.is_hw.val() & self.run.val() {
            self.wd_valid.next = self.pay_active.q.val() & self.gd_valid.val();
            self.wd_data.next = self.gd_data.val();
            if self.pay_active.q.val() {
                self.gd_ready.next = self.wd_ready.val();
            } else {
                self.gd_ready.next =
                    self.abort.q.val() & (self.gd_cnt.q.val() < self.gd_total.q.val());
            }
        }
        self.wd_last.next = self.pay_beats.q.val() == 1;
        self.wd_fire.next = self.wd_valid.val() & self.wd_ready.val();
        if self.wd_fire.val() {
            self.pay_beats.d.next = self.pay_beats.q.val() - 1;
            if self.pay_beats.q.val() == 1 {
                self.pay_active.d.next = false;
            }
        }
        self.gd_fire.next = self.gd_valid.val() & self.gd_ready.val();
        if self.gd_fire.val() {
            self.gd_cnt.d.next = self.gd_cnt.q.val() + 1;
        }

        // -- Status: the first error wins; faults and bad PRPs abort.
        if self.set_abort.val() {
            self.abort.d.next = true;
            if self.status.q.val() == 0 {
                self.status.d.next = self.abort_status.val();
            }
        }
        if self.br_valid.val()
            & self.br_ready.val()
            & self.br_err.val()
            & (self.status.q.val() == 0)
        {
            self.status.d.next = bits::<2>(3);
        }

        // -- Done: nothing presented, outstanding or in flight.
        self.done.next = !self.rq_valid.val()
            & (self.rd_out.q.val() == 0)
            & !self.pay_active.q.val()
            & (self.w_state.q.val() == WalkState::Done)
            & (self.abort.q.val() | !self.nseg_valid.q.val());
        if self.is_hw.val() {
            if self.gd_cnt.q.val() != self.gd_total.q.val() {
                self.done.next = false;
            }
        } else if !((self.abort.q.val() | (self.du_cnt.q.val() == self.nlb.q.val()))
            & (self.bq_cnt.q.val() == self.du_cnt.q.val())
            & (self.in_units.q.val() == self.du_cnt.q.val())
            & (self.out_units.q.val() == self.du_cnt.q.val()))
        {
            self.done.next = false;
        }

        // -- Command FSM.
        self.mv_ready.next = self.state.q.val() == MvState::Idle;
        match self.state.q.val() {
            MvState::Idle => {
                if self.mv_valid.val() {
                    self.c_func.d.next = self.mv_func.val();
                    self.c_op.d.next = self.mv_op.val();
                    self.c_prp1.d.next = self.mv_prp1.val();
                    self.c_prp2.d.next = self.mv_prp2.val();
                    self.c_len.d.next = self.mv_len.val();
                    self.c_4k.d.next = self.mv_lba_shift.val() == 12;
                    self.c_slot.d.next = self.mv_slot.val();
                    self.c_list.d.next = self.list_mode.val();
                    self.status.d.next = 0.into();
                    self.abort.d.next = false;
                    self.pf_sent.d.next = false;
                    // The bank holding its key, or the one to load: not the
                    // bank the previous command used (keep that key).
                    self.c_bank.d.next = self.dual.val() & !self.c_bank.q.val();
                    if self.hit0.val() {
                        self.c_bank.d.next = false;
                    } else if self.hit1.val() {
                        self.c_bank.d.next = true;
                    }
                    self.du_cnt.d.next = 0.into();
                    self.du_lba.d.next = self.mv_slba.val();
                    self.bq_cnt.d.next = 0.into();
                    self.bq_addr_r.d.next = self.mv_base.val() + (self.mv_slba.val() << 9);
                    self.nlb.d.next = bit_cast::<13, 21>(self.mv_len.val() >> 9);
                    if self.mv_lba_shift.val() == 12 {
                        self.bq_addr_r.d.next = self.mv_base.val() + (self.mv_slba.val() << 12);
                        self.nlb.d.next = bit_cast::<13, 21>(self.mv_len.val() >> 12);
                    }
                    self.in_units.d.next = 0.into();
                    self.in_blk.d.next = 0.into();
                    self.out_units.d.next = 0.into();
                    self.rd_out.d.next = 0.into();
                    self.pay_active.d.next = false;
                    self.gd_cnt.d.next = 0.into();
                    self.gd_total.d.next = bit_cast::<17, 21>((self.mv_len.val() + 15) >> 4);
                    self.nseg_valid.d.next = false;
                    self.w_len0.d.next = self.len0.val();
                    self.w_rem1.d.next = self.rem1.val();
                    self.w_validate.d.next = false;
                    self.w_state.d.next = WalkState::Done;
                    if self.bad_len.val() {
                        self.status.d.next = bits::<2>(3);
                        self.abort.d.next = true;
                        self.state.d.next = MvState::Run;
                    } else if self.bad_early.val() {
                        // PRP Offset Invalid before anything moved.
                        self.status.d.next = bits::<2>(2);
                        self.abort.d.next = true;
                        self.state.d.next = MvState::Run;
                    } else if self.need_load.val() {
                        self.state.d.next = MvState::KeyLoad;
                    } else if self.mv_zeroes.val() {
                        self.state.d.next = MvState::Run;
                    } else if self.list_mode.val() {
                        self.w_state.d.next = WalkState::ListReq;
                        self.w_validate.d.next = true;
                        self.w_rem.d.next = self.rem1.val();
                        self.w_ptr.d.next = self.mv_prp2.val();
                        self.state.d.next = MvState::Validate;
                    } else {
                        self.w_state.d.next = WalkState::First;
                        self.state.d.next = MvState::Run;
                    }
                }
            }
            MvState::KeyLoad => {
                // docs/ENGINES.md: key_load only while the engine is idle,
                // which it is between commands.
                self.xts.key_load.next = true;
                if self.c_bank.q.val() {
                    self.bk_ok1.d.next = true;
                    self.bk_slot1.d.next = self.c_slot.q.val();
                    self.bk_key1.d.next = self.key_data.val();
                } else {
                    self.bk_ok0.d.next = true;
                    self.bk_slot0.d.next = self.c_slot.q.val();
                    self.bk_key0.d.next = self.key_data.val();
                }
                self.state.d.next = MvState::KeyWait;
            }
            MvState::KeyWait => {
                if self.xts.key_ready.val() {
                    if self.is_zeroes.val() {
                        self.state.d.next = MvState::Run;
                    } else if self.c_list.q.val() {
                        self.w_state.d.next = WalkState::ListReq;
                        self.w_validate.d.next = true;
                        self.w_rem.d.next = self.w_rem1.q.val();
                        self.w_ptr.d.next = self.c_prp2.q.val();
                        self.state.d.next = MvState::Validate;
                    } else {
                        self.w_state.d.next = WalkState::First;
                        self.state.d.next = MvState::Run;
                    }
                }
            }
            MvState::Validate => {
                if self.abort.q.val() | !self.w_validate.q.val() {
                    self.state.d.next = MvState::Run;
                }
            }
            MvState::Run => {
                if self.done.val() {
                    self.state.d.next = MvState::Idle;
                }
            }
        }
        self.md_valid.next = self.run.val() & self.done.val();
        self.md_status.next = self.status.q.val();

        if self.reset.val() {
            self.state.d.next = MvState::Idle;
            self.w_state.d.next = WalkState::Done;
            self.bk_ok0.d.next = false;
            self.bk_ok1.d.next = false;
            self.pf_sent.d.next = false;
            self.fault_v.d.next = false;
            self.lock_wk.d.next = false;
            self.lock_dt.d.next = false;
            self.nseg_valid.d.next = false;
            self.pay_active.d.next = false;
            self.abort.d.next = false;
            self.du_cnt.d.next = 0.into();
            self.bq_cnt.d.next = 0.into();
            self.rd_out.d.next = 0.into();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tick(uut: &mut NvmeMover) {
        uut.clock.next = true.into();
        assert!(simulate(uut, 200), "did not settle");
        uut.clock.next = false.into();
        assert!(simulate(uut, 200), "did not settle");
    }

    /// A HOST_WRITE (no XTS) in RustHDL's own simulator: 48 bytes at a
    /// PRP1 with a page offset become one host write of 48 bytes with
    /// three beats, `wd_last` on the third; then a PRP1 that is not
    /// 16-byte aligned ends with status 2 and no request (docs/CARD.md).
    /// The Verilator tests (sim/tests/nvme_mover.rs) cover the rest.
    #[test]
    fn nvme_mover_host_write_block_level() {
        let mut uut = NvmeMover::new(Config::Compact);
        uut.connect_all();
        uut.reset.next = true;
        tick(&mut uut);
        uut.reset.next = false;
        uut.rq_ready.next = true;
        uut.wd_ready.next = true;
        uut.mv_valid.next = true;
        uut.mv_func.next = bits::<5>(7);
        uut.mv_op.next = bits::<2>(3);
        uut.mv_prp1.next = bits::<64>(0x1234_5ff0 - 0x20);
        uut.mv_prp2.next = bits::<64>(0x9999_9003); // unused: must be ignored
        uut.mv_len.next = bits::<21>(48);
        uut.gd_valid.next = true;
        let mut beats = vec![];
        let mut headers = vec![];
        let mut done = None;
        let mut gd_sent = 0u64;
        for cycle in 0..40 {
            uut.gd_data.next = bits::<128>(0x1111 * (gd_sent + 1));
            assert!(simulate(&mut uut, 200));
            let accepted = uut.mv_ready.val() && uut.mv_valid.val();
            if uut.gd_ready.val() && uut.gd_valid.val() {
                gd_sent += 1;
            }
            if uut.rq_valid.val() {
                headers.push((
                    uut.rq_write.val(),
                    uut.rq_addr.val().to_u64(),
                    uut.rq_len.val().to_u64(),
                    uut.rq_func.val().to_u64(),
                ));
            }
            if uut.wd_valid.val() {
                beats.push((uut.wd_data.val(), uut.wd_last.val()));
            }
            if uut.md_valid.val() {
                done = Some((cycle, uut.md_status.val().to_u64()));
                break;
            }
            tick(&mut uut);
            if accepted {
                uut.mv_valid.next = false;
            }
            if gd_sent == 3 {
                uut.gd_valid.next = false;
            }
        }
        assert_eq!(headers, vec![(true, 0x1234_5fd0, 48, 7)]);
        assert_eq!(beats.len(), 3);
        for (i, (d, last)) in beats.iter().enumerate() {
            assert_eq!(*d, bits::<128>(0x1111 * (i as u64 + 1)));
            assert_eq!(*last, i == 2);
        }
        assert_eq!(done.expect("no md_valid").1, 0);
        // Misaligned PRP1: status 2, nothing requested; the gd beat drained.
        tick(&mut uut);
        uut.mv_valid.next = true;
        uut.mv_prp1.next = bits::<64>(0x1234_5008);
        uut.mv_len.next = bits::<21>(16);
        uut.gd_valid.next = true;
        let mut status = None;
        for _ in 0..20 {
            assert!(simulate(&mut uut, 200));
            assert!(!uut.rq_valid.val() && !uut.wd_valid.val());
            let accepted = uut.mv_ready.val() && uut.mv_valid.val();
            if uut.md_valid.val() {
                status = Some(uut.md_status.val().to_u64());
                break;
            }
            let took = uut.gd_ready.val();
            tick(&mut uut);
            if accepted {
                uut.mv_valid.next = false;
            }
            if took {
                uut.gd_valid.next = false;
            }
        }
        assert_eq!(status, Some(2));
    }

    fn synth(cfg: Config) {
        let mut uut = NvmeMover::new(cfg);
        uut.connect_all();
        let r = crate::synth::check_synthesizable(
            &format!("nvme_mover_{cfg}"),
            &generate_verilog(&uut),
        )
        .unwrap();
        println!("nvme_mover {cfg}: {} cells", r.cells);
    }

    #[test]
    fn nvme_mover_is_synthesizable() {
        synth(Config::Compact);
    }

    /// The full config repeats the pipelined XTS engine (about a minute of
    /// yosys).
    #[test]
    fn nvme_mover_full_is_synthesizable() {
        synth(Config::Full);
    }
}
