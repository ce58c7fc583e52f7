//! The PCIe function platform inside the card: completer router, MSI-X,
//! DMA request arbiter (DESIGN.md "Layers").

pub mod dma_arbiter;
pub mod msix;
pub mod router;
