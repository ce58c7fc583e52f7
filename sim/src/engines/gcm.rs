//! Driver for the AES-256-GCM engine models (`gcm_full`, `gcm_compact`),
//! per the GCM contract in docs/ENGINES.md (NIST SP 800-38D §7.1/§7.2).

use super::stream::{Source, Stall};
use super::{block_from_bytes, block_to_bytes, EngineError, EnginePorts, RunStats};

/// The contract ports of a GCM engine model.
pub trait GcmPorts: EnginePorts {
    fn set_key(&mut self, key: &[u8; 32]);
    #[allow(clippy::too_many_arguments)]
    fn set_msg(
        &mut self,
        valid: bool,
        iv: &[u8; 12],
        aad_len: u32,
        data_len: u32,
        decrypt: bool,
        tag: u128,
    );
    fn msg_ready(&self) -> bool;
    fn set_in(&mut self, valid: bool, data: u128);
    fn in_ready(&self) -> bool;
    fn set_out_ready(&mut self, v: bool);
    fn out_valid(&self) -> bool;
    fn out_data(&self) -> u128;
    fn set_tag_ready(&mut self, v: bool);
    fn tag_valid(&self) -> bool;
    fn tag(&self) -> u128;
    fn tag_ok(&self) -> bool;
}

/// One message.
#[derive(Clone, Debug)]
pub struct Message {
    pub iv: [u8; 12],
    pub aad: Vec<u8>,
    pub data: Vec<u8>,
    pub decrypt: bool,
    /// Expected tag (decrypt); ignored for encrypt.
    pub tag: [u8; 16],
}

/// What came out for one message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sealed {
    /// Ciphertext (encrypt) or plaintext (decrypt), exactly `data.len()` bytes.
    pub data: Vec<u8>,
    /// The computed tag.
    pub tag: [u8; 16],
    /// Decrypt: the computed tag equals the expected one. Encrypt: true.
    pub tag_ok: bool,
}

const HANG_CYCLES_PER_BLOCK: u64 = 200;

fn pad_blocks(bytes: &[u8]) -> impl Iterator<Item = u128> + '_ {
    bytes.chunks(16).map(|c| {
        let mut b = [0u8; 16];
        b[..c.len()].copy_from_slice(c);
        block_from_bytes(&b)
    })
}

/// A GCM engine model with its stream state.
pub struct Gcm<M: GcmPorts> {
    model: M,
}

impl<M: GcmPorts> Gcm<M> {
    pub fn new(mut model: M) -> Self {
        model.set_msg(false, &[0; 12], 0, 0, false, 0);
        model.set_in(false, 0);
        model.set_out_ready(false);
        model.set_tag_ready(false);
        super::reset(&mut model);
        Gcm { model }
    }

    pub fn model(&self) -> &M {
        &self.model
    }

    /// Loads an AES-256 key and waits until the key and H are ready.
    pub fn load_key(&mut self, key: &[u8; 32]) -> Result<(), EngineError> {
        self.model.set_key(key);
        super::load_key(&mut self.model, "GCM key expansion", 2000)
    }

    /// Streams `msgs` through the engine.
    pub fn run(
        &mut self,
        msgs: &[Message],
        in_stall: Stall,
        mut out_stall: Stall,
    ) -> Result<(Vec<Sealed>, RunStats), EngineError> {
        for m in msgs {
            if m.data.len() > u32::MAX as usize || m.aad.len() > u32::MAX as usize {
                return Err(EngineError::BadLength(m.data.len()));
            }
        }
        let descs: Vec<&Message> = msgs.iter().collect();
        let blocks: Vec<u128> = msgs
            .iter()
            .flat_map(|m| pad_blocks(&m.aad).chain(pad_blocks(&m.data)))
            .collect();
        let out_blocks: usize = msgs.iter().map(|m| m.data.len().div_ceil(16)).sum();
        let mut msg = Source::new(descs, Stall::never());
        let mut inp = Source::new(blocks, in_stall);
        let mut outs: Vec<Vec<u8>> = Vec::new();
        let mut tags: Vec<(u128, bool)> = Vec::new();
        let mut got_blocks = 0usize;
        let start = self.model.cycles();
        let limit =
            start + 2000 + HANG_CYCLES_PER_BLOCK * (inp_len(msgs) as u64 + msgs.len() as u64);
        let (mut first_out, mut last_out) = (None, start);
        // Which message the next payload beat belongs to.
        let mut cur = 0usize;
        let mut cur_bytes = 0usize;
        while tags.len() < msgs.len() || got_blocks < out_blocks {
            let cycle = self.model.cycles();
            if cycle > limit {
                return Err(EngineError::Hang {
                    what: "GCM message",
                    cycles: cycle - start,
                });
            }
            match msg.offer() {
                Some(m) => self.model.set_msg(
                    true,
                    &m.iv,
                    m.aad.len() as u32,
                    m.data.len() as u32,
                    m.decrypt,
                    u128::from_le_bytes(m.tag),
                ),
                None => self.model.set_msg(false, &[0; 12], 0, 0, false, 0),
            }
            match inp.offer() {
                Some(&b) => self.model.set_in(true, b),
                None => self.model.set_in(false, 0),
            }
            let ready = !out_stall.stall();
            let tag_ready = !out_stall.stall();
            self.model.set_out_ready(ready);
            self.model.set_tag_ready(tag_ready);
            self.model.settle();
            msg.settle(self.model.msg_ready(), cycle);
            inp.settle(self.model.in_ready(), cycle);
            if ready && self.model.out_valid() {
                // Skip messages whose payload is complete (or empty).
                while cur < msgs.len() && cur_bytes >= msgs[cur].data.len() {
                    cur += 1;
                    cur_bytes = 0;
                }
                if cur >= msgs.len() {
                    return Err(EngineError::Protocol(
                        "payload beat after the last message".into(),
                    ));
                }
                while outs.len() <= cur {
                    outs.push(Vec::new());
                }
                let take = (msgs[cur].data.len() - cur_bytes).min(16);
                let bytes = block_to_bytes(self.model.out_data());
                if bytes[take..].iter().any(|&b| b != 0) {
                    return Err(EngineError::Protocol(format!(
                        "bytes past the payload length are not zero in message {cur}"
                    )));
                }
                outs[cur].extend_from_slice(&bytes[..take]);
                cur_bytes += take;
                got_blocks += 1;
                first_out.get_or_insert(cycle);
                last_out = cycle;
            }
            if tag_ready && self.model.tag_valid() {
                let t = tags.len();
                // A tag may only follow its message's whole payload.
                let done_bytes: usize = outs.get(t).map_or(0, |o| o.len());
                if t >= msgs.len() || done_bytes != msgs[t].data.len() {
                    return Err(EngineError::Protocol(format!(
                        "tag of message {t} before its payload completed"
                    )));
                }
                tags.push((self.model.tag(), self.model.tag_ok()));
            }
            self.model.tick();
        }
        self.model.set_msg(false, &[0; 12], 0, 0, false, 0);
        self.model.set_in(false, 0);
        self.model.set_out_ready(false);
        self.model.set_tag_ready(false);
        while outs.len() < msgs.len() {
            outs.push(Vec::new());
        }
        let first_in = inp.first_transfer.unwrap_or(start);
        let sealed = outs
            .into_iter()
            .zip(tags)
            .map(|(data, (tag, ok))| Sealed {
                data,
                tag: tag.to_le_bytes(),
                tag_ok: ok,
            })
            .collect();
        let bytes = msgs.iter().map(|m| m.data.len() as u64).sum();
        Ok((
            sealed,
            RunStats {
                bytes,
                first_in_cycle: first_in,
                first_out_cycle: first_out.unwrap_or(first_in),
                last_out_cycle: last_out,
            },
        ))
    }
}

fn inp_len(msgs: &[Message]) -> usize {
    msgs.iter()
        .map(|m| m.aad.len().div_ceil(16) + m.data.len().div_ceil(16))
        .sum()
}
