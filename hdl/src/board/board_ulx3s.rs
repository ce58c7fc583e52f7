//! ULX3S (Lattice LFE5U-85F, CABGA381) board top: the compact XTS and GCM
//! engines behind the debug link on the FTDI USB serial port.
//!
//! There is no PCIe on this board top: no open FPGA toolchain has a proven
//! PCIe hard block on ECP5, so the host transaction interface of the card
//! is replaced by the debug link (115200 baud 8N1, protocol in
//! `debug_link.rs` and bitstreams/README.md).
//!
//! Pins (bitstreams/ulx3s/ulx3s.lpf, after emard/ulx3s
//! doc/constraints/ulx3s_v20.lpf): `clk_25mhz` G2 (25 MHz oscillator),
//! `ftdi_txd` M1 (FTDI -> FPGA), `ftdi_rxd` L4 (FPGA -> FTDI), `led[7:0]`
//! B2 C2 C1 D2 D1 E2 E1 H3. The design runs on the 25 MHz clock directly.
//!
//! LEDs: 0 XTS key ready, 1 GCM key ready, 2 XTS output waiting, 3 GCM
//! output or tag waiting, 7 heartbeat (~1.5 Hz).

use super::{DebugLink, UartRx, UartTx};
use crate::crypto::gcm::GcmEngine;
use crate::crypto::xts::XtsEngine;
use crate::Config;
use rust_hdl::prelude::*;

/// Board clock of the ULX3S (Hz).
pub const CLOCK_HZ: u64 = 25_000_000;
/// Debug-link baud rate.
pub const BAUD: u64 = 115_200;

/// The ULX3S board top (register name `board_ulx3s`).
#[derive(LogicBlock)]
pub struct BoardUlx3s {
    /// 25 MHz board oscillator (pin G2).
    pub clk_25mhz: Signal<In, Clock>,
    /// Serial data from the FTDI chip to the FPGA (pin M1).
    pub ftdi_txd: Signal<In, Bit>,
    /// Serial data from the FPGA to the FTDI chip (pin L4).
    pub ftdi_rxd: Signal<Out, Bit>,
    /// User LEDs.
    pub led: Signal<Out, Bits<8>>,
    reset: Signal<Local, Bit>,
    engine_reset: Signal<Local, Bit>,
    /// Power-on reset: counts up after configuration (flops start at 0).
    por: DFF<Bits<5>>,
    heartbeat: DFF<Bits<24>>,
    uart_rx: UartRx,
    uart_tx: UartTx,
    link: DebugLink,
    xts: XtsEngine,
    gcm: GcmEngine,
}

impl BoardUlx3s {
    /// The board top with a UART taking `clocks_per_bit` clocks per bit
    /// (use [`BoardUlx3s::ulx3s`] for the real board).
    pub fn new(clocks_per_bit: u32) -> Self {
        Self {
            clk_25mhz: Default::default(),
            ftdi_txd: Default::default(),
            ftdi_rxd: Default::default(),
            led: Default::default(),
            reset: Default::default(),
            engine_reset: Default::default(),
            por: Default::default(),
            heartbeat: Default::default(),
            uart_rx: UartRx::new(clocks_per_bit),
            uart_tx: UartTx::new(clocks_per_bit),
            link: DebugLink::new(),
            xts: XtsEngine::new(Config::Compact),
            gcm: GcmEngine::new(Config::Compact),
        }
    }

    /// 115200 baud at 25 MHz (217 clocks per bit, 0.01 % off).
    pub fn ulx3s() -> Self {
        Self::new(UartRx::divider(CLOCK_HZ, BAUD))
    }
}

impl Logic for BoardUlx3s {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clk_25mhz, por, heartbeat);
        clock!(self, clk_25mhz, uart_rx, uart_tx, link, xts, gcm);
        self.reset.next = self.por.q.val() != 31;
        if self.por.q.val() != 31 {
            self.por.d.next = self.por.q.val() + 1;
        }
        self.engine_reset.next = self.reset.val() | self.link.engine_reset.val();
        self.heartbeat.d.next = self.heartbeat.q.val() + 1;

        // Serial port <-> link.
        self.uart_rx.reset.next = self.reset.val();
        self.uart_rx.rx.next = self.ftdi_txd.val();
        self.uart_tx.reset.next = self.reset.val();
        self.ftdi_rxd.next = self.uart_tx.tx.val();
        self.link.reset.next = self.reset.val();
        self.link.rx_data.next = self.uart_rx.data.val();
        self.link.rx_valid.next = self.uart_rx.valid.val();
        self.uart_tx.data.next = self.link.tx_data.val();
        self.uart_tx.valid.next = self.link.tx_valid.val();
        self.link.tx_ready.next = self.uart_tx.ready.val();

        // Link <-> XTS engine (docs/ENGINES.md).
        self.xts.reset.next = self.engine_reset.val();
        self.xts.key.next = self.link.xts_key.val();
        self.xts.key_load.next = self.link.xts_key_load.val();
        self.link.xts_key_ready.next = self.xts.key_ready.val();
        self.xts.du_valid.next = self.link.xts_du_valid.val();
        self.link.xts_du_ready.next = self.xts.du_ready.val();
        self.xts.du_number.next = self.link.xts_du_number.val();
        self.xts.du_blocks.next = self.link.xts_du_blocks.val();
        self.xts.du_decrypt.next = self.link.xts_du_decrypt.val();
        self.xts.du_bank.next = false;
        self.xts.key_bank.next = false;
        self.xts.pf_valid.next = false;
        self.xts.pf_number.next = 0.into();
        self.xts.pf_bank.next = false;
        self.xts.in_valid.next = self.link.xts_in_valid.val();
        self.link.xts_in_ready.next = self.xts.in_ready.val();
        self.xts.in_data.next = self.link.xts_in_data.val();
        self.link.xts_out_valid.next = self.xts.out_valid.val();
        self.xts.out_ready.next = self.link.xts_out_ready.val();
        self.link.xts_out_data.next = self.xts.out_data.val();
        self.link.xts_out_last.next = self.xts.out_last.val();

        // Link <-> GCM engine (docs/ENGINES.md).
        self.gcm.reset.next = self.engine_reset.val();
        self.gcm.key.next = self.link.gcm_key.val();
        self.gcm.key_load.next = self.link.gcm_key_load.val();
        self.link.gcm_key_ready.next = self.gcm.key_ready.val();
        self.gcm.msg_valid.next = self.link.gcm_msg_valid.val();
        self.link.gcm_msg_ready.next = self.gcm.msg_ready.val();
        self.gcm.msg_iv.next = self.link.gcm_msg_iv.val();
        self.gcm.msg_aad_len.next = self.link.gcm_msg_aad_len.val();
        self.gcm.msg_data_len.next = self.link.gcm_msg_data_len.val();
        self.gcm.msg_decrypt.next = self.link.gcm_msg_decrypt.val();
        self.gcm.msg_tag.next = self.link.gcm_msg_tag.val();
        self.gcm.in_valid.next = self.link.gcm_in_valid.val();
        self.link.gcm_in_ready.next = self.gcm.in_ready.val();
        self.gcm.in_data.next = self.link.gcm_in_data.val();
        self.link.gcm_out_valid.next = self.gcm.out_valid.val();
        self.gcm.out_ready.next = self.link.gcm_out_ready.val();
        self.link.gcm_out_data.next = self.gcm.out_data.val();
        self.link.gcm_tag_valid.next = self.gcm.tag_valid.val();
        self.gcm.tag_ready.next = self.link.gcm_tag_ready.val();
        self.link.gcm_tag.next = self.gcm.tag.val();
        self.link.gcm_tag_ok.next = self.gcm.tag_ok.val();

        self.led.next = bits::<8>(0)
            .replace_bit(0, self.xts.key_ready.val())
            .replace_bit(1, self.gcm.key_ready.val())
            .replace_bit(2, self.xts.out_valid.val())
            .replace_bit(3, self.gcm.out_valid.val() | self.gcm.tag_valid.val())
            .replace_bit(7, self.heartbeat.q.val().get_bit(23));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::board::debug_link::*;
    use aes::cipher::KeyInit;
    use aes_gcm::aead::AeadInPlace;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;
    use std::collections::VecDeque;

    /// Clocks per UART bit in simulation (the board uses 217).
    const CPB: usize = 4;

    /// The host side of the serial port, bit-accurate: drives `ftdi_txd`
    /// with 8N1 frames and decodes `ftdi_rxd` by sampling bit middles.
    struct Host {
        uut: BoardUlx3s,
        line: VecDeque<bool>,
        rx_count: usize,
        rx_bits: Vec<bool>,
        got: Vec<u8>,
        cycles: u64,
    }

    impl Host {
        fn new() -> Self {
            let mut uut = BoardUlx3s::new(CPB as u32);
            uut.connect_all();
            let mut h = Host {
                uut,
                line: VecDeque::new(),
                rx_count: 0,
                rx_bits: vec![],
                got: vec![],
                cycles: 0,
            };
            for _ in 0..64 {
                h.cycle(); // power-on reset
            }
            h
        }

        fn cycle(&mut self) {
            let uut = &mut self.uut;
            uut.ftdi_txd.next = self.line.pop_front().unwrap_or(true);
            uut.clk_25mhz.next = true.into();
            assert!(simulate(uut, 500));
            uut.clk_25mhz.next = false.into();
            assert!(simulate(uut, 500));
            self.cycles += 1;
            // Receiver: a falling edge on an idle line starts a frame.
            let level = uut.ftdi_rxd.val();
            if self.rx_count == 0 {
                if !level {
                    self.rx_count = 1;
                    self.rx_bits.clear();
                }
            } else {
                self.rx_count += 1;
                if (self.rx_count - 1) % CPB == CPB / 2 {
                    self.rx_bits.push(level);
                }
                if self.rx_bits.len() == 10 {
                    assert!(!self.rx_bits[0] && self.rx_bits[9], "bad frame from FPGA");
                    let b = (0..8).fold(0u8, |b, k| b | (self.rx_bits[k + 1] as u8) << k);
                    self.got.push(b);
                    self.rx_count = 0;
                }
            }
        }

        /// One command; returns the response (ACK + payload, or NAK).
        fn command(&mut self, bytes: &[u8]) -> Vec<u8> {
            for &b in bytes {
                let mut frame = vec![false];
                frame.extend((0..8).map(|k| b >> k & 1 == 1));
                frame.push(true);
                for bit in frame {
                    self.line.extend(std::iter::repeat_n(bit, CPB));
                }
            }
            self.got.clear();
            let want = |got: &[u8]| -> Option<usize> {
                let first = *got.first()?;
                if first == NAK {
                    return Some(1);
                }
                Some(match bytes[0] {
                    OP_XTS_OUT | OP_GCM_TAG => 18,
                    OP_GCM_OUT => 17,
                    OP_STATUS => 3,
                    _ => 1,
                })
            };
            let mut n = 0;
            while want(&self.got).is_none_or(|w| self.got.len() < w) {
                self.cycle();
                n += 1;
                assert!(
                    n < 20_000,
                    "no response to {:02x}: {:02x?}",
                    bytes[0],
                    self.got
                );
            }
            std::mem::take(&mut self.got)
        }

        fn status(&mut self) -> u16 {
            let r = self.command(&[OP_STATUS]);
            assert_eq!(r[0], ACK);
            u16::from_le_bytes([r[1], r[2]])
        }

        fn wait_status(&mut self, mask: u16) {
            for _ in 0..100 {
                if self.status() & mask == mask {
                    return;
                }
            }
            panic!("status bit {mask:#x} never set");
        }

        /// Pulls with `op` until the engine has something (ACK).
        fn pull(&mut self, op: u8) -> Vec<u8> {
            for _ in 0..100 {
                let r = self.command(&[op]);
                if r[0] == ACK {
                    return r[1..].to_vec();
                }
            }
            panic!("nothing to pull with {op:#04x}");
        }

        fn push(&mut self, op: u8, payload: &[u8]) {
            let mut cmd = vec![op];
            cmd.extend(payload);
            assert_eq!(self.command(&cmd), vec![ACK], "op {op:#04x}");
        }
    }

    /// XTS-AES-256 through the serial port against RustCrypto `xts-mode`
    /// (IEEE 1619-2007 §5.3 / §5.4), one data unit each way.
    #[test]
    fn board_ulx3s_xts_over_uart() {
        let mut rng = ChaCha8Rng::seed_from_u64(0x1619);
        let mut h = Host::new();
        assert_eq!(h.status() & 0x11, 0, "no key after reset");
        let key: Vec<u8> = (0..64).map(|_| rng.gen()).collect();
        h.push(OP_XTS_KEY, &key);
        h.wait_status(0x01);
        let number: u128 = rng.gen();
        let blocks = 3usize;
        let plain: Vec<u8> = (0..16 * blocks).map(|_| rng.gen()).collect();
        let xts = xts_mode::Xts128::new(
            aes::Aes256::new_from_slice(&key[..32]).unwrap(),
            aes::Aes256::new_from_slice(&key[32..]).unwrap(),
        );
        let mut expect = plain.clone();
        xts.encrypt_sector(&mut expect, number.to_le_bytes());
        for (decrypt, input, output) in [(0u8, &plain, &expect), (1, &expect, &plain)] {
            let mut du = number.to_le_bytes().to_vec();
            du.extend((blocks as u16).to_le_bytes());
            du.push(decrypt);
            h.push(OP_XTS_DU, &du);
            for (i, chunk) in input.chunks(16).enumerate() {
                h.push(OP_XTS_IN, chunk);
                let r = h.pull(OP_XTS_OUT);
                assert_eq!(
                    &r[..16],
                    &output[16 * i..16 * i + 16],
                    "block {i} decrypt {decrypt}"
                );
                assert_eq!(r[16], (i == blocks - 1) as u8, "last flag");
            }
        }
        assert_eq!(h.command(&[OP_XTS_OUT]), vec![NAK]);
        eprintln!("xts over uart: {} cycles", h.cycles);
    }

    /// AES-256-GCM through the serial port against RustCrypto `aes-gcm`
    /// (NIST SP 800-38D §7.1 / §7.2): encrypt, decrypt, and a forged tag.
    #[test]
    fn board_ulx3s_gcm_over_uart() {
        let mut rng = ChaCha8Rng::seed_from_u64(0x38D);
        let mut h = Host::new();
        let key: [u8; 32] = rng.gen();
        h.push(OP_GCM_KEY, &key);
        h.wait_status(0x10);
        let iv: [u8; 12] = rng.gen();
        let aad: Vec<u8> = (0..20).map(|_| rng.gen()).collect();
        let plain: Vec<u8> = (0..40).map(|_| rng.gen()).collect();
        let gcm = aes_gcm::Aes256Gcm::new_from_slice(&key).unwrap();
        let mut ct = plain.clone();
        let tag = gcm
            .encrypt_in_place_detached(aes_gcm::Nonce::from_slice(&iv), &aad, &mut ct)
            .unwrap();
        let padded = |v: &[u8]| -> Vec<[u8; 16]> {
            v.chunks(16)
                .map(|c| {
                    let mut b = [0u8; 16];
                    b[..c.len()].copy_from_slice(c);
                    b
                })
                .collect()
        };
        let cases = [
            (0u8, &plain, &ct, [0u8; 16], 1u8),
            (1, &ct, &plain, tag.into(), 1),
        ];
        let mut forged: [u8; 16] = tag.into();
        forged[5] ^= 0x40;
        let forged_case = (1u8, &ct, &plain, forged, 0u8);
        for (decrypt, input, output, msg_tag, ok) in cases.into_iter().chain([forged_case]) {
            let mut msg = iv.to_vec();
            msg.extend((aad.len() as u32).to_le_bytes());
            msg.extend((input.len() as u32).to_le_bytes());
            msg.push(decrypt);
            msg.extend(msg_tag);
            h.push(OP_GCM_MSG, &msg);
            for b in padded(&aad) {
                h.push(OP_GCM_IN, &b);
            }
            let want = padded(output);
            for (i, b) in padded(input).iter().enumerate() {
                h.push(OP_GCM_IN, b);
                assert_eq!(
                    h.pull(OP_GCM_OUT),
                    want[i].to_vec(),
                    "block {i} decrypt {decrypt}"
                );
            }
            let t = h.pull(OP_GCM_TAG);
            assert_eq!(&t[..16], &tag[..], "tag (decrypt {decrypt})");
            assert_eq!(t[16], ok, "tag_ok (decrypt {decrypt})");
        }
        eprintln!("gcm over uart: {} cycles", h.cycles);
    }

    #[test]
    fn board_ulx3s_is_synthesizable() {
        let mut uut = BoardUlx3s::ulx3s();
        uut.connect_all();
        let v = generate_verilog(&uut);
        crate::synth::check_synthesizable("board_ulx3s", &v).unwrap();
    }
}
