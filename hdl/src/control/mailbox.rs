//! The PF's passive management mailbox: provisioning table, write-only key
//! slots and per-function counters (DESIGN.md "Control"; register layout in
//! `nitrous_regmap::mailbox`, contract in docs/CARD.md).
//!
//! The host writes ARG0..ARG5 (and, for a key, KEY0..KEY15), then CMD; the
//! command executes on the cycle after the CMD write (STATUS.busy is never
//! observable) and, if IRQ_EN[0], PF MSI-X vector 0 is requested. The block
//! never initiates anything else.
//!
//! Key material flows one way: KEY staging -> key slot -> `key_data`, which
//! the card connects only to the XTS engine's key port. Reading the key
//! window returns 0 and increments KEY_READS; LoadKey clears the staging
//! registers; ClearKey zeroes a slot.
//!
//! Tables are indexed by function number (0..31); entries above the built VF
//! count can never be written (every command checks `1 <= func <= N`), so
//! synthesis folds them to constants.

use nitrous_regmap::card::{FUNC_BITS, KEY_SLOTS, KEY_SLOT_BITS};
use nitrous_regmap::mailbox as mb;
use rust_hdl::prelude::*;

// The opcode, status and counter literals in `update` (hdl_gen needs
// literals) are checked against the register map here.
const _: () = assert!(mb::Status::Ok as u8 == 0);
const _: () = assert!(mb::Status::BadOpcode as u8 == 1);
const _: () = assert!(mb::Status::BadFunction as u8 == 2);
const _: () = assert!(mb::Status::BadSlot as u8 == 3);
const _: () = assert!(mb::Status::BadArgument as u8 == 4);
const _: () = assert!(mb::Status::FunctionEnabled as u8 == 5);
const _: () = assert!(mb::Status::NotReady as u8 == 6);
const _: () = assert!(mb::Op::Provision as u8 == 1);
const _: () = assert!(mb::Op::LoadKey as u8 == 2);
const _: () = assert!(mb::Op::BindKey as u8 == 3);
const _: () = assert!(mb::Op::Enable as u8 == 4);
const _: () = assert!(mb::Op::Disable as u8 == 5);
const _: () = assert!(mb::Op::ReadCounter as u8 == 6);
const _: () = assert!(mb::Op::ClearKey as u8 == 7);
const _: () = assert!(mb::Counter::Served as u8 == 0);
const _: () = assert!(mb::Counter::Rejected as u8 == 1);
const _: () = assert!(mb::Counter::DmaFaults as u8 == 2);
const _: () = assert!(mb::Counter::KeyReads as u8 == 3);

const _: () = assert!(KEY_SLOTS == 16);

/// Table size: every function number the 5-bit `func` fields can name.
pub const FUNCS: usize = 1 << FUNC_BITS;

#[derive(LogicBlock)]
pub struct Mailbox {
    pub clock: Signal<In, Clock>,
    /// Synchronous reset: empties every table, slot and counter.
    pub reset: Signal<In, bool>,
    // Register bus (docs/CARD.md "Register bus"): PF BAR0 below 0x2000.
    pub rb_valid: Signal<In, bool>,
    pub rb_addr: Signal<In, Bits<16>>,
    pub rb_write: Signal<In, bool>,
    pub rb_wdata: Signal<In, Bits<32>>,
    pub rb_rvalid: Signal<Out, bool>,
    pub rb_rdata: Signal<Out, Bits<32>>,
    /// Key-slot read port: connected to the XTS engine's key only.
    pub key_sel: Signal<In, Bits<KEY_SLOT_BITS>>,
    pub key_data: Signal<Out, Bits<512>>,
    /// Provisioning lookup (combinational).
    pub prov_func: Signal<In, Bits<FUNC_BITS>>,
    pub prov_enabled: Signal<Out, bool>,
    pub prov_blocks: Signal<Out, Bits<64>>,
    pub prov_lba_shift: Signal<Out, Bits<4>>,
    pub prov_base: Signal<Out, Bits<64>>,
    pub prov_slot: Signal<Out, Bits<KEY_SLOT_BITS>>,
    /// Counter strobes from the NVMe front (one per posted completion).
    pub cnt_served: Signal<In, bool>,
    pub cnt_rejected: Signal<In, bool>,
    pub cnt_func: Signal<In, Bits<FUNC_BITS>>,
    /// Counter strobe from the data mover (one per faulted DMA read).
    pub cnt_fault: Signal<In, bool>,
    pub cnt_fault_func: Signal<In, Bits<FUNC_BITS>>,
    /// PF MSI-X vector 0 request (command completion with IRQ_EN[0]).
    pub irq_valid: Signal<Out, bool>,
    pub irq_ready: Signal<In, bool>,
    /// One-cycle strobe: Disable of VF `dis_func` (resets its controller).
    pub dis_valid: Signal<Out, bool>,
    pub dis_func: Signal<Out, Bits<FUNC_BITS>>,

    // Constants.
    num_vfs: Constant<Bits<8>>,
    mask32: Constant<Bits<512>>,
    caps: Constant<Bits<32>>,
    card_id: Constant<Bits<32>>,
    version: Constant<Bits<32>>,
    a_id: Constant<Bits<16>>,
    a_version: Constant<Bits<16>>,
    a_caps: Constant<Bits<16>>,
    a_status: Constant<Bits<16>>,
    a_cmd: Constant<Bits<16>>,
    a_arg: [Constant<Bits<16>>; 6],
    a_irq_en: Constant<Bits<16>>,
    a_res0: Constant<Bits<16>>,
    a_res1: Constant<Bits<16>>,
    a_key: [Constant<Bits<16>>; 16],
    a_key_reads: Constant<Bits<16>>,

    // State.
    arg: [DFF<Bits<32>>; 6],
    staging: DFF<Bits<512>>,
    slots: [DFF<Bits<512>>; KEY_SLOTS],
    /// Bit f: function f enabled / provisioned / has a key bound.
    enabled: DFF<Bits<FUNCS>>,
    provisioned: DFF<Bits<FUNCS>>,
    bound: DFF<Bits<FUNCS>>,
    blocks: [DFF<Bits<64>>; FUNCS],
    base: [DFF<Bits<64>>; FUNCS],
    shift: [DFF<Bits<4>>; FUNCS],
    slot_of: [DFF<Bits<KEY_SLOT_BITS>>; FUNCS],
    served: [DFF<Bits<32>>; FUNCS],
    rejected: [DFF<Bits<32>>; FUNCS],
    faults: [DFF<Bits<32>>; FUNCS],
    key_reads: DFF<Bits<32>>,
    /// A CMD write waiting to execute (next cycle).
    pending: DFF<bool>,
    cmd: DFF<Bits<32>>,
    status: DFF<Bits<8>>,
    executed: DFF<Bits<16>>,
    irq_en: DFF<bool>,
    irq_pending: DFF<bool>,
    res0: DFF<Bits<32>>,
    res1: DFF<Bits<32>>,
    rvalid: DFF<bool>,
    rdata: DFF<Bits<32>>,
    dis_v: DFF<bool>,
    dis_f: DFF<Bits<FUNC_BITS>>,
    // Decoded command fields (combinational).
    op: Signal<Local, Bits<8>>,
    func: Signal<Local, Bits<FUNC_BITS>>,
    slot: Signal<Local, Bits<8>>,
    func_ok: Signal<Local, bool>,
    slot_ok: Signal<Local, bool>,
    func_enabled: Signal<Local, bool>,
    slot_in_use: Signal<Local, bool>,
    key_shift: Signal<Local, Bits<9>>,
}

fn c16(v: u32) -> Constant<Bits<16>> {
    Constant::new((v as u64).to_bits())
}

impl Mailbox {
    /// A mailbox for a card with `num_vfs` VFs (functions 1..=num_vfs).
    pub fn new(num_vfs: usize) -> Self {
        assert!(
            (1..FUNCS).contains(&num_vfs),
            "num_vfs must be 1..={}",
            FUNCS - 1
        );
        let caps = (num_vfs as u64)
            | ((KEY_SLOTS as u64) << 8)
            | ((nitrous_regmap::nvme::IO_QUEUES as u64) << 16);
        Mailbox {
            clock: Default::default(),
            reset: Default::default(),
            rb_valid: Default::default(),
            rb_addr: Default::default(),
            rb_write: Default::default(),
            rb_wdata: Default::default(),
            rb_rvalid: Default::default(),
            rb_rdata: Default::default(),
            key_sel: Default::default(),
            key_data: Default::default(),
            prov_func: Default::default(),
            prov_enabled: Default::default(),
            prov_blocks: Default::default(),
            prov_lba_shift: Default::default(),
            prov_base: Default::default(),
            prov_slot: Default::default(),
            cnt_served: Default::default(),
            cnt_rejected: Default::default(),
            cnt_func: Default::default(),
            cnt_fault: Default::default(),
            cnt_fault_func: Default::default(),
            irq_valid: Default::default(),
            irq_ready: Default::default(),
            dis_valid: Default::default(),
            dis_func: Default::default(),
            num_vfs: Constant::new((num_vfs as u64).to_bits()),
            mask32: Constant::new(0xFFFF_FFFF_u64.to_bits()),
            caps: Constant::new(caps.to_bits()),
            card_id: Constant::new((nitrous_regmap::CARD_ID as u64).to_bits()),
            version: Constant::new((nitrous_regmap::REGMAP_VERSION as u64).to_bits()),
            a_id: c16(mb::ID),
            a_version: c16(mb::VERSION),
            a_caps: c16(mb::CAPS),
            a_status: c16(mb::STATUS),
            a_cmd: c16(mb::CMD),
            a_arg: std::array::from_fn(|i| c16(mb::ARG0 + 4 * i as u32)),
            a_irq_en: c16(mb::IRQ_EN),
            a_res0: c16(mb::RES0),
            a_res1: c16(mb::RES1),
            a_key: std::array::from_fn(|i| c16(mb::KEY0 + 4 * i as u32)),
            a_key_reads: c16(mb::KEY_READS),
            arg: Default::default(),
            staging: Default::default(),
            slots: Default::default(),
            enabled: Default::default(),
            provisioned: Default::default(),
            bound: Default::default(),
            blocks: std::array::from_fn(|_| Default::default()),
            base: std::array::from_fn(|_| Default::default()),
            shift: std::array::from_fn(|_| Default::default()),
            slot_of: std::array::from_fn(|_| Default::default()),
            served: std::array::from_fn(|_| Default::default()),
            rejected: std::array::from_fn(|_| Default::default()),
            faults: std::array::from_fn(|_| Default::default()),
            key_reads: Default::default(),
            pending: Default::default(),
            cmd: Default::default(),
            status: Default::default(),
            executed: Default::default(),
            irq_en: Default::default(),
            irq_pending: Default::default(),
            res0: Default::default(),
            res1: Default::default(),
            rvalid: Default::default(),
            rdata: Default::default(),
            dis_v: Default::default(),
            dis_f: Default::default(),
            op: Default::default(),
            func: Default::default(),
            slot: Default::default(),
            func_ok: Default::default(),
            slot_ok: Default::default(),
            func_enabled: Default::default(),
            slot_in_use: Default::default(),
            key_shift: Default::default(),
        }
    }
}

impl Logic for Mailbox {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self,
            clock,
            staging,
            enabled,
            provisioned,
            bound,
            key_reads,
            pending,
            cmd,
            status,
            executed,
            irq_en,
            irq_pending,
            res0,
            res1,
            rvalid,
            rdata,
            dis_v,
            dis_f
        );
        for i in 0..6 {
            self.arg[i].clock.next = self.clock.val();
            self.arg[i].d.next = self.arg[i].q.val();
        }
        for i in 0..KEY_SLOTS {
            self.slots[i].clock.next = self.clock.val();
            self.slots[i].d.next = self.slots[i].q.val();
        }
        for i in 0..FUNCS {
            self.blocks[i].clock.next = self.clock.val();
            self.blocks[i].d.next = self.blocks[i].q.val();
            self.base[i].clock.next = self.clock.val();
            self.base[i].d.next = self.base[i].q.val();
            self.shift[i].clock.next = self.clock.val();
            self.shift[i].d.next = self.shift[i].q.val();
            self.slot_of[i].clock.next = self.clock.val();
            self.slot_of[i].d.next = self.slot_of[i].q.val();
            self.served[i].clock.next = self.clock.val();
            self.served[i].d.next = self.served[i].q.val();
            self.rejected[i].clock.next = self.clock.val();
            self.rejected[i].d.next = self.rejected[i].q.val();
            self.faults[i].clock.next = self.clock.val();
            self.faults[i].d.next = self.faults[i].q.val();
        }

        // Combinational read ports.
        self.key_data.next = 0.into();
        for i in 0..KEY_SLOTS {
            if self.key_sel.val().index() == i {
                self.key_data.next = self.slots[i].q.val();
            }
        }
        self.prov_enabled.next = self.enabled.q.val().get_bit(self.prov_func.val().index());
        self.prov_blocks.next = 0.into();
        self.prov_base.next = 0.into();
        self.prov_lba_shift.next = 0.into();
        self.prov_slot.next = 0.into();
        for i in 0..FUNCS {
            if self.prov_func.val().index() == i {
                self.prov_blocks.next = self.blocks[i].q.val();
                self.prov_base.next = self.base[i].q.val();
                self.prov_lba_shift.next = self.shift[i].q.val();
                self.prov_slot.next = self.slot_of[i].q.val();
            }
        }

        // Counters (32-bit, wrapping).
        for i in 0..FUNCS {
            if self.cnt_func.val().index() == i {
                if self.cnt_served.val() {
                    self.served[i].d.next = self.served[i].q.val() + 1;
                }
                if self.cnt_rejected.val() {
                    self.rejected[i].d.next = self.rejected[i].q.val() + 1;
                }
            }
            if self.cnt_fault.val() & (self.cnt_fault_func.val().index() == i) {
                self.faults[i].d.next = self.faults[i].q.val() + 1;
            }
        }

        // Decoded fields of the latched command.
        self.op.next = self.cmd.q.val().get_bits::<8>(0);
        self.func.next = self.cmd.q.val().get_bits::<FUNC_BITS>(8);
        self.slot.next = self.cmd.q.val().get_bits::<8>(16);
        self.func_ok.next = (self.cmd.q.val().get_bits::<8>(8) != 0)
            & (self.cmd.q.val().get_bits::<8>(8) <= self.num_vfs.val());
        self.slot_ok.next = self.slot.val() < 16;
        self.func_enabled.next = self.enabled.q.val().get_bit(self.func.val().index());
        self.slot_in_use.next = false;
        for i in 0..FUNCS {
            if self.enabled.q.val().get_bit(i)
                & self.bound.q.val().get_bit(i)
                & (self.slot_of[i].q.val() == self.slot.val().get_bits::<KEY_SLOT_BITS>(0))
            {
                self.slot_in_use.next = true;
            }
        }

        // Bit offset of KEYi in the staging register: 32 * i.
        self.key_shift.next = bit_cast::<9, 4>(self.rb_addr.val().get_bits::<4>(2)) << 5;

        // Register reads answer on the next cycle.
        self.rvalid.d.next = false;
        self.dis_v.d.next = false;
        if self.rb_valid.val() & !self.rb_write.val() {
            self.rvalid.d.next = true;
            self.rdata.d.next = 0.into();
            if self.rb_addr.val() == self.a_id.val() {
                self.rdata.d.next = self.card_id.val();
            }
            if self.rb_addr.val() == self.a_version.val() {
                self.rdata.d.next = self.version.val();
            }
            if self.rb_addr.val() == self.a_caps.val() {
                self.rdata.d.next = self.caps.val();
            }
            if self.rb_addr.val() == self.a_status.val() {
                self.rdata.d.next = bit_cast::<32, 1>(self.pending.q.val().into())
                    | (bit_cast::<32, 8>(self.status.q.val()) << 8)
                    | (bit_cast::<32, 16>(self.executed.q.val()) << 16);
            }
            for i in 0..6 {
                if self.rb_addr.val() == self.a_arg[i].val() {
                    self.rdata.d.next = self.arg[i].q.val();
                }
            }
            if self.rb_addr.val() == self.a_irq_en.val() {
                self.rdata.d.next = bit_cast::<32, 1>(self.irq_en.q.val().into());
            }
            if self.rb_addr.val() == self.a_res0.val() {
                self.rdata.d.next = self.res0.q.val();
            }
            if self.rb_addr.val() == self.a_res1.val() {
                self.rdata.d.next = self.res1.q.val();
            }
            if self.rb_addr.val() == self.a_key_reads.val() {
                self.rdata.d.next = self.key_reads.q.val();
            }
            // The key window reads as zero; every attempt is counted.
            if (self.rb_addr.val() >= self.a_key[0].val())
                & (self.rb_addr.val() <= self.a_key[15].val())
            {
                self.key_reads.d.next = self.key_reads.q.val() + 1;
            }
        }
        if self.rb_valid.val() & self.rb_write.val() {
            for i in 0..6 {
                if self.rb_addr.val() == self.a_arg[i].val() {
                    self.arg[i].d.next = self.rb_wdata.val();
                }
            }
            if self.rb_addr.val() == self.a_irq_en.val() {
                self.irq_en.d.next = self.rb_wdata.val().get_bit(0);
            }
            if (self.rb_addr.val() >= self.a_key[0].val())
                & (self.rb_addr.val() <= self.a_key[15].val())
            {
                self.staging.d.next = (self.staging.q.val()
                    & !(self.mask32.val() << self.key_shift.val()))
                    | (bit_cast::<512, 32>(self.rb_wdata.val()) << self.key_shift.val());
            }
            if (self.rb_addr.val() == self.a_cmd.val()) & !self.pending.q.val() {
                self.cmd.d.next = self.rb_wdata.val();
                self.pending.d.next = true;
            }
        }

        // Execute the latched command (one cycle).
        if self.pending.q.val() {
            self.pending.d.next = false;
            self.executed.d.next = self.executed.q.val() + 1;
            self.irq_pending.d.next = self.irq_en.q.val();
            self.status.d.next = 1.into();
            if self.op.val() == 1 {
                if !self.func_ok.val() {
                    self.status.d.next = 2.into();
                } else if self.func_enabled.val() {
                    self.status.d.next = 5.into();
                } else if ((self.arg[0].q.val() == 0) & (self.arg[1].q.val() == 0))
                    | ((self.arg[2].q.val() != 9) & (self.arg[2].q.val() != 12))
                    | (self.arg[3].q.val().get_bits::<9>(0) != 0)
                {
                    self.status.d.next = 4.into();
                } else {
                    self.status.d.next = 0.into();
                    self.provisioned.d.next = self
                        .provisioned
                        .q
                        .val()
                        .replace_bit(self.func.val().index(), true);
                    for i in 0..FUNCS {
                        if self.func.val().index() == i {
                            self.blocks[i].d.next = bit_cast::<64, 32>(self.arg[0].q.val())
                                | (bit_cast::<64, 32>(self.arg[1].q.val()) << 32);
                            self.shift[i].d.next = self.arg[2].q.val().get_bits::<4>(0);
                            self.base[i].d.next = bit_cast::<64, 32>(self.arg[3].q.val())
                                | (bit_cast::<64, 32>(self.arg[4].q.val()) << 32);
                        }
                    }
                }
            }
            if self.op.val() == 2 {
                if !self.slot_ok.val() {
                    self.status.d.next = 3.into();
                } else if self.slot_in_use.val() {
                    self.status.d.next = 5.into();
                } else {
                    self.status.d.next = 0.into();
                    for i in 0..KEY_SLOTS {
                        if self.slot.val().index() == i {
                            self.slots[i].d.next = self.staging.q.val();
                        }
                    }
                }
                // The staging registers never keep a key past a LoadKey.
                self.staging.d.next = 0.into();
            }
            if self.op.val() == 3 {
                if !self.func_ok.val() {
                    self.status.d.next = 2.into();
                } else if !self.slot_ok.val() {
                    self.status.d.next = 3.into();
                } else if self.func_enabled.val() {
                    self.status.d.next = 5.into();
                } else {
                    self.status.d.next = 0.into();
                    self.bound.d.next = self
                        .bound
                        .q
                        .val()
                        .replace_bit(self.func.val().index(), true);
                    for i in 0..FUNCS {
                        if self.func.val().index() == i {
                            self.slot_of[i].d.next = self.slot.val().get_bits::<KEY_SLOT_BITS>(0);
                        }
                    }
                }
            }
            if self.op.val() == 4 {
                if !self.func_ok.val() {
                    self.status.d.next = 2.into();
                } else if !(self.provisioned.q.val().get_bit(self.func.val().index())
                    & self.bound.q.val().get_bit(self.func.val().index()))
                {
                    self.status.d.next = 6.into();
                } else {
                    self.status.d.next = 0.into();
                    self.enabled.d.next = self
                        .enabled
                        .q
                        .val()
                        .replace_bit(self.func.val().index(), true);
                }
            }
            if self.op.val() == 5 {
                if !self.func_ok.val() {
                    self.status.d.next = 2.into();
                } else {
                    self.status.d.next = 0.into();
                    self.enabled.d.next = self
                        .enabled
                        .q
                        .val()
                        .replace_bit(self.func.val().index(), false);
                    self.dis_v.d.next = true;
                    self.dis_f.d.next = self.func.val();
                }
            }
            if self.op.val() == 6 {
                if self.cmd.q.val().get_bits::<8>(8) > self.num_vfs.val() {
                    self.status.d.next = 2.into();
                } else if self.arg[0].q.val() > 3 {
                    self.status.d.next = 4.into();
                } else {
                    self.status.d.next = 0.into();
                    self.res1.d.next = 0.into();
                    self.res0.d.next = self.key_reads.q.val();
                    for i in 0..FUNCS {
                        if self.func.val().index() == i {
                            if self.arg[0].q.val() == 0 {
                                self.res0.d.next = self.served[i].q.val();
                            }
                            if self.arg[0].q.val() == 1 {
                                self.res0.d.next = self.rejected[i].q.val();
                            }
                            if self.arg[0].q.val() == 2 {
                                self.res0.d.next = self.faults[i].q.val();
                            }
                        }
                    }
                }
            }
            if self.op.val() == 7 {
                if !self.slot_ok.val() {
                    self.status.d.next = 3.into();
                } else if self.slot_in_use.val() {
                    self.status.d.next = 5.into();
                } else {
                    self.status.d.next = 0.into();
                    for i in 0..KEY_SLOTS {
                        if self.slot.val().index() == i {
                            self.slots[i].d.next = 0.into();
                        }
                    }
                    for i in 0..FUNCS {
                        if self.slot_of[i].q.val() == self.slot.val().get_bits::<KEY_SLOT_BITS>(0) {
                            self.bound.d.next = self.bound.q.val().replace_bit(i, false);
                        }
                    }
                }
            }
        }

        // PF vector 0 request, held until the MSI-X block takes it.
        self.irq_valid.next = self.irq_pending.q.val();
        if self.irq_pending.q.val() & self.irq_ready.val() {
            self.irq_pending.d.next = false;
        }
        self.rb_rvalid.next = self.rvalid.q.val();
        self.rb_rdata.next = self.rdata.q.val();
        self.dis_valid.next = self.dis_v.q.val();
        self.dis_func.next = self.dis_f.q.val();

        if self.reset.val() {
            self.staging.d.next = 0.into();
            self.enabled.d.next = 0.into();
            self.provisioned.d.next = 0.into();
            self.bound.d.next = 0.into();
            self.key_reads.d.next = 0.into();
            self.pending.d.next = false;
            self.status.d.next = 0.into();
            self.executed.d.next = 0.into();
            self.irq_en.d.next = false;
            self.irq_pending.d.next = false;
            self.rvalid.d.next = false;
            self.dis_v.d.next = false;
            for i in 0..KEY_SLOTS {
                self.slots[i].d.next = 0.into();
            }
            for i in 0..FUNCS {
                self.served[i].d.next = 0.into();
                self.rejected[i].d.next = 0.into();
                self.faults[i].d.next = 0.into();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Behaviour is tested through the card top in Verilator
    // (sim/tests/card_control.rs): provisioning rules, every status code,
    // write-only key slots and counted key-window reads.

    #[test]
    fn mailbox_is_synthesizable() {
        let mut uut = Mailbox::new(4);
        uut.connect_all();
        let r = crate::synth::check_synthesizable("mailbox", &generate_verilog(&uut))
            .unwrap_or_else(|e| panic!("mailbox is not synthesizable: {e}"));
        assert!(r.cells > 0, "yosys produced no cells");
    }
}
