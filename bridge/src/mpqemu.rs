//! QEMU's multi-process ("mpqemu") link protocol, remote side
//! (QEMU 7.2 `include/hw/remote/mpqemu-link.h`, `hw/remote/proxy.c`).
//!
//! Every message is a 16-byte header `{ i32 cmd; 4 pad; u64 size }`
//! followed by `size` payload bytes; file descriptors travel as
//! SCM_RIGHTS ancillary data on the header. All fields are little-endian
//! (x86_64). The proxy (QEMU) waits for a [`Msg::Ret`] after config and
//! BAR accesses and after DEVICE_RESET; SYNC_SYSMEM and SET_IRQFD get no
//! reply.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// Command numbers (`MPQemuCmd`).
pub mod cmd {
    pub const SYNC_SYSMEM: i32 = 0;
    pub const RET: i32 = 1;
    pub const PCI_CFGWRITE: i32 = 2;
    pub const PCI_CFGREAD: i32 = 3;
    pub const BAR_WRITE: i32 = 4;
    pub const BAR_READ: i32 = 5;
    pub const SET_IRQFD: i32 = 6;
    pub const DEVICE_RESET: i32 = 7;
}

/// `REMOTE_MAX_FDS`: regions per SYNC_SYSMEM, fds per message.
pub const MAX_FDS: usize = 8;
const HDR: usize = 16;
/// Largest payload any command carries (SYNC_SYSMEM: 3 x 8 x u64).
const MAX_PAYLOAD: usize = 24 * MAX_FDS;

/// One guest RAM region of a SYNC_SYSMEM: `size` bytes at guest-physical
/// `gpa`, found at `offset` in the memory-backend file `fd`.
#[derive(Debug)]
pub struct Region {
    pub gpa: u64,
    pub size: u64,
    pub offset: i64,
    pub fd: OwnedFd,
}

/// A decoded message.
#[derive(Debug)]
pub enum Msg {
    /// The guest's RAM map (replaces the previous one).
    SyncSysmem(Vec<Region>),
    /// Reply to a request: the read value, or 0.
    Ret(u64),
    /// Config write of `len` (1, 2 or 4) bytes at `addr`.
    CfgWrite { addr: u32, val: u32, len: u32 },
    /// Config read of `len` bytes at `addr`.
    CfgRead { addr: u32, len: u32 },
    /// BAR write; `addr` is the guest-physical (or I/O port) address.
    BarWrite {
        addr: u64,
        val: u64,
        size: u32,
        memory: bool,
    },
    /// BAR read.
    BarRead { addr: u64, size: u32, memory: bool },
    /// The interrupt eventfd and the resample eventfd.
    SetIrqfd(Vec<OwnedFd>),
    /// Reset the device.
    DeviceReset,
}

/// A protocol violation.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error("mpqemu link: {0}")]
    Io(#[from] io::Error),
    #[error("mpqemu link: {0}")]
    Protocol(String),
}

fn le_u32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

fn le_u64(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}

/// `PciConfDataMsg`: `u32 addr; u32 val; i32 len`.
fn cfg_payload(p: &mut Vec<u8>, addr: u32, val: u32, len: u32) {
    for w in [addr, val, len] {
        p.extend_from_slice(&w.to_le_bytes());
    }
}

/// `BarAccessMsg`: `u64 addr; u64 val; u32 size; bool memory; 3 pad`.
fn bar_payload(p: &mut Vec<u8>, addr: u64, val: u64, size: u32, memory: bool) {
    p.extend_from_slice(&addr.to_le_bytes());
    p.extend_from_slice(&val.to_le_bytes());
    p.extend_from_slice(&size.to_le_bytes());
    p.extend_from_slice(&[memory as u8, 0, 0, 0]);
}

impl Msg {
    /// Command number.
    pub fn cmd(&self) -> i32 {
        match self {
            Msg::SyncSysmem(_) => cmd::SYNC_SYSMEM,
            Msg::Ret(_) => cmd::RET,
            Msg::CfgWrite { .. } => cmd::PCI_CFGWRITE,
            Msg::CfgRead { .. } => cmd::PCI_CFGREAD,
            Msg::BarWrite { .. } => cmd::BAR_WRITE,
            Msg::BarRead { .. } => cmd::BAR_READ,
            Msg::SetIrqfd(_) => cmd::SET_IRQFD,
            Msg::DeviceReset => cmd::DEVICE_RESET,
        }
    }

    /// Payload bytes and the fds to pass (the wire format).
    pub fn encode(&self) -> (Vec<u8>, Vec<RawFd>) {
        let mut p = Vec::new();
        let mut fds = Vec::new();
        match self {
            Msg::SyncSysmem(regions) => {
                p.resize(MAX_PAYLOAD, 0);
                for (i, r) in regions.iter().enumerate() {
                    p[8 * i..8 * i + 8].copy_from_slice(&r.gpa.to_le_bytes());
                    p[64 + 8 * i..72 + 8 * i].copy_from_slice(&r.size.to_le_bytes());
                    p[128 + 8 * i..136 + 8 * i].copy_from_slice(&r.offset.to_le_bytes());
                    fds.push(r.fd.as_raw_fd());
                }
            }
            Msg::Ret(v) => p.extend_from_slice(&v.to_le_bytes()),
            Msg::CfgWrite { addr, val, len } => cfg_payload(&mut p, *addr, *val, *len),
            Msg::CfgRead { addr, len } => cfg_payload(&mut p, *addr, 0, *len),
            Msg::BarWrite {
                addr,
                val,
                size,
                memory,
            } => bar_payload(&mut p, *addr, *val, *size, *memory),
            Msg::BarRead { addr, size, memory } => bar_payload(&mut p, *addr, 0, *size, *memory),
            Msg::SetIrqfd(f) => fds.extend(f.iter().map(|f| f.as_raw_fd())),
            Msg::DeviceReset => {}
        }
        (p, fds)
    }

    /// Decode a payload (with the fds that came with its header).
    pub fn decode(cmd_no: i32, p: &[u8], mut fds: Vec<OwnedFd>) -> Result<Msg, LinkError> {
        let need = |n: usize| {
            if p.len() < n {
                Err(LinkError::Protocol(format!(
                    "command {cmd_no}: {} payload bytes, need {n}",
                    p.len()
                )))
            } else {
                Ok(())
            }
        };
        Ok(match cmd_no {
            cmd::SYNC_SYSMEM => {
                need(MAX_PAYLOAD)?;
                if fds.is_empty() {
                    return Err(LinkError::Protocol("SYNC_SYSMEM without fds".into()));
                }
                let regions = fds
                    .drain(..)
                    .enumerate()
                    .map(|(i, fd)| Region {
                        gpa: le_u64(p, 8 * i),
                        size: le_u64(p, 64 + 8 * i),
                        offset: le_u64(p, 128 + 8 * i) as i64,
                        fd,
                    })
                    .collect();
                Msg::SyncSysmem(regions)
            }
            cmd::RET => {
                need(8)?;
                Msg::Ret(le_u64(p, 0))
            }
            cmd::PCI_CFGWRITE | cmd::PCI_CFGREAD => {
                need(12)?;
                let (addr, val, len) = (le_u32(p, 0), le_u32(p, 4), le_u32(p, 8));
                if !matches!(len, 1 | 2 | 4) {
                    return Err(LinkError::Protocol(format!("config access of {len} bytes")));
                }
                if cmd_no == cmd::PCI_CFGWRITE {
                    Msg::CfgWrite { addr, val, len }
                } else {
                    Msg::CfgRead { addr, len }
                }
            }
            cmd::BAR_WRITE | cmd::BAR_READ => {
                need(21)?;
                let (addr, val, size, memory) =
                    (le_u64(p, 0), le_u64(p, 8), le_u32(p, 16), p[20] != 0);
                if !(1..=8).contains(&size) {
                    return Err(LinkError::Protocol(format!("BAR access of {size} bytes")));
                }
                if cmd_no == cmd::BAR_WRITE {
                    Msg::BarWrite {
                        addr,
                        val,
                        size,
                        memory,
                    }
                } else {
                    Msg::BarRead { addr, size, memory }
                }
            }
            cmd::SET_IRQFD => Msg::SetIrqfd(fds),
            cmd::DEVICE_RESET => Msg::DeviceReset,
            n => return Err(LinkError::Protocol(format!("unknown command {n}"))),
        })
    }
}

/// One end of the link (a connected UNIX stream socket).
pub struct Link {
    fd: OwnedFd,
}

impl Link {
    /// Take ownership of a connected UNIX stream socket.
    pub fn new(fd: OwnedFd) -> Self {
        Link { fd }
    }

    /// Adopt an inherited descriptor number (checks that it is a socket).
    pub fn from_raw(fd: RawFd) -> Result<Self, LinkError> {
        // SAFETY: fstat on a caller-given number only reads.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        if unsafe { libc::fstat(fd, &mut st) } != 0 {
            return Err(LinkError::Protocol(format!(
                "--fd {fd}: {}",
                io::Error::last_os_error()
            )));
        }
        if st.st_mode & libc::S_IFMT != libc::S_IFSOCK {
            return Err(LinkError::Protocol(format!("--fd {fd} is not a socket")));
        }
        // SAFETY: the caller hands over this inherited descriptor.
        Ok(Link::new(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    /// A connected pair (tests; the launcher passes one end to QEMU).
    pub fn pair() -> io::Result<(OwnedFd, OwnedFd)> {
        let mut sv = [0; 2];
        // SAFETY: sv has room for the two descriptors.
        if unsafe {
            libc::socketpair(
                libc::AF_UNIX,
                libc::SOCK_STREAM | libc::SOCK_CLOEXEC,
                0,
                sv.as_mut_ptr(),
            )
        } != 0
        {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: both were just created and are owned by nobody else.
        Ok(unsafe { (OwnedFd::from_raw_fd(sv[0]), OwnedFd::from_raw_fd(sv[1])) })
    }

    /// The socket (for poll).
    pub fn raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// Send a message.
    pub fn send(&self, m: &Msg) -> Result<(), LinkError> {
        let (payload, fds) = m.encode();
        let mut hdr = [0u8; HDR];
        hdr[0..4].copy_from_slice(&m.cmd().to_le_bytes());
        hdr[8..16].copy_from_slice(&(payload.len() as u64).to_le_bytes());
        let mut iov = libc::iovec {
            iov_base: hdr.as_mut_ptr().cast(),
            iov_len: HDR,
        };
        let mut cbuf = [0u64; 8];
        // SAFETY: msghdr is plain data; every pointer refers to live locals.
        let mut mh: libc::msghdr = unsafe { std::mem::zeroed() };
        mh.msg_iov = &mut iov;
        mh.msg_iovlen = 1;
        if !fds.is_empty() {
            let len = unsafe { libc::CMSG_SPACE((4 * fds.len()) as u32) } as usize;
            mh.msg_control = cbuf.as_mut_ptr().cast();
            mh.msg_controllen = len;
            // SAFETY: the control buffer (64 B) holds one cmsg of <= 8 fds.
            unsafe {
                let c = libc::CMSG_FIRSTHDR(&mh);
                (*c).cmsg_level = libc::SOL_SOCKET;
                (*c).cmsg_type = libc::SCM_RIGHTS;
                (*c).cmsg_len = libc::CMSG_LEN((4 * fds.len()) as u32) as usize;
                std::ptr::copy_nonoverlapping(fds.as_ptr(), libc::CMSG_DATA(c).cast(), fds.len());
            }
        }
        // SAFETY: mh is fully initialised above.
        let n = unsafe { libc::sendmsg(self.raw_fd(), &mh, libc::MSG_NOSIGNAL) };
        if n != HDR as isize {
            return Err(LinkError::Io(io::Error::last_os_error()));
        }
        self.write_all(&payload)
    }

    fn write_all(&self, mut b: &[u8]) -> Result<(), LinkError> {
        while !b.is_empty() {
            // SAFETY: b is a live slice.
            let n = unsafe {
                libc::send(
                    self.raw_fd(),
                    b.as_ptr().cast(),
                    b.len(),
                    libc::MSG_NOSIGNAL,
                )
            };
            if n < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e.into());
            }
            b = &b[n as usize..];
        }
        Ok(())
    }

    fn read_exact(&self, mut b: &mut [u8]) -> Result<bool, LinkError> {
        let mut first = true;
        while !b.is_empty() {
            // SAFETY: b is a live mutable slice.
            let n = unsafe { libc::recv(self.raw_fd(), b.as_mut_ptr().cast(), b.len(), 0) };
            if n < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e.into());
            }
            if n == 0 {
                if first {
                    return Ok(false);
                }
                return Err(LinkError::Protocol("connection closed mid-message".into()));
            }
            first = false;
            b = &mut std::mem::take(&mut b)[n as usize..];
        }
        Ok(true)
    }

    /// Receive one message; `None` when the peer closed the link.
    pub fn recv(&self) -> Result<Option<Msg>, LinkError> {
        let mut hdr = [0u8; HDR];
        let mut iov = libc::iovec {
            iov_base: hdr.as_mut_ptr().cast(),
            iov_len: HDR,
        };
        let mut cbuf = [0u64; 16];
        // SAFETY: as in send.
        let mut mh: libc::msghdr = unsafe { std::mem::zeroed() };
        mh.msg_iov = &mut iov;
        mh.msg_iovlen = 1;
        mh.msg_control = cbuf.as_mut_ptr().cast();
        mh.msg_controllen = std::mem::size_of_val(&cbuf);
        let n = loop {
            // SAFETY: mh points at live buffers.
            let n = unsafe { libc::recvmsg(self.raw_fd(), &mut mh, libc::MSG_CMSG_CLOEXEC) };
            if n < 0 && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                continue;
            }
            break n;
        };
        if n < 0 {
            return Err(io::Error::last_os_error().into());
        }
        if n == 0 {
            return Ok(None);
        }
        let mut fds = Vec::new();
        // SAFETY: walking the control messages the kernel filled in.
        unsafe {
            let mut c = libc::CMSG_FIRSTHDR(&mh);
            while !c.is_null() {
                if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_RIGHTS {
                    let k = ((*c).cmsg_len as usize - libc::CMSG_LEN(0) as usize) / 4;
                    let p = libc::CMSG_DATA(c) as *const RawFd;
                    for i in 0..k {
                        fds.push(OwnedFd::from_raw_fd(p.add(i).read_unaligned()));
                    }
                }
                c = libc::CMSG_NXTHDR(&mh, c);
            }
        }
        if (n as usize) < HDR && !self.read_exact(&mut hdr[n as usize..])? {
            return Err(LinkError::Protocol("connection closed mid-header".into()));
        }
        let cmd_no = i32::from_le_bytes(hdr[0..4].try_into().unwrap());
        let size = le_u64(&hdr, 8) as usize;
        if size > MAX_PAYLOAD {
            return Err(LinkError::Protocol(format!(
                "command {cmd_no}: payload of {size} bytes"
            )));
        }
        let mut p = vec![0u8; size];
        if size > 0 && !self.read_exact(&mut p)? {
            return Err(LinkError::Protocol("connection closed mid-message".into()));
        }
        Msg::decode(cmd_no, &p, fds).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn memfd() -> OwnedFd {
        // SAFETY: plain syscall; the name is a valid C string.
        let fd = unsafe { libc::memfd_create(c"t".as_ptr(), libc::MFD_CLOEXEC) };
        assert!(fd >= 0);
        unsafe { OwnedFd::from_raw_fd(fd) }
    }

    #[test]
    fn messages_round_trip_with_fds() {
        let (a, b) = Link::pair().unwrap();
        let (a, b) = (Link::new(a), Link::new(b));
        a.send(&Msg::BarWrite {
            addr: 0xfebf_1008,
            val: 0x1234_5678_9abc,
            size: 4,
            memory: true,
        })
        .unwrap();
        a.send(&Msg::CfgRead { addr: 0x3d, len: 1 }).unwrap();
        a.send(&Msg::SyncSysmem(vec![
            Region {
                gpa: 0,
                size: 0xa0000,
                offset: 0,
                fd: memfd(),
            },
            Region {
                gpa: 0x10_0000,
                size: 0x3ff0_0000,
                offset: 0x10_0000,
                fd: memfd(),
            },
        ]))
        .unwrap();
        a.send(&Msg::DeviceReset).unwrap();
        match b.recv().unwrap().unwrap() {
            Msg::BarWrite {
                addr,
                val,
                size,
                memory,
            } => {
                assert_eq!(
                    (addr, val, size, memory),
                    (0xfebf_1008, 0x1234_5678_9abc, 4, true)
                )
            }
            m => panic!("{m:?}"),
        }
        assert!(matches!(
            b.recv().unwrap(),
            Some(Msg::CfgRead { addr: 0x3d, len: 1 })
        ));
        match b.recv().unwrap().unwrap() {
            Msg::SyncSysmem(r) => {
                assert_eq!(r.len(), 2);
                assert_eq!(
                    (r[1].gpa, r[1].size, r[1].offset),
                    (0x10_0000, 0x3ff0_0000, 0x10_0000)
                );
                // The received descriptors are new, open descriptors.
                assert!(r
                    .iter()
                    .all(|r| unsafe { libc::fcntl(r.fd.as_raw_fd(), libc::F_GETFD) } >= 0));
            }
            m => panic!("{m:?}"),
        }
        assert!(matches!(b.recv().unwrap(), Some(Msg::DeviceReset)));
        drop(a);
        assert!(b.recv().unwrap().is_none(), "EOF after the peer closes");
    }

    #[test]
    fn malformed_messages_are_errors() {
        assert!(
            Msg::decode(cmd::PCI_CFGREAD, &[0; 12], vec![]).is_err(),
            "len 0"
        );
        assert!(
            Msg::decode(cmd::BAR_READ, &[0; 8], vec![]).is_err(),
            "short"
        );
        assert!(Msg::decode(99, &[], vec![]).is_err(), "unknown command");
        assert!(
            Msg::decode(cmd::SYNC_SYSMEM, &[0; 192], vec![]).is_err(),
            "no fds"
        );
        let (a, b) = Link::pair().unwrap();
        let a = Link::new(a);
        let mut hdr = [0u8; 16];
        hdr[8..16].copy_from_slice(&4096u64.to_le_bytes());
        a.write_all(&hdr).unwrap();
        assert!(Link::new(b).recv().is_err(), "oversized payload");
    }
}
