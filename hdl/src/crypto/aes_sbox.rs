//! AES S-box and inverse S-box (FIPS-197 §5.1.1, §5.3.2) and the
//! `SubBytes` block that applies either to every byte of a word.
//!
//! The tables are computed here, not pasted: the S-box is the multiplicative
//! inverse in GF(2^8) (FIPS-197 §4.2, reduction polynomial 0x11b) followed by
//! the affine map of §5.1.1 eq. (5.1); the inverse S-box inverts the affine
//! map first (§5.3.2):
//!
//! * `SubBytes(x)    = A(inv(x))`         (FIPS-197 §5.1.1)
//! * `InvSubBytes(x) = inv(A^-1(x))`      (FIPS-197 §5.3.2)
//!
//! with `A(b) = b ^ rotl(b,1) ^ rotl(b,2) ^ rotl(b,3) ^ rotl(b,4) ^ 0x63` and
//! `A^-1(b) = rotl(b,1) ^ rotl(b,3) ^ rotl(b,6) ^ 0x05`. In hardware each
//! byte lane holds both finished tables ([`SubBytes`]).

use rust_hdl::prelude::*;

/// GF(2^8) multiplication modulo x^8 + x^4 + x^3 + x + 1 (FIPS-197 §4.2).
pub const fn gf_mul(mut a: u8, mut b: u8) -> u8 {
    let mut p = 0u8;
    while b != 0 {
        if b & 1 != 0 {
            p ^= a;
        }
        let hi = a & 0x80;
        a <<= 1;
        if hi != 0 {
            a ^= 0x1b;
        }
        b >>= 1;
    }
    p
}

/// Multiplicative inverse in GF(2^8), with 0 mapped to 0 (FIPS-197 §5.1.1):
/// `a^254`.
pub const fn gf_inv(a: u8) -> u8 {
    let mut r = 1u8;
    let mut i = 0;
    while i < 254 {
        r = gf_mul(r, a);
        i += 1;
    }
    if a == 0 {
        0
    } else {
        r
    }
}

/// The affine transformation of FIPS-197 §5.1.1 eq. (5.1).
pub const fn affine(b: u8) -> u8 {
    b ^ b.rotate_left(1) ^ b.rotate_left(2) ^ b.rotate_left(3) ^ b.rotate_left(4) ^ 0x63
}

/// The inverse of [`affine`] (used by InvSubBytes, FIPS-197 §5.3.2).
pub const fn inv_affine(b: u8) -> u8 {
    b.rotate_left(1) ^ b.rotate_left(3) ^ b.rotate_left(6) ^ 0x05
}

/// The S-box table (FIPS-197 Figure 7), computed.
pub fn sbox_table() -> [u8; 256] {
    core::array::from_fn(|x| affine(gf_inv(x as u8)))
}

/// The inverse S-box table (FIPS-197 Figure 14), computed.
pub fn inv_sbox_table() -> [u8; 256] {
    core::array::from_fn(|x| gf_inv(inv_affine(x as u8)))
}

/// The GF(2^8) inverse table used by the hardware lookup.
pub fn gf_inv_table() -> [u8; 256] {
    core::array::from_fn(|x| gf_inv(x as u8))
}

/// `Bits<N>` with the byte `b` repeated in every byte lane.
pub fn rep_byte<const N: usize>(b: u8) -> Bits<N> {
    assert!(N.is_multiple_of(8));
    let mut acc = Bits::<N>::default();
    for i in 0..N / 8 {
        acc = acc | (bits::<N>(b as u64) << (8 * i as u64));
    }
    acc
}

/// SubBytes / InvSubBytes on every byte of an `N`-bit word
/// (FIPS-197 §5.1.1 / §5.3.2).
///
/// Each byte lane has two rust-hdl `ROM`s (8-bit address, 8-bit data): the
/// S-box and the inverse S-box, selected by `inverse`. Lanes are gathered
/// into 32-bit columns and the columns into the output word.
///
/// Why this shape (measured on the full AES pipeline): Verilator compiles a
/// small stand-alone 8-in/8-out `case` block into a table lookup, while a
/// 256-way case inlined per byte into one wide block compiled ~10x slower
/// and simulated at 41k cycles/s. Wide (>64-bit) shifts cost a generic
/// bit-insert loop in Verilator, so the byte-lane affine rotations of a
/// shared-inverse design and per-byte assembly of the 128-bit word were
/// replaced by native 32-bit column operations.
#[derive(LogicBlock)]
pub struct SubBytes<const N: usize> {
    /// Input word (`N/8` bytes).
    pub x: Signal<In, Bits<N>>,
    /// 0 = S-box (SubBytes), 1 = inverse S-box (InvSubBytes).
    pub inverse: Signal<In, Bit>,
    /// Substituted word.
    pub y: Signal<Out, Bits<N>>,
    /// Substituted columns (bytes 4j..4j+3 of `y`); only `N/32` are used.
    col0: Signal<Local, Bits<32>>,
    col1: Signal<Local, Bits<32>>,
    col2: Signal<Local, Bits<32>>,
    col3: Signal<Local, Bits<32>>,
    fwd: Vec<ROM<Bits<8>, 8>>,
    inv: Vec<ROM<Bits<8>, 8>>,
}

impl<const N: usize> Default for SubBytes<N> {
    fn default() -> Self {
        assert!(
            N == 32 || N == 128,
            "SubBytes covers one 32-bit word or one 128-bit state"
        );
        let rom = |t: [u8; 256]| ROM::from(t.into_iter().map(|v| bits::<8>(v as u64)));
        Self {
            x: Signal::default(),
            inverse: Signal::default(),
            y: Signal::default(),
            col0: Signal::default(),
            col1: Signal::default(),
            col2: Signal::default(),
            col3: Signal::default(),
            fwd: (0..N / 8).map(|_| rom(sbox_table())).collect(),
            inv: (0..N / 8).map(|_| rom(inv_sbox_table())).collect(),
        }
    }
}

impl<const N: usize> Logic for SubBytes<N> {
    fn update(&mut self) {
        let x = self.x.val();
        let inverse = self.inverse.val();
        let mut y = Bits::<N>::default();
        for i in 0..N / 8 {
            let a = x.get_bits::<8>(8 * i);
            self.fwd[i].address.next = a;
            self.inv[i].address.next = a;
            let b = if inverse {
                self.inv[i].data.val()
            } else {
                self.fwd[i].data.val()
            };
            y.set_bits::<8>(8 * i, b);
        }
        self.y.next = y;
    }

    fn connect(&mut self) {
        self.y.connect();
        self.col0.connect();
        self.col1.connect();
        self.col2.connect();
        self.col3.connect();
        for lane in self.fwd.iter_mut().chain(self.inv.iter_mut()) {
            lane.address.connect();
        }
    }

    // Built as a rust-hdl Verilog AST: hdl_gen has no 8-bit slice
    // assignment and no per-lane loop over child vectors of this shape.
    fn hdl(&self) -> Verilog {
        use rust_hdl::core::ast::{
            VerilogBlockOrConditional as Else, VerilogConditional, VerilogExpression as E,
            VerilogOp, VerilogStatement as S,
        };
        let sig = |s: &str| E::Signal(s.to_string());
        let lit = |v: usize| E::Literal(v.into());
        let shl = |e: E, by: usize, width: usize| {
            let wide = E::Paren(Box::new(E::Cast(Box::new(e), width)));
            if by == 0 {
                wide
            } else {
                E::Paren(Box::new(E::Binary(
                    Box::new(wide),
                    VerilogOp::Shl,
                    Box::new(lit(by)),
                )))
            }
        };
        let or_all = |terms: Vec<E>| {
            terms
                .into_iter()
                .reduce(|a, b| E::Binary(Box::new(a), VerilogOp::BitOr, Box::new(b)))
                .expect("at least one term")
        };
        let cols = N / 32;
        let mut block: Vec<S> = Vec::new();
        for i in 0..N / 8 {
            for t in ["fwd", "inv"] {
                block.push(S::Assignment(
                    sig(&format!("{t}${i}$address")),
                    E::Slice(Box::new(sig("x")), 8, Box::new(lit(8 * i))),
                ));
            }
        }
        let columns = |t: &str| -> Vec<S> {
            (0..4)
                .map(|j| {
                    let value = if j < cols {
                        or_all(
                            (0..4)
                                .map(|k| shl(sig(&format!("{t}${}$data", 4 * j + k)), 8 * k, 32))
                                .collect(),
                        )
                    } else {
                        lit(0)
                    };
                    S::Assignment(sig(&format!("col{j}")), value)
                })
                .collect()
        };
        block.push(S::If(VerilogConditional {
            test: sig("inverse"),
            then: columns("inv"),
            otherwise: Else::Block(columns("fwd")),
        }));
        let y = or_all(
            (0..cols)
                .map(|j| shl(sig(&format!("col{j}")), 32 * j, N))
                .collect(),
        );
        block.push(S::Assignment(sig("y"), y));
        Verilog::Combinatorial(block)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::aes_testkit::*;

    /// Independent S-box: GF(2^8) inverse via log/antilog tables of the
    /// generator 0x03, then the affine map written bit by bit exactly as
    /// FIPS-197 eq. (5.1): b'_i = b_i ^ b_(i+4) ^ b_(i+5) ^ b_(i+6) ^ b_(i+7) ^ c_i.
    fn reference_sbox() -> [u8; 256] {
        let mut exp = [0u8; 256];
        let mut log = [0u8; 256];
        let mut x = 1u8;
        for (i, e) in exp.iter_mut().enumerate().take(255) {
            *e = x;
            log[x as usize] = i as u8;
            // x *= 3 (x ^ xtime(x))
            x ^= (x << 1) ^ if x & 0x80 != 0 { 0x1b } else { 0 };
        }
        let mut s = [0u8; 256];
        for (a, out) in s.iter_mut().enumerate() {
            let inv = if a == 0 {
                0
            } else {
                exp[(255 - log[a] as usize) % 255]
            };
            let bit = |v: u8, i: usize| (v >> (i % 8)) & 1;
            let mut r = 0u8;
            for i in 0..8 {
                let b = bit(inv, i)
                    ^ bit(inv, i + 4)
                    ^ bit(inv, i + 5)
                    ^ bit(inv, i + 6)
                    ^ bit(inv, i + 7)
                    ^ bit(0x63, i);
                r |= b << i;
            }
            *out = r;
        }
        s
    }

    #[test]
    fn sbox_tables_match_fips197() {
        let s = sbox_table();
        let si = inv_sbox_table();
        assert_eq!(s, reference_sbox());
        // Published entries: FIPS-197 §5.1.1 worked example ({53} -> {ed}),
        // Figure 7 row 0 / Figure 14 row 0.
        assert_eq!(s[0x00], 0x63);
        assert_eq!(s[0x53], 0xed);
        assert_eq!(s[0x01], 0x7c);
        assert_eq!(s[0xff], 0x16);
        assert_eq!(si[0x00], 0x52);
        assert_eq!(si[0xed], 0x53);
        for x in 0..256 {
            assert_eq!(
                si[s[x] as usize] as usize, x,
                "inverse S-box is not the inverse at {x:#x}"
            );
        }
    }

    fn run(uut: &mut SubBytes<128>, x: &[u8; 16], inverse: bool) -> Vec<u8> {
        uut.x.next = blk(x);
        uut.inverse.next = inverse;
        settle(uut);
        le_bytes(uut.y.val())
    }

    #[test]
    fn sub_bytes_block_all_256_both_directions() {
        let s = sbox_table();
        let si = inv_sbox_table();
        let mut uut = SubBytes::<128>::default();
        uut.connect_all();
        for chunk in 0..16u8 {
            let x: [u8; 16] = core::array::from_fn(|i| chunk * 16 + i as u8);
            let y = run(&mut uut, &x, false);
            let yi = run(&mut uut, &x, true);
            for i in 0..16 {
                assert_eq!(y[i], s[x[i] as usize], "SubBytes({:#x})", x[i]);
                assert_eq!(yi[i], si[x[i] as usize], "InvSubBytes({:#x})", x[i]);
            }
        }
        // FIPS-197 Appendix C.3, round[1].start -> round[1].s_box.
        let st = unhex("00102030405060708090a0b0c0d0e0f0");
        let y = run(&mut uut, &st.try_into().unwrap(), false);
        assert_eq!(y, unhex("63cab7040953d051cd60e0e7ba70e18c"));
    }

    #[test]
    fn sub_bytes_is_synthesizable() {
        let mut uut = SubBytes::<128>::default();
        uut.connect_all();
        let r = crate::synth::check_synthesizable("sub_bytes", &generate_verilog(&uut)).unwrap();
        println!("sub_bytes: {} cells", r.cells);
    }
}
