//! XTS-AES-256 engine (IEEE 1619-2007 §5.3 encryption, §5.4 decryption),
//! whole 16-byte blocks only (no ciphertext stealing). Port contract:
//! docs/ENGINES.md "XTS-AES-256 engine".
//!
//! Per data unit with number *i* (the descriptor) and blocks *j* = 0, 1, ...:
//! `T_j = E_K2(i) ⊗ α^j` (§5.3.1, tweak always *encrypted* with Key2, also
//! for decryption, §5.4.1), `C_j = E_K1(P_j ^ T_j) ^ T_j` (encrypt) or
//! `P_j = D_K1(C_j ^ T_j) ^ T_j` (decrypt). Multiplication by α (§5.2) on
//! the little-endian 128-bit tweak is one word-wise shift:
//! `T << 1 ^ (T[127] ? 0x87 : 0)`.
//!
//! Structure:
//! * **tweak core**: keyed with Key2 (`key[511:256]`); `Full`: an
//!   [`AesIter`] (15 clocks), `Compact`: an [`AesRing`] (44 clocks). The
//!   descriptor handshake *is* its input handshake (`du_number` is the
//!   plaintext, `{du_decrypt, du_blocks}` rides in its tag). Its output
//!   register holds the next unit's tweak while the current unit streams,
//!   and it computes the one after that, so up to two descriptors are
//!   accepted ahead of the active unit. A tweak costs 15 clocks in Full,
//!   hidden behind any unit of >= 15 blocks (512-B units: 32 blocks).
//! * **active unit**: registers `T_j`, blocks remaining, direction. The last
//!   block of a unit hands over to the next tweak in the same clock, so
//!   units follow each other without a bubble.
//! * **data core**: Key1 (`key[255:0]`); `Full`: [`AesPipe`] (1 block /
//!   clock), `Compact`: [`AesRing`] (14 clocks / block, 1.14 B/clock,
//!   three blocks in flight, built for ECP5 Fmax).
//!   `T_j` and the `last` flag ride in the core's tag (129 bits), so the
//!   output XOR needs no separate FIFO.
//!
//! * **key banks** (`Full`): both cores hold two key schedules. `key_load`
//!   expands `key` into bank `key_bank` while units of the other bank keep
//!   streaming; every descriptor names its bank (`du_bank`), which rides
//!   with its tweak and its blocks. `Compact` has one bank and ignores the
//!   bank inputs (a key load needs an idle engine, as before).
//! * **tweak prefetch**: `pf_*` asks for `E_K2(pf_number)` of bank
//!   `pf_bank` ahead of the descriptor, e.g. for the next command's first
//!   LBA while the current command streams. The result waits in a register;
//!   a later descriptor with the same number and bank (and no older
//!   descriptor still waiting for its tweak) takes it at once instead of
//!   spending 15 clocks in the tweak core. A prefetch nobody uses costs
//!   nothing but tweak-core time; a key load of its bank discards it.
//!
//! Compact (ECP5 Fmax): the data input and the descriptor go through
//! registers (`xin`, and the prefetch-number compare is registered:
//! `eq_r` / `fresh`), so `in_ready` and the unit hand-over depend on
//! registers only; a descriptor waits one clock in `dq`. `T_j ⊗ α` is
//! applied the clock after the block's handshake (`adv`), a unit is
//! loaded only while none is active (one clock per unit), and a prefetch
//! hit always passes through the hold register, which follows `pf_t`
//! while empty: every 128-bit select of the active unit and of the hold
//! register is enabled by flip-flops, at most one LUT away.
//!
//! Compact therefore holds two ring cores (tweak and data). Sharing one
//! core would need a second 15-round-key store and a key-select mux anyway
//! (the round-key RAM and the key schedule are a large part of a core), for
//! a saving of one round datapath, at the cost of 44 more clocks per unit.
//!
//! `du_blocks = 0` is illegal (contract: 1..=256).
//!
//! Latency (Full, never stalled): first data block handshake to its output
//! 14 clocks; descriptor and first block offered together: 31 clocks
//! (1 descriptor register + 15 tweak + 1 hand-over + 14 pipeline), 16 when
//! the tweak was prefetched. Compact: 14 clocks per block streaming; the
//! first block of an idle engine takes the descriptor register, the tweak
//! ring (44), the hand-over and the data ring (44); measured in the tests.

use super::aes_iter::AesIter;
use super::aes_pipe::AesPipe;
use super::aes_ring::AesRing;
use crate::Config;
use rust_hdl::prelude::*;

/// Tag carried through the data core: `T_j` (128) and `last` (bit 128).
const DATA_TAG: usize = 129;
/// Tag carried through the tweak core: `du_blocks` (9), `du_decrypt`
/// (bit 9), the key bank (bit 10) and "prefetch" (bit 11).
const TWEAK_TAG: usize = 12;

/// XTS-AES-256 engine, whole blocks, data units of 1..=256 blocks.
#[derive(LogicBlock)]
pub struct XtsEngine {
    /// Clock.
    pub clock: Signal<In, Clock>,
    /// Synchronous reset: drops all units in flight and forgets the keys.
    pub reset: Signal<In, Bit>,
    /// `Key1 || Key2`: Key1 (data) in `[255:0]`, Key2 (tweak) in `[511:256]`.
    pub key: Signal<In, Bits<512>>,
    /// Strobe: expand both keys into bank `key_bank` (only while no unit of
    /// that bank is in flight; `Compact`: only while idle).
    pub key_load: Signal<In, Bit>,
    /// Bank loaded by `key_load` and reported by `key_ready` (`Full`).
    pub key_bank: Signal<In, Bit>,
    /// Both key schedules of bank `key_bank` done.
    pub key_ready: Signal<Out, Bit>,
    /// Data-unit descriptor handshake.
    pub du_valid: Signal<In, Bit>,
    /// Data-unit descriptor handshake.
    pub du_ready: Signal<Out, Bit>,
    /// Data unit number (the tweak *i*), little-endian.
    pub du_number: Signal<In, Bits<128>>,
    /// Data-unit length in 16-byte blocks, 1..=256.
    pub du_blocks: Signal<In, Bits<9>>,
    /// 0 = encrypt, 1 = decrypt.
    pub du_decrypt: Signal<In, Bit>,
    /// Key bank of the unit (`Full`; ignored by `Compact`).
    pub du_bank: Signal<In, Bit>,
    /// Tweak prefetch handshake (one prefetch in the tweak core at a time).
    pub pf_valid: Signal<In, Bit>,
    /// Tweak prefetch handshake.
    pub pf_ready: Signal<Out, Bit>,
    /// Data unit number whose tweak to compute ahead.
    pub pf_number: Signal<In, Bits<128>>,
    /// Key bank of the prefetch.
    pub pf_bank: Signal<In, Bit>,
    /// Data blocks of the units, in descriptor order.
    pub in_valid: Signal<In, Bit>,
    /// Data input handshake.
    pub in_ready: Signal<Out, Bit>,
    /// Data block.
    pub in_data: Signal<In, Bits<128>>,
    /// Output handshake.
    pub out_valid: Signal<Out, Bit>,
    /// Output handshake.
    pub out_ready: Signal<In, Bit>,
    /// Result block.
    pub out_data: Signal<Out, Bits<128>>,
    /// Last block of a data unit.
    pub out_last: Signal<Out, Bit>,
    // Data-core side, wired to whichever core the config instantiates.
    core_key_ready: Signal<Local, Bit>,
    core_in_valid: Signal<Local, Bit>,
    core_in_ready: Signal<Local, Bit>,
    core_in_data: Signal<Local, Bits<128>>,
    core_in_tag: Signal<Local, Bits<DATA_TAG>>,
    core_out_valid: Signal<Local, Bit>,
    core_out_data: Signal<Local, Bits<128>>,
    core_out_tag: Signal<Local, Bits<DATA_TAG>>,
    in_fire: Signal<Local, Bit>,
    last_fire: Signal<Local, Bit>,
    take_next: Signal<Local, Bit>,
    t_alpha: Signal<Local, Bits<128>>,
    t_alpha_lo: Signal<Local, Bits<64>>,
    t_alpha_hi: Signal<Local, Bits<64>>,
    c87: Constant<Bits<64>>,
    tag_last: Constant<Bits<DATA_TAG>>,
    tag_dec: Constant<Bits<TWEAK_TAG>>,
    tag_bank: Constant<Bits<TWEAK_TAG>>,
    tag_pf: Constant<Bits<TWEAK_TAG>>,
    dual: Constant<Bit>,
    bank_eq: Signal<Local, Bit>,
    tw_dec: Signal<Local, Bits<TWEAK_TAG>>,
    tw_bank: Signal<Local, Bits<TWEAK_TAG>>,
    hit: Signal<Local, Bit>,
    pf_fire: Signal<Local, Bit>,
    du_core_fire: Signal<Local, Bit>,
    tw_out_pf: Signal<Local, Bit>,
    take_hold: Signal<Local, Bit>,
    take_core: Signal<Local, Bit>,
    /// The active-unit registers load from the hold register / the tweak
    /// core this clock (see `update`).
    ld_hold: Signal<Local, Bit>,
    ld_core: Signal<Local, Bit>,
    load_hits_pf: Signal<Local, Bit>,
    dq_go: Signal<Local, Bit>,
    pend: Signal<Local, Bit>,
    d_valid: Signal<Local, Bit>,
    d_data: Signal<Local, Bits<128>>,
    xin_v: DFF<Bit>,
    xin_d: DFF<Bits<128>>,
    num_eq: Signal<Local, Bit>,
    dq_ok: Signal<Local, Bit>,
    /// Compact: `pf_num == dq_num` per 32-bit quarter, registered.
    eq_r: [DFF<Bit>; 4],
    fresh: DFF<Bit>,
    dq_valid: DFF<Bit>,
    dq_num: DFF<Bits<128>>,
    dq_blocks: DFF<Bits<9>>,
    dq_dec: DFF<Bit>,
    dq_bank: DFF<Bit>,
    pq_valid: DFF<Bit>,
    pq_num: DFF<Bits<128>>,
    pq_bank: DFF<Bit>,
    cur_t: DFF<Bits<128>>,
    remaining: DFF<Bits<9>>,
    /// `remaining == 1` as a flip-flop (the unit's last block without a
    /// compare in front of the hand-over's wide enables).
    rem_one: DFF<Bit>,
    cur_dec: DFF<Bit>,
    cur_bank: DFF<Bit>,
    active: DFF<Bit>,
    /// Compact: a block entered the data core on the last edge; `T_j ⊗ α`
    /// and the block count are updated this clock (from a flip-flop).
    adv: DFF<Bit>,
    /// Compact: the tweak core's head was taken last clock; pop it now
    /// (out_ready from a flip-flop; nothing reads the head meanwhile).
    popd: DFF<Bit>,
    /// Compact: a prefetch fired last clock; pf_num / pf_bnk take pq's
    /// (still unchanged) number now, so their enables are a flip-flop.
    pf_fire_r: DFF<Bit>,
    core_n: DFF<Bits<3>>,
    hold_valid: DFF<Bit>,
    /// Compact: inverted copies of `active` and `hold_valid` (kept apart
    /// by synthesis) that alone select where the active-unit registers
    /// load from (`ld_hold` / `ld_core`), off the originals' other loads.
    actn: DFF<Bit>,
    hvn: DFF<Bit>,
    /// Next values of `active` / `hold_valid` (locals, readable when the
    /// copies are set from them).
    active_nx: Signal<Local, Bit>,
    hold_valid_nx: Signal<Local, Bit>,
    hold_t: DFF<Bits<128>>,
    hold_blocks: DFF<Bits<9>>,
    hold_dec: DFF<Bit>,
    hold_bank: DFF<Bit>,
    pf_busy: DFF<Bit>,
    pf_stale: DFF<Bit>,
    pf_have: DFF<Bit>,
    pf_num: DFF<Bits<128>>,
    pf_bnk: DFF<Bit>,
    pf_t: DFF<Bits<128>>,
    tc_key_ready: Signal<Local, Bit>,
    tc_in_valid: Signal<Local, Bit>,
    tc_in_ready: Signal<Local, Bit>,
    tc_in_data: Signal<Local, Bits<128>>,
    tc_in_bank: Signal<Local, Bit>,
    tc_in_tag: Signal<Local, Bits<TWEAK_TAG>>,
    tc_out_valid: Signal<Local, Bit>,
    tc_out_ready: Signal<Local, Bit>,
    tc_out_data: Signal<Local, Bits<128>>,
    tc_out_tag: Signal<Local, Bits<TWEAK_TAG>>,
    tweak: Vec<AesIter<TWEAK_TAG>>,
    tweak_ring: Vec<AesRing<TWEAK_TAG>>,
    pipe: Vec<AesPipe<DATA_TAG>>,
    ring: Vec<AesRing<DATA_TAG>>,
}

impl XtsEngine {
    /// `Full`: pipelined data core (16 B/clock), two key banks; `Compact`:
    /// iterative data core (16 B / 14 clocks), one key bank. Both use an
    /// iterative core for tweaks.
    pub fn new(cfg: Config) -> Self {
        let (pipe, ring, tweak, tweak_ring, banks) = match cfg {
            Config::Full => (
                vec![AesPipe::with_banks(2)],
                vec![],
                vec![AesIter::with_banks(2)],
                vec![],
                2,
            ),
            Config::Compact => (
                vec![],
                vec![AesRing::default()],
                vec![],
                vec![AesRing::default()],
                1,
            ),
        };
        Self {
            clock: Signal::default(),
            reset: Signal::default(),
            key: Signal::default(),
            key_load: Signal::default(),
            key_bank: Signal::default(),
            key_ready: Signal::default(),
            du_valid: Signal::default(),
            du_ready: Signal::default(),
            du_number: Signal::default(),
            du_blocks: Signal::default(),
            du_decrypt: Signal::default(),
            du_bank: Signal::default(),
            pf_valid: Signal::default(),
            pf_ready: Signal::default(),
            pf_number: Signal::default(),
            pf_bank: Signal::default(),
            in_valid: Signal::default(),
            in_ready: Signal::default(),
            in_data: Signal::default(),
            out_valid: Signal::default(),
            out_ready: Signal::default(),
            out_data: Signal::default(),
            out_last: Signal::default(),
            core_key_ready: Signal::default(),
            core_in_valid: Signal::default(),
            core_in_ready: Signal::default(),
            core_in_data: Signal::default(),
            core_in_tag: Signal::default(),
            core_out_valid: Signal::default(),
            core_out_data: Signal::default(),
            core_out_tag: Signal::default(),
            in_fire: Signal::default(),
            last_fire: Signal::default(),
            take_next: Signal::default(),
            t_alpha: Signal::default(),
            t_alpha_lo: Signal::default(),
            t_alpha_hi: Signal::default(),
            c87: Constant::new(0x87.into()),
            tag_last: Constant::new(bits::<DATA_TAG>(1) << 128),
            tag_dec: Constant::new(bits::<TWEAK_TAG>(1) << 9),
            tag_bank: Constant::new(bits::<TWEAK_TAG>(1) << 10),
            tag_pf: Constant::new(bits::<TWEAK_TAG>(1) << 11),
            dual: Constant::new(banks == 2),
            bank_eq: Signal::default(),
            tw_dec: Signal::default(),
            tw_bank: Signal::default(),
            hit: Signal::default(),
            pf_fire: Signal::default(),
            du_core_fire: Signal::default(),
            tw_out_pf: Signal::default(),
            take_hold: Signal::default(),
            take_core: Signal::default(),
            ld_hold: Signal::default(),
            ld_core: Signal::default(),
            load_hits_pf: Signal::default(),
            dq_go: Signal::default(),
            pend: Signal::default(),
            d_valid: Signal::default(),
            d_data: Signal::default(),
            xin_v: DFF::default(),
            xin_d: DFF::default(),
            num_eq: Signal::default(),
            dq_ok: Signal::default(),
            eq_r: Default::default(),
            fresh: DFF::default(),
            dq_valid: DFF::default(),
            dq_num: DFF::default(),
            dq_blocks: DFF::default(),
            dq_dec: DFF::default(),
            dq_bank: DFF::default(),
            pq_valid: DFF::default(),
            pq_num: DFF::default(),
            pq_bank: DFF::default(),
            cur_t: DFF::default(),
            remaining: DFF::default(),
            rem_one: DFF::default(),
            cur_dec: DFF::default(),
            cur_bank: DFF::default(),
            active: DFF::default(),
            adv: DFF::default(),
            popd: DFF::default(),
            pf_fire_r: DFF::default(),
            core_n: DFF::default(),
            hold_valid: DFF::default(),
            actn: DFF::default(),
            hvn: DFF::default(),
            active_nx: Signal::default(),
            hold_valid_nx: Signal::default(),
            hold_t: DFF::default(),
            hold_blocks: DFF::default(),
            hold_dec: DFF::default(),
            hold_bank: DFF::default(),
            pf_busy: DFF::default(),
            pf_stale: DFF::default(),
            pf_have: DFF::default(),
            pf_num: DFF::default(),
            pf_bnk: DFF::default(),
            pf_t: DFF::default(),
            tc_key_ready: Signal::default(),
            tc_in_valid: Signal::default(),
            tc_in_ready: Signal::default(),
            tc_in_data: Signal::default(),
            tc_in_bank: Signal::default(),
            tc_in_tag: Signal::default(),
            tc_out_valid: Signal::default(),
            tc_out_ready: Signal::default(),
            tc_out_data: Signal::default(),
            tc_out_tag: Signal::default(),
            tweak,
            tweak_ring,
            pipe,
            ring,
        }
    }
}

impl Logic for XtsEngine {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self,
            clock,
            cur_t,
            remaining,
            rem_one,
            cur_dec,
            cur_bank,
            active,
            adv,
            popd,
            pf_fire_r,
            core_n,
            hold_valid,
            hold_t,
            hold_blocks,
            hold_dec,
            hold_bank,
            pf_busy,
            pf_stale,
            pf_have,
            pf_num,
            pf_bnk,
            pf_t,
            dq_valid,
            dq_num,
            dq_blocks,
            dq_dec,
            dq_bank,
            pq_valid,
            pq_num,
            pq_bank,
            fresh,
            xin_v,
            xin_d,
            actn,
            hvn
        );
        self.active_nx.next = self.active.q.val();
        self.hold_valid_nx.next = self.hold_valid.q.val();

        // Data core (Key1), whichever the config instantiated: its outputs
        // first (read below), its data inputs at the end.
        for i in 0..self.pipe.len() {
            self.pipe[i].clock.next = self.clock.val();
            self.pipe[i].reset.next = self.reset.val();
            self.pipe[i].key.next = self.key.val().get_bits::<256>(0);
            self.pipe[i].key_load.next = self.key_load.val();
            self.pipe[i].key_bank.next = self.key_bank.val();
            self.pipe[i].out_ready.next = self.out_ready.val();
            self.core_key_ready.next = self.pipe[i].key_ready.val();
            self.core_in_ready.next = self.pipe[i].in_ready.val();
            self.core_out_valid.next = self.pipe[i].out_valid.val();
            self.core_out_data.next = self.pipe[i].out_data.val();
            self.core_out_tag.next = self.pipe[i].out_tag.val();
        }
        for i in 0..self.ring.len() {
            self.ring[i].clock.next = self.clock.val();
            self.ring[i].reset.next = self.reset.val();
            self.ring[i].key.next = self.key.val().get_bits::<256>(0);
            self.ring[i].key_load.next = self.key_load.val();
            self.ring[i].key_bank.next = self.key_bank.val();
            self.ring[i].out_ready.next = self.out_ready.val();
            self.core_key_ready.next = self.ring[i].key_ready.val();
            self.core_in_ready.next = self.ring[i].in_ready.val();
            self.core_out_valid.next = self.ring[i].out_valid.val();
            self.core_out_data.next = self.ring[i].out_data.val();
            self.core_out_tag.next = self.ring[i].out_tag.val();
        }

        // Tweak core (Key2), whichever the config instantiated; its ports
        // go through the tc_* locals.
        for i in 0..self.tweak.len() {
            self.tweak[i].clock.next = self.clock.val();
            self.tweak[i].reset.next = self.reset.val();
            self.tweak[i].key.next = self.key.val().get_bits::<256>(256);
            self.tweak[i].key_load.next = self.key_load.val();
            self.tweak[i].key_bank.next = self.key_bank.val();
            self.tweak[i].in_decrypt.next = false;
            self.tc_key_ready.next = self.tweak[i].key_ready.val();
            self.tc_in_ready.next = self.tweak[i].in_ready.val();
            self.tc_out_valid.next = self.tweak[i].out_valid.val();
            self.tc_out_data.next = self.tweak[i].out_data.val();
            self.tc_out_tag.next = self.tweak[i].out_tag.val();
        }
        for i in 0..self.tweak_ring.len() {
            self.tweak_ring[i].clock.next = self.clock.val();
            self.tweak_ring[i].reset.next = self.reset.val();
            self.tweak_ring[i].key.next = self.key.val().get_bits::<256>(256);
            self.tweak_ring[i].key_load.next = self.key_load.val();
            self.tweak_ring[i].key_bank.next = self.key_bank.val();
            self.tweak_ring[i].in_decrypt.next = false;
            self.tc_key_ready.next = self.tweak_ring[i].key_ready.val();
            self.tc_in_ready.next = self.tweak_ring[i].in_ready.val();
            self.tc_out_valid.next = self.tweak_ring[i].out_valid.val();
            self.tc_out_data.next = self.tweak_ring[i].out_data.val();
            self.tc_out_tag.next = self.tweak_ring[i].out_tag.val();
        }

        // Tweak core: T = E_K2(i) (IEEE 1619-2007 §5.3.1 step 1), for a
        // descriptor or (when no descriptor is offered) a prefetch.
        // Descriptor and prefetch inputs land in one-entry registers (dq,
        // pq), so `du_ready` / `pf_ready` depend on registers only: no
        // input reaches an output combinationally, whatever the key banks.
        // A descriptor takes the prefetched tweak when number and bank match
        // and no older descriptor still waits for its tweak (order).
        self.bank_eq.next = !self.dual.val() | (self.pf_bnk.q.val() == self.dq_bank.q.val());
        // Full: the 128-bit number compare straight from the registers.
        // Compact (Fmax): the compare is registered (`eq_r`) and used once
        // neither number changed on the last edge (`fresh`); a descriptor
        // waits that one clock in dq before it goes anywhere.
        // Registered per 32-bit quarter (a 128-bit compare is six LUT
        // levels; a quarter is three, and the AND of the four sits in
        // front of `hit` only).
        for i in 0..4 {
            self.eq_r[i].clock.next = self.clock.val();
            self.eq_r[i].d.next = self.pf_num.q.val().get_bits::<32>(32 * i)
                == self.dq_num.q.val().get_bits::<32>(32 * i);
        }
        self.num_eq.next = self.pf_num.q.val() == self.dq_num.q.val();
        self.dq_ok.next = self.dq_valid.q.val();
        if !self.dual.val() {
            self.num_eq.next = self.eq_r[0].q.val()
                & self.eq_r[1].q.val()
                & self.eq_r[2].q.val()
                & self.eq_r[3].q.val();
            self.dq_ok.next = self.dq_valid.q.val() & self.fresh.q.val();
        }
        self.hit.next = self.dq_ok.val()
            & self.pf_have.q.val()
            & self.num_eq.val()
            & self.bank_eq.val()
            & (self.core_n.q.val() == 0)
            & !self.hold_valid.q.val();
        // A descriptor whose tweak is being prefetched right now waits for
        // it (at most 15 clocks) instead of queueing behind it (30).
        self.pend.next = self.dq_ok.val()
            & self.pf_busy.q.val()
            & !self.pf_stale.q.val()
            & self.num_eq.val()
            & self.bank_eq.val()
            & (self.core_n.q.val() == 0)
            & !self.hold_valid.q.val();
        self.tc_in_valid.next = self.dq_ok.val() & !self.hit.val() & !self.pend.val();
        self.tc_in_data.next = self.dq_num.q.val();
        self.tc_in_bank.next = self.dq_bank.q.val();
        self.tw_dec.next = 0.into();
        if self.dq_dec.q.val() {
            self.tw_dec.next = self.tag_dec.val();
        }
        self.tw_bank.next = 0.into();
        if self.dq_bank.q.val() {
            self.tw_bank.next = self.tag_bank.val();
        }
        self.tc_in_tag.next = bit_cast::<TWEAK_TAG, 9>(self.dq_blocks.q.val())
            | self.tw_dec.val()
            | self.tw_bank.val();
        if !self.dq_valid.q.val() {
            self.tc_in_valid.next = self.pq_valid.q.val() & !self.pf_busy.q.val();
            self.tc_in_data.next = self.pq_num.q.val();
            self.tc_in_bank.next = self.pq_bank.q.val();
            self.tc_in_tag.next = self.tag_pf.val();
        }
        self.du_core_fire.next =
            self.dq_ok.val() & !self.hit.val() & !self.pend.val() & self.tc_in_ready.val();
        self.dq_go.next = self.du_core_fire.val() | self.hit.val();
        self.pf_fire.next = !self.dq_valid.q.val()
            & self.pq_valid.q.val()
            & !self.pf_busy.q.val()
            & self.tc_in_ready.val();
        self.du_ready.next = !self.dq_valid.q.val() | self.dq_go.val();
        if !self.dual.val() {
            self.du_ready.next = !self.dq_valid.q.val();
        }
        self.pf_ready.next = !self.pq_valid.q.val();
        if self.dq_go.val() {
            self.dq_valid.d.next = false;
        }
        if self.du_valid.val() & self.du_ready.val() {
            self.dq_valid.d.next = true;
            self.dq_num.d.next = self.du_number.val();
            self.dq_blocks.d.next = self.du_blocks.val();
            self.dq_dec.d.next = self.du_decrypt.val();
            self.dq_bank.d.next = self.du_bank.val();
        }
        // Compact (Fmax): du_ready is "dq empty", a register, and dq
        // samples the port whenever it is empty, valid or not, so its
        // 128-bit enables hang off one flip-flop (a descriptor then spends
        // at least one clock in dq, as the registered compare needs anyway).
        if !self.dual.val() & !self.dq_valid.q.val() {
            self.dq_valid.d.next = self.du_valid.val();
            self.dq_num.d.next = self.du_number.val();
            self.dq_blocks.d.next = self.du_blocks.val();
            self.dq_dec.d.next = self.du_decrypt.val();
            self.dq_bank.d.next = self.du_bank.val();
        }
        if self.pf_fire.val() {
            self.pq_valid.d.next = false;
        }
        self.fresh.d.next = !(self.du_valid.val() & self.du_ready.val())
            & !self.pf_fire.val()
            & (self.dual.val() | !self.pf_fire_r.q.val());
        if self.pf_valid.val() & self.pf_ready.val() {
            self.pq_valid.d.next = true;
            self.pq_num.d.next = self.pf_number.val();
            self.pq_bank.d.next = self.pf_bank.val();
        }

        // Active unit: feed P_j ^ T_j (or C_j ^ T_j) to the data core.
        // Full: data straight from the port. Compact (Fmax): through the
        // input register xin (in_ready = xin empty, a register), so the
        // unit hand-over's 128-bit selects depend on registers only.
        self.d_valid.next = self.in_valid.val();
        self.d_data.next = self.in_data.val();
        self.in_ready.next = self.active.q.val() & self.core_in_ready.val();
        if !self.dual.val() {
            self.d_valid.next = self.xin_v.q.val();
            self.d_data.next = self.xin_d.q.val();
            self.in_ready.next = !self.xin_v.q.val();
            if !self.xin_v.q.val() {
                self.xin_v.d.next = self.in_valid.val();
                self.xin_d.d.next = self.in_data.val();
            }
        }
        self.in_fire.next = self.d_valid.val()
            & self.active.q.val()
            & self.core_in_ready.val()
            & (self.dual.val() | !self.adv.q.val());
        if self.in_fire.val() {
            self.xin_v.d.next = false;
        }
        self.adv.d.next = self.in_fire.val();
        self.last_fire.next = self.in_fire.val() & self.rem_one.q.val();
        // Full: the last block hands over to the next unit in the same
        // clock. Compact (Fmax): a unit is loaded only while none is active
        // (a flip-flop), so the 128-bit tweak selects below hang off
        // registers; it costs one clock per unit.
        self.take_next.next = !self.active.q.val() | self.last_fire.val();
        if !self.dual.val() {
            self.take_next.next = !self.active.q.val();
        }
        // Next tweak, oldest first: the held prefetch hit, else the core.
        self.tw_out_pf.next = self.tc_out_valid.val() & self.tc_out_tag.val().get_bit(11);
        self.take_hold.next = self.take_next.val() & self.hold_valid.q.val();
        self.take_core.next = self.take_next.val()
            & !self.hold_valid.q.val()
            & self.tc_out_valid.val()
            & !self.tw_out_pf.val();
        self.tc_out_ready.next =
            self.tw_out_pf.val() | (self.take_next.val() & !self.hold_valid.q.val());
        self.popd.d.next = self.take_core.val();
        if !self.dual.val() {
            self.tc_out_ready.next = self.tw_out_pf.val() | self.popd.q.val();
        }
        self.core_in_valid.next =
            self.d_valid.val() & self.active.q.val() & (self.dual.val() | !self.adv.q.val());
        self.core_in_data.next = self.d_data.val() ^ self.cur_t.q.val();
        self.core_in_tag.next = bit_cast::<DATA_TAG, 128>(self.cur_t.q.val());
        if self.rem_one.q.val() {
            self.core_in_tag.next =
                bit_cast::<DATA_TAG, 128>(self.cur_t.q.val()) | self.tag_last.val();
        }
        // T_(j+1) = T_j ⊗ α (§5.2), little-endian: shift left, fold 0x87.
        // Done on 64-bit halves: Verilator simulates a 128-bit shift by 1
        // with a slow generic bit-insert loop.
        self.t_alpha_lo.next = self.cur_t.q.val().get_bits::<64>(0) << 1;
        if self.cur_t.q.val().get_bit(127) {
            self.t_alpha_lo.next = (self.cur_t.q.val().get_bits::<64>(0) << 1) ^ self.c87.val();
        }
        self.t_alpha_hi.next = (self.cur_t.q.val().get_bits::<64>(64) << 1)
            | (self.cur_t.q.val().get_bits::<64>(0) >> 63);
        self.t_alpha.next = bit_cast::<128, 64>(self.t_alpha_lo.val())
            | (bit_cast::<128, 64>(self.t_alpha_hi.val()) << 64);
        // Full: on the block's handshake. Compact: the clock after (`adv`,
        // a flip-flop); the ring's input register takes a block at most
        // every other clock, so the next block never sees a stale T_j.
        if (self.dual.val() & self.in_fire.val()) | (!self.dual.val() & self.adv.q.val()) {
            self.cur_t.d.next = self.t_alpha.val();
            self.remaining.d.next = self.remaining.q.val() - 1;
            self.rem_one.d.next = self.remaining.q.val() == 2;
        }
        if self.last_fire.val() {
            self.active_nx.next = false;
        }
        // Where the active-unit registers load from. Full: on the hand-over
        // (take_*). Compact: every clock while no unit is active, from the
        // next source (hold, else the tweak core's output), whether it is
        // valid or not; `active` says when it was. Their enables are then
        // `adv | actn` (actn = !active, its own copy): flip-flops, one LUT.
        self.ld_hold.next = self.take_hold.val();
        self.ld_core.next = self.take_core.val();
        if !self.dual.val() {
            self.ld_hold.next = self.actn.q.val() & !self.hvn.q.val();
            self.ld_core.next = self.actn.q.val() & self.hvn.q.val();
        }
        if self.ld_hold.val() {
            self.cur_t.d.next = self.hold_t.q.val();
            self.remaining.d.next = self.hold_blocks.q.val();
            self.rem_one.d.next = self.hold_blocks.q.val() == 1;
            self.cur_dec.d.next = self.hold_dec.q.val();
            self.cur_bank.d.next = self.hold_bank.q.val();
        }
        if self.ld_core.val() {
            self.cur_t.d.next = self.tc_out_data.val();
            self.remaining.d.next = self.tc_out_tag.val().get_bits::<9>(0);
            self.rem_one.d.next = self.tc_out_tag.val().get_bits::<9>(0) == 1;
            self.cur_dec.d.next = self.tc_out_tag.val().get_bit(9);
            self.cur_bank.d.next = self.tc_out_tag.val().get_bit(10);
        }
        if self.take_hold.val() {
            self.active_nx.next = true;
            self.hold_valid_nx.next = false;
        }
        if self.take_core.val() {
            self.active_nx.next = true;
        }
        // A hit becomes the active unit at once when nothing is ahead of it
        // (no held hit, no descriptor in the core: hit's own conditions),
        // else it waits in the hold register.
        // Compact: a hit always goes through the hold register, and the
        // hold register follows pf_t / dq while empty (enable = a flip-flop).
        if !self.dual.val() & !self.hold_valid.q.val() {
            self.hold_t.d.next = self.pf_t.q.val();
            self.hold_blocks.d.next = self.dq_blocks.q.val();
            self.hold_dec.d.next = self.dq_dec.q.val();
            self.hold_bank.d.next = self.dq_bank.q.val();
        }
        if self.hit.val() {
            self.pf_have.d.next = false;
            if !self.dual.val() {
                self.hold_valid_nx.next = true;
            } else if self.take_next.val() {
                self.cur_t.d.next = self.pf_t.q.val();
                self.remaining.d.next = self.dq_blocks.q.val();
                self.rem_one.d.next = self.dq_blocks.q.val() == 1;
                self.cur_dec.d.next = self.dq_dec.q.val();
                self.cur_bank.d.next = self.dq_bank.q.val();
                self.active_nx.next = true;
            } else {
                self.hold_valid_nx.next = true;
                self.hold_t.d.next = self.pf_t.q.val();
                self.hold_blocks.d.next = self.dq_blocks.q.val();
                self.hold_dec.d.next = self.dq_dec.q.val();
                self.hold_bank.d.next = self.dq_bank.q.val();
            }
        }
        // Descriptors in the tweak core whose tweak is not taken yet.
        if self.du_core_fire.val() & !self.take_core.val() {
            self.core_n.d.next = self.core_n.q.val() + 1;
        }
        if !self.du_core_fire.val() & self.take_core.val() {
            self.core_n.d.next = self.core_n.q.val() - 1;
        }
        // Prefetch: one in the core at a time; its result waits in pf_t.
        if self.tw_out_pf.val() {
            self.pf_busy.d.next = false;
            self.pf_have.d.next = !self.pf_stale.q.val();
        }
        // pf_t takes the prefetch's tweak as it leaves the core. Compact:
        // pf_t follows the core's output every clock while the prefetch is
        // in the core (pf_busy, a flip-flop, is its whole enable) and
        // stops the clock after it left, holding it. Nothing reads pf_t
        // meanwhile: pf_have is clear from the fire on, so there is no
        // hit, and the hold register's copy is only taken on a hit.
        if (self.dual.val() & self.tw_out_pf.val()) | (!self.dual.val() & self.pf_busy.q.val()) {
            self.pf_t.d.next = self.tc_out_data.val();
        }
        self.pf_fire_r.d.next = self.pf_fire.val();
        if self.pf_fire.val() {
            self.pf_busy.d.next = true;
            self.pf_stale.d.next = false;
            self.pf_have.d.next = false;
        }
        // pq cannot take a new request before the clock after the fire
        // (pf_ready is "pq empty"), so pq still holds the fired number.
        if (self.dual.val() & self.pf_fire.val()) | (!self.dual.val() & self.pf_fire_r.q.val()) {
            self.pf_num.d.next = self.pq_num.q.val();
            self.pf_bnk.d.next = self.pq_bank.q.val();
        }
        // A key load of the prefetch's bank makes it worthless.
        self.load_hits_pf.next =
            self.key_load.val() & (!self.dual.val() | (self.key_bank.val() == self.pf_bnk.q.val()));
        if self.key_load.val()
            & self.pf_fire.val()
            & (!self.dual.val() | (self.key_bank.val() == self.pq_bank.q.val()))
        {
            self.pf_stale.d.next = true;
        }
        if self.load_hits_pf.val() {
            self.pf_have.d.next = false;
            if self.pf_busy.q.val() & !self.tw_out_pf.val() {
                self.pf_stale.d.next = true;
            }
        }
        if self.reset.val() {
            self.active_nx.next = false;
            self.hold_valid_nx.next = false;
            self.core_n.d.next = 0.into();
            self.pf_busy.d.next = false;
            self.pf_have.d.next = false;
            self.dq_valid.d.next = false;
            self.pq_valid.d.next = false;
            self.xin_v.d.next = false;
            self.adv.d.next = false;
            self.popd.d.next = false;
        }
        self.active.d.next = self.active_nx.val();
        self.hold_valid.d.next = self.hold_valid_nx.val();
        self.actn.d.next = !self.active_nx.val();
        self.hvn.d.next = !self.hold_valid_nx.val();
        for i in 0..self.pipe.len() {
            self.pipe[i].in_valid.next = self.core_in_valid.val();
            self.pipe[i].in_data.next = self.core_in_data.val();
            self.pipe[i].in_decrypt.next = self.cur_dec.q.val();
            self.pipe[i].in_bank.next = self.cur_bank.q.val();
            self.pipe[i].in_tag.next = self.core_in_tag.val();
        }
        for i in 0..self.ring.len() {
            self.ring[i].in_valid.next = self.core_in_valid.val();
            self.ring[i].in_data.next = self.core_in_data.val();
            self.ring[i].in_decrypt.next = self.cur_dec.q.val();
            self.ring[i].in_bank.next = self.cur_bank.q.val();
            self.ring[i].in_tag.next = self.core_in_tag.val();
        }

        for i in 0..self.tweak.len() {
            self.tweak[i].in_valid.next = self.tc_in_valid.val();
            self.tweak[i].in_data.next = self.tc_in_data.val();
            self.tweak[i].in_bank.next = self.tc_in_bank.val();
            self.tweak[i].in_tag.next = self.tc_in_tag.val();
            self.tweak[i].out_ready.next = self.tc_out_ready.val();
        }
        for i in 0..self.tweak_ring.len() {
            self.tweak_ring[i].in_valid.next = self.tc_in_valid.val();
            self.tweak_ring[i].in_data.next = self.tc_in_data.val();
            self.tweak_ring[i].in_bank.next = self.tc_in_bank.val();
            self.tweak_ring[i].in_tag.next = self.tc_in_tag.val();
            self.tweak_ring[i].out_ready.next = self.tc_out_ready.val();
        }

        self.key_ready.next = self.core_key_ready.val() & self.tc_key_ready.val();

        // Output: C_j = CC ^ T_j (§5.3.2 step 3) / P_j = PP ^ T_j (§5.4.2).
        self.out_valid.next = self.core_out_valid.val();
        self.out_data.next = self.core_out_data.val() ^ self.core_out_tag.val().get_bits::<128>(0);
        self.out_last.next = self.core_out_tag.val().get_bit(128);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::aes_testkit::*;
    use rand::{Rng, SeedableRng};

    /// One data unit: number *i*, blocks, direction.
    struct Unit {
        number: u128,
        blocks: Vec<[u8; 16]>,
        decrypt: bool,
    }

    struct XtsRun {
        /// (block, out_last) in output order.
        out: Vec<([u8; 16], bool)>,
        /// Cycle index of every output handshake.
        out_cycles: Vec<usize>,
        /// Cycle of the first data block offered (valid high).
        first_offer: usize,
    }

    fn new_engine(cfg: Config, key: &[u8; 64]) -> XtsEngine {
        let mut uut = XtsEngine::new(cfg);
        uut.connect_all();
        uut.reset.next = true;
        uut.out_ready.next = true;
        tick(&mut uut, |u| &mut u.clock);
        assert!(!uut.key_ready.val() && !uut.out_valid.val());
        uut.reset.next = false;
        uut.key.next = bits_le::<512>(key);
        uut.key_load.next = true;
        tick(&mut uut, |u| &mut u.clock);
        uut.key_load.next = false;
        let mut n = 0;
        while !uut.key_ready.val() {
            tick(&mut uut, |u| &mut u.clock);
            n += 1;
            assert!(n < 100, "key_ready never rose");
        }
        uut
    }

    /// Streams the units (descriptors and data independently, AXI rules,
    /// random stalls with the given offer / ready probabilities).
    fn run(
        uut: &mut XtsEngine,
        units: &[Unit],
        p_du: f64,
        p_in: f64,
        p_out: f64,
        seed: u64,
    ) -> XtsRun {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let data: Vec<[u8; 16]> = units
            .iter()
            .flat_map(|u| u.blocks.iter().copied())
            .collect();
        let (mut next_du, mut du_offered) = (0usize, false);
        let (mut next_in, mut in_offered) = (0usize, false);
        let mut r = XtsRun {
            out: vec![],
            out_cycles: vec![],
            first_offer: usize::MAX,
        };
        let mut cycle = 0;
        while r.out.len() < data.len() {
            if next_du < units.len() && !du_offered {
                du_offered = rng.gen_bool(p_du);
            }
            if next_in < data.len() && !in_offered {
                in_offered = rng.gen_bool(p_in);
                if in_offered && r.first_offer == usize::MAX {
                    r.first_offer = cycle;
                }
            }
            let u = &units[next_du.min(units.len() - 1)];
            uut.du_valid.next = du_offered;
            uut.du_number.next = bits_le::<128>(&u.number.to_le_bytes());
            uut.du_blocks.next = bits::<9>(u.blocks.len() as u64);
            uut.du_decrypt.next = u.decrypt;
            uut.in_valid.next = in_offered;
            uut.in_data.next = blk(&data[next_in.min(data.len() - 1)]);
            let ready = rng.gen_bool(p_out);
            uut.out_ready.next = ready;
            settle(uut);
            if du_offered && uut.du_ready.val() {
                next_du += 1;
                du_offered = false;
            }
            if in_offered && uut.in_ready.val() {
                next_in += 1;
                in_offered = false;
            }
            if uut.out_valid.val() && ready {
                r.out.push((
                    le_bytes(uut.out_data.val()).try_into().unwrap(),
                    uut.out_last.val(),
                ));
                r.out_cycles.push(cycle);
            }
            tick(uut, |u| &mut u.clock);
            cycle += 1;
            assert!(
                cycle < 64 * data.len() + 1000,
                "XTS engine stopped producing output"
            );
        }
        r
    }

    /// RustCrypto `xts-mode` golden model, one data unit.
    fn golden(key: &[u8; 64], u: &Unit) -> Vec<[u8; 16]> {
        use aes::cipher::KeyInit;
        use xts_mode::{get_tweak_default, Xts128};
        let xts = Xts128::<aes::Aes256>::new(
            aes::Aes256::new_from_slice(&key[..32]).unwrap(),
            aes::Aes256::new_from_slice(&key[32..]).unwrap(),
        );
        let mut buf: Vec<u8> = u.blocks.concat();
        if u.decrypt {
            xts.decrypt_sector(&mut buf, get_tweak_default(u.number));
        } else {
            xts.encrypt_sector(&mut buf, get_tweak_default(u.number));
        }
        buf.chunks(16).map(|c| c.try_into().unwrap()).collect()
    }

    fn check(key: &[u8; 64], units: &[Unit], r: &XtsRun) {
        let mut k = 0;
        for (n, u) in units.iter().enumerate() {
            let want = golden(key, u);
            for (j, w) in want.iter().enumerate() {
                assert_eq!(r.out[k].0, *w, "unit {n} block {j} (decrypt={})", u.decrypt);
                assert_eq!(
                    r.out[k].1,
                    j + 1 == want.len(),
                    "out_last of unit {n} block {j}"
                );
                k += 1;
            }
        }
    }

    const V_KEY: &str = "2718281828459045235360287471352662497757247093699959574966967627\
                         3141592653589793238462643383279502884197169399375105820974944592";
    /// IEEE 1619-2007 Annex B, Vectors 10..14 (XTS-AES-256, 512-byte data
    /// units, plaintext 00 01 .. ff 00 01 .. ff): (vector, DUN, ciphertext).
    const VECTORS: [(u32, u128, &str); 5] = [
        (
            10,
            0xff,
            "1c3b3a102f770386e4836c99e370cf9bea00803f5e482357a4ae12d414a3e63b\
             5d31e276f8fe4a8d66b317f9ac683f44680a86ac35adfc3345befecb4bb188fd\
             5776926c49a3095eb108fd1098baec70aaa66999a72a82f27d848b21d4a741b0\
             c5cd4d5fff9dac89aeba122961d03a757123e9870f8acf1000020887891429ca\
             2a3e7a7d7df7b10355165c8b9a6d0a7de8b062c4500dc4cd120c0f7418dae3d0\
             b5781c34803fa75421c790dfe1de1834f280d7667b327f6c8cd7557e12ac3a0f\
             93ec05c52e0493ef31a12d3d9260f79a289d6a379bc70c50841473d1a8cc81ec\
             583e9645e07b8d9670655ba5bbcfecc6dc3966380ad8fecb17b6ba02469a020a\
             84e18e8f84252070c13e9f1f289be54fbc481457778f616015e1327a02b140f1\
             505eb309326d68378f8374595c849d84f4c333ec4423885143cb47bd71c5edae\
             9be69a2ffeceb1bec9de244fbe15992b11b77c040f12bd8f6a975a44a0f90c29\
             a9abc3d4d893927284c58754cce294529f8614dcd2aba991925fedc4ae74ffac\
             6e333b93eb4aff0479da9a410e4450e0dd7ae4c6e2910900575da401fc07059f\
             645e8b7e9bfdef33943054ff84011493c27b3429eaedb4ed5376441a77ed4385\
             1ad77f16f541dfd269d50d6a5f14fb0aab1cbb4c1550be97f7ab4066193c4caa\
             773dad38014bd2092fa755c824bb5e54c4f36ffda9fcea70b9c6e693e148c151",
        ),
        (
            11,
            0xffff,
            "77a31251618a15e6b92d1d66dffe7b50b50bad552305ba0217a610688eff7e11\
             e1d0225438e093242d6db274fde801d4cae06f2092c728b2478559df58e837c2\
             469ee4a4fa794e4bbc7f39bc026e3cb72c33b0888f25b4acf56a2a9804f1ce6d\
             3d6e1dc6ca181d4b546179d55544aa7760c40d06741539c7e3cd9d2f6650b201\
             3fd0eeb8c2b8e3d8d240ccae2d4c98320a7442e1c8d75a42d6e6cfa4c2eca179\
             8d158c7aecdf82490f24bb9b38e108bcda12c3faf9a21141c3613b58367f922a\
             aa26cd22f23d708dae699ad7cb40a8ad0b6e2784973dcb605684c08b8d6998c6\
             9aac049921871ebb65301a4619ca80ecb485a31d744223ce8ddc2394828d6a80\
             470c092f5ba413c3378fa6054255c6f9df4495862bbb3287681f931b687c888a\
             bf844dfc8fc28331e579928cd12bd2390ae123cf03818d14dedde5c0c24c8ab0\
             18bfca75ca096f2d531f3d1619e785f1ada437cab92e980558b3dce1474afb75\
             bfedbf8ff54cb2618e0244c9ac0d3c66fb51598cd2db11f9be39791abe447c63\
             094f7c453b7ff87cb5bb36b7c79efb0872d17058b83b15ab0866ad8a58656c5a\
             7e20dbdf308b2461d97c0ec0024a2715055249cf3b478ddd4740de654f75ca68\
             6e0d7345c69ed50cdc2a8b332b1f8824108ac937eb050585608ee734097fc090\
             54fbff89eeaeea791f4a7ab1f9868294a4f9e27b42af8100cb9d59cef9645803",
        ),
        (
            12,
            0xffffff,
            "e387aaa58ba483afa7e8eb469778317ecf4cf573aa9d4eac23f2cdf914e4e200\
             a8b490e42ee646802dc6ee2b471b278195d60918ececb44bf79966f83faba049\
             9298ebc699c0c8634715a320bb4f075d622e74c8c932004f25b41e361025b5a8\
             7815391f6108fc4afa6a05d9303c6ba68a128a55705d415985832fdeaae6c8e1\
             9110e84d1b1f199a2692119edc96132658f09da7c623efcec712537a3d94c0bf\
             5d7e352ec94ae5797fdb377dc1551150721adf15bd26a8efc2fcaad56881fa9e\
             62462c28f30ae1ceaca93c345cf243b73f542e2074a705bd2643bb9f7cc79bb6\
             e7091ea6e232df0f9ad0d6cf502327876d82207abf2115cdacf6d5a48f6c1879\
             a65b115f0f8b3cb3c59d15dd8c769bc014795a1837f3901b5845eb491adfefe0\
             97b1fa30a12fc1f65ba22905031539971a10f2f36c321bb51331cdefb39e3964\
             c7ef079994f5b69b2edd83a71ef549971ee93f44eac3938fcdd61d01fa71799d\
             a3a8091c4c48aa9ed263ff0749df95d44fef6a0bb578ec69456aa5408ae32c7a\
             f08ad7ba8921287e3bbee31b767be06a0e705c864a769137df28292283ea81a2\
             480241b44d9921cdbec1bc28dc1fda114bd8e5217ac9d8ebafa720e9da4f9ace\
             231cc949e5b96fe76ffc21063fddc83a6b8679c00d35e09576a875305bed5f36\
             ed242c8900dd1fa965bc950dfce09b132263a1eef52dd6888c309f5a7d712826",
        ),
        (
            13,
            0xffffffff,
            "bf53d2dade78e822a4d949a9bc6766b01b06a8ef70d26748c6a7fc36d80ae4c5\
             520f7c4ab0ac8544424fa405162fef5a6b7f229498063618d39f0003cb5fb8d1\
             c86b643497da1ff945c8d3bedeca4f479702a7a735f043ddb1d6aaade3c4a0ac\
             7ca7f3fa5279bef56f82cd7a2f38672e824814e10700300a055e1630b8f1cb0e\
             919f5e942010a416e2bf48cb46993d3cb6a51c19bacf864785a00bc2ecff15d3\
             50875b246ed53e68be6f55bd7e05cfc2b2ed6432198a6444b6d8c247fab941f5\
             69768b5c429366f1d3f00f0345b96123d56204c01c63b22ce78baf116e525ed9\
             0fdea39fa469494d3866c31e05f295ff21fea8d4e6e13d67e47ce722e9698a1c\
             1048d68ebcde76b86fcf976eab8aa9790268b7068e017a8b9b749409514f1053\
             027fd16c3786ea1bac5f15cb79711ee2abe82f5cf8b13ae73030ef5b9e4457e7\
             5d1304f988d62dd6fc4b94ed38ba831da4b7634971b6cd8ec325d9c61c00f1df\
             73627ed3745a5e8489f3a95c69639c32cd6e1d537a85f75cc844726e8a72fc00\
             77ad22000f1d5078f6b866318c668f1ad03d5a5fced5219f2eabbd0aa5c0f460\
             d183f04404a0d6f469558e81fab24a167905ab4c7878502ad3e38fdbe62a4155\
             6cec37325759533ce8f25f367c87bb5578d667ae93f9e2fd99bcbc5f2fbba88c\
             f6516139420fcff3b7361d86322c4bd84c82f335abb152c4a93411373aaa8220",
        ),
        (
            14,
            0xffffffffff,
            "64497e5a831e4a932c09be3e5393376daa599548b816031d224bbf50a818ed23\
             50eae7e96087c8a0db51ad290bd00c1ac1620857635bf246c176ab463be30b80\
             8da548081ac847b158e1264be25bb0910bbc92647108089415d45fab1b3d2604\
             e8a8eff1ae4020cfa39936b66827b23f371b92200be90251e6d73c5f86de5fd4\
             a950781933d79a28272b782a2ec313efdfcc0628f43d744c2dc2ff3dcb66999b\
             50c7ca895b0c64791eeaa5f29499fb1c026f84ce5b5c72ba1083cddb5ce45434\
             631665c333b60b11593fb253c5179a2c8db813782a004856a1653011e93fb6d8\
             76c18366dd8683f53412c0c180f9c848592d593f8609ca736317d356e13e2bff\
             3a9f59cd9aeb19cd482593d8c46128bb32423b37a9adfb482b99453fbe25a41b\
             f6feb4aa0bef5ed24bf73c762978025482c13115e4015aac992e5613a3b5c2f6\
             85b84795cb6e9b2656d8c88157e52c42f978d8634c43d06fea928f2822e465aa\
             6576e9bf419384506cc3ce3c54ac1a6f67dc66f3b30191e698380bc999b05abc\
             e19dc0c6dcc2dd001ec535ba18deb2df1a101023108318c75dc98611a09dc48a\
             0acdec676fabdf222f07e026f059b672b56e5cbc8e1d21bbd867dd9272120546\
             81d70ea737134cdfce93b6f82ae22423274e58a0821cc5502e2d0ab4585e94de\
             6975be5e0b4efce51cd3e70c25a1fbbbd609d273ad5b0d59631c531f6a0a57b9",
        ),
    ];

    fn ieee1619_vectors(cfg: Config) {
        let key: [u8; 64] = unhex(V_KEY).try_into().unwrap();
        let pt: Vec<u8> = (0..512).map(|i| i as u8).collect();
        let to_blocks = |b: &[u8]| {
            b.chunks(16)
                .map(|c| c.try_into().unwrap())
                .collect::<Vec<_>>()
        };
        let mut units = vec![];
        for (_, dun, ct) in VECTORS {
            let ct = unhex(ct.trim());
            assert_eq!(ct.len(), 512);
            units.push(Unit {
                number: dun,
                blocks: to_blocks(&pt),
                decrypt: false,
            });
            units.push(Unit {
                number: dun,
                blocks: to_blocks(&ct),
                decrypt: true,
            });
        }
        let mut uut = new_engine(cfg, &key);
        let r = run(&mut uut, &units, 1.0, 1.0, 1.0, 10);
        for (v, (n, _, ct)) in VECTORS.iter().enumerate() {
            let enc: Vec<u8> = r.out[64 * v..64 * v + 32]
                .iter()
                .flat_map(|b| b.0)
                .collect();
            let dec: Vec<u8> = r.out[64 * v + 32..64 * v + 64]
                .iter()
                .flat_map(|b| b.0)
                .collect();
            assert_eq!(
                hex::encode(&enc),
                ct.trim(),
                "IEEE 1619-2007 Annex B, Vector {n}, encrypt"
            );
            assert_eq!(dec, pt, "IEEE 1619-2007 Annex B, Vector {n}, decrypt");
        }
        // The golden model agrees with the published vectors too.
        check(&key, &units, &r);
    }

    #[test]
    fn xts_full_ieee1619_vectors_10_to_14() {
        ieee1619_vectors(Config::Full);
    }

    #[test]
    fn xts_compact_ieee1619_vectors_10_to_14() {
        ieee1619_vectors(Config::Compact);
    }

    fn random_units(cfg: Config, seed: u64) {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let mut key = [0u8; 64];
        rng.fill(&mut key[..]);
        let lens = [32usize, 1, 3, 32, 17, 2, 32, 5];
        let units: Vec<Unit> = lens
            .iter()
            .map(|&n| Unit {
                number: rng.gen(),
                blocks: (0..n).map(|_| rng.gen()).collect(),
                decrypt: rng.gen(),
            })
            .collect();
        let mut uut = new_engine(cfg, &key);
        let r = run(&mut uut, &units, 0.5, 0.7, 0.6, seed + 1);
        check(&key, &units, &r);
        // And once more back to back without stalls, same engine and key.
        let r = run(&mut uut, &units, 1.0, 1.0, 1.0, seed + 2);
        check(&key, &units, &r);
    }

    #[test]
    fn xts_full_random_units_with_stalls_vs_xts_mode() {
        random_units(Config::Full, 20);
    }

    #[test]
    fn xts_compact_random_units_with_stalls_vs_xts_mode() {
        random_units(Config::Compact, 30);
    }

    /// One step of a scripted run: strictly in order, one per clock at most.
    enum Op {
        /// `key_load` into a bank (waits until no unit of the bank is in
        /// flight, the contract).
        Load(bool, [u8; 64]),
        /// Tweak prefetch (bank, number).
        Prefetch(bool, u128),
        /// A descriptor of a bank; its blocks follow on the data port.
        Unit(bool, Unit),
        /// Idle clocks.
        Wait(usize),
    }

    /// Runs a script against an engine (reset inside), data offered with
    /// probability `p_in`, output ready with `p_out`. Checks every block
    /// against `xts-mode` with the key its bank held when the descriptor
    /// was accepted. Returns, per unit, the clocks from its descriptor
    /// handshake to its first output block.
    fn run_script(cfg: Config, script: Vec<Op>, p_in: f64, p_out: f64, seed: u64) -> Vec<usize> {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let mut uut = XtsEngine::new(cfg);
        uut.connect_all();
        uut.reset.next = true;
        tick(&mut uut, |u| &mut u.clock);
        uut.reset.next = false;
        let mut ops: std::collections::VecDeque<Op> = script.into();
        let mut held = [[0u8; 64]; 2];
        // Accepted units: (bank, expected output blocks, accept cycle).
        let mut accepted: Vec<(usize, Vec<[u8; 16]>, usize)> = vec![];
        let mut data: std::collections::VecDeque<[u8; 16]> = Default::default();
        let (mut out_unit, mut out_blk) = (0usize, 0usize);
        let mut first_out = vec![];
        let mut in_offered = false;
        let mut cycle = 0usize;
        loop {
            let busy_bank = |b: bool, out_unit: usize| {
                accepted[out_unit..]
                    .iter()
                    .any(|(ub, _, _)| *ub == b as usize)
            };
            uut.key_load.next = false;
            uut.pf_valid.next = false;
            uut.du_valid.next = false;
            let mut wait_done = false;
            match ops.front_mut() {
                Some(Op::Load(b, k)) if !busy_bank(*b, out_unit) => {
                    uut.key_load.next = true;
                    uut.key_bank.next = *b;
                    uut.key.next = bits_le::<512>(k);
                }
                Some(Op::Load(..)) => {}
                Some(Op::Prefetch(b, n)) => {
                    uut.pf_valid.next = true;
                    uut.pf_bank.next = *b;
                    uut.pf_number.next = bits_le::<128>(&n.to_le_bytes());
                }
                Some(Op::Unit(b, u)) => {
                    uut.du_valid.next = true;
                    uut.du_bank.next = *b;
                    uut.du_number.next = bits_le::<128>(&u.number.to_le_bytes());
                    uut.du_blocks.next = bits::<9>(u.blocks.len() as u64);
                    uut.du_decrypt.next = u.decrypt;
                }
                Some(Op::Wait(n)) => {
                    if *n == 0 {
                        wait_done = true;
                    } else {
                        *n -= 1;
                    }
                }
                None => {}
            }
            if !data.is_empty() && !in_offered {
                in_offered = rng.gen_bool(p_in);
            }
            uut.in_valid.next = in_offered;
            uut.in_data.next = blk(data.front().unwrap_or(&[0; 16]));
            let ready = rng.gen_bool(p_out);
            uut.out_ready.next = ready;
            settle(&mut uut);
            // The inverted copies that select the active unit's source
            // track their originals on every clock after the first.
            if cycle > 0 {
                assert_eq!(uut.actn.q.val(), !uut.active.q.val(), "actn, cycle {cycle}");
                assert_eq!(
                    uut.hvn.q.val(),
                    !uut.hold_valid.q.val(),
                    "hvn, cycle {cycle}"
                );
            }
            if uut.out_valid.val() && ready {
                let (b, want, at) = &accepted[out_unit];
                let got: [u8; 16] = le_bytes(uut.out_data.val()).try_into().unwrap();
                assert_eq!(
                    got, want[out_blk],
                    "unit {out_unit} (bank {b}) block {out_blk}"
                );
                assert_eq!(uut.out_last.val(), out_blk + 1 == want.len());
                if out_blk == 0 {
                    first_out.push(cycle - at);
                }
                out_blk += 1;
                if out_blk == want.len() {
                    out_unit += 1;
                    out_blk = 0;
                }
            }
            if in_offered && uut.in_ready.val() {
                data.pop_front();
                in_offered = false;
            }
            let pop = match ops.front() {
                Some(Op::Load(b, k)) if uut.key_load.val() => {
                    held[*b as usize] = *k;
                    true
                }
                Some(Op::Prefetch(..)) => uut.pf_ready.val(),
                Some(Op::Unit(b, u)) if uut.du_ready.val() => {
                    accepted.push((*b as usize, golden(&held[*b as usize], u), cycle));
                    data.extend(u.blocks.iter().copied());
                    true
                }
                Some(Op::Wait(_)) => wait_done,
                _ => false,
            };
            if pop {
                ops.pop_front();
            }
            tick(&mut uut, |u| &mut u.clock);
            cycle += 1;
            if ops.is_empty() && out_unit == accepted.len() {
                break;
            }
            assert!(cycle < 50_000, "scripted XTS run stalled");
        }
        first_out
    }

    fn rand_unit(rng: &mut impl Rng, blocks: usize) -> Unit {
        Unit {
            number: rng.gen::<u64>() as u128,
            blocks: (0..blocks).map(|_| rng.gen()).collect(),
            decrypt: rng.gen(),
        }
    }

    /// Full: units of bank 0 keep streaming while bank 1 is loaded, units
    /// of both banks alternate, then bank 0 is reloaded while bank-1 units
    /// stream; random stalls; every block vs `xts-mode`. The loads never
    /// drain the engine: the unit after a load starts in the clock its
    /// tweak is ready.
    #[test]
    fn xts_full_two_key_banks() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(21);
        for round in 0..3 {
            let k: [[u8; 64]; 3] = [0, 1, 2].map(|_| core::array::from_fn(|_| rng.gen()));
            let mut script = vec![Op::Load(false, k[0]), Op::Wait(20)];
            script.push(Op::Unit(false, rand_unit(&mut rng, 32)));
            script.push(Op::Load(true, k[1]));
            for i in 0..8 {
                script.push(Op::Unit(i % 2 == 1, rand_unit(&mut rng, 1 + i * 3)));
            }
            script.push(Op::Load(false, k[2]));
            for i in 0..6 {
                script.push(Op::Unit(i % 3 != 0, rand_unit(&mut rng, 2 + i)));
            }
            let (p_in, p_out) = if round == 0 { (1.0, 1.0) } else { (0.7, 0.7) };
            let lat = run_script(Config::Full, script, p_in, p_out, round);
            assert_eq!(lat.len(), 15);
        }
    }

    /// Tweak prefetch, both configs: a descriptor whose number and bank
    /// were prefetched starts its data at once (first block out 16 clocks
    /// after the descriptor in Full, vs 31 without); a prefetch of another
    /// number, or of a bank that was reloaded since, is ignored and the
    /// unit still gets the right tweak. Then random scripts with stalls.
    fn prefetch(cfg: Config) {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        let k: [[u8; 64]; 2] = [0, 1].map(|_| core::array::from_fn(|_| rng.gen()));
        let dual = cfg == Config::Full;
        // Compact: the ring cores take ~3x longer (keys, tweak, data).
        let sc = if dual { 1 } else { 3 };
        let tw_lat = if dual {
            crate::crypto::aes_iter::AES_ITER_LATENCY
        } else {
            crate::crypto::aes_ring::AES_RING_LATENCY
        };
        let u = |rng: &mut rand_chacha::ChaCha8Rng, n: u128| Unit {
            number: n,
            ..rand_unit(rng, 4)
        };
        let script = vec![
            Op::Load(false, k[0]),
            Op::Wait(20 * sc),
            // 0: no prefetch.
            Op::Unit(false, u(&mut rng, 7)),
            Op::Wait(80 * sc),
            // 1: prefetched.
            Op::Prefetch(false, 8),
            Op::Wait(40 * sc),
            Op::Unit(false, u(&mut rng, 8)),
            Op::Wait(80 * sc),
            // 2: prefetch of another number.
            Op::Prefetch(false, 9),
            Op::Wait(40 * sc),
            Op::Unit(false, u(&mut rng, 10)),
            Op::Wait(80 * sc),
            // 3: prefetched, then its bank reloaded while it computes.
            Op::Prefetch(false, 11),
            Op::Load(false, k[1]),
            Op::Wait(40 * sc),
            Op::Unit(false, u(&mut rng, 11)),
            Op::Wait(80 * sc),
            // 4: prefetched, then its bank reloaded after it finished.
            Op::Prefetch(false, 12),
            Op::Wait(40 * sc),
            Op::Load(false, k[0]),
            Op::Wait(40 * sc),
            Op::Unit(false, u(&mut rng, 12)),
            Op::Wait(80 * sc),
            // 5: the descriptor arrives while its prefetch still computes.
            Op::Prefetch(false, 13),
            Op::Wait(4),
            Op::Unit(false, u(&mut rng, 13)),
            Op::Wait(80 * sc),
        ];
        let lat = run_script(cfg, script, 1.0, 1.0, 1);
        let miss = lat[0];
        // Compact: a hit passes through the hold register (one clock).
        let hold = if dual { 0 } else { 1 };
        assert_eq!(
            lat[1] + tw_lat,
            miss + hold,
            "prefetch hit saves the tweak core's latency"
        );
        assert_eq!(lat[2], miss, "other number: no hit");
        assert_eq!(lat[3], miss, "reloaded bank: no hit");
        assert_eq!(lat[4], miss, "reloaded bank: no hit");
        assert!(
            lat[5] > lat[1] && lat[5] < miss,
            "a descriptor waits for its prefetch in flight ({} clocks)",
            lat[5]
        );
        if dual {
            assert_eq!(miss, 31);
        }
        // Random scripts: prefetches (some used, some not) between units of
        // random banks, loads of the idle bank, random stalls.
        for seed in 0..4 {
            let mut script = vec![Op::Load(false, k[0])];
            if dual {
                script.push(Op::Load(true, k[1]));
            }
            for next in 100u128..130 {
                let b = dual && rng.gen_bool(0.5);
                match rng.gen_range(0..6) {
                    0 => script.push(Op::Prefetch(b, next + rng.gen_range(0..2))),
                    1 => script.push(Op::Prefetch(b, next)),
                    2 if dual => {
                        let key = core::array::from_fn(|_| rng.gen());
                        script.push(Op::Load(b, key));
                    }
                    _ => {}
                }
                let blocks = rng.gen_range(1..40);
                script.push(Op::Unit(
                    b,
                    Unit {
                        number: next,
                        ..rand_unit(&mut rng, blocks)
                    },
                ));
            }
            run_script(cfg, script, 0.8, 0.7, seed);
        }
    }

    #[test]
    fn xts_full_tweak_prefetch() {
        prefetch(Config::Full);
    }

    #[test]
    fn xts_compact_tweak_prefetch() {
        prefetch(Config::Compact);
    }

    fn back_to_back_units(cfg: Config, n_units: usize) -> (Vec<Unit>, [u8; 64], XtsEngine) {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(40);
        let mut key = [0u8; 64];
        rng.fill(&mut key[..]);
        let units: Vec<Unit> = (0..n_units)
            .map(|i| Unit {
                number: 1000 + i as u128,
                blocks: (0..32).map(|_| rng.gen()).collect(),
                decrypt: i % 3 == 1,
            })
            .collect();
        let uut = new_engine(cfg, &key);
        (units, key, uut)
    }

    #[test]
    fn xts_full_sustains_one_block_per_clock() {
        let (units, key, mut uut) = back_to_back_units(Config::Full, 8);
        let r = run(&mut uut, &units, 1.0, 1.0, 1.0, 41);
        check(&key, &units, &r);
        // 8 x 512-B units: 256 output blocks on 256 consecutive clocks.
        let span = r.out_cycles.last().unwrap() - r.out_cycles[0] + 1;
        println!(
            "xts full: 256 blocks in {span} clocks, first-block latency {}",
            r.out_cycles[0] - r.first_offer
        );
        assert_eq!(span, 256, "full XTS must output one block per clock");
        assert!(r.out_cycles[0] - r.first_offer <= 40, "first block latency");
    }

    #[test]
    fn xts_compact_at_least_one_byte_per_clock() {
        let (units, key, mut uut) = back_to_back_units(Config::Compact, 3);
        let r = run(&mut uut, &units, 1.0, 1.0, 1.0, 42);
        check(&key, &units, &r);
        // Steady state: clocks between the last blocks of units 1 and 2.
        let per_unit = r.out_cycles[95] - r.out_cycles[63];
        println!("xts compact: {per_unit} clocks per 512-B unit");
        assert!(
            per_unit <= 512,
            "compact XTS below 1 B/clock: {per_unit} clocks / 512 B"
        );
    }

    fn synth(cfg: Config) {
        let mut uut = XtsEngine::new(cfg);
        uut.connect_all();
        let t = std::time::Instant::now();
        let r = crate::synth::check_synthesizable(&format!("xts_{cfg}"), &generate_verilog(&uut))
            .unwrap();
        println!(
            "xts {cfg}: {} cells, yosys {:.1} s",
            r.cells,
            t.elapsed().as_secs_f64()
        );
    }

    #[test]
    fn xts_compact_is_synthesizable() {
        synth(Config::Compact);
    }

    #[test]
    fn xts_full_is_synthesizable() {
        synth(Config::Full);
    }
}
