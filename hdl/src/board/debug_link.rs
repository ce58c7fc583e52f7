//! Debug link: a byte command protocol that drives the XTS and GCM engines
//! (docs/ENGINES.md port contracts) from a serial port.
//!
//! ECP5 has no PCIe hard block with open tools, so on the ULX3S board this
//! link takes the place of the host transaction interface. The host sends
//! one command (opcode byte + fixed-length payload) and waits for the whole
//! response before sending the next; bytes that arrive while a response is
//! pending are dropped. Multi-byte fields are little-endian, and a 128-bit
//! block / key travels in memory byte order (byte *i* first), which is the
//! engines' `Bits` convention (byte *i* at bits `[8i+7:8i]`).
//!
//! | op | command | payload (bytes) | response |
//! |---|---|---|---|
//! | 0x01 | XTS key load | key1 (32) key2 (32) | ACK |
//! | 0x02 | XTS data-unit descriptor | number (16) blocks (2) decrypt (1) | ACK once accepted |
//! | 0x03 | XTS data block in | block (16) | ACK once accepted |
//! | 0x04 | XTS data block out | - | ACK block (16) last (1), or NAK if none |
//! | 0x11 | GCM key load | key (32) | ACK |
//! | 0x12 | GCM message descriptor | iv (12) aad_len (4) data_len (4) decrypt (1) tag (16) | ACK once accepted |
//! | 0x13 | GCM block in (AAD, then payload) | block (16) | ACK once accepted |
//! | 0x14 | GCM payload block out | - | ACK block (16), or NAK if none |
//! | 0x15 | GCM tag out | - | ACK tag (16) tag_ok (1), or NAK if none |
//! | 0x20 | status | - | ACK status0 status1 |
//! | 0x2F | engine reset (one-cycle `engine_reset`) | - | ACK |
//! | other | - | - | NAK |
//!
//! ACK = 0x06, NAK = 0x15. status0 bits: 0 XTS key_ready, 1 XTS du_ready,
//! 2 XTS in_ready, 3 XTS out_valid, 4 GCM key_ready, 5 GCM msg_ready,
//! 6 GCM in_ready, 7 GCM out_valid. status1: bit 0 GCM tag_valid, bits 7:4
//! protocol version (1).
//!
//! A descriptor or block push holds `valid` until the engine takes it
//! (AXI-Stream rules), so a push blocks the link while the engine is full:
//! poll status (in_ready) before pushing, pull outputs to make room. Key
//! loads return at once; poll `key_ready`. Keys are held in dedicated
//! registers (never readable over the link) so that the engine may read
//! `key` for as long as its expansion takes.

use rust_hdl::prelude::*;

/// Response: command done; payload follows.
pub const ACK: u8 = 0x06;
/// Response: unknown command, or nothing to pull.
pub const NAK: u8 = 0x15;
/// Opcodes (see the module table).
pub const OP_XTS_KEY: u8 = 0x01;
pub const OP_XTS_DU: u8 = 0x02;
pub const OP_XTS_IN: u8 = 0x03;
pub const OP_XTS_OUT: u8 = 0x04;
pub const OP_GCM_KEY: u8 = 0x11;
pub const OP_GCM_MSG: u8 = 0x12;
pub const OP_GCM_IN: u8 = 0x13;
pub const OP_GCM_OUT: u8 = 0x14;
pub const OP_GCM_TAG: u8 = 0x15;
pub const OP_STATUS: u8 = 0x20;
pub const OP_RESET: u8 = 0x2F;
/// Protocol version reported in status1 bits 7:4.
pub const VERSION: u8 = 1;

/// Payload length in bytes of a command, `None` for an unknown opcode.
pub fn payload_len(op: u8) -> Option<usize> {
    match op {
        OP_XTS_KEY => Some(64),
        OP_XTS_DU => Some(19),
        OP_XTS_IN | OP_GCM_IN => Some(16),
        OP_GCM_KEY => Some(32),
        OP_GCM_MSG => Some(37),
        OP_XTS_OUT | OP_GCM_OUT | OP_GCM_TAG | OP_STATUS | OP_RESET => Some(0),
        _ => None,
    }
}

#[derive(Copy, Clone, PartialEq, Eq, Debug, LogicState)]
enum LinkState {
    Idle,
    Payload,
    Exec,
    Send,
}

/// The command decoder and engine bridge of the debug link.
///
/// Byte side: `rx_data`/`rx_valid` from a UART receiver (strobe, no
/// backpressure), `tx_*` to a UART transmitter (valid/ready). Engine side:
/// the ports of `XtsEngine` and `GcmEngine` with the directions reversed.
#[derive(LogicBlock)]
pub struct DebugLink {
    /// Clock.
    pub clock: Signal<In, Clock>,
    /// Synchronous reset, active high.
    pub reset: Signal<In, Bit>,
    /// Received byte (valid when `rx_valid`).
    pub rx_data: Signal<In, Bits<8>>,
    /// One-cycle strobe per received byte.
    pub rx_valid: Signal<In, Bit>,
    /// Byte to transmit.
    pub tx_data: Signal<Out, Bits<8>>,
    /// `tx_data` valid.
    pub tx_valid: Signal<Out, Bit>,
    /// Transmitter takes `tx_data`.
    pub tx_ready: Signal<In, Bit>,
    /// One-cycle engine reset requested by command 0x2F.
    pub engine_reset: Signal<Out, Bit>,

    /// XTS engine `key` (Key1 in [255:0], Key2 in [511:256]).
    pub xts_key: Signal<Out, Bits<512>>,
    pub xts_key_load: Signal<Out, Bit>,
    pub xts_key_ready: Signal<In, Bit>,
    pub xts_du_valid: Signal<Out, Bit>,
    pub xts_du_ready: Signal<In, Bit>,
    pub xts_du_number: Signal<Out, Bits<128>>,
    pub xts_du_blocks: Signal<Out, Bits<9>>,
    pub xts_du_decrypt: Signal<Out, Bit>,
    pub xts_in_valid: Signal<Out, Bit>,
    pub xts_in_ready: Signal<In, Bit>,
    pub xts_in_data: Signal<Out, Bits<128>>,
    pub xts_out_valid: Signal<In, Bit>,
    pub xts_out_ready: Signal<Out, Bit>,
    pub xts_out_data: Signal<In, Bits<128>>,
    pub xts_out_last: Signal<In, Bit>,

    /// GCM engine `key`.
    pub gcm_key: Signal<Out, Bits<256>>,
    pub gcm_key_load: Signal<Out, Bit>,
    pub gcm_key_ready: Signal<In, Bit>,
    pub gcm_msg_valid: Signal<Out, Bit>,
    pub gcm_msg_ready: Signal<In, Bit>,
    pub gcm_msg_iv: Signal<Out, Bits<96>>,
    pub gcm_msg_aad_len: Signal<Out, Bits<32>>,
    pub gcm_msg_data_len: Signal<Out, Bits<32>>,
    pub gcm_msg_decrypt: Signal<Out, Bit>,
    pub gcm_msg_tag: Signal<Out, Bits<128>>,
    pub gcm_in_valid: Signal<Out, Bit>,
    pub gcm_in_ready: Signal<In, Bit>,
    pub gcm_in_data: Signal<Out, Bits<128>>,
    pub gcm_out_valid: Signal<In, Bit>,
    pub gcm_out_ready: Signal<Out, Bit>,
    pub gcm_out_data: Signal<In, Bits<128>>,
    pub gcm_tag_valid: Signal<In, Bit>,
    pub gcm_tag_ready: Signal<Out, Bit>,
    pub gcm_tag: Signal<In, Bits<128>>,
    pub gcm_tag_ok: Signal<In, Bit>,

    status: Signal<Local, Bits<16>>,
    state: DFF<LinkState>,
    op: DFF<Bits<8>>,
    left: DFF<Bits<7>>,
    /// Payload shift register: bytes enter at the top, so after an N-byte
    /// payload its first byte sits at bit 512 - 8N.
    sr: DFF<Bits<512>>,
    xkey: DFF<Bits<512>>,
    gkey: DFF<Bits<256>>,
    xkey_load: DFF<Bit>,
    gkey_load: DFF<Bit>,
    eng_reset: DFF<Bit>,
    /// Response bytes, first byte in [7:0].
    txb: DFF<Bits<144>>,
    txn: DFF<Bits<5>>,
}

impl Default for DebugLink {
    fn default() -> Self {
        Self::new()
    }
}

impl DebugLink {
    pub fn new() -> Self {
        Self {
            clock: Default::default(),
            reset: Default::default(),
            rx_data: Default::default(),
            rx_valid: Default::default(),
            tx_data: Default::default(),
            tx_valid: Default::default(),
            tx_ready: Default::default(),
            engine_reset: Default::default(),
            xts_key: Default::default(),
            xts_key_load: Default::default(),
            xts_key_ready: Default::default(),
            xts_du_valid: Default::default(),
            xts_du_ready: Default::default(),
            xts_du_number: Default::default(),
            xts_du_blocks: Default::default(),
            xts_du_decrypt: Default::default(),
            xts_in_valid: Default::default(),
            xts_in_ready: Default::default(),
            xts_in_data: Default::default(),
            xts_out_valid: Default::default(),
            xts_out_ready: Default::default(),
            xts_out_data: Default::default(),
            xts_out_last: Default::default(),
            gcm_key: Default::default(),
            gcm_key_load: Default::default(),
            gcm_key_ready: Default::default(),
            gcm_msg_valid: Default::default(),
            gcm_msg_ready: Default::default(),
            gcm_msg_iv: Default::default(),
            gcm_msg_aad_len: Default::default(),
            gcm_msg_data_len: Default::default(),
            gcm_msg_decrypt: Default::default(),
            gcm_msg_tag: Default::default(),
            gcm_in_valid: Default::default(),
            gcm_in_ready: Default::default(),
            gcm_in_data: Default::default(),
            gcm_out_valid: Default::default(),
            gcm_out_ready: Default::default(),
            gcm_out_data: Default::default(),
            gcm_tag_valid: Default::default(),
            gcm_tag_ready: Default::default(),
            gcm_tag: Default::default(),
            gcm_tag_ok: Default::default(),
            status: Default::default(),
            state: Default::default(),
            op: Default::default(),
            left: Default::default(),
            sr: Default::default(),
            xkey: Default::default(),
            gkey: Default::default(),
            xkey_load: Default::default(),
            gkey_load: Default::default(),
            eng_reset: Default::default(),
            txb: Default::default(),
            txn: Default::default(),
        }
    }
}

impl Logic for DebugLink {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self, clock, state, op, left, sr, xkey, gkey, xkey_load, gkey_load, eng_reset, txb, txn
        );
        // Engine-facing fields are fixed slices of the payload register.
        self.xts_key.next = self.xkey.q.val();
        self.xts_key_load.next = self.xkey_load.q.val();
        self.gcm_key.next = self.gkey.q.val();
        self.gcm_key_load.next = self.gkey_load.q.val();
        self.engine_reset.next = self.eng_reset.q.val();
        // 0x02: number (16) blocks (2) decrypt (1): 19 bytes, base 360.
        self.xts_du_number.next = self.sr.q.val().get_bits::<128>(360);
        self.xts_du_blocks.next = self.sr.q.val().get_bits::<9>(488);
        self.xts_du_decrypt.next = self.sr.q.val().get_bit(504);
        // 16-byte block payloads: base 384.
        self.xts_in_data.next = self.sr.q.val().get_bits::<128>(384);
        self.gcm_in_data.next = self.sr.q.val().get_bits::<128>(384);
        // 0x12: iv (12) aad_len (4) data_len (4) decrypt (1) tag (16): 37 bytes, base 216.
        self.gcm_msg_iv.next = self.sr.q.val().get_bits::<96>(216);
        self.gcm_msg_aad_len.next = self.sr.q.val().get_bits::<32>(312);
        self.gcm_msg_data_len.next = self.sr.q.val().get_bits::<32>(344);
        self.gcm_msg_decrypt.next = self.sr.q.val().get_bit(376);
        self.gcm_msg_tag.next = self.sr.q.val().get_bits::<128>(384);

        // status0 = bits 7:0, status1 = bits 15:8 (version 1 in 15:12).
        self.status.next = bits::<16>(0x1000)
            .replace_bit(0, self.xts_key_ready.val())
            .replace_bit(1, self.xts_du_ready.val())
            .replace_bit(2, self.xts_in_ready.val())
            .replace_bit(3, self.xts_out_valid.val())
            .replace_bit(4, self.gcm_key_ready.val())
            .replace_bit(5, self.gcm_msg_ready.val())
            .replace_bit(6, self.gcm_in_ready.val())
            .replace_bit(7, self.gcm_out_valid.val())
            .replace_bit(8, self.gcm_tag_valid.val());

        self.xts_du_valid.next = false;
        self.xts_in_valid.next = false;
        self.xts_out_ready.next = false;
        self.gcm_msg_valid.next = false;
        self.gcm_in_valid.next = false;
        self.gcm_out_ready.next = false;
        self.gcm_tag_ready.next = false;
        self.tx_valid.next = false;
        self.tx_data.next = self.txb.q.val().get_bits::<8>(0);
        self.xkey_load.d.next = false;
        self.gkey_load.d.next = false;
        self.eng_reset.d.next = false;

        match self.state.q.val() {
            LinkState::Idle => {
                if self.rx_valid.val() {
                    self.op.d.next = self.rx_data.val();
                    self.state.d.next = LinkState::Payload;
                    if self.rx_data.val() == 0x01 {
                        self.left.d.next = 64.into();
                    } else if self.rx_data.val() == 0x02 {
                        self.left.d.next = 19.into();
                    } else if (self.rx_data.val() == 0x03) | (self.rx_data.val() == 0x13) {
                        self.left.d.next = 16.into();
                    } else if self.rx_data.val() == 0x11 {
                        self.left.d.next = 32.into();
                    } else if self.rx_data.val() == 0x12 {
                        self.left.d.next = 37.into();
                    } else if (self.rx_data.val() == 0x04)
                        | (self.rx_data.val() == 0x14)
                        | (self.rx_data.val() == 0x15)
                        | (self.rx_data.val() == 0x20)
                        | (self.rx_data.val() == 0x2F)
                    {
                        self.state.d.next = LinkState::Exec;
                    } else {
                        self.txb.d.next = bits::<144>(0x15);
                        self.txn.d.next = 1.into();
                        self.state.d.next = LinkState::Send;
                    }
                }
            }
            LinkState::Payload => {
                if self.rx_valid.val() {
                    self.sr.d.next =
                        (self.sr.q.val() >> 8) | (bit_cast::<512, 8>(self.rx_data.val()) << 504);
                    self.left.d.next = self.left.q.val() - 1;
                    if self.left.q.val() == 1 {
                        self.state.d.next = LinkState::Exec;
                    }
                }
            }
            LinkState::Exec => {
                // Default response: a lone ACK.
                self.txb.d.next = bits::<144>(0x06);
                self.txn.d.next = 1.into();
                self.state.d.next = LinkState::Send;
                if self.op.q.val() == 0x01 {
                    self.xkey.d.next = self.sr.q.val();
                    self.xkey_load.d.next = true;
                } else if self.op.q.val() == 0x02 {
                    self.xts_du_valid.next = true;
                    if !self.xts_du_ready.val() {
                        self.state.d.next = LinkState::Exec;
                    }
                } else if self.op.q.val() == 0x03 {
                    self.xts_in_valid.next = true;
                    if !self.xts_in_ready.val() {
                        self.state.d.next = LinkState::Exec;
                    }
                } else if self.op.q.val() == 0x04 {
                    if self.xts_out_valid.val() {
                        self.xts_out_ready.next = true;
                        self.txb.d.next = (bits::<144>(0x06)
                            | (bit_cast::<144, 128>(self.xts_out_data.val()) << 8))
                            .replace_bit(136, self.xts_out_last.val());
                        self.txn.d.next = 18.into();
                    } else {
                        self.txb.d.next = bits::<144>(0x15);
                    }
                } else if self.op.q.val() == 0x11 {
                    self.gkey.d.next = self.sr.q.val().get_bits::<256>(256);
                    self.gkey_load.d.next = true;
                } else if self.op.q.val() == 0x12 {
                    self.gcm_msg_valid.next = true;
                    if !self.gcm_msg_ready.val() {
                        self.state.d.next = LinkState::Exec;
                    }
                } else if self.op.q.val() == 0x13 {
                    self.gcm_in_valid.next = true;
                    if !self.gcm_in_ready.val() {
                        self.state.d.next = LinkState::Exec;
                    }
                } else if self.op.q.val() == 0x14 {
                    if self.gcm_out_valid.val() {
                        self.gcm_out_ready.next = true;
                        self.txb.d.next = bits::<144>(0x06)
                            | (bit_cast::<144, 128>(self.gcm_out_data.val()) << 8);
                        self.txn.d.next = 17.into();
                    } else {
                        self.txb.d.next = bits::<144>(0x15);
                    }
                } else if self.op.q.val() == 0x15 {
                    if self.gcm_tag_valid.val() {
                        self.gcm_tag_ready.next = true;
                        self.txb.d.next = (bits::<144>(0x06)
                            | (bit_cast::<144, 128>(self.gcm_tag.val()) << 8))
                            .replace_bit(136, self.gcm_tag_ok.val());
                        self.txn.d.next = 18.into();
                    } else {
                        self.txb.d.next = bits::<144>(0x15);
                    }
                } else if self.op.q.val() == 0x20 {
                    // ACK, status0, status1.
                    self.txb.d.next =
                        bits::<144>(0x06) | (bit_cast::<144, 16>(self.status.val()) << 8);
                    self.txn.d.next = 3.into();
                } else if self.op.q.val() == 0x2F {
                    self.eng_reset.d.next = true;
                } else {
                    self.txb.d.next = bits::<144>(0x15);
                }
            }
            LinkState::Send => {
                self.tx_valid.next = true;
                if self.tx_ready.val() {
                    self.txb.d.next = self.txb.q.val() >> 8;
                    self.txn.d.next = self.txn.q.val() - 1;
                    if self.txn.q.val() == 1 {
                        self.state.d.next = LinkState::Idle;
                    }
                }
            }
            _ => {
                self.state.d.next = LinkState::Idle;
            }
        }
        if self.reset.val() {
            self.state.d.next = LinkState::Idle;
            self.xkey_load.d.next = false;
            self.gkey_load.d.next = false;
            self.eng_reset.d.next = false;
        }
    }
}

/// Test-side helpers shared with the board top's tests.
#[cfg(test)]
pub(crate) mod testutil {
    use rust_hdl::prelude::*;

    /// `Bits<N>` holding `bytes` with byte *i* at `[8i+7:8i]`.
    pub fn to_bits<const N: usize>(bytes: &[u8]) -> Bits<N> {
        assert!(bytes.len() * 8 <= N);
        let mut b = Bits::<N>::default();
        for (i, &x) in bytes.iter().enumerate() {
            let byte: Bits<8> = (x as u64).to_bits();
            b = b | (bit_cast::<N, 8>(byte) << ((8 * i) as LiteralType));
        }
        b
    }

    /// The bytes of `b`, byte *i* from `[8i+7:8i]`.
    pub fn bytes_of<const N: usize>(b: Bits<N>) -> Vec<u8> {
        (0..N / 8)
            .map(|i| b.get_bits::<8>(8 * i).index() as u8)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::testutil::*;
    use super::*;
    use crate::board::tick;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;
    use std::collections::VecDeque;

    /// A GCM descriptor as seen on the ports: iv, aad_len, data_len, decrypt, tag.
    type GcmMsg = (Vec<u8>, u64, u64, bool, Vec<u8>);

    /// A recording stand-in for the two engines: it accepts on a fixed
    /// backpressure pattern and records exactly what crossed each port, so
    /// the test checks the link's field mapping and handshakes (the real
    /// engines are checked end to end in the board top's test).
    #[derive(Default)]
    struct Model {
        cycle: u64,
        xts_keys: Vec<Vec<u8>>,
        gcm_keys: Vec<Vec<u8>>,
        xts_dus: Vec<(Vec<u8>, u64, bool)>,
        xts_in: Vec<Vec<u8>>,
        gcm_msgs: Vec<GcmMsg>,
        gcm_in: Vec<Vec<u8>>,
        xts_out: VecDeque<(Vec<u8>, bool)>,
        gcm_out: VecDeque<Vec<u8>>,
        gcm_tags: VecDeque<(Vec<u8>, bool)>,
        key_ready: (bool, bool),
        resets: usize,
        tx: Vec<u8>,
    }

    fn cycle(uut: &mut DebugLink, m: &mut Model) {
        let ready = m.cycle % 4 == 3; // engine backpressure (every 4th cycle)
        uut.xts_key_ready.next = m.key_ready.0;
        uut.gcm_key_ready.next = m.key_ready.1;
        uut.xts_du_ready.next = ready;
        uut.xts_in_ready.next = ready;
        uut.gcm_msg_ready.next = ready;
        uut.gcm_in_ready.next = ready;
        uut.xts_out_valid.next = !m.xts_out.is_empty();
        if let Some((d, last)) = m.xts_out.front() {
            uut.xts_out_data.next = to_bits(d);
            uut.xts_out_last.next = *last;
        }
        uut.gcm_out_valid.next = !m.gcm_out.is_empty();
        if let Some(d) = m.gcm_out.front() {
            uut.gcm_out_data.next = to_bits(d);
        }
        uut.gcm_tag_valid.next = !m.gcm_tags.is_empty();
        if let Some((t, ok)) = m.gcm_tags.front() {
            uut.gcm_tag.next = to_bits(t);
            uut.gcm_tag_ok.next = *ok;
        }
        uut.tx_ready.next = m.cycle.is_multiple_of(3); // UART backpressure
        assert!(simulate(uut, 200));
        // Sample the handshakes that the coming edge completes.
        if uut.xts_key_load.val() {
            m.xts_keys.push(bytes_of(uut.xts_key.val()));
        }
        if uut.gcm_key_load.val() {
            m.gcm_keys.push(bytes_of(uut.gcm_key.val()));
        }
        if uut.engine_reset.val() {
            m.resets += 1;
        }
        if uut.xts_du_valid.val() && ready {
            m.xts_dus.push((
                bytes_of(uut.xts_du_number.val()),
                uut.xts_du_blocks.val().index() as u64,
                uut.xts_du_decrypt.val(),
            ));
        }
        if uut.xts_in_valid.val() && ready {
            m.xts_in.push(bytes_of(uut.xts_in_data.val()));
        }
        if uut.gcm_msg_valid.val() && ready {
            m.gcm_msgs.push((
                bytes_of(uut.gcm_msg_iv.val()),
                uut.gcm_msg_aad_len.val().index() as u64,
                uut.gcm_msg_data_len.val().index() as u64,
                uut.gcm_msg_decrypt.val(),
                bytes_of(uut.gcm_msg_tag.val()),
            ));
        }
        if uut.gcm_in_valid.val() && ready {
            m.gcm_in.push(bytes_of(uut.gcm_in_data.val()));
        }
        if uut.xts_out_ready.val() && !m.xts_out.is_empty() {
            m.xts_out.pop_front();
        }
        if uut.gcm_out_ready.val() && !m.gcm_out.is_empty() {
            m.gcm_out.pop_front();
        }
        if uut.gcm_tag_ready.val() && !m.gcm_tags.is_empty() {
            m.gcm_tags.pop_front();
        }
        if uut.tx_valid.val() && uut.tx_ready.val() {
            m.tx.push(uut.tx_data.val().index() as u8);
        }
        tick!(*uut);
        m.cycle += 1;
    }

    /// Sends one command byte by byte (a byte every 5 cycles) and returns
    /// the `resp_len`-byte response; checks nothing more arrives after it.
    fn command(uut: &mut DebugLink, m: &mut Model, bytes: &[u8], resp_len: usize) -> Vec<u8> {
        m.tx.clear();
        for &b in bytes {
            uut.rx_data.next = (b as u64).to_bits();
            uut.rx_valid.next = true;
            cycle(uut, m);
            uut.rx_valid.next = false;
            for _ in 0..4 {
                cycle(uut, m);
            }
        }
        let mut n = 0;
        while m.tx.len() < resp_len {
            cycle(uut, m);
            n += 1;
            assert!(
                n < 1000,
                "no response to {:02x?}: got {:02x?}",
                bytes[0],
                m.tx
            );
        }
        for _ in 0..20 {
            cycle(uut, m);
        }
        assert_eq!(m.tx.len(), resp_len, "extra response bytes {:02x?}", m.tx);
        std::mem::take(&mut m.tx)
    }

    fn fresh() -> (DebugLink, Model) {
        let mut uut = DebugLink::new();
        uut.connect_all();
        let mut m = Model::default();
        uut.reset.next = true;
        cycle(&mut uut, &mut m);
        uut.reset.next = false;
        cycle(&mut uut, &mut m);
        (uut, m)
    }

    fn rand_bytes(rng: &mut ChaCha8Rng, n: usize) -> Vec<u8> {
        (0..n).map(|_| rng.gen()).collect()
    }

    #[test]
    fn debug_link_xts_commands() {
        let mut rng = ChaCha8Rng::seed_from_u64(1619);
        let (mut uut, mut m) = fresh();
        // Status before any key: nothing ready except the ready pattern bits.
        let s = command(&mut uut, &mut m, &[OP_STATUS], 3);
        assert_eq!(s[0], ACK);
        assert_eq!(s[1] & 0x11, 0, "no key ready yet");
        assert_eq!(s[2], VERSION << 4);

        let key = rand_bytes(&mut rng, 64);
        let mut cmd = vec![OP_XTS_KEY];
        cmd.extend(&key);
        assert_eq!(command(&mut uut, &mut m, &cmd, 1), vec![ACK]);
        assert_eq!(
            m.xts_keys,
            vec![key.clone()],
            "key bytes in memory order, loaded once"
        );
        m.key_ready.0 = true;
        let s = command(&mut uut, &mut m, &[OP_STATUS], 3);
        assert_eq!(s[1] & 0x01, 0x01);

        let number = rand_bytes(&mut rng, 16);
        let mut cmd = vec![OP_XTS_DU];
        cmd.extend(&number);
        cmd.extend([0x00, 0x01, 0x01]); // 256 blocks, decrypt
        assert_eq!(command(&mut uut, &mut m, &cmd, 1), vec![ACK]);
        let mut cmd = vec![OP_XTS_DU];
        cmd.extend(&number);
        cmd.extend([32, 0x00, 0x00]); // 32 blocks, encrypt
        assert_eq!(command(&mut uut, &mut m, &cmd, 1), vec![ACK]);
        assert_eq!(
            m.xts_dus,
            vec![(number.clone(), 256, true), (number.clone(), 32, false)]
        );

        let blocks: Vec<Vec<u8>> = (0..3).map(|_| rand_bytes(&mut rng, 16)).collect();
        for b in &blocks {
            let mut cmd = vec![OP_XTS_IN];
            cmd.extend(b);
            assert_eq!(command(&mut uut, &mut m, &cmd, 1), vec![ACK]);
        }
        assert_eq!(m.xts_in, blocks);

        // Nothing to pull yet.
        assert_eq!(command(&mut uut, &mut m, &[OP_XTS_OUT], 1), vec![NAK]);
        let outs: Vec<Vec<u8>> = (0..2).map(|_| rand_bytes(&mut rng, 16)).collect();
        m.xts_out.push_back((outs[0].clone(), false));
        m.xts_out.push_back((outs[1].clone(), true));
        for (i, o) in outs.iter().enumerate() {
            let r = command(&mut uut, &mut m, &[OP_XTS_OUT], 18);
            assert_eq!(r[0], ACK);
            assert_eq!(&r[1..17], &o[..]);
            assert_eq!(r[17], (i == 1) as u8, "last flag");
        }
        assert!(m.xts_out.is_empty(), "each pull takes exactly one block");
        assert_eq!(command(&mut uut, &mut m, &[OP_XTS_OUT], 1), vec![NAK]);
    }

    #[test]
    fn debug_link_gcm_commands() {
        let mut rng = ChaCha8Rng::seed_from_u64(38);
        let (mut uut, mut m) = fresh();
        let key = rand_bytes(&mut rng, 32);
        let mut cmd = vec![OP_GCM_KEY];
        cmd.extend(&key);
        assert_eq!(command(&mut uut, &mut m, &cmd, 1), vec![ACK]);
        assert_eq!(m.gcm_keys, vec![key]);
        assert!(m.xts_keys.is_empty());

        let iv = rand_bytes(&mut rng, 12);
        let tag = rand_bytes(&mut rng, 16);
        let mut cmd = vec![OP_GCM_MSG];
        cmd.extend(&iv);
        cmd.extend(0x0102_0304u32.to_le_bytes());
        cmd.extend(0xA0B0_C0D0u32.to_le_bytes());
        cmd.push(1);
        cmd.extend(&tag);
        assert_eq!(command(&mut uut, &mut m, &cmd, 1), vec![ACK]);
        assert_eq!(m.gcm_msgs, vec![(iv, 0x0102_0304, 0xA0B0_C0D0, true, tag)]);

        let b = rand_bytes(&mut rng, 16);
        let mut cmd = vec![OP_GCM_IN];
        cmd.extend(&b);
        assert_eq!(command(&mut uut, &mut m, &cmd, 1), vec![ACK]);
        assert_eq!(m.gcm_in, vec![b]);
        assert!(m.xts_in.is_empty());

        assert_eq!(command(&mut uut, &mut m, &[OP_GCM_OUT], 1), vec![NAK]);
        assert_eq!(command(&mut uut, &mut m, &[OP_GCM_TAG], 1), vec![NAK]);
        let o = rand_bytes(&mut rng, 16);
        let t = rand_bytes(&mut rng, 16);
        m.gcm_out.push_back(o.clone());
        m.gcm_tags.push_back((t.clone(), false));
        let s = command(&mut uut, &mut m, &[OP_STATUS], 3);
        assert_eq!(
            (s[1] >> 7, s[2] & 1),
            (1, 1),
            "out_valid and tag_valid in status"
        );
        let r = command(&mut uut, &mut m, &[OP_GCM_OUT], 17);
        assert_eq!((r[0], &r[1..]), (ACK, &o[..]));
        let r = command(&mut uut, &mut m, &[OP_GCM_TAG], 18);
        assert_eq!((r[0], &r[1..17], r[17]), (ACK, &t[..], 0));
        assert!(m.gcm_out.is_empty() && m.gcm_tags.is_empty());
    }

    #[test]
    fn debug_link_rejects_unknown_and_resets_engines() {
        let (mut uut, mut m) = fresh();
        for op in [0x00u8, 0x05, 0x10, 0x16, 0x21, 0xFF] {
            assert_eq!(payload_len(op), None);
            assert_eq!(
                command(&mut uut, &mut m, &[op], 1),
                vec![NAK],
                "op {op:#04x}"
            );
        }
        assert_eq!(m.resets, 0);
        assert_eq!(command(&mut uut, &mut m, &[OP_RESET], 1), vec![ACK]);
        assert_eq!(m.resets, 1, "exactly one engine reset pulse");
        // The link still works afterwards.
        assert_eq!(command(&mut uut, &mut m, &[OP_STATUS], 3)[0], ACK);
    }

    #[test]
    fn debug_link_is_synthesizable() {
        let mut uut = DebugLink::new();
        uut.connect_all();
        let v = generate_verilog(&uut);
        crate::synth::check_synthesizable("debug_link", &v).unwrap();
    }
}
