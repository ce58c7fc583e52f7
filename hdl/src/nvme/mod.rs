//! NVMe function (NVMe 1.4): command front-end shared by every VF, admin
//! data generator, and the data mover with inline XTS (docs/CARD.md).

pub mod admin_data;
pub mod front;
pub mod mover;
