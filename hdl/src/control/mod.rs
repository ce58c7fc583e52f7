//! The passive control plane on the PF (DESIGN.md "Control").

pub mod mailbox;
