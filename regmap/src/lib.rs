//! The nitrous register map, defined once.
//!
//! Imported by the HDL address decode, the simulator's platform model, the
//! driver and the generated docs. Issue 2 has no host-visible registers yet
//! (the crypto engines are reached through their streaming ports); the
//! card's BAR layout lands here with the NVMe function.

/// Card identification value, readable at offset 0 of every function's
/// register space once the card top exists ("NTRS").
pub const CARD_ID: u32 = 0x4e54_5253;
/// Register-map version: major in bits 31:16, minor in 15:0.
pub const REGMAP_VERSION: u32 = 0x0000_0001;
