//! UART receiver: 8 data bits, no parity, 1 stop bit (8N1), LSB first.
//!
//! The line is synchronized with two flops, the start bit is confirmed at
//! its middle, and every data bit is sampled at its middle. A byte whose
//! stop bit is low (framing error) is dropped.

use rust_hdl::prelude::*;

#[derive(Copy, Clone, PartialEq, Eq, Debug, LogicState)]
enum RxState {
    Idle,
    Start,
    Data,
    Stop,
}

/// 8N1 UART receiver with a fixed number of clocks per bit.
#[derive(LogicBlock)]
pub struct UartRx {
    /// Clock.
    pub clock: Signal<In, Clock>,
    /// Synchronous reset, active high.
    pub reset: Signal<In, Bit>,
    /// Serial line (idle high).
    pub rx: Signal<In, Bit>,
    /// Received byte, valid while `valid` is high.
    pub data: Signal<Out, Bits<8>>,
    /// One-cycle strobe: `data` holds a new byte.
    pub valid: Signal<Out, Bit>,
    bit_cycles: Constant<Bits<16>>,
    half_cycles: Constant<Bits<16>>,
    sync0: DFF<Bit>,
    sync1: DFF<Bit>,
    state: DFF<RxState>,
    count: DFF<Bits<16>>,
    index: DFF<Bits<3>>,
    shift: DFF<Bits<8>>,
    out_valid: DFF<Bit>,
}

impl UartRx {
    /// A receiver taking `clocks_per_bit` clocks per bit (e.g. 25 MHz /
    /// 115200 baud = 217). At least 4, below 65536.
    pub fn new(clocks_per_bit: u32) -> Self {
        assert!(
            (4..65536).contains(&clocks_per_bit),
            "clocks_per_bit out of range"
        );
        Self {
            clock: Default::default(),
            reset: Default::default(),
            rx: Default::default(),
            data: Default::default(),
            valid: Default::default(),
            bit_cycles: Constant::new((clocks_per_bit as u64 - 1).to_bits()),
            half_cycles: Constant::new((clocks_per_bit as u64 / 2 - 1).to_bits()),
            sync0: Default::default(),
            sync1: Default::default(),
            state: Default::default(),
            count: Default::default(),
            index: Default::default(),
            shift: Default::default(),
            out_valid: Default::default(),
        }
    }

    /// Clocks per bit for a clock frequency and baud rate (rounded).
    pub fn divider(clock_hz: u64, baud: u64) -> u32 {
        ((clock_hz + baud / 2) / baud) as u32
    }
}

impl Logic for UartRx {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clock, sync0, sync1, state, count, index, shift, out_valid);
        // Line idles high; the synchronizer flops start at 0 after
        // configuration, so invert: store !rx.
        self.sync0.d.next = !self.rx.val();
        self.sync1.d.next = self.sync0.q.val();
        self.out_valid.d.next = false;
        self.data.next = self.shift.q.val();
        self.valid.next = self.out_valid.q.val();
        match self.state.q.val() {
            RxState::Idle => {
                if self.sync1.q.val() {
                    self.state.d.next = RxState::Start;
                    self.count.d.next = self.half_cycles.val();
                }
            }
            RxState::Start => {
                if self.count.q.val() == 0 {
                    if self.sync1.q.val() {
                        self.state.d.next = RxState::Data;
                        self.count.d.next = self.bit_cycles.val();
                        self.index.d.next = 0.into();
                    } else {
                        self.state.d.next = RxState::Idle;
                    }
                } else {
                    self.count.d.next = self.count.q.val() - 1;
                }
            }
            RxState::Data => {
                if self.count.q.val() == 0 {
                    // LSB first: shift in from the top (line level = !sync1).
                    if self.sync1.q.val() {
                        self.shift.d.next = self.shift.q.val() >> 1;
                    } else {
                        self.shift.d.next = (self.shift.q.val() >> 1) | bits::<8>(0x80);
                    }
                    self.count.d.next = self.bit_cycles.val();
                    self.index.d.next = self.index.q.val() + 1;
                    if self.index.q.val() == 7 {
                        self.state.d.next = RxState::Stop;
                    }
                } else {
                    self.count.d.next = self.count.q.val() - 1;
                }
            }
            RxState::Stop => {
                if self.count.q.val() == 0 {
                    // Stop bit must be high (stored inverted: 0).
                    self.out_valid.d.next = !self.sync1.q.val();
                    self.state.d.next = RxState::Idle;
                } else {
                    self.count.d.next = self.count.q.val() - 1;
                }
            }
            _ => {
                self.state.d.next = RxState::Idle;
            }
        }
        if self.reset.val() {
            self.state.d.next = RxState::Idle;
            self.out_valid.d.next = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::board::tick;

    /// Drives one 8N1 frame (`stop` = level of the stop bit) and returns
    /// every byte the receiver strobed out meanwhile.
    fn send(uut: &mut UartRx, cpb: u32, byte: u8, stop: bool) -> Vec<u8> {
        let mut got = vec![];
        let mut bits = vec![false];
        bits.extend((0..8).map(|i| byte >> i & 1 == 1));
        bits.push(stop);
        bits.push(true); // one idle bit
        for b in bits {
            for _ in 0..cpb {
                uut.rx.next = b;
                tick!(*uut);
                if uut.valid.val() {
                    got.push(uut.data.val().index() as u8);
                }
            }
        }
        got
    }

    fn fresh(cpb: u32) -> UartRx {
        let mut uut = UartRx::new(cpb);
        uut.connect_all();
        uut.rx.next = true;
        uut.reset.next = true;
        tick!(uut);
        uut.reset.next = false;
        for _ in 0..3 * cpb {
            tick!(uut);
        }
        assert!(!uut.valid.val());
        uut
    }

    #[test]
    fn uart_rx_receives_bytes() {
        let cpb = 8;
        let mut uut = fresh(cpb);
        for byte in [0x00u8, 0xFF, 0x55, 0xA5, 0x01, 0x80, 0x3C] {
            assert_eq!(
                send(&mut uut, cpb, byte, true),
                vec![byte],
                "byte {byte:#04x}"
            );
        }
    }

    #[test]
    fn uart_rx_drops_framing_errors() {
        let cpb = 8;
        let mut uut = fresh(cpb);
        assert_eq!(send(&mut uut, cpb, 0x5A, false), Vec::<u8>::new());
        // Line back to idle for a while, then a good byte.
        for _ in 0..2 * cpb {
            uut.rx.next = true;
            tick!(uut);
        }
        assert_eq!(send(&mut uut, cpb, 0xC3, true), vec![0xC3]);
    }

    #[test]
    fn uart_rx_divider() {
        assert_eq!(UartRx::divider(25_000_000, 115_200), 217);
    }

    #[test]
    fn uart_rx_is_synthesizable() {
        let mut uut = UartRx::new(217);
        uut.connect_all();
        let v = generate_verilog(&uut);
        crate::synth::check_synthesizable("uart_rx", &v).unwrap();
    }
}
