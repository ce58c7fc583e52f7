//! PRP construction (NVMe 1.4 §4.3): PRP1, PRP2 as a second page or as a
//! pointer to a PRP list.

use crate::{Error, Result};

/// Where PRP2 points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Prp2 {
    /// Unused (transfer fits in the first page).
    None,
    /// The second (and last) page.
    Page(u64),
    /// The transfer needs a PRP list with these entries (the caller places
    /// them in a list page and puts the list's IOVA into PRP2).
    List(Vec<u64>),
}

/// A PRP description of one contiguous IOVA range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prps {
    pub prp1: u64,
    pub prp2: Prp2,
}

/// Describe `[iova, iova+len)` with pages of `page` bytes. PRP1 may carry
/// an offset; every later entry is page aligned (§4.3). At most
/// `max_list` entries fit the (single, unchained) list page.
pub fn build(iova: u64, len: usize, page: usize, max_list: usize) -> Result<Prps> {
    if len == 0 {
        return Err(Error::Invalid("zero-length transfer".into()));
    }
    if !iova.is_multiple_of(4) {
        return Err(Error::Invalid(format!("PRP1 {iova:#x} not dword aligned")));
    }
    let page = page as u64;
    let first = page - (iova % page);
    if len as u64 <= first {
        return Ok(Prps {
            prp1: iova,
            prp2: Prp2::None,
        });
    }
    let rest = len as u64 - first;
    let second = iova - (iova % page) + page;
    let n = rest.div_ceil(page) as usize;
    if n == 1 {
        return Ok(Prps {
            prp1: iova,
            prp2: Prp2::Page(second),
        });
    }
    if n > max_list {
        return Err(Error::TooLarge {
            len,
            max: (first as usize) + max_list * page as usize,
        });
    }
    Ok(Prps {
        prp1: iova,
        prp2: Prp2::List((0..n as u64).map(|i| second + i * page).collect()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    const P: usize = 4096;

    #[test]
    fn one_page() {
        assert_eq!(
            build(0x10000, 4096, P, 512).unwrap(),
            Prps {
                prp1: 0x10000,
                prp2: Prp2::None
            }
        );
        assert_eq!(build(0x10200, 512, P, 512).unwrap().prp2, Prp2::None);
    }

    #[test]
    fn two_pages() {
        assert_eq!(
            build(0x10000, 8192, P, 512).unwrap(),
            Prps {
                prp1: 0x10000,
                prp2: Prp2::Page(0x11000)
            }
        );
        // Offset first page: 4 KiB starting at 0x10800 spans two pages.
        assert_eq!(
            build(0x10800, 4096, P, 512).unwrap().prp2,
            Prp2::Page(0x11000)
        );
    }

    #[test]
    fn list() {
        let p = build(0x40000, 128 * 1024, P, 512).unwrap();
        assert_eq!(p.prp1, 0x40000);
        match p.prp2 {
            Prp2::List(v) => {
                assert_eq!(v.len(), 31);
                assert_eq!(v[0], 0x41000);
                assert_eq!(*v.last().unwrap(), 0x40000 + 31 * 4096);
                assert!(v.iter().all(|a| a % 4096 == 0));
            }
            other => panic!("expected a list, got {other:?}"),
        }
        // Unaligned start: one more entry.
        match build(0x40200, 12 * 1024, P, 512).unwrap().prp2 {
            Prp2::List(v) => assert_eq!(v, vec![0x41000, 0x42000, 0x43000]),
            other => panic!("expected a list, got {other:?}"),
        }
    }

    #[test]
    fn limits() {
        assert!(matches!(
            build(0, 4096 * 514, P, 512),
            Err(Error::TooLarge { .. })
        ));
        assert!(build(0, 4096 * 513, P, 512).is_ok());
        assert!(build(0x1002, 16, P, 512).is_err());
        assert!(build(0x1000, 0, P, 512).is_err());
    }
}
