//! Verilator binding (see issue 2, section 1). Work in progress.
