//! Crypto engines: AES-256 (FIPS-197), XTS-AES-256 (IEEE 1619), AES-256-GCM
//! (NIST SP 800-38D). Split as in secworks/aes: S-box, round datapath, key
//! schedule and control, each in its own file and tested alone.

pub mod aes_iter;
pub mod aes_key_schedule;
pub mod aes_pipe;
pub mod aes_ring;
pub mod aes_round;
pub mod aes_sbox;
#[cfg(test)]
mod aes_testkit;
pub mod gcm;
pub mod ghash;
pub mod xts;
