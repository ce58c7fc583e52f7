//! NVMe 1.4 controller front-end shared by all VFs of the card: controller
//! registers (NVMe 1.4 §3.1), admin and I/O queues (§4.1, §4.6, §7.2),
//! command fetch, admin commands (§5) and the validation of I/O commands
//! (§6), completion posting and interrupt requests. The data path (PRP
//! walking, host DMA of data, XTS, backend) is `nvme/mover`; this block
//! hands it commands on `mv_*` (docs/CARD.md "Data mover command") and
//! keeps it busy: while the mover runs one I/O command the next is fetched,
//! validated and offered, and the previous one's completion is posted.
//!
//! # Structure
//! Per-function state lives in tables indexed by function (and queue):
//! - `ctrl` RAM (32 x 256 bits, index = function): CC, AQA, ASQ, ACQ,
//!   INTMS, the Arbitration / Interrupt Coalescing / Volatile Write Cache
//!   feature values and the count of held Asynchronous Event Requests.
//! - `sqr` RAM (512 x 80, index = function * 16 + qid): SQ base, size, head,
//!   tail, CQ id. `cqr` RAM (512 x 84): CQ base, size, tail, head, phase,
//!   IEN, IV.
//! - flop bit vectors: SQ / CQ exists (`sqv`, `cqv`), SQ has entries
//!   (`pend`), CSTS.RDY (`rdy`), pending function resets (`flr_pend`).
//!   These make function reset and controller reset one clock each and let
//!   the arbiter see every queue.
//! - pin-based interrupt state (NVMe 1.4 §7.5.1, "Pin Based, Single MSI,
//!   and Multiple MSI Behavior"): `cqpend` (per CQ: IEN = 1 and entries
//!   posted that the CQ head doorbell has not caught up with), `imsk` (a
//!   copy of every function's INTMS) and `ivt` (every CQ's IV, flops). A
//!   vector's internal IS bit is the OR of `cqpend` over the CQs mapped to
//!   it; the function's `intx_level` bit is the OR of the IS bits whose
//!   INTMS bit is clear. A CQ becomes pending when its CQE write has been
//!   handed to the DMA port (the same point as the MSI-X request, so the
//!   level never rises before the entry is on its way) and stops being
//!   pending when a CQ head doorbell write makes head equal to the
//!   controller's tail; a doorbell that consumes the entry still in flight
//!   cancels that (`pc_clr`). Function reset, controller reset (CC.EN 1->0,
//!   which also clears INTMS, §7.3.2) and Delete I/O CQ clear it. The level
//!   is registered and refreshed one function per clock (round robin), so
//!   a change reaches `intx_level` within num_vfs + 1 clocks. Whether INTx
//!   is used at all (MSI-X disabled, Interrupt Disable clear) is decided by
//!   the card top and the hard IP.
//!
//! One engine state machine owns every table port. Its phases are separate
//! state groups: fetch issue (`FetRd`, `FetReq`), execute (`ExecPre..DelScan*`,
//! `MvWait`), complete (`PostRd..PostWait`); the DMA requester, the two SQE
//! fetch slots, the mover command, the `gd_*` data stream, the
//! read-completion collector and the interrupt request are independent
//! handshake registers.
//!
//! # Command pipeline
//! SQE fetches do not wait for each other: `FetReq` issues the 64-byte read
//! into one of two **fetch slots** (F0, F1, used in turn; the slot records
//! the queue, its CQ and the SQHD) and the engine returns to `Idle` at
//! once, where it can issue the next fetch (the next queue in the round
//! robin) while the first read is outstanding. The completions arrive in
//! request order (docs/CARD.md) and fill the slots in turn; `Idle`
//! dispatches the oldest complete slot into `ExecPre` (it becomes the
//! current command: `cur_*`, `sqe`). `Idle` prefers, in this order: jobs,
//! posting D, issuing a fetch (a slot is free), dispatching. With a host
//! read latency of ~64 clocks one fetch at a time took ~75 clocks per
//! command, longer than the mover needs for a 512-byte READ (~51); two in
//! flight halve that.
//! A valid Read / Write / Write Zeroes (the mover branch of `Exec`) does not
//! wait for the mover: `Exec` puts it in **P** (the `mv_*` registers plus
//! its CQE context: queue, CQ, SQHD, CID) and the engine goes back to
//! `Idle`. P moves to **A** when the mover accepts it, A to **D** on
//! `md_valid` (with the mover's status), and the engine posts D's CQE (and
//! MSI-X request) from `Idle` or `ExecPre` (`pm` selects D as the posting
//! context, `pret` is the state to return to). So up to six I/O commands
//! are in the front at once (D, A, P, the current one waiting in `ExecPre`
//! for P, and two fetch slots), and the mover gets its next command the
//! clock after it finishes one.
//! Fetching two entries ahead does not change the arbitration (§4.11): the
//! queues are still visited in round robin, one entry per visit (an
//! Arbitration Burst of 1), and commands are dispatched in fetch order. An
//! entry is consumed (SQ head, SQHD) when its fetch is issued, as before.
//! Admin commands run alone: an admin SQ entry is fetched only while both
//! slots are free and nothing is fetched while a slot holds one.
//! Everything else (admin commands, I/O commands that complete with an
//! error or without the mover, such as Flush) waits in `ExecPre` until the
//! pipeline is empty and then runs as before, so completions are posted in
//! fetch order and admin commands (queue deletion, Identify's HOST_WRITE)
//! never overlap an I/O command.
//! Register accesses and function resets are "jobs": `rb_*` strobes enter a
//! 16-entry FIFO, and the engine serves jobs in `Idle` and in every waiting
//! state (it returns to the state it left), so a register read is answered
//! within ~8 clocks even while a command waits for the mover or for room in
//! a full CQ.
//!
//! # Choices
//! - A SQ whose CQ is full is skipped at fetch time (flop vector `cqfull`),
//!   so a guest that stops consuming completions stalls only its own queues.
//!   A CQ with fewer than 5 free slots (`cqlow`) is not fetched for while a
//!   command of the pipeline (D, A, P or a fetch slot) completes on it, so
//!   every command in flight has a CQ slot when it is posted (at a fetch at
//!   most D, A, P, the other slot and the new entry: 5; pipelined posts
//!   never wait for room).
//! - A function with a reset pending (FLR strobe, VF Enable clear) or a
//!   controller reset (CC.EN 1 -> 0) issues no further fetch, CQE or
//!   interrupt: its command in P is withdrawn (`mv_valid` drops at once, the
//!   mover never sees it), its commands in A and D are dropped when the
//!   mover finishes (the mover itself aborts A's DMA on the FLR strobe).
//! - Arbitration: round robin over (function, SQ) in function-major order
//!   (§4.11 round robin); one idle clock per function without work while
//!   some queue has entries (none at all: the pointer stays put).
//! - A SQE fetch that completes with `rc_err` is completed with status
//!   Data Transfer Error (04h, DNR) and CID FFFFh on the queue's CQ (the
//!   entry was consumed: SQ head moves on). CSTS.CFS is never set.
//! - Identify CNS 03h returns one NGUID descriptor for NSID 1, the NGUID of
//!   Identify Namespace (`admin_data::nguid`, unique per function).
//! - Held Asynchronous Event Requests (up to AERL+1 = 4) never complete:
//!   the card reports no events; they are dropped by a controller reset
//!   (CC.EN 1->0) or a function reset (the admin SQ cannot be deleted).
//! - Doorbell writes beyond the queue size, or for a queue that does not
//!   exist, are ignored (§4.1 "Invalid Doorbell Write" events are not
//!   reported).
//! - CC.EN 0->1 sets CSTS.RDY only when the function is provisioned
//!   (`prov_enabled`) and AQA.ASQS / ACQS are 1..=MQES; otherwise RDY stays
//!   0 (the host times out after CAP.TO).
//! - The register bus has no back-pressure: more than 16 queued accesses
//!   while the engine is busy would overwrite the FIFO (the router sends one
//!   read at a time; host MMIO writes are far slower than the drain rate).

use crate::nvme::admin_data::AdminData;
use nitrous_regmap::nvme::{IO_QUEUES, MSIX_VECTORS};
use rust_hdl::prelude::*;

/// Status codes as `SCT << 8 | SC` (NVMe 1.4 §4.6.1.2).
pub mod status {
    pub const SUCCESS: u16 = 0x000;
    pub const INVALID_OPCODE: u16 = 0x001;
    pub const INVALID_FIELD: u16 = 0x002;
    pub const DATA_TRANSFER_ERROR: u16 = 0x004;
    pub const INTERNAL_ERROR: u16 = 0x006;
    pub const INVALID_NAMESPACE: u16 = 0x00b;
    pub const PRP_OFFSET_INVALID: u16 = 0x013;
    pub const LBA_OUT_OF_RANGE: u16 = 0x080;
    pub const CQ_INVALID: u16 = 0x100;
    pub const INVALID_QID: u16 = 0x101;
    pub const INVALID_QSIZE: u16 = 0x102;
    pub const AER_LIMIT: u16 = 0x105;
    pub const INVALID_VECTOR: u16 = 0x108;
    pub const INVALID_LOG_PAGE: u16 = 0x109;
    pub const INVALID_QUEUE_DELETION: u16 = 0x10c;
    pub const FEATURE_NOT_SAVEABLE: u16 = 0x10d;
}

/// Mover operations (docs/CARD.md).
pub const MV_READ: u8 = 0;
pub const MV_WRITE: u8 = 1;
pub const MV_ZEROES: u8 = 2;
pub const MV_HOST_WRITE: u8 = 3;

#[derive(Copy, Clone, PartialEq, Eq, Debug, LogicState)]
enum St {
    Idle,
    Job,
    RegFifo,
    RegRd,
    RegDo,
    FetRd,
    FetReq,
    ExecPre,
    Exec,
    DelScanRd,
    DelScanChk,
    MvWait,
    PostRd,
    PostChk,
    PostWait,
}

/// The NVMe controller front-end of all VFs (ports: docs/CARD.md).
#[derive(LogicBlock)]
pub struct NvmeFront {
    /// Clock.
    pub clock: Signal<In, Clock>,
    /// Synchronous reset, active high: then every function is reset in turn
    /// (2 clocks per function; register reads wait behind these jobs).
    pub reset: Signal<In, Bit>,
    /// Bit f: function f exists; a falling bit resets function f.
    pub cfg_vf_enable: Signal<In, Bits<32>>,
    /// Function Level Reset strobe of `flr_func`.
    pub flr_valid: Signal<In, Bit>,
    pub flr_func: Signal<In, Bits<5>>,

    /// Register bus (router -> front): one-cycle access strobe.
    pub rb_valid: Signal<In, Bit>,
    pub rb_func: Signal<In, Bits<5>>,
    pub rb_addr: Signal<In, Bits<16>>,
    pub rb_write: Signal<In, Bit>,
    pub rb_wdata: Signal<In, Bits<32>>,
    /// One-cycle strobe answering a read.
    pub rb_rvalid: Signal<Out, Bit>,
    pub rb_rdata: Signal<Out, Bits<32>>,

    /// DMA requester (tags 0x00..0x7F): SQE fetch (64-byte read), CQE post
    /// (16-byte write).
    pub rq_valid: Signal<Out, Bit>,
    pub rq_ready: Signal<In, Bit>,
    pub rq_func: Signal<Out, Bits<5>>,
    pub rq_write: Signal<Out, Bit>,
    pub rq_addr: Signal<Out, Bits<64>>,
    pub rq_len: Signal<Out, Bits<13>>,
    pub rq_tag: Signal<Out, Bits<8>>,
    pub wd_valid: Signal<Out, Bit>,
    pub wd_ready: Signal<In, Bit>,
    pub wd_data: Signal<Out, Bits<128>>,
    pub wd_last: Signal<Out, Bit>,
    pub rc_valid: Signal<In, Bit>,
    pub rc_ready: Signal<Out, Bit>,
    pub rc_tag: Signal<In, Bits<8>>,
    pub rc_data: Signal<In, Bits<128>>,
    pub rc_last: Signal<In, Bit>,
    pub rc_err: Signal<In, Bit>,

    /// Mover command (front -> mover).
    pub mv_valid: Signal<Out, Bit>,
    pub mv_ready: Signal<In, Bit>,
    pub mv_func: Signal<Out, Bits<5>>,
    pub mv_op: Signal<Out, Bits<2>>,
    pub mv_prp1: Signal<Out, Bits<64>>,
    pub mv_prp2: Signal<Out, Bits<64>>,
    pub mv_len: Signal<Out, Bits<21>>,
    pub mv_slba: Signal<Out, Bits<64>>,
    pub mv_lba_shift: Signal<Out, Bits<4>>,
    pub mv_base: Signal<Out, Bits<64>>,
    pub mv_slot: Signal<Out, Bits<4>>,
    /// Admin data for HOST_WRITE: ceil(mv_len / 16) beats.
    pub gd_valid: Signal<Out, Bit>,
    pub gd_ready: Signal<In, Bit>,
    pub gd_data: Signal<Out, Bits<128>>,
    /// Mover done strobe and status (0 ok, 1 DMA fault, 2 PRP offset, 3 internal).
    pub md_valid: Signal<In, Bit>,
    pub md_status: Signal<In, Bits<2>>,

    /// Provisioning lookup (combinational in the control block).
    pub prov_func: Signal<Out, Bits<5>>,
    pub prov_enabled: Signal<In, Bit>,
    pub prov_blocks: Signal<In, Bits<64>>,
    pub prov_lba_shift: Signal<In, Bits<4>>,
    pub prov_base: Signal<In, Bits<64>>,
    pub prov_slot: Signal<In, Bits<4>>,

    /// Counter strobes: one per posted completion.
    pub cnt_served: Signal<Out, Bit>,
    pub cnt_rejected: Signal<Out, Bit>,
    pub cnt_func: Signal<Out, Bits<5>>,

    /// Interrupt request: one per posted CQE whose CQ has IEN = 1.
    pub irq_valid: Signal<Out, Bit>,
    pub irq_ready: Signal<In, Bit>,
    pub irq_func: Signal<Out, Bits<5>>,
    pub irq_vector: Signal<Out, Bits<5>>,

    /// Pin-based interrupt level (NVMe 1.4 §7.5.1): bit f = function f has
    /// an unmasked interrupt vector with its IS bit set. Registered and
    /// refreshed round robin, one function per clock: a change shows within
    /// num_vfs + 1 clocks.
    pub intx_level: Signal<Out, Bits<32>>,

    // ---- constants ----
    cap_lo: Constant<Bits<32>>,
    cap_hi: Constant<Bits<32>>,
    vs: Constant<Bits<32>>,
    max_func: Constant<Bits<5>>,
    mqes: Constant<Bits<16>>,
    max_bytes: Constant<Bits<30>>,
    one512: Constant<Bits<512>>,
    ffff512: Constant<Bits<512>>,
    ones16: Constant<Bits<16>>,
    ones32: Constant<Bits<32>>,
    all_funcs: Constant<Bits<32>>,
    nsid_fe: Constant<Bits<32>>,
    last_q4: Constant<Bits<4>>,
    last_q16: Constant<Bits<16>>,
    last_vector: Constant<Bits<16>>,
    aerl: Constant<Bits<3>>,

    // ---- tables ----
    ctrl: RAM<Bits<256>, 5>,
    sqr: RAM<Bits<80>, 9>,
    cqr: RAM<Bits<84>, 9>,
    rbq: RAM<Bits<54>, 4>,
    ad: [AdminData; 4],

    // ---- decoded table words (locals) ----
    c_cc: Signal<Local, Bits<32>>,
    c_aqa: Signal<Local, Bits<32>>,
    c_asq: Signal<Local, Bits<52>>,
    c_acq: Signal<Local, Bits<52>>,
    c_intms: Signal<Local, Bits<16>>,
    c_arb: Signal<Local, Bits<32>>,
    c_ic: Signal<Local, Bits<16>>,
    c_vwc: Signal<Local, Bits<1>>,
    c_aer: Signal<Local, Bits<3>>,
    n_cc: Signal<Local, Bits<32>>,
    n_aqa: Signal<Local, Bits<32>>,
    n_asq: Signal<Local, Bits<52>>,
    n_acq: Signal<Local, Bits<52>>,
    n_intms: Signal<Local, Bits<16>>,
    n_arb: Signal<Local, Bits<32>>,
    n_ic: Signal<Local, Bits<16>>,
    n_vwc: Signal<Local, Bits<1>>,
    n_aer: Signal<Local, Bits<3>>,
    s_base: Signal<Local, Bits<52>>,
    s_size: Signal<Local, Bits<8>>,
    s_head: Signal<Local, Bits<8>>,
    s_tail: Signal<Local, Bits<8>>,
    s_cqid: Signal<Local, Bits<4>>,
    s_nhead: Signal<Local, Bits<8>>,
    n_s_base: Signal<Local, Bits<52>>,
    n_s_size: Signal<Local, Bits<8>>,
    n_s_head: Signal<Local, Bits<8>>,
    n_s_tail: Signal<Local, Bits<8>>,
    n_s_cqid: Signal<Local, Bits<4>>,
    q_base: Signal<Local, Bits<52>>,
    q_size: Signal<Local, Bits<8>>,
    q_tail: Signal<Local, Bits<8>>,
    q_head: Signal<Local, Bits<8>>,
    q_phase: Signal<Local, Bits<1>>,
    q_ien: Signal<Local, Bits<1>>,
    q_iv: Signal<Local, Bits<4>>,
    q_ntail: Signal<Local, Bits<8>>,
    q_nntail: Signal<Local, Bits<8>>,
    fq_idx: Signal<Local, Bits<9>>,
    n_q_base: Signal<Local, Bits<52>>,
    n_q_size: Signal<Local, Bits<8>>,
    n_q_tail: Signal<Local, Bits<8>>,
    n_q_head: Signal<Local, Bits<8>>,
    n_q_phase: Signal<Local, Bits<1>>,
    n_q_ien: Signal<Local, Bits<1>>,
    n_q_iv: Signal<Local, Bits<4>>,

    // ---- register bus FIFO entry and decode ----
    fe_f: Signal<Local, Bits<5>>,
    fe_a: Signal<Local, Bits<16>>,
    db_hit: Signal<Local, Bit>,
    rb_idx: Signal<Local, Bits<9>>,
    rb_ven: Signal<Local, Bit>,
    rb_fidx: Signal<Local, Bits<9>>,
    rdata_mux: Signal<Local, Bits<32>>,
    wd7: Signal<Local, Bits<8>>,

    // ---- SQE fields ----
    e_opc: Signal<Local, Bits<8>>,
    e_cid: Signal<Local, Bits<16>>,
    e_nsid: Signal<Local, Bits<32>>,
    e_prp1: Signal<Local, Bits<64>>,
    e_prp2: Signal<Local, Bits<64>>,
    e_d10: Signal<Local, Bits<32>>,
    e_d11: Signal<Local, Bits<32>>,
    e_d12: Signal<Local, Bits<32>>,
    e_d13: Signal<Local, Bits<32>>,
    e_fusepsdt: Signal<Local, Bit>,
    e_qid: Signal<Local, Bits<16>>,
    e_qsize: Signal<Local, Bits<16>>,
    e_hi11: Signal<Local, Bits<16>>,
    e_qid_bad: Signal<Local, Bit>,
    e_hi11_bad: Signal<Local, Bit>,
    e_tidx: Signal<Local, Bits<9>>,
    e_cidx: Signal<Local, Bits<9>>,
    e_bytes: Signal<Local, Bits<30>>,
    e_lba_end: Signal<Local, Bits<65>>,
    e_numd: Signal<Local, Bits<32>>,
    e_log_len: Signal<Local, Bits<21>>,
    e_log_off_bad: Signal<Local, Bit>,
    e_gd_beats: Signal<Local, Bits<21>>,

    // ---- arbitration ----
    cur_idx: Signal<Local, Bits<9>>,
    scan_idx: Signal<Local, Bits<9>>,
    del_idx: Signal<Local, Bits<9>>,
    post_idx: Signal<Local, Bits<9>>,
    s_fidx: Signal<Local, Bits<9>>,
    s_ok: Signal<Local, Bit>,
    s_cand: Signal<Local, Bits<16>>,
    s_pick: Signal<Local, Bits<4>>,
    s_pick1: Signal<Local, Bits<4>>,
    s_nextf: Signal<Local, Bits<5>>,
    jobs: Signal<Local, Bit>,
    cur_dead: Signal<Local, Bit>,
    job_flr: Signal<Local, Bit>,
    job_reg: Signal<Local, Bit>,
    flr_set: Signal<Local, Bits<32>>,
    flr_clr: Signal<Local, Bits<32>>,
    flr_fidx: Signal<Local, Bits<9>>,
    gd_dw: Signal<Local, Bits<12>>,

    // ---- command pipeline (P -> A -> D), posting context ----
    mv_gate: Signal<Local, Bit>,
    a_to_d: Signal<Local, Bit>,
    mv_take: Signal<Local, Bit>,
    p_deadc: Signal<Local, Bit>,
    a_deadc: Signal<Local, Bit>,
    d_deadc: Signal<Local, Bit>,
    drained: Signal<Local, Bit>,
    io_mv: Signal<Local, Bit>,
    same_cq: Signal<Local, Bit>,
    po_f: Signal<Local, Bits<5>>,
    po_q: Signal<Local, Bits<4>>,
    po_cqid: Signal<Local, Bits<4>>,
    po_sqhd: Signal<Local, Bits<8>>,
    po_cid: Signal<Local, Bits<16>>,
    po_stat: Signal<Local, Bits<11>>,
    po_dw0: Signal<Local, Bits<32>>,
    po_dead: Signal<Local, Bit>,
    d_stat: Signal<Local, Bits<11>>,
    free_post: Signal<Local, Bits<9>>,
    free_db: Signal<Local, Bits<9>>,
    kill: Signal<Local, Bits<32>>,

    // ---- state ----
    state: DFF<St>,
    ret: DFF<St>,
    sqv: DFF<Bits<512>>,
    cqv: DFF<Bits<512>>,
    pend: DFF<Bits<512>>,
    /// CQ has no free slot (tail + 1 == head): its SQs are not fetched.
    cqfull: DFF<Bits<512>>,
    rdy: DFF<Bits<32>>,
    flr_pend: DFF<Bits<32>>,
    flr_ptr: DFF<Bits<5>>,
    ven_prev: DFF<Bits<32>>,
    wr_ptr: DFF<Bits<5>>,
    rd_ptr: DFF<Bits<5>>,
    rb_f: DFF<Bits<5>>,
    rb_a: DFF<Bits<16>>,
    rb_w: DFF<Bit>,
    rb_d: DFF<Bits<32>>,
    rvalid: DFF<Bit>,
    rdata: DFF<Bits<32>>,
    sf: DFF<Bits<5>>,
    sq: DFF<Bits<4>>,
    cur_f: DFF<Bits<5>>,
    cur_q: DFF<Bits<4>>,
    cur_cqid: DFF<Bits<4>>,
    cur_sqhd: DFF<Bits<8>>,
    cur_cid: DFF<Bits<16>>,
    cur_ien: DFF<Bit>,
    cur_iv: DFF<Bits<4>>,
    dead: DFF<Bit>,
    sqe: DFF<Bits<512>>,
    rd_err: DFF<Bit>,
    stat: DFF<Bits<11>>,
    dw0: DFF<Bits<32>>,
    pblocks: DFF<Bits<64>>,
    pshift: DFF<Bits<4>>,
    pbase: DFF<Bits<64>>,
    pslot: DFF<Bits<4>>,
    scan_q: DFF<Bits<4>>,
    del_q: DFF<Bits<4>>,
    rq_v: DFF<Bit>,
    rq_w: DFF<Bit>,
    rq_a: DFF<Bits<64>>,
    rq_l: DFF<Bits<13>>,
    rq_fn: DFF<Bits<5>>,
    wd_v: DFF<Bit>,
    wd_d: DFF<Bits<128>>,
    mv_v: DFF<Bit>,
    mv_f: DFF<Bits<5>>,
    mv_o: DFF<Bits<2>>,
    mv_p1: DFF<Bits<64>>,
    mv_p2: DFF<Bits<64>>,
    mv_l: DFF<Bits<21>>,
    mv_s: DFF<Bits<64>>,
    md_done: DFF<Bit>,
    md_st: DFF<Bits<2>>,
    gd_left: DFF<Bits<9>>,
    gd_idx: DFF<Bits<8>>,
    gd_kind: DFF<Bits<3>>,
    gd_base: DFF<Bits<12>>,
    irq_v: DFF<Bit>,
    irq_f: DFF<Bits<5>>,
    irq_vec: DFF<Bits<5>>,
    cnt_s: DFF<Bit>,
    cnt_r: DFF<Bit>,
    cnt_f: DFF<Bits<5>>,

    // ---- pin-based interrupts (§7.5.1) ----
    /// CQ (index function * 16 + qid) has IEN = 1 and entries the host has
    /// not consumed: the controller's tail is ahead of the CQ head doorbell.
    cqpend: DFF<Bits<512>>,
    /// INTMS of every function (index function * 16 + vector).
    imsk: DFF<Bits<512>>,
    /// IV of each CQ of function f: qid q at bits 4q+3..4q.
    ivt: [DFF<Bits<36>>; 32],
    /// The CQ being posted was fully consumed while its CQE write was in
    /// flight: do not mark it pending when the write completes.
    pc_clr: DFF<Bit>,
    /// Function whose level is refreshed this clock.
    ix_ptr: DFF<Bits<5>>,
    ilvl: DFF<Bits<32>>,
    ix_fidx: Signal<Local, Bits<9>>,
    ix_pend: Signal<Local, Bits<16>>,
    ix_msk: Signal<Local, Bits<16>>,
    ix_iv: Signal<Local, Bits<36>>,
    ix_on: Signal<Local, Bit>,
    /// IV table write port: function, qid, vector, enable.
    ivw_f: Signal<Local, Bits<5>>,
    ivw_q: Signal<Local, Bits<4>>,
    ivw_v: Signal<Local, Bits<4>>,
    ivw_en: Signal<Local, Bit>,
    ivw_sh: Signal<Local, Bits<6>>,
    /// CQ has fewer than 5 free slots: not fetched for while a command of
    /// the pipeline targets it (every command in flight has a slot).
    cqlow: DFF<Bits<512>>,
    /// P: an I/O command offered to the mover (`mv_*`), not yet accepted.
    p_v: DFF<Bit>,
    p_q: DFF<Bits<4>>,
    p_cqid: DFF<Bits<4>>,
    p_sqhd: DFF<Bits<8>>,
    p_cid: DFF<Bits<16>>,
    p_dead: DFF<Bit>,
    /// A: the I/O command at the mover.
    a_v: DFF<Bit>,
    a_f: DFF<Bits<5>>,
    a_q: DFF<Bits<4>>,
    a_cqid: DFF<Bits<4>>,
    a_sqhd: DFF<Bits<8>>,
    a_cid: DFF<Bits<16>>,
    a_dead: DFF<Bit>,
    /// D: an I/O command the mover finished, its CQE not yet posted.
    d_v: DFF<Bit>,
    d_f: DFF<Bits<5>>,
    d_q: DFF<Bits<4>>,
    d_cqid: DFF<Bits<4>>,
    d_sqhd: DFF<Bits<8>>,
    d_cid: DFF<Bits<16>>,
    d_dead: DFF<Bit>,
    d_st: DFF<Bits<2>>,
    /// Posting D (else the current command); `pret`: state to return to.
    pm: DFF<Bit>,
    pret: DFF<St>,
    /// SQE fetch slots 0 and 1, used in turn: `fw` is the next to issue,
    /// `fr` the next to dispatch to `Exec`, `fc` the next to complete
    /// (reads complete in request order, docs/CARD.md). Per slot: issued
    /// and not dispatched (`v`), all 4 beats in (`done`), read error,
    /// function dropped (`dead`), the queue, its CQ, the SQ head after the
    /// entry (SQHD, §4.6) and the entry.
    fw: DFF<Bit>,
    fr: DFF<Bit>,
    fc: DFF<Bit>,
    f0_v: DFF<Bit>,
    f0_done: DFF<Bit>,
    f0_err: DFF<Bit>,
    f0_dead: DFF<Bit>,
    f0_f: DFF<Bits<5>>,
    f0_q: DFF<Bits<4>>,
    f0_cqid: DFF<Bits<4>>,
    f0_sqhd: DFF<Bits<8>>,
    f0_sqe: DFF<Bits<512>>,
    f1_v: DFF<Bit>,
    f1_done: DFF<Bit>,
    f1_err: DFF<Bit>,
    f1_dead: DFF<Bit>,
    f1_f: DFF<Bits<5>>,
    f1_q: DFF<Bits<4>>,
    f1_cqid: DFF<Bits<4>>,
    f1_sqhd: DFF<Bits<8>>,
    f1_sqe: DFF<Bits<512>>,
    /// Tag of the pending request (the fetch slot; 0 for CQE writes).
    rq_t: DFF<Bit>,
    /// The slot `fw` is free, no slot holds an admin fetch, and an admin
    /// fetch would be alone: a fetch may be issued.
    fetch_ok: Signal<Local, Bit>,
    /// The slot `fr` (oldest) has its entry: it may be dispatched.
    fr_ready: Signal<Local, Bit>,
}

macro_rules! defaults {
    ($t:ident { $($f:ident),* $(,)? } $($rest:tt)*) => {
        $t { $($f: Default::default(),)* $($rest)* }
    };
}

impl NvmeFront {
    /// A front-end serving VFs 1..=`num_vfs`.
    pub fn new(num_vfs: usize) -> Self {
        assert!(
            (1..=nitrous_regmap::card::MAX_VFS).contains(&num_vfs),
            "num_vfs must be 1..=31"
        );
        // The queue picker and the 16-slot queue tables are laid out for 8 I/O
        // queues per function (qid 0..=8 in 4 bits).
        assert_eq!(IO_QUEUES, 8, "queue picker is written for 8 I/O queues");
        let cap = nitrous_regmap::nvme::cap_value();
        let mdts_bytes = 4096u64 << nitrous_regmap::nvme::MDTS;
        defaults!(NvmeFront {
            clock, reset, cfg_vf_enable, flr_valid, flr_func, rb_valid, rb_func, rb_addr,
            rb_write, rb_wdata, rb_rvalid, rb_rdata, rq_valid, rq_ready, rq_func, rq_write,
            rq_addr, rq_len, rq_tag, wd_valid, wd_ready, wd_data, wd_last, rc_valid, rc_ready,
            rc_tag, rc_data, rc_last, rc_err, mv_valid, mv_ready, mv_func, mv_op, mv_prp1,
            mv_prp2, mv_len, mv_slba, mv_lba_shift, mv_base, mv_slot, gd_valid, gd_ready,
            gd_data, md_valid, md_status, prov_func, prov_enabled, prov_blocks, prov_lba_shift,
            prov_base, prov_slot, cnt_served, cnt_rejected, cnt_func, irq_valid, irq_ready,
            irq_func, irq_vector, intx_level,
            ctrl, sqr, cqr, rbq, ad,
            c_cc, c_aqa, c_asq, c_acq, c_intms, c_arb, c_ic, c_vwc, c_aer, n_cc, n_aqa, n_asq,
            n_acq, n_intms, n_arb, n_ic, n_vwc, n_aer, s_base, s_size, s_head, s_tail, s_cqid,
            s_nhead, n_s_base, n_s_size, n_s_head, n_s_tail, n_s_cqid, q_base, q_size, q_tail,
            q_head, q_phase, q_ien, q_iv, q_ntail, q_nntail, fq_idx, n_q_base, n_q_size, n_q_tail, n_q_head,
            n_q_phase, n_q_ien, n_q_iv, fe_f, fe_a, db_hit, rb_idx, rb_ven, rb_fidx, rdata_mux,
            wd7, e_opc, e_cid, e_nsid, e_prp1, e_prp2, e_d10, e_d11, e_d12, e_d13, e_fusepsdt,
            e_qid, e_qsize, e_hi11, e_qid_bad, e_hi11_bad, e_tidx, e_cidx, e_bytes, e_lba_end,
            e_numd, e_log_len, e_log_off_bad, e_gd_beats, cur_idx, scan_idx, del_idx, post_idx, s_fidx, s_ok, s_cand,
            s_pick, s_pick1, s_nextf, jobs, cur_dead, job_flr, job_reg, flr_set, flr_clr, flr_fidx, gd_dw,
            mv_gate, a_to_d, mv_take, p_deadc, a_deadc, d_deadc, drained, io_mv, same_cq, po_f, po_q,
            po_cqid, po_sqhd, po_cid, po_stat, po_dw0, po_dead, d_stat, free_post, free_db, kill,
            state, ret, sqv, cqv, pend, cqfull, rdy, flr_pend, flr_ptr, ven_prev, wr_ptr, rd_ptr, rb_f,
            rb_a, rb_w, rb_d, rvalid, rdata, sf, sq, cur_f, cur_q, cur_cqid, cur_sqhd, cur_cid,
            cur_ien, cur_iv, dead, sqe, rd_err, stat, dw0, pblocks, pshift, pbase,
            pslot, scan_q, del_q, rq_v, rq_w, rq_a, rq_l, rq_fn, wd_v, wd_d, mv_v, mv_f, mv_o,
            mv_p1, mv_p2, mv_l, mv_s, md_done, md_st, gd_left, gd_idx, gd_kind, gd_base, irq_v,
            irq_f, irq_vec, cnt_s, cnt_r, cnt_f, cqpend, imsk, pc_clr, ix_ptr, ilvl, ix_fidx,
            ix_pend, ix_msk, ix_iv, ix_on, ivw_f, ivw_q, ivw_v, ivw_en, ivw_sh,
            cqlow, p_v, p_q, p_cqid, p_sqhd, p_cid, p_dead, a_v, a_f, a_q, a_cqid, a_sqhd, a_cid,
            a_dead, d_v, d_f, d_q, d_cqid, d_sqhd, d_cid, d_dead, d_st, pm, pret, fw, fr, fc,
            f0_v, f0_done, f0_err, f0_dead, f0_f, f0_q, f0_cqid, f0_sqhd, f0_sqe, f1_v, f1_done,
            f1_err, f1_dead, f1_f, f1_q, f1_cqid, f1_sqhd, f1_sqe, rq_t, fetch_ok, fr_ready,
        }
            ivt: std::array::from_fn(|_| Default::default()),
            cap_lo: Constant::new(bits::<32>(cap & 0xffff_ffff)),
            cap_hi: Constant::new(bits::<32>(cap >> 32)),
            vs: Constant::new(bits::<32>(nitrous_regmap::nvme::VERSION_1_4 as u64)),
            max_func: Constant::new(bits::<5>(num_vfs as u64)),
            mqes: Constant::new(bits::<16>(nitrous_regmap::nvme::MQES as u64)),
            max_bytes: Constant::new(bits::<30>(mdts_bytes)),
            one512: Constant::new(bits::<512>(1)),
            ffff512: Constant::new(bits::<512>(0xffff)),
            ones16: Constant::new(bits::<16>(0xffff)),
            ones32: Constant::new(bits::<32>(0xffff_ffff)),
            all_funcs: Constant::new(bits::<32>((1u64 << (num_vfs + 1)) - 1)),
            nsid_fe: Constant::new(bits::<32>(0xffff_fffe)),
            last_q4: Constant::new(bits::<4>(IO_QUEUES as u64)),
            last_q16: Constant::new(bits::<16>(IO_QUEUES as u64)),
            last_vector: Constant::new(bits::<16>(MSIX_VECTORS as u64 - 1)),
            aerl: Constant::new(bits::<3>(crate::nvme::admin_data::AERL as u64)),
        )
    }
}

impl Logic for NvmeFront {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self, clock, state, ret, sqv, cqv, pend, cqfull, rdy, flr_pend, flr_ptr, ven_prev,
            wr_ptr, rd_ptr, rb_f, rb_a, rb_w, rb_d, rvalid, rdata, sf, sq, cur_f, cur_q, cur_cqid,
            cur_sqhd, cur_cid, cur_ien, cur_iv, dead, sqe, rd_err, stat, dw0, pblocks, pshift,
            pbase, pslot, scan_q, del_q, rq_v, rq_w, rq_a, rq_l, rq_fn, wd_v, wd_d, mv_v, mv_f,
            mv_o, mv_p1, mv_p2, mv_l, mv_s, md_done, md_st, gd_left, gd_idx, gd_kind, gd_base,
            irq_v, irq_f, irq_vec, cnt_s, cnt_r, cnt_f, cqpend, imsk, pc_clr, ix_ptr, ilvl, cqlow,
            p_v, p_q, p_cqid, p_sqhd, p_cid, p_dead, a_v, a_f, a_q, a_cqid, a_sqhd, a_cid, a_dead,
            d_v, d_f, d_q, d_cqid, d_sqhd, d_cid, d_dead, d_st, pm, pret, fw, fr, fc, f0_v,
            f0_done, f0_err, f0_dead, f0_f, f0_q, f0_cqid, f0_sqhd, f0_sqe, f1_v, f1_done, f1_err,
            f1_dead, f1_f, f1_q, f1_cqid, f1_sqhd, f1_sqe, rq_t
        );
        self.ctrl.read_clock.next = self.clock.val();
        self.ctrl.write_clock.next = self.clock.val();
        self.sqr.read_clock.next = self.clock.val();
        self.sqr.write_clock.next = self.clock.val();
        self.cqr.read_clock.next = self.clock.val();
        self.cqr.write_clock.next = self.clock.val();
        self.rbq.read_clock.next = self.clock.val();
        self.rbq.write_clock.next = self.clock.val();

        // ---------------- outputs from registers ----------------
        self.rb_rvalid.next = self.rvalid.q.val();
        self.rb_rdata.next = self.rdata.q.val();
        self.rq_valid.next = self.rq_v.q.val();
        self.rq_func.next = self.rq_fn.q.val();
        self.rq_write.next = self.rq_w.q.val();
        self.rq_addr.next = self.rq_a.q.val();
        self.rq_len.next = self.rq_l.q.val();
        self.rq_tag.next = bit_cast::<8, 1>(self.rq_t.q.val().into());
        self.wd_valid.next = self.wd_v.q.val();
        self.wd_data.next = self.wd_d.q.val();
        self.wd_last.next = true;
        self.rc_ready.next = true;
        self.mv_func.next = self.mv_f.q.val();
        self.mv_op.next = self.mv_o.q.val();
        self.mv_prp1.next = self.mv_p1.q.val();
        self.mv_prp2.next = self.mv_p2.q.val();
        self.mv_len.next = self.mv_l.q.val();
        self.mv_slba.next = self.mv_s.q.val();
        self.mv_lba_shift.next = self.pshift.q.val();
        self.mv_base.next = self.pbase.q.val();
        self.mv_slot.next = self.pslot.q.val();
        self.cnt_served.next = self.cnt_s.q.val();
        self.cnt_rejected.next = self.cnt_r.q.val();
        self.cnt_func.next = self.cnt_f.q.val();
        self.irq_valid.next = self.irq_v.q.val();
        self.irq_func.next = self.irq_f.q.val();
        self.irq_vector.next = self.irq_vec.q.val();
        self.intx_level.next = self.ilvl.q.val();
        self.cnt_s.d.next = false;
        self.cnt_r.d.next = false;
        self.rvalid.d.next = false;

        // ---------------- admin data stream (gd_*) ----------------
        // Beat k of a HOST_WRITE carries dwords base + 4k .. base + 4k + 3.
        self.gd_dw.next = self.gd_base.q.val() + (bit_cast::<12, 8>(self.gd_idx.q.val()) << 2);
        for i in 0..4 {
            self.ad[i].kind.next = self.gd_kind.q.val();
            self.ad[i].func.next = self.mv_f.q.val();
            self.ad[i].blocks.next = self.pblocks.q.val();
            self.ad[i].lba_shift.next = self.pshift.q.val();
        }
        self.ad[0].dw.next = self.gd_dw.val();
        self.ad[1].dw.next = self.gd_dw.val() + 1;
        self.ad[2].dw.next = self.gd_dw.val() + 2;
        self.ad[3].dw.next = self.gd_dw.val() + 3;
        self.gd_data.next = bit_cast::<128, 32>(self.ad[0].data.val())
            | (bit_cast::<128, 32>(self.ad[1].data.val()) << 32)
            | (bit_cast::<128, 32>(self.ad[2].data.val()) << 64)
            | (bit_cast::<128, 32>(self.ad[3].data.val()) << 96);
        self.gd_valid.next = self.gd_left.q.val().any();
        if self.gd_left.q.val().any() & self.gd_ready.val() {
            self.gd_left.d.next = self.gd_left.q.val() - 1;
            self.gd_idx.d.next = self.gd_idx.q.val() + 1;
        }

        // ---------------- independent handshakes ----------------
        if self.rq_v.q.val() & self.rq_ready.val() {
            self.rq_v.d.next = false;
            if self.rq_w.q.val() {
                // Write payload after its header (docs/CARD.md).
                self.wd_v.d.next = true;
            }
        }
        if self.wd_v.q.val() & self.wd_ready.val() {
            self.wd_v.d.next = false;
        }
        // Read completions: only SQE fetches, in request order (docs/CARD.md),
        // so into slot `fc`; 4 beats shifted in.
        if self.rc_valid.val() {
            if self.fc.q.val() {
                self.f1_sqe.d.next = (self.f1_sqe.q.val() >> 128)
                    | (bit_cast::<512, 128>(self.rc_data.val()) << 384);
                if self.rc_err.val() {
                    self.f1_err.d.next = true;
                }
                if self.rc_last.val() {
                    self.f1_done.d.next = true;
                }
            } else {
                self.f0_sqe.d.next = (self.f0_sqe.q.val() >> 128)
                    | (bit_cast::<512, 128>(self.rc_data.val()) << 384);
                if self.rc_err.val() {
                    self.f0_err.d.next = true;
                }
                if self.rc_last.val() {
                    self.f0_done.d.next = true;
                }
            }
            if self.rc_last.val() {
                self.fc.d.next = !self.fc.q.val();
            }
        }
        if self.md_valid.val() {
            self.md_done.d.next = true;
            self.md_st.d.next = self.md_status.val();
        }
        if self.irq_v.q.val() & self.irq_ready.val() {
            self.irq_v.d.next = false;
        }

        // ---------------- register bus FIFO ----------------
        self.rbq.write_address.next = self.wr_ptr.q.val().get_bits::<4>(0);
        self.rbq.write_data.next = bit_cast::<54, 5>(self.rb_func.val())
            | (bit_cast::<54, 16>(self.rb_addr.val()) << 5)
            | (bit_cast::<54, 1>(self.rb_write.val().into()) << 21)
            | (bit_cast::<54, 32>(self.rb_wdata.val()) << 22);
        self.rbq.write_enable.next = self.rb_valid.val();
        if self.rb_valid.val() {
            self.wr_ptr.d.next = self.wr_ptr.q.val() + 1;
        }
        self.rbq.read_address.next = self.rd_ptr.q.val().get_bits::<4>(0);
        self.fe_f.next = self.rbq.read_data.val().get_bits::<5>(0);
        self.fe_a.next = self.rbq.read_data.val().get_bits::<16>(5);

        // ---------------- function resets (FLR, VF Enable clear) ----------------
        self.ven_prev.d.next = self.cfg_vf_enable.val();
        self.flr_set.next = self.ven_prev.q.val() & !self.cfg_vf_enable.val();
        if self.flr_valid.val() {
            self.flr_set.next = (self.ven_prev.q.val() & !self.cfg_vf_enable.val())
                | (bits::<32>(1) << self.flr_func.val());
        }
        self.flr_clr.next = bits::<32>(0);
        self.flr_fidx.next = bit_cast::<9, 5>(self.flr_ptr.q.val()) << 4;
        // The pointer parks on a pending function until the engine clears it.
        if !self.flr_pend.q.val().get_bit(self.flr_ptr.q.val().index()) {
            self.flr_ptr.d.next = self.flr_ptr.q.val() + 1;
        }
        self.job_flr.next = self.flr_pend.q.val().get_bit(self.flr_ptr.q.val().index());
        self.job_reg.next = self.wr_ptr.q.val() != self.rd_ptr.q.val();
        self.jobs.next = self.job_flr.val() | self.job_reg.val();
        // The current command's function is being reset (or was): it must not
        // post a completion or interrupt (a reset function issues no DMA).
        self.cur_dead.next = self.dead.q.val()
            | self.flr_pend.q.val().get_bit(self.cur_f.q.val().index())
            | self.flr_set.val().get_bit(self.cur_f.q.val().index());

        // ---------------- table words ----------------
        self.c_cc.next = self.ctrl.read_data.val().get_bits::<32>(0);
        self.c_aqa.next = self.ctrl.read_data.val().get_bits::<32>(32);
        self.c_asq.next = self.ctrl.read_data.val().get_bits::<52>(64);
        self.c_acq.next = self.ctrl.read_data.val().get_bits::<52>(116);
        self.c_intms.next = self.ctrl.read_data.val().get_bits::<16>(168);
        self.c_arb.next = self.ctrl.read_data.val().get_bits::<32>(184);
        self.c_ic.next = self.ctrl.read_data.val().get_bits::<16>(216);
        self.c_vwc.next = self.ctrl.read_data.val().get_bits::<1>(232);
        self.c_aer.next = self.ctrl.read_data.val().get_bits::<3>(233);
        self.n_cc.next = self.c_cc.val();
        self.n_aqa.next = self.c_aqa.val();
        self.n_asq.next = self.c_asq.val();
        self.n_acq.next = self.c_acq.val();
        self.n_intms.next = self.c_intms.val();
        self.n_arb.next = self.c_arb.val();
        self.n_ic.next = self.c_ic.val();
        self.n_vwc.next = self.c_vwc.val();
        self.n_aer.next = self.c_aer.val();

        self.s_base.next = self.sqr.read_data.val().get_bits::<52>(0);
        self.s_size.next = self.sqr.read_data.val().get_bits::<8>(52);
        self.s_head.next = self.sqr.read_data.val().get_bits::<8>(60);
        self.s_tail.next = self.sqr.read_data.val().get_bits::<8>(68);
        self.s_cqid.next = self.sqr.read_data.val().get_bits::<4>(76);
        // §4.1: the head wraps to 0 after the last entry.
        self.s_nhead.next = self.s_head.val() + 1;
        if self.s_head.val() == self.s_size.val() {
            self.s_nhead.next = bits::<8>(0);
        }
        self.n_s_base.next = self.s_base.val();
        self.n_s_size.next = self.s_size.val();
        self.n_s_head.next = self.s_head.val();
        self.n_s_tail.next = self.s_tail.val();
        self.n_s_cqid.next = self.s_cqid.val();

        self.q_base.next = self.cqr.read_data.val().get_bits::<52>(0);
        self.q_size.next = self.cqr.read_data.val().get_bits::<8>(52);
        self.q_tail.next = self.cqr.read_data.val().get_bits::<8>(60);
        self.q_head.next = self.cqr.read_data.val().get_bits::<8>(68);
        self.q_phase.next = self.cqr.read_data.val().get_bits::<1>(76);
        self.q_ien.next = self.cqr.read_data.val().get_bits::<1>(77);
        self.q_iv.next = self.cqr.read_data.val().get_bits::<4>(78);
        self.q_ntail.next = self.q_tail.val() + 1;
        if self.q_tail.val() == self.q_size.val() {
            self.q_ntail.next = bits::<8>(0);
        }
        self.q_nntail.next = self.q_ntail.val() + 1;
        if self.q_ntail.val() == self.q_size.val() {
            self.q_nntail.next = bits::<8>(0);
        }
        self.fq_idx.next =
            (bit_cast::<9, 5>(self.cur_f.q.val()) << 4) | bit_cast::<9, 4>(self.s_cqid.val());
        self.n_q_base.next = self.q_base.val();
        self.n_q_size.next = self.q_size.val();
        self.n_q_tail.next = self.q_tail.val();
        self.n_q_head.next = self.q_head.val();
        self.n_q_phase.next = self.q_phase.val();
        self.n_q_ien.next = self.q_ien.val();
        self.n_q_iv.next = self.q_iv.val();

        // ---------------- register access decode ----------------
        // Doorbells (§3.1.24, §3.1.25, CAP.DSTRD = 0): 0x1000 + 8y (+4 CQ), y <= 8.
        self.db_hit.next = (self.rb_a.q.val().get_bits::<4>(12) == 1)
            & (self.rb_a.q.val().get_bits::<5>(7) == 0)
            & (self.rb_a.q.val().get_bits::<4>(3) <= self.last_q4.val());
        self.rb_fidx.next = bit_cast::<9, 5>(self.rb_f.q.val()) << 4;
        self.rb_idx.next =
            self.rb_fidx.val() | bit_cast::<9, 4>(self.rb_a.q.val().get_bits::<4>(3));
        self.rb_ven.next = self.cfg_vf_enable.val().get_bit(self.rb_f.q.val().index());
        self.wd7.next = self.rb_d.q.val().get_bits::<8>(0);
        self.rdata_mux.next = bits::<32>(0);
        if self.rb_a.q.val() == 0x00 {
            self.rdata_mux.next = self.cap_lo.val();
        }
        if self.rb_a.q.val() == 0x04 {
            self.rdata_mux.next = self.cap_hi.val();
        }
        if self.rb_a.q.val() == 0x08 {
            self.rdata_mux.next = self.vs.val();
        }
        if (self.rb_a.q.val() == 0x0c) | (self.rb_a.q.val() == 0x10) {
            // §3.1.3 / §3.1.4: both read the current mask.
            self.rdata_mux.next = bit_cast::<32, 16>(self.c_intms.val());
        }
        if self.rb_a.q.val() == 0x14 {
            self.rdata_mux.next = self.c_cc.val();
        }
        if self.rb_a.q.val() == 0x1c {
            // §3.1.6: RDY bit 0, SHST bits 3:2 = 10b while CC.SHN != 0.
            self.rdata_mux.next =
                bit_cast::<32, 1>(self.rdy.q.val().get_bit(self.rb_f.q.val().index()).into());
            if self.c_cc.val().get_bits::<2>(14).any() {
                self.rdata_mux.next =
                    bit_cast::<32, 1>(self.rdy.q.val().get_bit(self.rb_f.q.val().index()).into())
                        | bits::<32>(0x8);
            }
        }
        if self.rb_a.q.val() == 0x24 {
            self.rdata_mux.next = self.c_aqa.val();
        }
        if self.rb_a.q.val() == 0x28 {
            self.rdata_mux.next = bit_cast::<32, 20>(self.c_asq.val().get_bits::<20>(0)) << 12;
        }
        if self.rb_a.q.val() == 0x2c {
            self.rdata_mux.next = self.c_asq.val().get_bits::<32>(20);
        }
        if self.rb_a.q.val() == 0x30 {
            self.rdata_mux.next = bit_cast::<32, 20>(self.c_acq.val().get_bits::<20>(0)) << 12;
        }
        if self.rb_a.q.val() == 0x34 {
            self.rdata_mux.next = self.c_acq.val().get_bits::<32>(20);
        }

        // ---------------- SQE decode (§4.2) ----------------
        self.e_opc.next = self.sqe.q.val().get_bits::<8>(0);
        self.e_cid.next = self.sqe.q.val().get_bits::<16>(16);
        self.e_nsid.next = self.sqe.q.val().get_bits::<32>(32);
        self.e_prp1.next = self.sqe.q.val().get_bits::<64>(192);
        self.e_prp2.next = self.sqe.q.val().get_bits::<64>(256);
        self.e_d10.next = self.sqe.q.val().get_bits::<32>(320);
        self.e_d11.next = self.sqe.q.val().get_bits::<32>(352);
        self.e_d12.next = self.sqe.q.val().get_bits::<32>(384);
        self.e_d13.next = self.sqe.q.val().get_bits::<32>(416);
        // FUSE (bits 9:8) and PSDT (bits 15:14): only 0 is supported.
        self.e_fusepsdt.next =
            self.sqe.q.val().get_bits::<2>(8).any() | self.sqe.q.val().get_bits::<2>(14).any();
        self.e_qid.next = self.e_d10.val().get_bits::<16>(0);
        self.e_qsize.next = self.e_d10.val().get_bits::<16>(16);
        self.e_hi11.next = self.e_d11.val().get_bits::<16>(16);
        self.e_qid_bad.next = (self.e_qid.val() == 0) | (self.e_qid.val() > self.last_q16.val());
        self.e_hi11_bad.next = (self.e_hi11.val() == 0) | (self.e_hi11.val() > self.last_q16.val());
        self.e_tidx.next = (bit_cast::<9, 5>(self.cur_f.q.val()) << 4)
            | bit_cast::<9, 4>(self.e_qid.val().get_bits::<4>(0));
        self.e_cidx.next = (bit_cast::<9, 5>(self.cur_f.q.val()) << 4)
            | bit_cast::<9, 4>(self.e_hi11.val().get_bits::<4>(0));
        // (NLB + 1) << LBADS, and SLBA + NLB + 1 without overflow (§6.14, §6.15).
        self.e_bytes.next = (bit_cast::<30, 16>(self.e_d12.val().get_bits::<16>(0)) + 1)
            << self.prov_lba_shift.val();
        self.e_lba_end.next = bit_cast::<65, 64>(
            bit_cast::<64, 32>(self.e_d10.val()) | (bit_cast::<64, 32>(self.e_d11.val()) << 32),
        ) + bit_cast::<65, 16>(self.e_d12.val().get_bits::<16>(0))
            + 1;
        // Get Log Page (§5.14): NUMD = NUMDU:NUMDL (0-based dwords), offset LPOU:LPOL.
        self.e_numd.next = bit_cast::<32, 16>(self.e_d10.val().get_bits::<16>(16))
            | (bit_cast::<32, 16>(self.e_d11.val().get_bits::<16>(0)) << 16);
        self.e_log_len.next = (bit_cast::<21, 10>(self.e_numd.val().get_bits::<10>(0)) + 1) << 2;
        self.e_log_off_bad.next = self.e_d13.val().any()
            | self.e_d12.val().get_bits::<2>(0).any()
            | (self.e_d12.val() >= 4096);
        self.e_gd_beats.next = (self.e_log_len.val() + 15) >> 4;

        // ---------------- arbitration (§4.11 round robin) ----------------
        self.cur_idx.next =
            (bit_cast::<9, 5>(self.cur_f.q.val()) << 4) | bit_cast::<9, 4>(self.cur_q.q.val());
        self.s_fidx.next = bit_cast::<9, 5>(self.sf.q.val()) << 4;
        self.scan_idx.next =
            (bit_cast::<9, 5>(self.cur_f.q.val()) << 4) | bit_cast::<9, 4>(self.scan_q.q.val());
        self.del_idx.next =
            (bit_cast::<9, 5>(self.cur_f.q.val()) << 4) | bit_cast::<9, 4>(self.del_q.q.val());
        self.s_ok.next = self.cfg_vf_enable.val().get_bit(self.sf.q.val().index())
            & self.rdy.q.val().get_bit(self.sf.q.val().index())
            & !self.flr_pend.q.val().get_bit(self.sf.q.val().index())
            & !self.flr_set.val().get_bit(self.sf.q.val().index())
            & self.prov_enabled.val();
        self.s_cand.next = bits::<16>(0);
        if self.s_ok.val() {
            self.s_cand.next = self.pend.q.val().get_bits::<16>(self.s_fidx.val().index())
                & (self.ones16.val() << self.sq.q.val());
        }
        // Lowest set bit of the 9 queue candidates.
        self.s_pick.next = bits::<4>(0);
        if self.s_cand.val().get_bit(8) {
            self.s_pick.next = bits::<4>(8);
        }
        if self.s_cand.val().get_bit(7) {
            self.s_pick.next = bits::<4>(7);
        }
        if self.s_cand.val().get_bit(6) {
            self.s_pick.next = bits::<4>(6);
        }
        if self.s_cand.val().get_bit(5) {
            self.s_pick.next = bits::<4>(5);
        }
        if self.s_cand.val().get_bit(4) {
            self.s_pick.next = bits::<4>(4);
        }
        if self.s_cand.val().get_bit(3) {
            self.s_pick.next = bits::<4>(3);
        }
        if self.s_cand.val().get_bit(2) {
            self.s_pick.next = bits::<4>(2);
        }
        if self.s_cand.val().get_bit(1) {
            self.s_pick.next = bits::<4>(1);
        }
        if self.s_cand.val().get_bit(0) {
            self.s_pick.next = bits::<4>(0);
        }
        self.s_pick1.next = self.s_pick.val() + 1;
        self.s_nextf.next = self.sf.q.val() + 1;
        if self.sf.q.val() >= self.max_func.val() {
            self.s_nextf.next = bits::<5>(1);
        }

        // ---------------- pin-based interrupts (§7.5.1) ----------------
        // A vector's IS bit is set while a CQ with IEN = 1 mapped to it holds
        // entries the host has not consumed; INTx follows the OR of the IS
        // bits not masked in INTMS. One function is evaluated per clock.
        self.ix_fidx.next = bit_cast::<9, 5>(self.ix_ptr.q.val()) << 4;
        self.ix_pend.next = self
            .cqpend
            .q
            .val()
            .get_bits::<16>(self.ix_fidx.val().index());
        self.ix_msk.next = self.imsk.q.val().get_bits::<16>(self.ix_fidx.val().index());
        self.ix_iv.next = bits::<36>(0);
        for i in 0..32 {
            if self.ix_ptr.q.val().index() == i {
                self.ix_iv.next = self.ivt[i].q.val();
            }
        }
        self.ix_on.next = (self.ix_pend.val().get_bit(0)
            & !self
                .ix_msk
                .val()
                .get_bit(self.ix_iv.val().get_bits::<4>(0).index()))
            | (self.ix_pend.val().get_bit(1)
                & !self
                    .ix_msk
                    .val()
                    .get_bit(self.ix_iv.val().get_bits::<4>(4).index()))
            | (self.ix_pend.val().get_bit(2)
                & !self
                    .ix_msk
                    .val()
                    .get_bit(self.ix_iv.val().get_bits::<4>(8).index()))
            | (self.ix_pend.val().get_bit(3)
                & !self
                    .ix_msk
                    .val()
                    .get_bit(self.ix_iv.val().get_bits::<4>(12).index()))
            | (self.ix_pend.val().get_bit(4)
                & !self
                    .ix_msk
                    .val()
                    .get_bit(self.ix_iv.val().get_bits::<4>(16).index()))
            | (self.ix_pend.val().get_bit(5)
                & !self
                    .ix_msk
                    .val()
                    .get_bit(self.ix_iv.val().get_bits::<4>(20).index()))
            | (self.ix_pend.val().get_bit(6)
                & !self
                    .ix_msk
                    .val()
                    .get_bit(self.ix_iv.val().get_bits::<4>(24).index()))
            | (self.ix_pend.val().get_bit(7)
                & !self
                    .ix_msk
                    .val()
                    .get_bit(self.ix_iv.val().get_bits::<4>(28).index()))
            | (self.ix_pend.val().get_bit(8)
                & !self
                    .ix_msk
                    .val()
                    .get_bit(self.ix_iv.val().get_bits::<4>(32).index()));
        self.ilvl.d.next = self
            .ilvl
            .q
            .val()
            .replace_bit(self.ix_ptr.q.val().index(), self.ix_on.val());
        self.ix_ptr.d.next = self.ix_ptr.q.val() + 1;
        if self.ix_ptr.q.val() >= self.max_func.val() {
            self.ix_ptr.d.next = bits::<5>(0);
        }
        // IV table write port (driven by the engine below).
        self.ivw_en.next = false;
        self.ivw_f.next = self.cur_f.q.val();
        self.ivw_q.next = bits::<4>(0);
        self.ivw_v.next = bits::<4>(0);
        // ---------------- command pipeline (P -> A -> D) ----------------
        // Functions whose commands are dropped now: a function reset (FLR,
        // VF Enable clear: pending or strobed this clock) or a controller
        // reset (CC.EN 1 -> 0) being written this clock.
        self.kill.next = self.flr_pend.q.val() | self.flr_set.val();
        if (self.state.q.val() == St::RegDo)
            & self.rb_w.q.val()
            & self.rb_ven.val()
            & (self.rb_a.q.val() == 0x14)
            & self.c_cc.val().get_bit(0)
            & !self.rb_d.q.val().get_bit(0)
        {
            self.kill.next =
                self.flr_pend.q.val() | self.flr_set.val() | (bits::<32>(1) << self.rb_f.q.val());
        }
        self.p_deadc.next =
            self.p_dead.q.val() | self.kill.val().get_bit(self.mv_f.q.val().index());
        self.a_deadc.next = self.a_dead.q.val() | self.kill.val().get_bit(self.a_f.q.val().index());
        self.d_deadc.next = self.d_dead.q.val() | self.kill.val().get_bit(self.d_f.q.val().index());
        // A -> D when the mover is done (D holds one finished command).
        self.a_to_d.next =
            self.a_v.q.val() & !self.d_v.q.val() & (self.md_valid.val() | self.md_done.q.val());
        // P is offered while A runs, held back while A is done but cannot
        // move to D (the mover holds one command), and withdrawn (never
        // accepted) once its function is dropped: a reset function's command
        // issues no DMA.
        self.mv_gate.next = self.p_v.q.val()
            & (self.p_deadc.val()
                | (self.a_v.q.val()
                    & !self.a_to_d.val()
                    & (self.md_valid.val() | self.md_done.q.val())));
        self.mv_valid.next = self.mv_v.q.val() & !self.mv_gate.val();
        self.mv_take.next = self.mv_v.q.val() & !self.mv_gate.val() & self.mv_ready.val();
        if self.a_to_d.val() {
            self.a_v.d.next = false;
            self.d_v.d.next = true;
            self.d_f.d.next = self.a_f.q.val();
            self.d_q.d.next = self.a_q.q.val();
            self.d_cqid.d.next = self.a_cqid.q.val();
            self.d_sqhd.d.next = self.a_sqhd.q.val();
            self.d_cid.d.next = self.a_cid.q.val();
            self.d_dead.d.next = self.a_deadc.val();
            self.d_st.d.next = self.md_st.q.val();
            if self.md_valid.val() {
                self.d_st.d.next = self.md_status.val();
            }
            self.md_done.d.next = false;
        } else if self.a_v.q.val() {
            self.a_dead.d.next = self.a_deadc.val();
        }
        if self.d_v.q.val() {
            self.d_dead.d.next = self.d_deadc.val();
        }
        if self.mv_take.val() {
            self.mv_v.d.next = false;
            if self.p_v.q.val() {
                self.p_v.d.next = false;
                self.a_v.d.next = true;
                self.a_f.d.next = self.mv_f.q.val();
                self.a_q.d.next = self.p_q.q.val();
                self.a_cqid.d.next = self.p_cqid.q.val();
                self.a_sqhd.d.next = self.p_sqhd.q.val();
                self.a_cid.d.next = self.p_cid.q.val();
                self.a_dead.d.next = false;
            }
        }
        if self.mv_v.q.val() & self.p_v.q.val() & self.p_deadc.val() {
            self.mv_v.d.next = false;
            self.p_v.d.next = false;
        }
        self.drained.next = !self.p_v.q.val() & !self.a_v.q.val() & !self.d_v.q.val();
        // Fetch slots: a fetched entry of a function being reset is dropped
        // when it is dispatched (its read still completes and is consumed).
        if self.f0_v.q.val() & self.kill.val().get_bit(self.f0_f.q.val().index()) {
            self.f0_dead.d.next = true;
        }
        if self.f1_v.q.val() & self.kill.val().get_bit(self.f1_f.q.val().index()) {
            self.f1_dead.d.next = true;
        }
        // Admin commands run alone: an admin SQ entry is fetched only when no
        // slot is in use, and nothing is fetched while a slot holds one, so
        // an admin command (queue deletion, ...) never has a later-fetched
        // entry behind it (it still waits for P, A and D in ExecPre).
        self.fetch_ok.next = !self.rq_v.q.val()
            & !(self.f0_v.q.val() & (self.f0_q.q.val() == 0))
            & !(self.f1_v.q.val() & (self.f1_q.q.val() == 0))
            & ((self.s_pick.val() != 0) | (!self.f0_v.q.val() & !self.f1_v.q.val()));
        if self.fw.q.val() {
            if self.f1_v.q.val() {
                self.fetch_ok.next = false;
            }
        } else if self.f0_v.q.val() {
            self.fetch_ok.next = false;
        }
        self.fr_ready.next = self.f0_v.q.val() & self.f0_done.q.val();
        if self.fr.q.val() {
            self.fr_ready.next = self.f1_v.q.val() & self.f1_done.q.val();
        }
        // The fetched SQE is a valid I/O data command (the mover branch of
        // Exec): it may enter the pipeline; anything else waits until the
        // pipeline is drained, so completions are posted in fetch order.
        self.io_mv.next = (self.cur_q.q.val() != 0)
            & !self.rd_err.q.val()
            & !self.e_fusepsdt.val()
            & ((self.e_opc.val() == 0x01)
                | (self.e_opc.val() == 0x02)
                | (self.e_opc.val() == 0x08))
            & (self.e_nsid.val() == 1)
            & (self.e_bytes.val() <= self.max_bytes.val())
            & (self.e_lba_end.val() <= bit_cast::<65, 64>(self.prov_blocks.val()));
        // A command in the pipeline completes on the CQ of the SQ being fetched.
        self.same_cq.next = (self.p_v.q.val()
            & (self.mv_f.q.val() == self.cur_f.q.val())
            & (self.p_cqid.q.val() == self.s_cqid.val()))
            | (self.a_v.q.val()
                & (self.a_f.q.val() == self.cur_f.q.val())
                & (self.a_cqid.q.val() == self.s_cqid.val()))
            | (self.d_v.q.val()
                & (self.d_f.q.val() == self.cur_f.q.val())
                & (self.d_cqid.q.val() == self.s_cqid.val()))
            | (self.f0_v.q.val()
                & (self.f0_f.q.val() == self.cur_f.q.val())
                & (self.f0_cqid.q.val() == self.s_cqid.val()))
            | (self.f1_v.q.val()
                & (self.f1_f.q.val() == self.cur_f.q.val())
                & (self.f1_cqid.q.val() == self.s_cqid.val()));
        // Posting context: D (pm) or the current command.
        self.d_stat.next = bits::<11>(0);
        if self.d_st.q.val() == 1 {
            self.d_stat.next = bits::<11>(0x004);
        }
        if self.d_st.q.val() == 2 {
            self.d_stat.next = bits::<11>(0x013);
        }
        if self.d_st.q.val() == 3 {
            self.d_stat.next = bits::<11>(0x006);
        }
        self.po_f.next = self.cur_f.q.val();
        self.po_q.next = self.cur_q.q.val();
        self.po_cqid.next = self.cur_cqid.q.val();
        self.po_sqhd.next = self.cur_sqhd.q.val();
        self.po_cid.next = self.cur_cid.q.val();
        self.po_stat.next = self.stat.q.val();
        self.po_dw0.next = self.dw0.q.val();
        self.po_dead.next = self.cur_dead.val();
        if self.pm.q.val() {
            self.po_f.next = self.d_f.q.val();
            self.po_q.next = self.d_q.q.val();
            self.po_cqid.next = self.d_cqid.q.val();
            self.po_sqhd.next = self.d_sqhd.q.val();
            self.po_cid.next = self.d_cid.q.val();
            self.po_stat.next = self.d_stat.val();
            self.po_dw0.next = bits::<32>(0);
            self.po_dead.next = self.d_deadc.val();
        }
        self.post_idx.next =
            (bit_cast::<9, 5>(self.po_f.val()) << 4) | bit_cast::<9, 4>(self.po_cqid.val());
        // Free CQ slots (§4.1: head == tail is empty, tail + 1 == head full)
        // after a post (tail -> ntail) and after a head doorbell (head -> wd7).
        self.free_post.next = bit_cast::<9, 8>(self.q_head.val())
            + bit_cast::<9, 8>(self.q_size.val())
            - bit_cast::<9, 8>(self.q_ntail.val());
        if self.q_head.val() > self.q_ntail.val() {
            self.free_post.next =
                bit_cast::<9, 8>(self.q_head.val()) - bit_cast::<9, 8>(self.q_ntail.val()) - 1;
        }
        self.free_db.next = bit_cast::<9, 8>(self.wd7.val()) + bit_cast::<9, 8>(self.q_size.val())
            - bit_cast::<9, 8>(self.q_tail.val());
        if self.wd7.val() > self.q_tail.val() {
            self.free_db.next =
                bit_cast::<9, 8>(self.wd7.val()) - bit_cast::<9, 8>(self.q_tail.val()) - 1;
        }

        // ---------------- table port defaults ----------------
        self.prov_func.next = self.cur_f.q.val();
        self.ctrl.read_address.next = self.cur_f.q.val();
        self.ctrl.write_address.next = self.cur_f.q.val();
        self.ctrl.write_enable.next = false;
        self.sqr.read_address.next = self.cur_idx.val();
        self.sqr.write_address.next = self.cur_idx.val();
        self.sqr.write_enable.next = false;
        self.cqr.read_address.next = self.cur_idx.val();
        self.cqr.write_address.next = self.cur_idx.val();
        self.cqr.write_enable.next = false;

        // ---------------- the engine ----------------
        match self.state.q.val() {
            St::Idle => {
                self.prov_func.next = self.sf.q.val();
                if self.jobs.val() {
                    self.ret.d.next = St::Idle;
                    self.state.d.next = St::Job;
                } else if self.d_v.q.val() {
                    // Post the completion of the command the mover finished.
                    self.pret.d.next = St::Idle;
                    self.pm.d.next = true;
                    self.state.d.next = St::PostRd;
                } else if self.s_cand.val().any() & self.fetch_ok.val() {
                    // Issue a fetch (the fetch uses cur_f / cur_q; `Exec`'s
                    // context is loaded from the slot when it is dispatched).
                    self.cur_f.d.next = self.sf.q.val();
                    self.cur_q.d.next = self.s_pick.val();
                    self.dead.d.next = false;
                    self.state.d.next = St::FetRd;
                    if self.s_pick.val() == self.last_q4.val() {
                        self.sf.d.next = self.s_nextf.val();
                        self.sq.d.next = bits::<4>(0);
                    } else {
                        self.sq.d.next = self.s_pick1.val();
                    }
                } else if self.fr_ready.val() {
                    // Dispatch the oldest fetched entry to Exec.
                    self.cur_f.d.next = self.f0_f.q.val();
                    self.cur_q.d.next = self.f0_q.q.val();
                    self.cur_cqid.d.next = self.f0_cqid.q.val();
                    self.cur_sqhd.d.next = self.f0_sqhd.q.val();
                    self.sqe.d.next = self.f0_sqe.q.val();
                    self.rd_err.d.next = self.f0_err.q.val();
                    self.dead.d.next =
                        self.f0_dead.q.val() | self.kill.val().get_bit(self.f0_f.q.val().index());
                    self.f0_v.d.next = false;
                    if self.fr.q.val() {
                        self.cur_f.d.next = self.f1_f.q.val();
                        self.cur_q.d.next = self.f1_q.q.val();
                        self.cur_cqid.d.next = self.f1_cqid.q.val();
                        self.cur_sqhd.d.next = self.f1_sqhd.q.val();
                        self.sqe.d.next = self.f1_sqe.q.val();
                        self.rd_err.d.next = self.f1_err.q.val();
                        self.dead.d.next = self.f1_dead.q.val()
                            | self.kill.val().get_bit(self.f1_f.q.val().index());
                        self.f0_v.d.next = self.f0_v.q.val();
                        self.f1_v.d.next = false;
                    }
                    self.fr.d.next = !self.fr.q.val();
                    self.state.d.next = St::ExecPre;
                } else if !self.s_cand.val().any() {
                    // Next function; the pointer stays when no queue of any
                    // function has entries, so a lone function's next
                    // doorbell is fetched at once (the read waits of the
                    // fetch slots are spent here, and rotating through idle
                    // functions then would delay it by up to num_vfs - 1
                    // clocks).
                    if self.pend.q.val().any() {
                        self.sf.d.next = self.s_nextf.val();
                    }
                    self.sq.d.next = bits::<4>(0);
                }
                // Else a queue has an entry but no fetch may be issued yet:
                // wait here (the slots complete and are dispatched).
            }
            St::Job => {
                if self.job_flr.val() {
                    // Function reset (FLR, VF Enable clear, card reset): the
                    // controller is as after a reset (§7.3.1): registers to
                    // their reset values, all queues gone, held AERs dropped.
                    self.ctrl.write_address.next = self.flr_ptr.q.val();
                    self.ctrl.write_enable.next = true;
                    self.flr_clr.next = bits::<32>(1) << self.flr_ptr.q.val();
                    self.sqv.d.next =
                        self.sqv.q.val() & !(self.ffff512.val() << self.flr_fidx.val());
                    self.cqv.d.next =
                        self.cqv.q.val() & !(self.ffff512.val() << self.flr_fidx.val());
                    self.pend.d.next =
                        self.pend.q.val() & !(self.ffff512.val() << self.flr_fidx.val());
                    self.cqpend.d.next =
                        self.cqpend.q.val() & !(self.ffff512.val() << self.flr_fidx.val());
                    self.imsk.d.next =
                        self.imsk.q.val() & !(self.ffff512.val() << self.flr_fidx.val());
                    self.rdy.d.next = self.rdy.q.val() & !(bits::<32>(1) << self.flr_ptr.q.val());
                    if self.flr_ptr.q.val() == self.cur_f.q.val() {
                        self.dead.d.next = true;
                    }
                } else if self.job_reg.val() {
                    self.state.d.next = St::RegFifo;
                } else {
                    self.state.d.next = self.ret.q.val();
                }
            }
            St::RegFifo => {
                // rbq.read_address = rd_ptr: the entry is on read_data next clock.
                self.state.d.next = St::RegRd;
            }
            St::RegRd => {
                self.rb_f.d.next = self.fe_f.val();
                self.rb_a.d.next = self.fe_a.val();
                self.rb_w.d.next = self.rbq.read_data.val().get_bit(21);
                self.rb_d.d.next = self.rbq.read_data.val().get_bits::<32>(22);
                self.rd_ptr.d.next = self.rd_ptr.q.val() + 1;
                self.ctrl.read_address.next = self.fe_f.val();
                self.sqr.read_address.next = (bit_cast::<9, 5>(self.fe_f.val()) << 4)
                    | bit_cast::<9, 4>(self.fe_a.val().get_bits::<4>(3));
                self.cqr.read_address.next = (bit_cast::<9, 5>(self.fe_f.val()) << 4)
                    | bit_cast::<9, 4>(self.fe_a.val().get_bits::<4>(3));
                self.state.d.next = St::RegDo;
            }
            St::RegDo => {
                self.prov_func.next = self.rb_f.q.val();
                self.state.d.next = St::Job;
                self.ctrl.write_address.next = self.rb_f.q.val();
                self.sqr.write_address.next = self.rb_idx.val();
                self.cqr.write_address.next = self.rb_idx.val();
                if !self.rb_w.q.val() {
                    self.rvalid.d.next = true;
                    self.rdata.d.next = self.rdata_mux.val();
                } else if self.rb_ven.val() {
                    if self.rb_a.q.val() == 0x0c {
                        // INTMS (§3.1.3): write 1 to set; one bit per vector.
                        self.n_intms.next =
                            self.c_intms.val() | (self.rb_d.q.val().get_bits::<16>(0) & 0x1ff);
                        self.ctrl.write_enable.next = true;
                        self.imsk.d.next = (self.imsk.q.val()
                            & !(self.ffff512.val() << self.rb_fidx.val()))
                            | (bit_cast::<512, 16>(self.n_intms.val()) << self.rb_fidx.val());
                    }
                    if self.rb_a.q.val() == 0x10 {
                        // INTMC (§3.1.4): write 1 to clear.
                        self.n_intms.next =
                            self.c_intms.val() & !self.rb_d.q.val().get_bits::<16>(0);
                        self.ctrl.write_enable.next = true;
                        self.imsk.d.next = (self.imsk.q.val()
                            & !(self.ffff512.val() << self.rb_fidx.val()))
                            | (bit_cast::<512, 16>(self.n_intms.val()) << self.rb_fidx.val());
                    }
                    if self.rb_a.q.val() == 0x24 {
                        // AQA (§3.1.8): ASQS 11:0, ACQS 27:16.
                        self.n_aqa.next = self.rb_d.q.val() & 0x0fff_0fff;
                        self.ctrl.write_enable.next = true;
                    }
                    if self.rb_a.q.val() == 0x28 {
                        self.n_asq.next = (bit_cast::<52, 32>(self.c_asq.val().get_bits::<32>(20))
                            << 20)
                            | bit_cast::<52, 20>(self.rb_d.q.val().get_bits::<20>(12));
                        self.ctrl.write_enable.next = true;
                    }
                    if self.rb_a.q.val() == 0x2c {
                        self.n_asq.next = (bit_cast::<52, 32>(self.rb_d.q.val()) << 20)
                            | bit_cast::<52, 20>(self.c_asq.val().get_bits::<20>(0));
                        self.ctrl.write_enable.next = true;
                    }
                    if self.rb_a.q.val() == 0x30 {
                        self.n_acq.next = (bit_cast::<52, 32>(self.c_acq.val().get_bits::<32>(20))
                            << 20)
                            | bit_cast::<52, 20>(self.rb_d.q.val().get_bits::<20>(12));
                        self.ctrl.write_enable.next = true;
                    }
                    if self.rb_a.q.val() == 0x34 {
                        self.n_acq.next = (bit_cast::<52, 32>(self.rb_d.q.val()) << 20)
                            | bit_cast::<52, 20>(self.c_acq.val().get_bits::<20>(0));
                        self.ctrl.write_enable.next = true;
                    }
                    if self.rb_a.q.val() == 0x14 {
                        // CC (§3.1.5): EN, CSS, MPS, AMS, SHN, IOSQES, IOCQES.
                        self.n_cc.next = self.rb_d.q.val() & 0x00ff_fff1;
                        self.ctrl.write_enable.next = true;
                        if !self.c_cc.val().get_bit(0) & self.rb_d.q.val().get_bit(0) {
                            // EN 0 -> 1 (§7.6.1): admin queues from AQA/ASQ/ACQ.
                            if self.prov_enabled.val()
                                & self.c_aqa.val().get_bits::<12>(0).any()
                                & self.c_aqa.val().get_bits::<12>(16).any()
                                & (bit_cast::<16, 12>(self.c_aqa.val().get_bits::<12>(0))
                                    <= self.mqes.val())
                                & (bit_cast::<16, 12>(self.c_aqa.val().get_bits::<12>(16))
                                    <= self.mqes.val())
                            {
                                self.rdy.d.next =
                                    self.rdy.q.val() | (bits::<32>(1) << self.rb_f.q.val());
                                self.sqr.write_address.next = self.rb_fidx.val();
                                self.cqr.write_address.next = self.rb_fidx.val();
                                self.sqr.write_enable.next = true;
                                self.cqr.write_enable.next = true;
                                self.n_s_base.next = self.c_asq.val();
                                self.n_s_size.next = self.c_aqa.val().get_bits::<8>(0);
                                self.n_s_head.next = bits::<8>(0);
                                self.n_s_tail.next = bits::<8>(0);
                                self.n_s_cqid.next = bits::<4>(0);
                                self.n_q_base.next = self.c_acq.val();
                                self.n_q_size.next = self.c_aqa.val().get_bits::<8>(16);
                                self.n_q_tail.next = bits::<8>(0);
                                self.n_q_head.next = bits::<8>(0);
                                self.n_q_phase.next = bits::<1>(1);
                                self.n_q_ien.next = bits::<1>(1);
                                self.n_q_iv.next = bits::<4>(0);
                                self.sqv.d.next =
                                    self.sqv.q.val() | (self.one512.val() << self.rb_fidx.val());
                                self.cqv.d.next =
                                    self.cqv.q.val() | (self.one512.val() << self.rb_fidx.val());
                                self.cqfull.d.next = self.cqfull.q.val()
                                    & !(self.one512.val() << self.rb_fidx.val());
                                self.pend.d.next =
                                    self.pend.q.val() & !(self.one512.val() << self.rb_fidx.val());
                                // The admin CQ: IEN = 1, IV = 0, nothing posted yet.
                                self.cqpend.d.next = self.cqpend.q.val()
                                    & !(self.one512.val() << self.rb_fidx.val());
                                self.ivw_en.next = true;
                                self.ivw_f.next = self.rb_f.q.val();
                            }
                        }
                        if self.c_cc.val().get_bit(0) & !self.rb_d.q.val().get_bit(0) {
                            // EN 1 -> 0: controller reset (§7.3.2): delete
                            // every queue, drop held AERs, RDY = 0.
                            self.sqv.d.next =
                                self.sqv.q.val() & !(self.ffff512.val() << self.rb_fidx.val());
                            self.cqv.d.next =
                                self.cqv.q.val() & !(self.ffff512.val() << self.rb_fidx.val());
                            self.pend.d.next =
                                self.pend.q.val() & !(self.ffff512.val() << self.rb_fidx.val());
                            self.rdy.d.next =
                                self.rdy.q.val() & !(bits::<32>(1) << self.rb_f.q.val());
                            self.n_aer.next = bits::<3>(0);
                            // Interrupt state and INTMS return to their reset values.
                            self.cqpend.d.next =
                                self.cqpend.q.val() & !(self.ffff512.val() << self.rb_fidx.val());
                            self.imsk.d.next =
                                self.imsk.q.val() & !(self.ffff512.val() << self.rb_fidx.val());
                            self.n_intms.next = bits::<16>(0);
                            if self.rb_f.q.val() == self.cur_f.q.val() {
                                self.dead.d.next = true;
                            }
                        }
                    }
                    if self.db_hit.val() & !self.rb_a.q.val().get_bit(2) {
                        // SQ y Tail Doorbell (§3.1.24).
                        if self.sqv.q.val().get_bit(self.rb_idx.val().index())
                            & (self.rb_d.q.val().get_bits::<24>(8) == 0)
                            & (self.wd7.val() <= self.s_size.val())
                        {
                            self.n_s_tail.next = self.wd7.val();
                            self.sqr.write_enable.next = true;
                            if self.wd7.val() != self.s_head.val() {
                                self.pend.d.next =
                                    self.pend.q.val() | (self.one512.val() << self.rb_idx.val());
                            } else {
                                self.pend.d.next =
                                    self.pend.q.val() & !(self.one512.val() << self.rb_idx.val());
                            }
                        }
                    }
                    if self.db_hit.val() & self.rb_a.q.val().get_bit(2) {
                        // CQ y Head Doorbell (§3.1.25).
                        if self.cqv.q.val().get_bit(self.rb_idx.val().index())
                            & (self.rb_d.q.val().get_bits::<24>(8) == 0)
                            & (self.wd7.val() <= self.q_size.val())
                        {
                            self.n_q_head.next = self.wd7.val();
                            self.cqr.write_enable.next = true;
                            if self.wd7.val() == self.q_tail.val() {
                                // Every posted entry consumed: IS of this CQ clears.
                                self.cqpend.d.next =
                                    self.cqpend.q.val() & !(self.one512.val() << self.rb_idx.val());
                                if self.rb_idx.val() == self.post_idx.val() {
                                    self.pc_clr.d.next = true;
                                }
                            }
                            if self.q_ntail.val() == self.wd7.val() {
                                self.cqfull.d.next =
                                    self.cqfull.q.val() | (self.one512.val() << self.rb_idx.val());
                            } else {
                                self.cqfull.d.next =
                                    self.cqfull.q.val() & !(self.one512.val() << self.rb_idx.val());
                            }
                            if self.free_db.val() < 5 {
                                self.cqlow.d.next =
                                    self.cqlow.q.val() | (self.one512.val() << self.rb_idx.val());
                            } else {
                                self.cqlow.d.next =
                                    self.cqlow.q.val() & !(self.one512.val() << self.rb_idx.val());
                            }
                        }
                    }
                }
            }
            St::FetRd => {
                // sqr.read_address = cur_idx (default).
                self.state.d.next = St::FetReq;
            }
            St::FetReq => {
                if self.cur_dead.val() {
                    // The function is being reset: no fetch.
                    self.state.d.next = St::Idle;
                } else if self.cqfull.q.val().get_bit(self.fq_idx.val().index())
                    | (self.cqlow.q.val().get_bit(self.fq_idx.val().index()) & self.same_cq.val())
                {
                    // Its CQ is full (or has fewer free slots than the commands
                    // in flight to it could need): leave the entry and serve the
                    // others, so a host that does not consume completions stalls
                    // only itself, and every command in flight has a CQ slot.
                    self.state.d.next = St::Idle;
                } else {
                    // §4.1: consume the entry at head; fetch 64 bytes at base + 64 * head.
                    self.rq_v.d.next = true;
                    self.rq_w.d.next = false;
                    self.rq_fn.d.next = self.cur_f.q.val();
                    self.rq_l.d.next = bits::<13>(64);
                    self.rq_a.d.next = (bit_cast::<64, 52>(self.s_base.val()) << 12)
                        + (bit_cast::<64, 8>(self.s_head.val()) << 6);
                    self.rq_t.d.next = self.fw.q.val();
                    self.n_s_head.next = self.s_nhead.val();
                    self.sqr.write_enable.next = true;
                    if self.s_nhead.val() == self.s_tail.val() {
                        self.pend.d.next =
                            self.pend.q.val() & !(self.one512.val() << self.cur_idx.val());
                    }
                    // Into slot fw; the engine goes on (another fetch, a post,
                    // a dispatch) while the read is outstanding.
                    if self.fw.q.val() {
                        self.f1_v.d.next = true;
                        self.f1_done.d.next = false;
                        self.f1_err.d.next = false;
                        self.f1_dead.d.next = false;
                        self.f1_f.d.next = self.cur_f.q.val();
                        self.f1_q.d.next = self.cur_q.q.val();
                        self.f1_cqid.d.next = self.s_cqid.val();
                        self.f1_sqhd.d.next = self.s_nhead.val();
                    } else {
                        self.f0_v.d.next = true;
                        self.f0_done.d.next = false;
                        self.f0_err.d.next = false;
                        self.f0_dead.d.next = false;
                        self.f0_f.d.next = self.cur_f.q.val();
                        self.f0_q.d.next = self.cur_q.q.val();
                        self.f0_cqid.d.next = self.s_cqid.val();
                        self.f0_sqhd.d.next = self.s_nhead.val();
                    }
                    self.fw.d.next = !self.fw.q.val();
                    self.state.d.next = St::Idle;
                }
            }
            St::ExecPre => {
                // ctrl.read_address = cur_f (default).
                if self.jobs.val() {
                    self.ret.d.next = St::ExecPre;
                    self.state.d.next = St::Job;
                } else if self.drained.val() | (self.io_mv.val() & !self.p_v.q.val()) {
                    self.state.d.next = St::Exec;
                } else if self.d_v.q.val() {
                    self.pret.d.next = St::ExecPre;
                    self.pm.d.next = true;
                    self.state.d.next = St::PostRd;
                }
            }
            St::Exec => {
                self.pblocks.d.next = self.prov_blocks.val();
                self.pshift.d.next = self.prov_lba_shift.val();
                self.pbase.d.next = self.prov_base.val();
                self.pslot.d.next = self.prov_slot.val();
                self.mv_f.d.next = self.cur_f.q.val();
                self.mv_p1.d.next = self.e_prp1.val();
                self.mv_p2.d.next = self.e_prp2.val();
                self.mv_o.d.next = bits::<2>(3);
                self.mv_l.d.next = bits::<21>(4096);
                self.mv_s.d.next = bit_cast::<64, 32>(self.e_d10.val())
                    | (bit_cast::<64, 32>(self.e_d11.val()) << 32);
                self.gd_base.d.next = bits::<12>(0);
                self.gd_idx.d.next = bits::<8>(0);
                self.gd_kind.d.next = bits::<3>(0);
                self.cur_cid.d.next = self.e_cid.val();
                self.stat.d.next = bits::<11>(0);
                self.dw0.d.next = bits::<32>(0);
                self.state.d.next = St::PostRd;
                self.ctrl.write_address.next = self.cur_f.q.val();
                self.sqr.write_address.next = self.e_tidx.val();
                self.cqr.write_address.next = self.e_tidx.val();
                if self.cur_dead.val() {
                    self.state.d.next = St::Idle;
                } else if self.rd_err.q.val() {
                    // The entry could not be read: Data Transfer Error, CID FFFFh.
                    self.cur_cid.d.next = bits::<16>(0xffff);
                    self.stat.d.next = bits::<11>(0x004);
                } else if self.e_fusepsdt.val() {
                    self.stat.d.next = bits::<11>(0x002);
                } else if self.cur_q.q.val() == 0 {
                    // ---------------- admin commands (§5) ----------------
                    if self.e_opc.val() == 0x00 {
                        // Delete I/O Submission Queue (§5.6).
                        if self.e_qid_bad.val()
                            | !self.sqv.q.val().get_bit(self.e_tidx.val().index())
                        {
                            self.stat.d.next = bits::<11>(0x101);
                        } else {
                            self.sqv.d.next =
                                self.sqv.q.val() & !(self.one512.val() << self.e_tidx.val());
                            self.pend.d.next =
                                self.pend.q.val() & !(self.one512.val() << self.e_tidx.val());
                        }
                    } else if self.e_opc.val() == 0x01 {
                        // Create I/O Submission Queue (§5.4).
                        if self.e_qid_bad.val()
                            | self.sqv.q.val().get_bit(self.e_tidx.val().index())
                        {
                            self.stat.d.next = bits::<11>(0x101);
                        } else if self.e_hi11_bad.val()
                            | !self.cqv.q.val().get_bit(self.e_cidx.val().index())
                        {
                            self.stat.d.next = bits::<11>(0x100);
                        } else if (self.e_qsize.val() == 0) | (self.e_qsize.val() > self.mqes.val())
                        {
                            self.stat.d.next = bits::<11>(0x102);
                        } else if !self.e_d11.val().get_bit(0)
                            | self.e_prp1.val().get_bits::<12>(0).any()
                        {
                            // PC = 0 (CAP.CQR = 1) or a base that is not page aligned.
                            self.stat.d.next = bits::<11>(0x002);
                        } else {
                            self.n_s_base.next = self.e_prp1.val().get_bits::<52>(12);
                            self.n_s_size.next = self.e_qsize.val().get_bits::<8>(0);
                            self.n_s_head.next = bits::<8>(0);
                            self.n_s_tail.next = bits::<8>(0);
                            self.n_s_cqid.next = self.e_hi11.val().get_bits::<4>(0);
                            self.sqr.write_enable.next = true;
                            self.sqv.d.next =
                                self.sqv.q.val() | (self.one512.val() << self.e_tidx.val());
                            self.pend.d.next =
                                self.pend.q.val() & !(self.one512.val() << self.e_tidx.val());
                        }
                    } else if self.e_opc.val() == 0x04 {
                        // Delete I/O Completion Queue (§5.5): no SQ may use it.
                        if self.e_qid_bad.val()
                            | !self.cqv.q.val().get_bit(self.e_tidx.val().index())
                        {
                            self.stat.d.next = bits::<11>(0x101);
                        } else {
                            self.del_q.d.next = self.e_qid.val().get_bits::<4>(0);
                            self.scan_q.d.next = bits::<4>(1);
                            self.state.d.next = St::DelScanRd;
                        }
                    } else if self.e_opc.val() == 0x05 {
                        // Create I/O Completion Queue (§5.3).
                        if self.e_qid_bad.val()
                            | self.cqv.q.val().get_bit(self.e_tidx.val().index())
                        {
                            self.stat.d.next = bits::<11>(0x101);
                        } else if (self.e_qsize.val() == 0) | (self.e_qsize.val() > self.mqes.val())
                        {
                            self.stat.d.next = bits::<11>(0x102);
                        } else if self.e_d11.val().get_bit(1)
                            & (self.e_hi11.val() > self.last_vector.val())
                        {
                            // One MSI-X vector per CQ: vectors 0..=8.
                            self.stat.d.next = bits::<11>(0x108);
                        } else if !self.e_d11.val().get_bit(0)
                            | self.e_prp1.val().get_bits::<12>(0).any()
                        {
                            self.stat.d.next = bits::<11>(0x002);
                        } else {
                            self.n_q_base.next = self.e_prp1.val().get_bits::<52>(12);
                            self.n_q_size.next = self.e_qsize.val().get_bits::<8>(0);
                            self.n_q_tail.next = bits::<8>(0);
                            self.n_q_head.next = bits::<8>(0);
                            self.n_q_phase.next = bits::<1>(1);
                            self.n_q_ien.next = self.e_d11.val().get_bits::<1>(1);
                            self.n_q_iv.next = self.e_hi11.val().get_bits::<4>(0);
                            self.cqr.write_enable.next = true;
                            self.cqv.d.next =
                                self.cqv.q.val() | (self.one512.val() << self.e_tidx.val());
                            self.cqfull.d.next =
                                self.cqfull.q.val() & !(self.one512.val() << self.e_tidx.val());
                            self.cqpend.d.next =
                                self.cqpend.q.val() & !(self.one512.val() << self.e_tidx.val());
                            self.ivw_en.next = true;
                            self.ivw_q.next = self.e_qid.val().get_bits::<4>(0);
                            self.ivw_v.next = self.e_hi11.val().get_bits::<4>(0);
                            // Empty: e_qsize free slots.
                            if self.e_qsize.val() < 5 {
                                self.cqlow.d.next =
                                    self.cqlow.q.val() | (self.one512.val() << self.e_tidx.val());
                            } else {
                                self.cqlow.d.next =
                                    self.cqlow.q.val() & !(self.one512.val() << self.e_tidx.val());
                            }
                        }
                    } else if self.e_opc.val() == 0x06 {
                        // Identify (§5.15): 4096 bytes to PRP1/PRP2.
                        self.state.d.next = St::MvWait;
                        self.mv_v.d.next = true;
                        self.gd_left.d.next = bits::<9>(256);
                        if self.e_d10.val().get_bits::<8>(0) == 0 {
                            self.gd_kind.d.next = bits::<3>(1) /* KIND_ID_NS */;
                            if self.e_nsid.val() != 1 {
                                self.stat.d.next = bits::<11>(0x00b);
                                self.state.d.next = St::PostRd;
                                self.mv_v.d.next = false;
                                self.gd_left.d.next = bits::<9>(0);
                            }
                        } else if self.e_d10.val().get_bits::<8>(0) == 3 {
                            // Namespace Identification Descriptor list (§5.15.2.4).
                            self.gd_kind.d.next = bits::<3>(6) /* KIND_NS_DESC */;
                            if self.e_nsid.val() != 1 {
                                self.stat.d.next = bits::<11>(0x00b);
                                self.state.d.next = St::PostRd;
                                self.mv_v.d.next = false;
                                self.gd_left.d.next = bits::<9>(0);
                            }
                        } else if self.e_d10.val().get_bits::<8>(0) == 1 {
                            self.gd_kind.d.next = bits::<3>(2) /* KIND_ID_CTRL */;
                        } else if self.e_d10.val().get_bits::<8>(0) == 2 {
                            // Active NSIDs greater than NSID: [1] after 0, else empty.
                            if self.e_nsid.val() == 0 {
                                self.gd_kind.d.next = bits::<3>(3) /* KIND_NS_LIST */;
                            } else {
                                self.gd_kind.d.next = bits::<3>(0) /* KIND_ZERO */;
                            }
                            if self.e_nsid.val() >= self.nsid_fe.val() {
                                self.stat.d.next = bits::<11>(0x00b);
                                self.state.d.next = St::PostRd;
                                self.mv_v.d.next = false;
                                self.gd_left.d.next = bits::<9>(0);
                            }
                        } else {
                            self.stat.d.next = bits::<11>(0x002);
                            self.state.d.next = St::PostRd;
                            self.mv_v.d.next = false;
                            self.gd_left.d.next = bits::<9>(0);
                        }
                    } else if self.e_opc.val() == 0x02 {
                        // Get Log Page (§5.14).
                        self.mv_l.d.next = self.e_log_len.val();
                        self.gd_base.d.next = self.e_d12.val().get_bits::<12>(2);
                        if (self.e_numd.val() >= 1024) | self.e_log_off_bad.val() {
                            self.stat.d.next = bits::<11>(0x002);
                        } else if (self.e_d10.val().get_bits::<8>(0) >= 1)
                            & (self.e_d10.val().get_bits::<8>(0) <= 3)
                        {
                            self.state.d.next = St::MvWait;
                            self.mv_v.d.next = true;
                            self.gd_left.d.next = self.e_gd_beats.val().get_bits::<9>(0);
                            if self.e_d10.val().get_bits::<8>(0) == 1 {
                                self.gd_kind.d.next = bits::<3>(0) /* KIND_ZERO */;
                            }
                            if self.e_d10.val().get_bits::<8>(0) == 2 {
                                self.gd_kind.d.next = bits::<3>(4) /* KIND_SMART */;
                            }
                            if self.e_d10.val().get_bits::<8>(0) == 3 {
                                self.gd_kind.d.next = bits::<3>(5) /* KIND_FW_SLOT */;
                            }
                        } else {
                            self.stat.d.next = bits::<11>(0x109);
                        }
                    } else if self.e_opc.val() == 0x08 {
                        // Abort (§5.1): DW0 bit 0 = 1, command not aborted.
                        self.dw0.d.next = bits::<32>(1);
                    } else if self.e_opc.val() == 0x09 {
                        // Set Features (§5.21).
                        if self.e_d10.val().get_bit(31) {
                            self.stat.d.next = bits::<11>(0x10d);
                        } else if self.e_d10.val().get_bits::<8>(0) == 0x01 {
                            self.n_arb.next = self.e_d11.val();
                            self.ctrl.write_enable.next = true;
                        } else if self.e_d10.val().get_bits::<8>(0) == 0x06 {
                            self.n_vwc.next = self.e_d11.val().get_bits::<1>(0);
                            self.ctrl.write_enable.next = true;
                        } else if self.e_d10.val().get_bits::<8>(0) == 0x07 {
                            // Number of Queues (§5.21.1.7): 8 SQs and 8 CQs, 0-based.
                            if (self.e_d11.val().get_bits::<16>(0) == 0xffff)
                                | (self.e_d11.val().get_bits::<16>(16) == 0xffff)
                            {
                                self.stat.d.next = bits::<11>(0x002);
                            } else {
                                self.dw0.d.next = bits::<32>(0x0007_0007);
                            }
                        } else if self.e_d10.val().get_bits::<8>(0) == 0x08 {
                            self.n_ic.next = self.e_d11.val().get_bits::<16>(0);
                            self.ctrl.write_enable.next = true;
                        } else {
                            self.stat.d.next = bits::<11>(0x002);
                        }
                    } else if self.e_opc.val() == 0x0a {
                        // Get Features (§5.9): current values.
                        if self.e_d10.val().get_bits::<8>(0) == 0x01 {
                            self.dw0.d.next = self.c_arb.val();
                        } else if self.e_d10.val().get_bits::<8>(0) == 0x06 {
                            self.dw0.d.next = bit_cast::<32, 1>(self.c_vwc.val());
                        } else if self.e_d10.val().get_bits::<8>(0) == 0x07 {
                            self.dw0.d.next = bits::<32>(0x0007_0007);
                        } else if self.e_d10.val().get_bits::<8>(0) == 0x08 {
                            self.dw0.d.next = bit_cast::<32, 16>(self.c_ic.val());
                        } else {
                            self.stat.d.next = bits::<11>(0x002);
                        }
                    } else if self.e_opc.val() == 0x0c {
                        // Asynchronous Event Request (§5.2): held, no completion.
                        if self.c_aer.val() > self.aerl.val() {
                            self.stat.d.next = bits::<11>(0x105);
                        } else {
                            self.n_aer.next = self.c_aer.val() + 1;
                            self.ctrl.write_enable.next = true;
                            self.state.d.next = St::Idle;
                        }
                    } else {
                        self.stat.d.next = bits::<11>(0x001);
                    }
                } else {
                    // ---------------- I/O commands (NVM command set, §6) ----------------
                    if self.e_opc.val() == 0x00 {
                        // Flush (§6.8).
                        if (self.e_nsid.val() != 1) & (self.e_nsid.val() != self.ones32.val()) {
                            self.stat.d.next = bits::<11>(0x00b);
                        }
                    } else if (self.e_opc.val() == 0x01)
                        | (self.e_opc.val() == 0x02)
                        | (self.e_opc.val() == 0x08)
                    {
                        // Write (§6.15), Read (§6.9), Write Zeroes (§6.16).
                        self.mv_l.d.next = self.e_bytes.val().get_bits::<21>(0);
                        if self.e_nsid.val() != 1 {
                            self.stat.d.next = bits::<11>(0x00b);
                        } else if self.e_bytes.val() > self.max_bytes.val() {
                            self.stat.d.next = bits::<11>(0x002);
                        } else if self.e_lba_end.val() > bit_cast::<65, 64>(self.prov_blocks.val())
                        {
                            self.stat.d.next = bits::<11>(0x080);
                        } else {
                            // Into the pipeline (P): the engine fetches the
                            // next command while this one waits for and runs
                            // on the mover; D's completion is posted later.
                            self.state.d.next = St::Idle;
                            self.mv_v.d.next = true;
                            self.p_v.d.next = true;
                            self.p_q.d.next = self.cur_q.q.val();
                            self.p_cqid.d.next = self.cur_cqid.q.val();
                            self.p_sqhd.d.next = self.cur_sqhd.q.val();
                            self.p_cid.d.next = self.e_cid.val();
                            self.p_dead.d.next = false;
                            if self.e_opc.val() == 0x01 {
                                self.mv_o.d.next = bits::<2>(1);
                            } else if self.e_opc.val() == 0x02 {
                                self.mv_o.d.next = bits::<2>(0);
                            } else {
                                self.mv_o.d.next = bits::<2>(2);
                            }
                        }
                    } else {
                        self.stat.d.next = bits::<11>(0x001);
                    }
                }
            }
            St::DelScanRd => {
                self.sqr.read_address.next = self.scan_idx.val();
                if self.jobs.val() {
                    self.ret.d.next = St::DelScanRd;
                    self.state.d.next = St::Job;
                } else {
                    self.state.d.next = St::DelScanChk;
                }
            }
            St::DelScanChk => {
                if self.sqv.q.val().get_bit(self.scan_idx.val().index())
                    & (self.s_cqid.val() == self.del_q.q.val())
                {
                    self.stat.d.next = bits::<11>(0x10c);
                    self.state.d.next = St::PostRd;
                } else if self.scan_q.q.val() == self.last_q4.val() {
                    self.cqv.d.next = self.cqv.q.val() & !(self.one512.val() << self.del_idx.val());
                    self.cqpend.d.next =
                        self.cqpend.q.val() & !(self.one512.val() << self.del_idx.val());
                    self.state.d.next = St::PostRd;
                } else {
                    self.scan_q.d.next = self.scan_q.q.val() + 1;
                    self.state.d.next = St::DelScanRd;
                }
            }
            St::MvWait => {
                if self.jobs.val() {
                    self.ret.d.next = St::MvWait;
                    self.state.d.next = St::Job;
                } else if self.md_done.q.val() & !self.mv_v.q.val() {
                    self.md_done.d.next = false;
                    self.gd_left.d.next = bits::<9>(0);
                    if self.md_st.q.val() == 1 {
                        self.stat.d.next = bits::<11>(0x004);
                    }
                    if self.md_st.q.val() == 2 {
                        self.stat.d.next = bits::<11>(0x013);
                    }
                    if self.md_st.q.val() == 3 {
                        self.stat.d.next = bits::<11>(0x006);
                    }
                    self.state.d.next = St::PostRd;
                }
            }
            St::PostRd => {
                self.cqr.read_address.next = self.post_idx.val();
                if self.jobs.val() {
                    self.ret.d.next = St::PostRd;
                    self.state.d.next = St::Job;
                } else if self.po_dead.val() {
                    self.state.d.next = St::Idle;
                    if self.pm.q.val() {
                        self.state.d.next = self.pret.q.val();
                        self.pm.d.next = false;
                        self.d_v.d.next = false;
                    }
                } else if !self.rq_v.q.val() & !self.wd_v.q.val() {
                    self.state.d.next = St::PostChk;
                }
            }
            St::PostChk => {
                // §4.6, §7.2.6: post at the tail unless the CQ is full.
                self.cqr.write_address.next = self.post_idx.val();
                if self.po_dead.val() | !self.cqv.q.val().get_bit(self.post_idx.val().index()) {
                    self.state.d.next = St::Idle;
                    if self.pm.q.val() {
                        self.state.d.next = self.pret.q.val();
                        self.pm.d.next = false;
                        self.d_v.d.next = false;
                    }
                } else if self.q_ntail.val() == self.q_head.val() {
                    self.state.d.next = St::PostRd;
                } else {
                    self.rq_v.d.next = true;
                    self.rq_w.d.next = true;
                    self.rq_t.d.next = false;
                    self.rq_fn.d.next = self.po_f.val();
                    self.rq_l.d.next = bits::<13>(16);
                    self.rq_a.d.next = (bit_cast::<64, 52>(self.q_base.val()) << 12)
                        + (bit_cast::<64, 8>(self.q_tail.val()) << 4);
                    // DW0, DW1 reserved, DW2 SQHD | SQID, DW3 CID | P | SF (DNR on errors).
                    self.wd_d.d.next = bit_cast::<128, 32>(self.po_dw0.val())
                        | (bit_cast::<128, 8>(self.po_sqhd.val()) << 64)
                        | (bit_cast::<128, 4>(self.po_q.val()) << 80)
                        | (bit_cast::<128, 16>(self.po_cid.val()) << 96)
                        | (bit_cast::<128, 1>(self.q_phase.val()) << 112)
                        | (bit_cast::<128, 11>(self.po_stat.val()) << 113);
                    if self.po_stat.val().any() {
                        self.wd_d.d.next = bit_cast::<128, 32>(self.po_dw0.val())
                            | (bit_cast::<128, 8>(self.po_sqhd.val()) << 64)
                            | (bit_cast::<128, 4>(self.po_q.val()) << 80)
                            | (bit_cast::<128, 16>(self.po_cid.val()) << 96)
                            | (bit_cast::<128, 1>(self.q_phase.val()) << 112)
                            | (bit_cast::<128, 11>(self.po_stat.val()) << 113)
                            | (bits::<128>(1) << 127);
                    }
                    self.n_q_tail.next = self.q_ntail.val();
                    if self.q_nntail.val() == self.q_head.val() {
                        self.cqfull.d.next =
                            self.cqfull.q.val() | (self.one512.val() << self.post_idx.val());
                    } else {
                        self.cqfull.d.next =
                            self.cqfull.q.val() & !(self.one512.val() << self.post_idx.val());
                    }
                    if self.free_post.val() < 5 {
                        self.cqlow.d.next =
                            self.cqlow.q.val() | (self.one512.val() << self.post_idx.val());
                    } else {
                        self.cqlow.d.next =
                            self.cqlow.q.val() & !(self.one512.val() << self.post_idx.val());
                    }
                    if self.q_ntail.val() == 0 {
                        self.n_q_phase.next = !self.q_phase.val();
                    }
                    self.cqr.write_enable.next = true;
                    self.cur_ien.d.next = self.q_ien.val().any();
                    self.cur_iv.d.next = self.q_iv.val();
                    self.pc_clr.d.next = false;
                    self.state.d.next = St::PostWait;
                }
            }
            St::PostWait => {
                if self.jobs.val() {
                    self.ret.d.next = St::PostWait;
                    self.state.d.next = St::Job;
                } else if !self.rq_v.q.val() & !self.wd_v.q.val() & !self.irq_v.q.val() {
                    self.cnt_f.d.next = self.po_f.val();
                    if self.po_stat.val().any() {
                        self.cnt_r.d.next = true;
                    } else {
                        self.cnt_s.d.next = true;
                    }
                    if self.cur_ien.q.val() & !self.po_dead.val() & !self.pc_clr.q.val() {
                        // The CQE write has left: the CQ holds an unconsumed entry.
                        self.cqpend.d.next =
                            self.cqpend.q.val() | (self.one512.val() << self.post_idx.val());
                    }
                    if self.cur_ien.q.val() & !self.po_dead.val() {
                        self.irq_v.d.next = true;
                        self.irq_f.d.next = self.po_f.val();
                        self.irq_vec.d.next = bit_cast::<5, 4>(self.cur_iv.q.val());
                    }
                    self.state.d.next = St::Idle;
                    if self.pm.q.val() {
                        self.state.d.next = self.pret.q.val();
                        self.pm.d.next = false;
                        self.d_v.d.next = false;
                    }
                }
            }
        }

        // ---------------- IV table write ----------------
        self.ivw_sh.next = bit_cast::<6, 4>(self.ivw_q.val()) << 2;
        for i in 0..32 {
            self.ivt[i].clock.next = self.clock.val();
            self.ivt[i].d.next = self.ivt[i].q.val();
            if self.ivw_en.val() & (self.ivw_f.val().index() == i) {
                self.ivt[i].d.next = (self.ivt[i].q.val()
                    & !(bits::<36>(0xf) << self.ivw_sh.val()))
                    | (bit_cast::<36, 4>(self.ivw_v.val()) << self.ivw_sh.val());
            }
        }

        // ---------------- table write data ----------------
        self.ctrl.write_data.next = bit_cast::<256, 32>(self.n_cc.val())
            | (bit_cast::<256, 32>(self.n_aqa.val()) << 32)
            | (bit_cast::<256, 52>(self.n_asq.val()) << 64)
            | (bit_cast::<256, 52>(self.n_acq.val()) << 116)
            | (bit_cast::<256, 16>(self.n_intms.val()) << 168)
            | (bit_cast::<256, 32>(self.n_arb.val()) << 184)
            | (bit_cast::<256, 16>(self.n_ic.val()) << 216)
            | (bit_cast::<256, 1>(self.n_vwc.val()) << 232)
            | (bit_cast::<256, 3>(self.n_aer.val()) << 233);
        if self.state.q.val() == St::Job {
            // A function reset writes the reset values (all zero).
            self.ctrl.write_data.next = bits::<256>(0);
        }
        self.sqr.write_data.next = bit_cast::<80, 52>(self.n_s_base.val())
            | (bit_cast::<80, 8>(self.n_s_size.val()) << 52)
            | (bit_cast::<80, 8>(self.n_s_head.val()) << 60)
            | (bit_cast::<80, 8>(self.n_s_tail.val()) << 68)
            | (bit_cast::<80, 4>(self.n_s_cqid.val()) << 76);
        self.cqr.write_data.next = bit_cast::<84, 52>(self.n_q_base.val())
            | (bit_cast::<84, 8>(self.n_q_size.val()) << 52)
            | (bit_cast::<84, 8>(self.n_q_tail.val()) << 60)
            | (bit_cast::<84, 8>(self.n_q_head.val()) << 68)
            | (bit_cast::<84, 1>(self.n_q_phase.val()) << 76)
            | (bit_cast::<84, 1>(self.n_q_ien.val()) << 77)
            | (bit_cast::<84, 4>(self.n_q_iv.val()) << 78);

        // ---------------- function reset bookkeeping ----------------
        self.flr_pend.d.next = (self.flr_pend.q.val() & !self.flr_clr.val()) | self.flr_set.val();

        // ---------------- synchronous reset ----------------
        if self.reset.val() {
            self.state.d.next = St::Idle;
            self.ret.d.next = St::Idle;
            // Every function 0..=num_vfs starts with a reset job (clears its
            // ctrl record): 2 clocks each.
            self.flr_pend.d.next = self.all_funcs.val();
            self.sqv.d.next = bits::<512>(0);
            self.cqv.d.next = bits::<512>(0);
            self.pend.d.next = bits::<512>(0);
            self.cqfull.d.next = bits::<512>(0);
            self.rdy.d.next = bits::<32>(0);
            self.wr_ptr.d.next = bits::<5>(0);
            self.rd_ptr.d.next = bits::<5>(0);
            self.rvalid.d.next = false;
            self.sf.d.next = bits::<5>(1);
            self.sq.d.next = bits::<4>(0);
            self.dead.d.next = false;
            self.rq_v.d.next = false;
            self.fw.d.next = false;
            self.fr.d.next = false;
            self.fc.d.next = false;
            self.f0_v.d.next = false;
            self.f1_v.d.next = false;
            self.wd_v.d.next = false;
            self.mv_v.d.next = false;
            self.md_done.d.next = false;
            self.gd_left.d.next = bits::<9>(0);
            self.irq_v.d.next = false;
            self.cqlow.d.next = bits::<512>(0);
            self.p_v.d.next = false;
            self.a_v.d.next = false;
            self.d_v.d.next = false;
            self.pm.d.next = false;
            self.pret.d.next = St::Idle;
            self.cnt_s.d.next = false;
            self.cnt_r.d.next = false;
            self.cqpend.d.next = bits::<512>(0);
            self.imsk.d.next = bits::<512>(0);
            self.pc_clr.d.next = false;
            self.ix_ptr.d.next = bits::<5>(0);
            self.ilvl.d.next = bits::<32>(0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[should_panic]
    fn rejects_zero_vfs() {
        let _ = NvmeFront::new(0);
    }

    #[test]
    fn generates_for_16_and_31_vfs() {
        for n in [16, 31] {
            let mut uut = NvmeFront::new(n);
            uut.connect_all();
            assert!(generate_verilog(&uut).contains("module top"));
        }
    }

    #[test]
    fn nvme_front_is_synthesizable() {
        let mut uut = NvmeFront::new(4);
        uut.connect_all();
        let v = generate_verilog(&uut);
        let r = crate::synth::check_synthesizable("nvme_front", &v).unwrap();
        eprintln!("nvme_front (4 VFs): {} yosys coarse cells", r.cells);
        assert!(r.cells > 0);
    }
}
