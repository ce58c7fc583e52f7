//! The contract port traits implemented for the generated engine models,
//! and config-dispatching wrappers used by the CLI, bench and tests.

use super::gcm::{Gcm, GcmPorts, Message, Sealed};
use super::stream::Stall;
use super::xts::{DataUnit, Xts, XtsPorts};
use super::{EngineError, EnginePorts, RunStats};
use crate::models::{GcmCompact, GcmFull, XtsCompact, XtsFull};
use crate::Sim;

/// Build configuration of an engine (mirrors `nitrous_hdl::Config`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum EngineConfig {
    /// One 128-bit block per clock.
    Full,
    /// Iterative, ECP5-sized.
    Compact,
}

fn words<const N: usize>(bytes: &[u8]) -> [u32; N] {
    std::array::from_fn(|i| u32::from_le_bytes(bytes[4 * i..4 * i + 4].try_into().unwrap()))
}

fn new_sim<M: crate::Model>() -> Sim<M> {
    Sim::new().expect("engine model has clock and reset ports")
}

macro_rules! engine_ports {
    ($ty:ty) => {
        impl EnginePorts for Sim<$ty> {
            fn tick(&mut self) {
                Sim::tick(self)
            }
            fn settle(&mut self) {
                Sim::settle(self)
            }
            fn set_reset(&mut self, v: bool) {
                self.model_mut().set_reset(v)
            }
            fn set_key_load(&mut self, v: bool) {
                self.model_mut().set_key_load(v)
            }
            fn key_ready(&self) -> bool {
                self.model().key_ready()
            }
            fn cycles(&self) -> u64 {
                self.cycle()
            }
        }
    };
}
engine_ports!(XtsFull);
engine_ports!(XtsCompact);
engine_ports!(GcmFull);
engine_ports!(GcmCompact);

macro_rules! xts_ports {
    ($ty:ty) => {
        impl XtsPorts for Sim<$ty> {
            fn set_key(&mut self, key: &[u8; 64]) {
                self.model_mut().set_key(&words::<16>(key))
            }
            fn set_du(&mut self, valid: bool, number: u128, blocks: u16, decrypt: bool) {
                let m = self.model_mut();
                m.set_du_valid(valid);
                m.set_du_number(number);
                m.set_du_blocks(blocks);
                m.set_du_decrypt(decrypt);
            }
            fn du_ready(&self) -> bool {
                self.model().du_ready()
            }
            fn set_in(&mut self, valid: bool, data: u128) {
                let m = self.model_mut();
                m.set_in_valid(valid);
                m.set_in_data(data);
            }
            fn in_ready(&self) -> bool {
                self.model().in_ready()
            }
            fn set_out_ready(&mut self, v: bool) {
                self.model_mut().set_out_ready(v)
            }
            fn out_valid(&self) -> bool {
                self.model().out_valid()
            }
            fn out_data(&self) -> u128 {
                self.model().out_data()
            }
            fn out_last(&self) -> bool {
                self.model().out_last()
            }
        }
    };
}
xts_ports!(XtsFull);
xts_ports!(XtsCompact);

macro_rules! gcm_ports {
    ($ty:ty) => {
        impl GcmPorts for Sim<$ty> {
            fn set_key(&mut self, key: &[u8; 32]) {
                self.model_mut().set_key(&words::<8>(key))
            }
            fn set_msg(
                &mut self,
                valid: bool,
                iv: &[u8; 12],
                aad_len: u32,
                data_len: u32,
                decrypt: bool,
                tag: u128,
            ) {
                let mut iv16 = [0u8; 16];
                iv16[..12].copy_from_slice(iv);
                let m = self.model_mut();
                m.set_msg_valid(valid);
                m.set_msg_iv(u128::from_le_bytes(iv16));
                m.set_msg_aad_len(aad_len);
                m.set_msg_data_len(data_len);
                m.set_msg_decrypt(decrypt);
                m.set_msg_tag(tag);
            }
            fn msg_ready(&self) -> bool {
                self.model().msg_ready()
            }
            fn set_in(&mut self, valid: bool, data: u128) {
                let m = self.model_mut();
                m.set_in_valid(valid);
                m.set_in_data(data);
            }
            fn in_ready(&self) -> bool {
                self.model().in_ready()
            }
            fn set_out_ready(&mut self, v: bool) {
                self.model_mut().set_out_ready(v)
            }
            fn out_valid(&self) -> bool {
                self.model().out_valid()
            }
            fn out_data(&self) -> u128 {
                self.model().out_data()
            }
            fn set_tag_ready(&mut self, v: bool) {
                self.model_mut().set_tag_ready(v)
            }
            fn tag_valid(&self) -> bool {
                self.model().tag_valid()
            }
            fn tag(&self) -> u128 {
                self.model().tag()
            }
            fn tag_ok(&self) -> bool {
                self.model().tag_ok()
            }
        }
    };
}
gcm_ports!(GcmFull);
gcm_ports!(GcmCompact);

/// An XTS engine of either config.
pub enum AnyXts {
    Full(Xts<Sim<XtsFull>>),
    Compact(Xts<Sim<XtsCompact>>),
}

macro_rules! each {
    ($self:expr, $e:ident => $body:expr) => {
        match $self {
            Self::Full($e) => $body,
            Self::Compact($e) => $body,
        }
    };
}

impl AnyXts {
    pub fn new(cfg: EngineConfig) -> Self {
        match cfg {
            EngineConfig::Full => AnyXts::Full(Xts::new(new_sim())),
            EngineConfig::Compact => AnyXts::Compact(Xts::new(new_sim())),
        }
    }
    pub fn load_key(&mut self, key: &[u8; 64]) -> Result<(), EngineError> {
        each!(self, x => x.load_key(key))
    }
    pub fn run(
        &mut self,
        units: &[DataUnit],
        i: Stall,
        o: Stall,
    ) -> Result<(Vec<u8>, RunStats), EngineError> {
        each!(self, x => x.run(units, i, o))
    }
    /// Cycles simulated so far.
    pub fn cycles(&self) -> u64 {
        each!(self, x => x.model().cycle())
    }
}

/// A GCM engine of either config.
pub enum AnyGcm {
    Full(Gcm<Sim<GcmFull>>),
    Compact(Gcm<Sim<GcmCompact>>),
}

impl AnyGcm {
    pub fn new(cfg: EngineConfig) -> Self {
        match cfg {
            EngineConfig::Full => AnyGcm::Full(Gcm::new(new_sim())),
            EngineConfig::Compact => AnyGcm::Compact(Gcm::new(new_sim())),
        }
    }
    pub fn load_key(&mut self, key: &[u8; 32]) -> Result<(), EngineError> {
        each!(self, x => x.load_key(key))
    }
    pub fn run(
        &mut self,
        msgs: &[Message],
        i: Stall,
        o: Stall,
    ) -> Result<(Vec<Sealed>, RunStats), EngineError> {
        each!(self, x => x.run(msgs, i, o))
    }
    pub fn cycles(&self) -> u64 {
        each!(self, x => x.model().cycle())
    }
}
