//! `SimSelftest`: a small block that exercises the Verilator binding in
//! `sim/` (port widths 1, 8, 32, 64, 100, 128 and 512 in both directions,
//! registered adders and XORs, a free-running counter, one combinational
//! output). It has no role on the card; it exists so that the binding is
//! tested against a design whose every output is trivially predictable.
//!
//! Behaviour (every register is cleared by the synchronous, active-high
//! `reset`; results appear one clock after the inputs are sampled):
//!
//! | output | width | value |
//! |---|---|---|
//! | out_bit | 1 | `!in_bit` |
//! | out_byte | 8 | `in_byte + 1` (mod 2^8) |
//! | out_word | 32 | `in_word + in_byte` (mod 2^32) |
//! | out_dword | 64 | `in_dword ^ count` (count zero-extended, before increment) |
//! | out_odd | 100 | `in_odd + 1` (mod 2^100) |
//! | out_block | 128 | `in_block ^ in_dword` (zero-extended) |
//! | out_wide | 512 | `in_wide + in_block` (mod 2^512) |
//! | count | 32 | clock cycles since reset |
//! | comb_byte | 8 | combinational `in_byte ^ 0xA5` |

use rust_hdl::prelude::*;

/// Verilator-binding self-test block (see the module docs).
#[derive(LogicBlock, Default)]
pub struct SimSelftest {
    /// Clock; every register samples on its rising edge.
    pub clock: Signal<In, Clock>,
    /// Synchronous reset, active high: clears every register.
    pub reset: Signal<In, Bit>,
    /// 1-bit input.
    pub in_bit: Signal<In, Bit>,
    /// 8-bit input.
    pub in_byte: Signal<In, Bits<8>>,
    /// 32-bit input.
    pub in_word: Signal<In, Bits<32>>,
    /// 64-bit input.
    pub in_dword: Signal<In, Bits<64>>,
    /// 100-bit input (not a multiple of 32: exercises partial words).
    pub in_odd: Signal<In, Bits<100>>,
    /// 128-bit input.
    pub in_block: Signal<In, Bits<128>>,
    /// 512-bit input (the XTS key width).
    pub in_wide: Signal<In, Bits<512>>,
    /// Registered `!in_bit`.
    pub out_bit: Signal<Out, Bit>,
    /// Registered `in_byte + 1`.
    pub out_byte: Signal<Out, Bits<8>>,
    /// Registered `in_word + in_byte`.
    pub out_word: Signal<Out, Bits<32>>,
    /// Registered `in_dword ^ count`.
    pub out_dword: Signal<Out, Bits<64>>,
    /// Registered `in_odd + 1`.
    pub out_odd: Signal<Out, Bits<100>>,
    /// Registered `in_block ^ in_dword`.
    pub out_block: Signal<Out, Bits<128>>,
    /// Registered `in_wide + in_block`.
    pub out_wide: Signal<Out, Bits<512>>,
    /// Clock cycles since reset (wraps at 2^32).
    pub count: Signal<Out, Bits<32>>,
    /// Combinational `in_byte ^ 0xA5` (no clock needed).
    pub comb_byte: Signal<Out, Bits<8>>,
    r_bit: DFF<Bit>,
    r_byte: DFF<Bits<8>>,
    r_word: DFF<Bits<32>>,
    r_dword: DFF<Bits<64>>,
    r_odd: DFF<Bits<100>>,
    r_block: DFF<Bits<128>>,
    r_wide: DFF<Bits<512>>,
    r_count: DFF<Bits<32>>,
}

impl SimSelftest {
    /// A new self-test block (it has no parameters).
    pub fn new() -> Self {
        Self::default()
    }
}

impl Logic for SimSelftest {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clock, r_bit, r_byte, r_word, r_dword, r_odd, r_block, r_wide, r_count);
        self.r_bit.d.next = !self.in_bit.val();
        self.r_byte.d.next = self.in_byte.val() + 1;
        self.r_word.d.next = self.in_word.val() + bit_cast::<32, 8>(self.in_byte.val());
        self.r_dword.d.next = self.in_dword.val() ^ bit_cast::<64, 32>(self.r_count.q.val());
        self.r_odd.d.next = self.in_odd.val() + 1;
        self.r_block.d.next = self.in_block.val() ^ bit_cast::<128, 64>(self.in_dword.val());
        self.r_wide.d.next = self.in_wide.val() + bit_cast::<512, 128>(self.in_block.val());
        self.r_count.d.next = self.r_count.q.val() + 1;
        if self.reset.val() {
            self.r_bit.d.next = false;
            self.r_byte.d.next = 0.into();
            self.r_word.d.next = 0.into();
            self.r_dword.d.next = 0.into();
            self.r_odd.d.next = 0.into();
            self.r_block.d.next = 0.into();
            self.r_wide.d.next = 0.into();
            self.r_count.d.next = 0.into();
        }
        self.out_bit.next = self.r_bit.q.val();
        self.out_byte.next = self.r_byte.q.val();
        self.out_word.next = self.r_word.q.val();
        self.out_dword.next = self.r_dword.q.val();
        self.out_odd.next = self.r_odd.q.val();
        self.out_block.next = self.r_block.q.val();
        self.out_wide.next = self.r_wide.q.val();
        self.count.next = self.r_count.q.val();
        self.comb_byte.next = self.in_byte.val() ^ bits::<8>(0xA5);
    }
}

/// Verilog of the self-test top (module `top`), for `tops.rs`.
pub fn verilog() -> String {
    let mut uut = SimSelftest::new();
    uut.connect_all();
    generate_verilog(&uut)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Propagate combinational changes until the design is stable.
    fn settle(uut: &mut SimSelftest) {
        for _ in 0..100 {
            uut.update_all();
            if !uut.has_changed() {
                return;
            }
        }
        panic!("design did not settle");
    }

    /// One full clock cycle: low, settle, high, settle.
    fn tick(uut: &mut SimSelftest) {
        uut.clock.next = false.into();
        settle(uut);
        uut.clock.next = true.into();
        settle(uut);
    }

    /// A 512-bit value from four u128 limbs (limb 0 least significant).
    fn wide(limbs: [u128; 4]) -> Bits<512> {
        let mut x: Bits<512> = Bits::default();
        for (i, l) in limbs.iter().enumerate() {
            x.set_bits::<128>(128 * i, l.to_bits());
        }
        x
    }

    #[test]
    fn sim_selftest_registers_follow_the_table() {
        let mut uut = SimSelftest::new();
        uut.connect_all();
        uut.reset.next = true;
        tick(&mut uut);
        uut.reset.next = false;
        assert_eq!(uut.count.val(), 0u64);
        assert!(!uut.out_bit.val());

        let odd: u128 = (1u128 << 100) - 1; // all ones: +1 wraps to 0
        let block: u128 = 0x0123_4567_89ab_cdef_fedc_ba98_7654_3210;
        let dword: u64 = 0xdead_beef_0bad_f00d;
        uut.in_bit.next = true;
        uut.in_byte.next = 0xff.into();
        uut.in_word.next = 0xffff_ff00u64.into();
        uut.in_dword.next = dword.into();
        uut.in_odd.next = odd.to_bits();
        uut.in_block.next = block.to_bits();
        // Low 128 bits all ones: adding `block` carries into limb 1.
        uut.in_wide.next = wide([u128::MAX, 7, 0, 1 << 127]);
        settle(&mut uut);
        assert_eq!(uut.comb_byte.val(), 0xffu64 ^ 0xa5);
        tick(&mut uut);

        assert!(!uut.out_bit.val());
        assert_eq!(uut.out_byte.val(), 0u64);
        assert_eq!(uut.out_word.val(), 0xffff_ffffu64);
        // count was 0 when in_dword was sampled
        assert_eq!(uut.out_dword.val(), dword);
        assert_eq!(uut.out_odd.val(), 0u64);
        assert_eq!(uut.out_block.val().to_u128(), block ^ dword as u128);
        let w = uut.out_wide.val();
        assert_eq!(w.get_bits::<128>(0).to_u128(), block.wrapping_sub(1));
        assert_eq!(w.get_bits::<128>(128).to_u128(), 8);
        assert_eq!(w.get_bits::<128>(256).to_u128(), 0);
        assert_eq!(w.get_bits::<128>(384).to_u128(), 1 << 127);
        assert_eq!(uut.count.val(), 1u64);

        for _ in 0..5 {
            tick(&mut uut);
        }
        assert_eq!(uut.count.val(), 6u64);
        assert_eq!(uut.out_dword.val(), dword ^ 5);
    }

    #[test]
    fn sim_selftest_is_synthesizable() {
        let report = crate::synth::check_synthesizable("sim_selftest", &verilog())
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(report.cells > 0);
    }
}
