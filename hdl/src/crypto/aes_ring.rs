//! AES-256 ring core: the compact engines' AES (`Config::Compact` XTS data
//! and tweak cores, GCM) built for ECP5 Fmax. Same ports as
//! [`super::aes_iter::AesIter`] with one key bank (docs/ENGINES.md
//! "AES-256 core"; `key_bank` and `in_bank` are ignored).
//!
//! One AES round (FIPS-197 §5.1 Cipher, §5.3 InvCipher, Fig. 12) is cut
//! into three pipeline stages, and three blocks circulate in the ring, one
//! per stage, so the rate stays at **14 clocks per block** (16/14 =
//! 1.14 B/clock) while each clock holds about a third of a round:
//!
//! | stage | register in | logic | round key |
//! |---|---|---|---|
//! | 0 | S-box ROM outputs, round `r0`, RAM read data `w[r]` / `w[14-r]` | (Inv)SubBytes of every byte (§5.1.1 / §5.3.2): 16 synchronous 512 x 8 ROMs (block RAM on ECP5) read on the edge the block enters stage 0 | the RAM's output into `kd1` (InvCipher) or `ke1` (Cipher), the other zero |
//! | 1 | `a1`, `kd1` | (Inv)ShiftRows (§5.1.2 / §5.3.1); `^ kd1` (InvCipher AddRoundKey, §5.3.4), then P of InvMixColumns unless last | `ke1 -> ke2` |
//! | 2 | `a2`, `ke2` | MixColumns (§5.1.3) unless last; `^ ke2` (Cipher AddRoundKey, §5.1.4); result to the S-box ROM addresses (next round) or to the output FIFO (round 14) | |
//!
//! SubBytes and ShiftRows commute (ShiftRows moves whole bytes), so the
//! S-box sits first: its ROMs' address registers are the stage-0 state
//! register (on ECP5 they are block RAMs, 8 DP16KD per ring, and the
//! 128 x 16-LUT S-box fan-out is gone from the fabric);
//! InvMixColumns = MixColumns ∘ P (aes_round.rs) puts P in stage 1 and the
//! shared MixColumns in stage 2. Round *r* uses `w[r]` (Cipher) or
//! `w[14-r]` (InvCipher). The round keys live in a 16 x 128-bit RAM (LUT
//! RAM on ECP5: no 15:1 multiplexer of 128-bit registers, and the
//! schedule's 1,920-bit register is left unread and removed by synthesis);
//! it is read with the block's next key index as the block enters stage 0,
//! so the key arrives registered alongside it (the index is a register,
//! `ka`, decided while the block is in stage 1). The per-block selects
//! of stages 1 and 2 (P or not, MixColumns or not, which stage adds the
//! key) are decided one stage earlier and registered with the block.
//!
//! Entry: a block accepted on `in_*` waits in the input register `iq`
//! and enters stage 0 (`iq ^ w[0]`, or `^ w[14]` for InvCipher, §5.1 /
//! §5.3) on a clock when no block leaves stage 2 for stage 0. It leaves the
//! ring after round 14 into the output register (`out_*`), or into a
//! 4-entry FIFO behind it while that is full. Blocks are only admitted
//! while fewer than 5 are in the ring, the FIFO and the output register
//! (`occ`), so the ring never stalls: `out_ready` reaches no ring register.
//! Every control decision is taken from registers one clock ahead
//! (`fin`, `busy2`), so the wide enables have one LUT before them.
//!
//! Latency: accepted in cycle *c*, on `out_*` in cycle *c* + 44 (1 input
//! register + 1 entry + 14 x 3 stages + 1 output register). In-order: blocks leave in
//! the order they entered. `in_ready` is a register.
//! Key load: the schedule is the split one (two clocks per round key,
//! `key_ready` 30 clocks after `key_load`: the schedule's 29 plus one in
//! which the initial round-key register `wf` follows the new w[14]); a key
//! may be loaded only while no block is in the core.

use super::aes_key_schedule::AesKeySchedule;
use super::aes_round::{MixColumn, PColumn, ShiftRows};
use super::aes_sbox::{inv_sbox_table, sbox_table};
use rust_hdl::prelude::*;

/// Clocks per block when streaming (three blocks per 42 clocks).
pub const AES_RING_CYCLES_PER_BLOCK: usize = 14;
/// Clocks from `key_load` to `key_ready` of [`AesRing`].
pub const AES_RING_KEY_CLOCKS: usize = super::aes_key_schedule::KEY_SCHEDULE_SPLIT_CLOCKS + 1;
/// Latency of [`AesRing`] in clocks (input handshake to output valid).
pub const AES_RING_LATENCY: usize = 44;
/// Blocks in the ring, its 4-entry output FIFO and the output (head)
/// register together: the admission limit.
pub const AES_RING_DEPTH: usize = 5;

/// AES-256 ring core, three blocks in flight. `TAG` bits ride along.
#[derive(LogicBlock)]
pub struct AesRing<const TAG: usize> {
    /// Clock.
    pub clock: Signal<In, Clock>,
    /// Synchronous reset: drops every block and forgets the key.
    pub reset: Signal<In, Bit>,
    /// AES-256 key, byte *i* at `[8i+7:8i]`.
    pub key: Signal<In, Bits<256>>,
    /// Strobe: expand `key` (only while no block is in the core).
    pub key_load: Signal<In, Bit>,
    /// Ignored (one bank).
    pub key_bank: Signal<In, Bit>,
    /// Round keys usable (register).
    pub key_ready: Signal<Out, Bit>,
    /// Input handshake.
    pub in_valid: Signal<In, Bit>,
    /// Input handshake (registers only).
    pub in_ready: Signal<Out, Bit>,
    /// Plaintext (encrypt) or ciphertext (decrypt).
    pub in_data: Signal<In, Bits<128>>,
    /// 0 = FIPS-197 Cipher, 1 = InvCipher, per block.
    pub in_decrypt: Signal<In, Bit>,
    /// Ignored (one bank).
    pub in_bank: Signal<In, Bit>,
    /// Carried unchanged to `out_tag`.
    pub in_tag: Signal<In, Bits<TAG>>,
    /// Output handshake.
    pub out_valid: Signal<Out, Bit>,
    /// Output handshake.
    pub out_ready: Signal<In, Bit>,
    /// Result block.
    pub out_data: Signal<Out, Bits<128>>,
    /// The block's `in_tag`.
    pub out_tag: Signal<Out, Bits<TAG>>,
    enter: Signal<Local, Bit>,
    pop: Signal<Local, Bit>,
    take: Signal<Local, Bit>,
    f_any: Signal<Local, Bit>,
    f_out: Signal<Local, Bit>,
    f_data: Signal<Local, Bits<128>>,
    f_tag: Signal<Local, Bits<TAG>>,
    cnt_next: Signal<Local, Bits<3>>,
    wp_next: Signal<Local, Bits<2>>,
    rp_next: Signal<Local, Bits<2>>,
    fin_next: Signal<Local, Bit>,
    c_full: Constant<Bits<3>>,
    last1: Signal<Local, Bit>,
    w_first: Signal<Local, Bits<128>>,
    /// The first round-key RAM address (1 or 13) of the block `iq`
    /// holds next clock.
    ki0_next: Signal<Local, Bits<4>>,
    /// `iq_dec` as of next clock.
    dec_iq: Signal<Local, Bit>,
    sub_out: Signal<Local, Bits<128>>,
    a_next: Signal<Local, Bits<128>>,
    dec_next: Signal<Local, Bit>,
    sc0: Signal<Local, Bits<32>>,
    sc1: Signal<Local, Bits<32>>,
    sc2: Signal<Local, Bits<32>>,
    sc3: Signal<Local, Bits<32>>,
    c256: Constant<Bits<9>>,
    dec_bit: Signal<Local, Bits<9>>,
    b1: Signal<Local, Bits<128>>,
    p_out: Signal<Local, Bits<128>>,
    m_out: Signal<Local, Bits<128>>,
    y: Signal<Local, Bits<128>>,
    /// Stage 2 of the final round (no MixColumns): the block's result.
    y_out: Signal<Local, Bits<128>>,
    c14: Constant<Bits<4>>,
    c13: Constant<Bits<4>>,
    zero128: Constant<Bits<128>>,
    ks: AesKeySchedule,
    rk: RAM<Bits<128>, 4>,
    w0: DFF<Bits<128>>,
    w14: DFF<Bits<128>>,
    sbox: Vec<SyncROM<Bits<8>, 9>>,
    sr: ShiftRows,
    pc: [PColumn; 4],
    mc: [MixColumn; 4],
    // Input register.
    iq_v: DFF<Bit>,
    iq_d: DFF<Bits<128>>,
    /// The initial round key of the block in `iq` (w[0], or w[14] for
    /// InvCipher), tracked every clock so no `iq_dec` select sits in front
    /// of the S-box ROM addresses.
    wf: DFF<Bits<128>>,
    /// The round-key RAM read address of the block entering stage 0 (its
    /// next round's key, or the waiting block's first one), decided in
    /// stage 1 a clock ahead: the ~32 LUT-RAM slices' address comes
    /// straight from flip-flops.
    ka: DFF<Bits<4>>,
    /// `key_ready` a clock late (and dropped by a key load at once), so
    /// `wf` has followed a new w[14] before a block may enter.
    kready: DFF<Bit>,
    iq_dec: DFF<Bit>,
    iq_tag: DFF<Bits<TAG>>,
    // Stage 0.
    v0: DFF<Bit>,
    r0: DFF<Bits<4>>,
    d0: DFF<Bit>,
    t0: DFF<Bits<TAG>>,
    // Stage 1.
    v1: DFF<Bit>,
    a1: DFF<Bits<128>>,
    r1: DFF<Bits<4>>,
    d1: DFF<Bit>,
    t1: DFF<Bits<TAG>>,
    kd1: DFF<Bits<128>>,
    ke1: DFF<Bits<128>>,
    usep1: DFF<Bit>,
    // Stage 2.
    a2: DFF<Bits<128>>,
    r2: DFF<Bits<4>>,
    d2: DFF<Bit>,
    t2: DFF<Bits<TAG>>,
    ke2: DFF<Bits<128>>,
    /// Stage 2 holds a block that goes round again (stage 0 is taken).
    busy2: DFF<Bit>,
    /// `!busy2`, a second flip-flop (stored inverted, so synthesis keeps
    /// it) that alone selects `a_next`: the S-box ROM addresses get a
    /// select of their own instead of sharing busy2's ~270 loads.
    busy2n: DFF<Bit>,
    /// Stage 2 holds a block that leaves (round 14 done).
    fin: DFF<Bit>,
    // Output FIFO: write and read pointers, entries held.
    e: [DFF<Bits<128>>; 4],
    g: [DFF<Bits<TAG>>; 4],
    hv: DFF<Bit>,
    hd: DFF<Bits<128>>,
    ht: DFF<Bits<TAG>>,
    wp: DFF<Bits<2>>,
    rp: DFF<Bits<2>>,
    rs1: DFF<Bit>,
    rs2: DFF<Bit>,
    rs3: DFF<Bit>,
    pe0: DFF<Bit>,
    pe1: DFF<Bit>,
    pe2: DFF<Bit>,
    pe3: DFF<Bit>,
    fne: DFF<Bit>,
    cnt: DFF<Bits<3>>,
    occ: DFF<Bits<3>>,
}

impl<const TAG: usize> Default for AesRing<TAG> {
    fn default() -> Self {
        assert!(TAG >= 1, "AesRing needs TAG >= 1");
        Self {
            clock: Signal::default(),
            reset: Signal::default(),
            key: Signal::default(),
            key_load: Signal::default(),
            key_bank: Signal::default(),
            key_ready: Signal::default(),
            in_valid: Signal::default(),
            in_ready: Signal::default(),
            in_data: Signal::default(),
            in_decrypt: Signal::default(),
            in_bank: Signal::default(),
            in_tag: Signal::default(),
            out_valid: Signal::default(),
            out_ready: Signal::default(),
            out_data: Signal::default(),
            out_tag: Signal::default(),
            enter: Signal::default(),
            pop: Signal::default(),
            take: Signal::default(),
            f_any: Signal::default(),
            f_out: Signal::default(),
            f_data: Signal::default(),
            f_tag: Signal::default(),
            cnt_next: Signal::default(),
            wp_next: Signal::default(),
            rp_next: Signal::default(),
            fin_next: Signal::default(),
            c_full: Constant::new(bits::<3>(AES_RING_DEPTH as u64)),
            last1: Signal::default(),
            w_first: Signal::default(),
            ki0_next: Signal::default(),
            dec_iq: Signal::default(),
            sub_out: Signal::default(),
            a_next: Signal::default(),
            dec_next: Signal::default(),
            sc0: Signal::default(),
            sc1: Signal::default(),
            sc2: Signal::default(),
            sc3: Signal::default(),
            c256: Constant::new(256.into()),
            dec_bit: Signal::default(),
            b1: Signal::default(),
            p_out: Signal::default(),
            m_out: Signal::default(),
            y: Signal::default(),
            y_out: Signal::default(),
            c14: Constant::new(14.into()),
            c13: Constant::new(13.into()),
            zero128: Constant::new(Bits::default()),
            ks: AesKeySchedule::split(),
            rk: RAM::default(),
            w0: DFF::default(),
            w14: DFF::default(),
            sbox: (0..16)
                .map(|_| {
                    SyncROM::from(
                        sbox_table()
                            .into_iter()
                            .chain(inv_sbox_table())
                            .map(|v| bits::<8>(v as u64)),
                    )
                })
                .collect(),
            sr: ShiftRows::default(),
            pc: Default::default(),
            mc: Default::default(),
            iq_v: DFF::default(),
            iq_d: DFF::default(),
            wf: DFF::default(),
            ka: DFF::default(),
            kready: DFF::default(),
            iq_dec: DFF::default(),
            iq_tag: DFF::default(),
            v0: DFF::default(),
            r0: DFF::default(),
            d0: DFF::default(),
            t0: DFF::default(),
            v1: DFF::default(),
            a1: DFF::default(),
            r1: DFF::default(),
            d1: DFF::default(),
            t1: DFF::default(),
            kd1: DFF::default(),
            ke1: DFF::default(),
            usep1: DFF::default(),
            a2: DFF::default(),
            r2: DFF::default(),
            d2: DFF::default(),
            t2: DFF::default(),
            ke2: DFF::default(),
            busy2: DFF::default(),
            busy2n: DFF::default(),
            fin: DFF::default(),
            e: Default::default(),
            hv: DFF::default(),
            hd: DFF::default(),
            ht: DFF::default(),
            g: Default::default(),
            wp: DFF::default(),
            rp: DFF::default(),
            rs1: DFF::default(),
            rs2: DFF::default(),
            rs3: DFF::default(),
            pe0: DFF::default(),
            pe1: DFF::default(),
            pe2: DFF::default(),
            pe3: DFF::default(),
            fne: DFF::default(),
            cnt: DFF::default(),
            occ: DFF::default(),
        }
    }
}

impl<const TAG: usize> Logic for AesRing<TAG> {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self, clock, w0, w14, iq_v, iq_d, wf, ka, kready, iq_dec, iq_tag, v0, r0, d0, t0, v1,
            a1, r1, d1, t1, kd1, ke1, usep1, a2, r2, d2, t2, ke2, busy2, busy2n, fin, wp, rp, rs1,
            rs2, rs3, pe0, pe1, pe2, pe3, fne, cnt, occ, hv, hd, ht
        );
        for i in 0..4 {
            self.e[i].clock.next = self.clock.val();
            self.e[i].d.next = self.e[i].q.val();
            self.g[i].clock.next = self.clock.val();
            self.g[i].d.next = self.g[i].q.val();
        }
        self.ks.clock.next = self.clock.val();
        self.ks.reset.next = self.reset.val();
        self.ks.key.next = self.key.val();
        self.ks.load.next = self.key_load.val();
        self.key_ready.next = self.kready.q.val();
        self.kready.d.next = self.ks.ready.val() & !self.key_load.val();
        // Round keys in a 16 x 128 RAM (LUT RAM on ECP5), written as the
        // schedule makes them; w[0] and w[14] also in registers for entry.
        self.rk.write_clock.next = self.clock.val();
        self.rk.read_clock.next = self.clock.val();
        self.rk.write_enable.next = self.ks.rk_we.val();
        self.rk.write_address.next = self.ks.rk_index.val();
        self.rk.write_data.next = self.ks.rk_data.val();
        if self.ks.rk_we0.val() {
            self.w0.d.next = self.ks.rk_data.val();
        }
        if self.ks.rk_we14.val() {
            self.w14.d.next = self.ks.rk_data.val();
        }

        // Admission: stage 0 free next clock, a key, room in ring + FIFO.
        self.enter.next = !self.busy2.q.val()
            & self.iq_v.q.val()
            & self.kready.q.val()
            & (self.occ.q.val() != self.c_full.val());
        // in_ready is a register (the input register is empty): blocks
        // enter at most every other clock, which the ring never notices
        // (a stage-0 slot frees at most once per 42 clocks per block).
        self.in_ready.next = !self.iq_v.q.val();
        if self.enter.val() {
            self.iq_v.d.next = false;
        }
        // The input register samples whenever it is free, valid or not, so
        // its 128+ enables depend on ring registers only, never on in_valid.
        if !self.iq_v.q.val() {
            self.iq_v.d.next = self.in_valid.val();
            self.iq_d.d.next = self.in_data.val();
            self.iq_dec.d.next = self.in_decrypt.val();
            self.iq_tag.d.next = self.in_tag.val();
        }

        // Stage 0: the S-box ROMs' registered outputs (addressed as the
        // block entered stage 0) into a1; the round key into kd1 / ke1.
        self.sc0.next = bit_cast::<32, 8>(self.sbox[0].data.val())
            | (bit_cast::<32, 8>(self.sbox[1].data.val()) << 8)
            | (bit_cast::<32, 8>(self.sbox[2].data.val()) << 16)
            | (bit_cast::<32, 8>(self.sbox[3].data.val()) << 24);
        self.sc1.next = bit_cast::<32, 8>(self.sbox[4].data.val())
            | (bit_cast::<32, 8>(self.sbox[5].data.val()) << 8)
            | (bit_cast::<32, 8>(self.sbox[6].data.val()) << 16)
            | (bit_cast::<32, 8>(self.sbox[7].data.val()) << 24);
        self.sc2.next = bit_cast::<32, 8>(self.sbox[8].data.val())
            | (bit_cast::<32, 8>(self.sbox[9].data.val()) << 8)
            | (bit_cast::<32, 8>(self.sbox[10].data.val()) << 16)
            | (bit_cast::<32, 8>(self.sbox[11].data.val()) << 24);
        self.sc3.next = bit_cast::<32, 8>(self.sbox[12].data.val())
            | (bit_cast::<32, 8>(self.sbox[13].data.val()) << 8)
            | (bit_cast::<32, 8>(self.sbox[14].data.val()) << 16)
            | (bit_cast::<32, 8>(self.sbox[15].data.val()) << 24);
        self.sub_out.next = bit_cast::<128, 32>(self.sc0.val())
            | (bit_cast::<128, 32>(self.sc1.val()) << 32)
            | (bit_cast::<128, 32>(self.sc2.val()) << 64)
            | (bit_cast::<128, 32>(self.sc3.val()) << 96);
        self.v1.d.next = self.v0.q.val();
        self.a1.d.next = self.sub_out.val();
        self.r1.d.next = self.r0.q.val();
        self.d1.d.next = self.d0.q.val();
        self.t1.d.next = self.t0.q.val();
        // The round key goes to stage 1 (InvCipher) or stage 2 (Cipher),
        // masked here so neither stage has a select in front of its XOR.
        self.kd1.d.next = self.zero128.val();
        self.ke1.d.next = self.rk.read_data.val();
        if self.d0.q.val() {
            self.kd1.d.next = self.rk.read_data.val();
            self.ke1.d.next = self.zero128.val();
        }
        self.usep1.d.next = self.d0.q.val() & (self.r0.q.val() != self.c14.val());

        // Stage 1: (Inv)ShiftRows; InvCipher adds the key, then P.
        self.last1.next = self.r1.q.val() == self.c14.val();
        self.sr.state.next = self.a1.q.val();
        self.sr.decrypt.next = self.d1.q.val();
        self.b1.next = self.sr.y.val() ^ self.kd1.q.val();
        for i in 0..4 {
            self.pc[i].a.next = self.b1.val().get_bits::<32>(32 * i);
        }
        self.p_out.next = bit_cast::<128, 32>(self.pc[0].y.val())
            | (bit_cast::<128, 32>(self.pc[1].y.val()) << 32)
            | (bit_cast::<128, 32>(self.pc[2].y.val()) << 64)
            | (bit_cast::<128, 32>(self.pc[3].y.val()) << 96);
        self.a2.d.next = self.b1.val();
        if self.usep1.q.val() {
            self.a2.d.next = self.p_out.val();
        }
        self.r2.d.next = self.r1.q.val();
        self.d2.d.next = self.d1.q.val();
        self.t2.d.next = self.t1.q.val();
        self.ke2.d.next = self.ke1.q.val();
        self.busy2.d.next = self.v1.q.val() & !self.last1.val();
        self.busy2n.d.next = !(self.v1.q.val() & !self.last1.val());
        self.fin.d.next = self.v1.q.val() & self.last1.val();

        // Stage 2: MixColumns unless last; Cipher adds the key.
        for i in 0..4 {
            self.mc[i].a.next = self.a2.q.val().get_bits::<32>(32 * i);
            self.mc[i].inverse.next = false;
            self.mc[i].last.next = false;
        }
        self.m_out.next = bit_cast::<128, 32>(self.mc[0].y.val())
            | (bit_cast::<128, 32>(self.mc[1].y.val()) << 32)
            | (bit_cast::<128, 32>(self.mc[2].y.val()) << 64)
            | (bit_cast::<128, 32>(self.mc[3].y.val()) << 96);
        // A final round never loops back to stage 0 (busy2 is clear), so
        // the loop path is MixColumns unconditionally (no `last` select
        // in front of the S-box ROM addresses) and the result skips it
        // on its own path into the output FIFO (FIPS-197 §5.1: no
        // MixColumns in the final round).
        self.y.next = self.m_out.val() ^ self.ke2.q.val();
        self.y_out.next = self.a2.q.val() ^ self.ke2.q.val();

        // Back to stage 0: the next round, or a new block, or nothing.
        // The RAM reads the round key of the block entering stage 0 (its
        // registered output is there with the block): w[r] or w[14 - r].
        // The address is the register `ka`, set in stage 1 (below).
        self.rk.read_address.next = self.ka.q.val();
        // wf and the first key address follow the direction iq holds next
        // clock.
        self.dec_iq.next = self.iq_dec.q.val();
        if !self.iq_v.q.val() {
            self.dec_iq.next = self.in_decrypt.val();
        }
        self.wf.d.next = self.w0.q.val();
        self.ki0_next.next = 1.into();
        if self.dec_iq.val() {
            self.wf.d.next = self.w14.q.val();
            self.ki0_next.next = self.c13.val();
        }
        // Next clock's read address, decided from stage 1 (the block there
        // is in stage 2 next clock, and goes round again exactly when
        // busy2 will be set): round r + 1 reads w[r + 1] (Cipher) or
        // w[13 - r] (InvCipher); otherwise the waiting block's first key.
        self.ka.d.next = self.ki0_next.val();
        if self.v1.q.val() & !self.last1.val() {
            self.ka.d.next = self.r1.q.val() + 1;
            if self.d1.q.val() {
                self.ka.d.next = self.c13.val() - self.r1.q.val();
            }
        }
        self.w_first.next = self.wf.q.val();
        // Data and tags are selected by busy2 alone (a register): with
        // stage 0 free they carry the input register's block whether it
        // enters or not; only v0 depends on `enter`.
        self.v0.d.next = self.busy2.q.val() | self.enter.val();
        self.a_next.next = self.y.val();
        self.dec_next.next = self.d2.q.val();
        self.r0.d.next = self.r2.q.val() + 1;
        self.d0.d.next = self.d2.q.val();
        self.t0.d.next = self.t2.q.val();
        if self.busy2n.q.val() {
            // Initial AddRoundKey: w[0] (Cipher) or w[14] (InvCipher).
            self.a_next.next = self.iq_d.q.val() ^ self.w_first.val();
        }
        if !self.busy2.q.val() {
            self.dec_next.next = self.iq_dec.q.val();
            self.r0.d.next = 1.into();
            self.d0.d.next = self.iq_dec.q.val();
            self.t0.d.next = self.iq_tag.q.val();
        }

        // (Inv)SubBytes (§5.1.1 / §5.3.2) of the state entering stage 0:
        // one 512 x 8 ROM per byte (S-box, then inverse S-box), address
        // {decrypt, byte}, read on the edge the block enters stage 0.
        self.dec_bit.next = 0.into();
        if self.dec_next.val() {
            self.dec_bit.next = self.c256.val();
        }
        for i in 0..16 {
            self.sbox[i].clock.next = self.clock.val();
        }
        self.sbox[0].address.next =
            bit_cast::<9, 8>(self.a_next.val().get_bits::<8>(0)) | self.dec_bit.val();
        self.sbox[1].address.next =
            bit_cast::<9, 8>(self.a_next.val().get_bits::<8>(8)) | self.dec_bit.val();
        self.sbox[2].address.next =
            bit_cast::<9, 8>(self.a_next.val().get_bits::<8>(16)) | self.dec_bit.val();
        self.sbox[3].address.next =
            bit_cast::<9, 8>(self.a_next.val().get_bits::<8>(24)) | self.dec_bit.val();
        self.sbox[4].address.next =
            bit_cast::<9, 8>(self.a_next.val().get_bits::<8>(32)) | self.dec_bit.val();
        self.sbox[5].address.next =
            bit_cast::<9, 8>(self.a_next.val().get_bits::<8>(40)) | self.dec_bit.val();
        self.sbox[6].address.next =
            bit_cast::<9, 8>(self.a_next.val().get_bits::<8>(48)) | self.dec_bit.val();
        self.sbox[7].address.next =
            bit_cast::<9, 8>(self.a_next.val().get_bits::<8>(56)) | self.dec_bit.val();
        self.sbox[8].address.next =
            bit_cast::<9, 8>(self.a_next.val().get_bits::<8>(64)) | self.dec_bit.val();
        self.sbox[9].address.next =
            bit_cast::<9, 8>(self.a_next.val().get_bits::<8>(72)) | self.dec_bit.val();
        self.sbox[10].address.next =
            bit_cast::<9, 8>(self.a_next.val().get_bits::<8>(80)) | self.dec_bit.val();
        self.sbox[11].address.next =
            bit_cast::<9, 8>(self.a_next.val().get_bits::<8>(88)) | self.dec_bit.val();
        self.sbox[12].address.next =
            bit_cast::<9, 8>(self.a_next.val().get_bits::<8>(96)) | self.dec_bit.val();
        self.sbox[13].address.next =
            bit_cast::<9, 8>(self.a_next.val().get_bits::<8>(104)) | self.dec_bit.val();
        self.sbox[14].address.next =
            bit_cast::<9, 8>(self.a_next.val().get_bits::<8>(112)) | self.dec_bit.val();
        self.sbox[15].address.next =
            bit_cast::<9, 8>(self.a_next.val().get_bits::<8>(120)) | self.dec_bit.val();

        // Output FIFO: round 14 results in, out_* from the head.
        if self.pe0.q.val() {
            self.e[0].d.next = self.y_out.val();
            self.g[0].d.next = self.t2.q.val();
        }
        if self.pe1.q.val() {
            self.e[1].d.next = self.y_out.val();
            self.g[1].d.next = self.t2.q.val();
        }
        if self.pe2.q.val() {
            self.e[2].d.next = self.y_out.val();
            self.g[2].d.next = self.t2.q.val();
        }
        if self.pe3.q.val() {
            self.e[3].d.next = self.y_out.val();
            self.g[3].d.next = self.t2.q.val();
        }
        if self.fin.q.val() {
            self.wp.d.next = self.wp.q.val() + 1;
        }
        // Push enables one-hot in flip-flops, decided a clock ahead (the
        // block in stage 1 with round 14 finishes next clock, at wp_next).
        self.wp_next.next = self.wp.q.val();
        if self.fin.q.val() {
            self.wp_next.next = self.wp.q.val() + 1;
        }
        self.fin_next.next = self.v1.q.val() & self.last1.val();
        self.pe0.d.next = self.fin_next.val() & (self.wp_next.val() == 0);
        self.pe1.d.next = self.fin_next.val() & (self.wp_next.val() == 1);
        self.pe2.d.next = self.fin_next.val() & (self.wp_next.val() == 2);
        self.pe3.d.next = self.fin_next.val() & (self.wp_next.val() == 3);
        // Head register (out_*): takes the FIFO's oldest entry, or, with
        // the FIFO empty, the finishing block straight from stage 2 (it
        // was written to the FIFO too and is dropped there by moving rp).
        // out_* are registers; only the head's enable depends on out_ready.
        self.take.next = !self.hv.q.val() | self.out_ready.val();
        self.pop.next = self.hv.q.val() & self.out_ready.val();
        // The FIFO's head entry, selected by flip-flops decoded a clock
        // ahead (no decode LUT in front of the 2 x (128 + TAG) selects):
        // `rs1`..`rs3` = "rp == k", all clear = entry 0 (also at power-up).
        self.f_data.next = self.e[0].q.val();
        self.f_tag.next = self.g[0].q.val();
        if self.rs1.q.val() {
            self.f_data.next = self.e[1].q.val();
            self.f_tag.next = self.g[1].q.val();
        }
        if self.rs2.q.val() {
            self.f_data.next = self.e[2].q.val();
            self.f_tag.next = self.g[2].q.val();
        }
        if self.rs3.q.val() {
            self.f_data.next = self.e[3].q.val();
            self.f_tag.next = self.g[3].q.val();
        }
        // f_any (FIFO not empty) is the register fne.
        self.f_any.next = self.fne.q.val();
        if !self.f_any.val() {
            self.f_data.next = self.y_out.val();
            self.f_tag.next = self.t2.q.val();
        }
        self.f_out.next = self.take.val() & (self.f_any.val() | self.fin.q.val());
        if self.take.val() {
            self.hv.d.next = self.f_any.val() | self.fin.q.val();
            self.hd.d.next = self.f_data.val();
            self.ht.d.next = self.f_tag.val();
        }
        self.rp_next.next = self.rp.q.val();
        if self.f_out.val() {
            self.rp_next.next = self.rp.q.val() + 1;
        }
        self.rp.d.next = self.rp_next.val();
        self.rs1.d.next = self.rp_next.val() == 1;
        self.rs2.d.next = self.rp_next.val() == 2;
        self.rs3.d.next = self.rp_next.val() == 3;
        self.cnt_next.next = self.cnt.q.val();
        if self.fin.q.val() & !self.f_out.val() {
            self.cnt_next.next = self.cnt.q.val() + 1;
        }
        if !self.fin.q.val() & self.f_out.val() {
            self.cnt_next.next = self.cnt.q.val() - 1;
        }
        self.cnt.d.next = self.cnt_next.val();
        self.fne.d.next = self.cnt_next.val() != 0;
        self.out_valid.next = self.hv.q.val();
        self.out_data.next = self.hd.q.val();
        self.out_tag.next = self.ht.q.val();
        if self.enter.val() & !self.pop.val() {
            self.occ.d.next = self.occ.q.val() + 1;
        }
        if !self.enter.val() & self.pop.val() {
            self.occ.d.next = self.occ.q.val() - 1;
        }

        if self.reset.val() {
            self.iq_v.d.next = false;
            self.kready.d.next = false;
            self.v0.d.next = false;
            self.v1.d.next = false;
            self.busy2.d.next = false;
            self.busy2n.d.next = true;
            self.ka.d.next = self.ki0_next.val();
            self.fin.d.next = false;
            self.wp.d.next = 0.into();
            self.rp.d.next = 0.into();
            self.rs1.d.next = false;
            self.rs2.d.next = false;
            self.rs3.d.next = false;
            self.fne.d.next = false;
            self.pe0.d.next = false;
            self.pe1.d.next = false;
            self.pe2.d.next = false;
            self.pe3.d.next = false;
            self.cnt.d.next = 0.into();
            self.occ.d.next = 0.into();
            self.hv.d.next = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::aes_testkit::*;

    crate::impl_aes_core_sim!(AesRing<8>);

    fn new_ring() -> AesRing<8> {
        let mut uut = AesRing::<8>::default();
        uut.connect_all();
        uut
    }

    #[test]
    fn aes_ring_fips197_and_random_vs_rustcrypto() {
        let mut uut = new_ring();
        check_core(&mut uut, 48, 5);
    }

    /// Three blocks per 42 clocks, latency 44, order kept.
    #[test]
    fn aes_ring_cycles_per_block_and_latency() {
        use rand::SeedableRng;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(6);
        let mut uut = new_ring();
        let key = [0x3cu8; 32];
        assert_eq!(load_key(&mut uut, &key), AES_RING_KEY_CLOCKS);
        let n = 30;
        let blocks: Vec<([u8; 16], bool)> =
            (0..n as u8).map(|i| ([i ^ 0xa5; 16], i % 3 == 1)).collect();
        let r = stream(&mut uut, &blocks, 1.0, 1.0, &mut rng);
        assert_eq!(r.first_latency, AES_RING_LATENCY);
        // Blocks are accepted every other clock; blocks 3k..3k+2 leave in
        // cycles 44 + 42k + {0, 2, 4}: the ring never waits for room
        // (admission limit 5 > 3 in the ring + 1).
        assert_eq!(
            r.cycles,
            (n / 3 - 1) * 3 * AES_RING_CYCLES_PER_BLOCK + AES_RING_LATENCY + 5
        );
        for (i, (d, dec)) in blocks.iter().enumerate() {
            assert_eq!(r.out[i], (golden_aes(&key, d, *dec), i as u8), "block {i}");
        }
    }

    /// A consumer that stops: the ring holds at most AES_RING_DEPTH blocks,
    /// loses none and resumes in order.
    #[test]
    fn aes_ring_output_stall_keeps_every_block() {
        let mut uut = new_ring();
        let key = [7u8; 32];
        load_key(&mut uut, &key);
        let k = bits_le::<256>(&key);
        uut.drive_out_ready(false);
        let mut accepted = 0usize;
        for c in 0..200 {
            uut.drive_ctrl(false, k, false);
            uut.drive_in(true, blk(&[c as u8; 16]), false, accepted as u8);
            settle(&mut uut);
            if uut.in_ready.val() {
                accepted += 1;
            }
            tick(&mut uut, |u| &mut u.clock);
        }
        // AES_RING_DEPTH in ring, FIFO and head, one in the input register.
        assert_eq!(accepted, AES_RING_DEPTH + 1);
        assert!(uut.out_valid.val());
        uut.drive_in(false, Bits::default(), false, 0);
        uut.drive_out_ready(true);
        let mut seen = Vec::new();
        for _ in 0..200 {
            settle(&mut uut);
            if uut.out_valid.val() {
                seen.push(uut.out_tag.val().to_u8());
            }
            tick(&mut uut, |u| &mut u.clock);
        }
        assert_eq!(seen, (0..accepted as u8).collect::<Vec<_>>());
    }

    /// A consumer that is ready one clock in twenty: the output register
    /// and the FIFO fill and drain over and over; every block arrives, in
    /// order, and an offered output holds still until taken (checked by
    /// `stream`).
    #[test]
    fn aes_ring_slow_consumer_keeps_order() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
        let mut uut = new_ring();
        let key: [u8; 32] = rng.gen();
        load_key(&mut uut, &key);
        let blocks: Vec<([u8; 16], bool)> = (0..40).map(|_| (rng.gen(), rng.gen())).collect();
        let r = stream(&mut uut, &blocks, 1.0, 0.05, &mut rng);
        for (i, ((d, dec), (o, tag))) in blocks.iter().zip(&r.out).enumerate() {
            assert_eq!(*tag, i as u8, "blocks out of order");
            assert_eq!(*o, golden_aes(&key, d, *dec), "block {i}");
        }
    }

    #[test]
    fn aes_ring_is_synthesizable() {
        let uut = new_ring();
        let r = crate::synth::check_synthesizable("aes_ring", &generate_verilog(&uut)).unwrap();
        println!("aes_ring: {} cells", r.cells);
    }
}
