//! UART transmitter: 8N1, LSB first, valid/ready byte input.

use rust_hdl::prelude::*;

/// 8N1 UART transmitter with a fixed number of clocks per bit.
#[derive(LogicBlock)]
pub struct UartTx {
    /// Clock.
    pub clock: Signal<In, Clock>,
    /// Synchronous reset, active high.
    pub reset: Signal<In, Bit>,
    /// Byte to send.
    pub data: Signal<In, Bits<8>>,
    /// `data` is valid (AXI-Stream rules).
    pub valid: Signal<In, Bit>,
    /// The transmitter takes `data` on this cycle if `valid`.
    pub ready: Signal<Out, Bit>,
    /// Serial line (idle high).
    pub tx: Signal<Out, Bit>,
    bit_cycles: Constant<Bits<16>>,
    /// Frame bits still to send, LSB first, stored inverted so that the
    /// all-zero power-up state is an idle (high) line.
    frame_n: DFF<Bits<10>>,
    bits_left: DFF<Bits<4>>,
    count: DFF<Bits<16>>,
    line_n: DFF<Bit>,
}

impl UartTx {
    /// A transmitter taking `clocks_per_bit` clocks per bit (>= 4, < 65536).
    pub fn new(clocks_per_bit: u32) -> Self {
        assert!(
            (4..65536).contains(&clocks_per_bit),
            "clocks_per_bit out of range"
        );
        Self {
            clock: Default::default(),
            reset: Default::default(),
            data: Default::default(),
            valid: Default::default(),
            ready: Default::default(),
            tx: Default::default(),
            bit_cycles: Constant::new((clocks_per_bit as u64 - 1).to_bits()),
            frame_n: Default::default(),
            bits_left: Default::default(),
            count: Default::default(),
            line_n: Default::default(),
        }
    }
}

impl Logic for UartTx {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clock, frame_n, bits_left, count, line_n);
        self.tx.next = !self.line_n.q.val();
        self.ready.next = self.bits_left.q.val() == 0;
        if self.bits_left.q.val() == 0 {
            self.line_n.d.next = false;
            if self.valid.val() {
                // Frame = stop(1) data[7:0] start(0), inverted.
                self.frame_n.d.next =
                    !(bits::<10>(0x200) | (bit_cast::<10, 8>(self.data.val()) << 1));
                // 10 frame bits plus one idle slot, so the stop bit lasts a full bit.
                self.bits_left.d.next = 11.into();
                self.count.d.next = 0.into();
            }
        } else if self.count.q.val() == 0 {
            self.line_n.d.next = self.frame_n.q.val().get_bit(0);
            self.frame_n.d.next = self.frame_n.q.val() >> 1;
            self.count.d.next = self.bit_cycles.val();
            self.bits_left.d.next = self.bits_left.q.val() - 1;
        } else {
            self.count.d.next = self.count.q.val() - 1;
        }
        if self.reset.val() {
            self.bits_left.d.next = 0.into();
            self.line_n.d.next = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::board::tick;

    /// Decodes the line as a UART receiver would (sample at bit middles).
    fn decode(line: &[bool], cpb: usize) -> Vec<u8> {
        let mut out = vec![];
        let mut i = 0;
        while i < line.len() {
            if line[i] {
                i += 1;
                continue;
            }
            let mid = |k: usize| i + k * cpb + cpb / 2;
            if mid(9) >= line.len() {
                break;
            }
            assert!(!line[mid(0)], "start bit");
            let byte = (0..8).fold(0u8, |b, k| b | (line[mid(k + 1)] as u8) << k);
            assert!(line[mid(9)], "stop bit");
            out.push(byte);
            i = mid(9);
        }
        out
    }

    #[test]
    fn uart_tx_sends_bytes() {
        let cpb = 6;
        let mut uut = UartTx::new(cpb as u32);
        uut.connect_all();
        uut.reset.next = true;
        tick!(uut);
        uut.reset.next = false;
        tick!(uut);
        assert!(uut.tx.val(), "idle line is high");
        let msg = [0x06u8, 0x00, 0xFF, 0x5A, 0x81];
        let mut next = 0;
        let mut line = vec![];
        for _ in 0..(msg.len() * 10 + 4) * cpb {
            uut.valid.next = next < msg.len();
            uut.data.next = (*msg.get(next).unwrap_or(&0) as u64).to_bits();
            let take = uut.ready.val() && next < msg.len();
            tick!(uut);
            if take {
                next += 1;
            }
            line.push(uut.tx.val());
        }
        assert_eq!(next, msg.len());
        assert_eq!(decode(&line, cpb), msg.to_vec());
    }

    #[test]
    fn uart_tx_is_synthesizable() {
        let mut uut = UartTx::new(217);
        uut.connect_all();
        let v = generate_verilog(&uut);
        crate::synth::check_synthesizable("uart_tx", &v).unwrap();
    }
}
