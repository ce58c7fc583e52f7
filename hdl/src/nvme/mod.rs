//! NVMe function (NVMe 1.4): command front-end and data mover.

pub mod mover;
