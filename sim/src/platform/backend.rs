//! The storage backend behind the card's `bq`/`bw`/`br` ports
//! (docs/CARD.md §1, "Storage backend"): block storage, file-backed or in
//! memory, with a configurable latency in cycles from request to the first
//! read-data beat.

use std::collections::{HashMap, VecDeque};
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;

/// Byte-addressed block storage.
pub trait BlockStore: Send {
    /// Size in bytes.
    fn len(&self) -> u64;
    /// Whether the store has no bytes.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Read `buf.len()` bytes at `addr` (in range: checked by the caller).
    fn read(&mut self, addr: u64, buf: &mut [u8]) -> std::io::Result<()>;
    /// Write `data` at `addr` (in range).
    fn write(&mut self, addr: u64, data: &[u8]) -> std::io::Result<()>;
}

/// Sparse in-memory storage (4 KiB pages, zero until written).
pub struct MemStore {
    len: u64,
    pages: HashMap<u64, Box<[u8; 4096]>>,
}

impl MemStore {
    pub fn new(len: u64) -> Self {
        MemStore {
            len,
            pages: HashMap::new(),
        }
    }
}

impl BlockStore for MemStore {
    fn len(&self) -> u64 {
        self.len
    }
    fn read(&mut self, addr: u64, buf: &mut [u8]) -> std::io::Result<()> {
        for (i, b) in buf.iter_mut().enumerate() {
            let a = addr + i as u64;
            *b = self
                .pages
                .get(&(a >> 12))
                .map_or(0, |p| p[(a & 4095) as usize]);
        }
        Ok(())
    }
    fn write(&mut self, addr: u64, data: &[u8]) -> std::io::Result<()> {
        for (i, &b) in data.iter().enumerate() {
            let a = addr + i as u64;
            self.pages
                .entry(a >> 12)
                .or_insert_with(|| Box::new([0; 4096]))[(a & 4095) as usize] = b;
        }
        Ok(())
    }
}

/// A backend file (an image of all namespaces). Reads past the end of the
/// file (but inside `len`) return zeros.
pub struct FileStore {
    file: File,
    len: u64,
}

impl FileStore {
    /// Open (create if missing) `path` as a store of `len` bytes; the file
    /// is not truncated and grows as blocks are written.
    pub fn open(path: &Path, len: u64) -> std::io::Result<Self> {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)?;
        Ok(FileStore { file, len })
    }
}

impl BlockStore for FileStore {
    fn len(&self) -> u64 {
        self.len
    }
    fn read(&mut self, addr: u64, buf: &mut [u8]) -> std::io::Result<()> {
        let mut done = 0;
        while done < buf.len() {
            let n = self.file.read_at(&mut buf[done..], addr + done as u64)?;
            if n == 0 {
                buf[done..].fill(0);
                break;
            }
            done += n;
        }
        Ok(())
    }
    fn write(&mut self, addr: u64, data: &[u8]) -> std::io::Result<()> {
        self.file.write_all_at(data, addr)
    }
}

/// A backend request the card made.
#[derive(Clone, Debug)]
struct Req {
    addr: u64,
    len: u32,
    tag: u8,
    /// Cycle from which read data may flow.
    ready_at: u64,
}

/// One read-data beat for the `br_*` port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadBeat {
    pub tag: u8,
    pub data: [u8; 16],
    pub last: bool,
    pub err: bool,
}

/// Backend I/O failures, logged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackendError {
    pub cycle: u64,
    pub write: bool,
    pub addr: u64,
    pub len: u32,
    pub reason: String,
}

/// The backend port engine: accepts `bq` requests, `bw` payload, and
/// produces `br` beats in request order after `latency` cycles.
pub struct Backend {
    store: Box<dyn BlockStore>,
    latency: u64,
    queue_cap: usize,
    /// Requests accepted, in order (writes wait here for their payload only
    /// in `writes`).
    reads: VecDeque<Req>,
    writes: VecDeque<Req>,
    wbuf: Vec<u8>,
    /// Data of the read at the head of `reads`, once started.
    cur: Option<(Vec<u8>, usize, bool)>,
    errors: Vec<BackendError>,
    /// Bytes read and written (stats).
    pub bytes_read: u64,
    pub bytes_written: u64,
}

impl Backend {
    /// A backend over `store` with `latency` cycles from request to data.
    pub fn new(store: Box<dyn BlockStore>, latency: u64) -> Self {
        Backend {
            store,
            latency,
            queue_cap: 64,
            reads: VecDeque::new(),
            writes: VecDeque::new(),
            wbuf: Vec::new(),
            cur: None,
            errors: Vec::new(),
            bytes_read: 0,
            bytes_written: 0,
        }
    }

    pub fn latency(&self) -> u64 {
        self.latency
    }

    pub fn set_latency(&mut self, cycles: u64) {
        self.latency = cycles;
    }

    pub fn store(&mut self) -> &mut dyn BlockStore {
        self.store.as_mut()
    }

    pub fn errors(&self) -> &[BackendError] {
        &self.errors
    }

    /// `bq_ready` for this cycle.
    pub fn req_ready(&self) -> bool {
        self.reads.len() + self.writes.len() < self.queue_cap
    }

    /// `bw_ready` for this cycle (a write header is waiting for payload).
    /// Always ready: a payload beat may move on the same edge as its
    /// request (the platform applies the request first); a beat without a
    /// write request is logged as an error.
    pub fn wdata_ready(&self) -> bool {
        true
    }

    /// A `bq` beat was accepted at `cycle`.
    pub fn request(&mut self, write: bool, addr: u64, len: u32, tag: u8, cycle: u64) {
        let r = Req {
            addr,
            len,
            tag,
            ready_at: cycle + 1 + self.latency,
        };
        if write {
            self.writes.push_back(r);
        } else {
            self.reads.push_back(r);
        }
    }

    /// A `bw` beat was accepted.
    pub fn write_beat(&mut self, data: &[u8; 16], last: bool, cycle: u64) {
        let Some(r) = self.writes.front().cloned() else {
            self.errors.push(BackendError {
                cycle,
                write: true,
                addr: 0,
                len: 16,
                reason: "write data beat without a write request".into(),
            });
            return;
        };
        self.wbuf.extend_from_slice(data);
        // Bytes past the length are ignored; the request ends at `last`.
        if last {
            self.writes.pop_front();
            let mut d = std::mem::take(&mut self.wbuf);
            d.resize(r.len as usize, 0);
            if let Some(reason) = self.check(&r) {
                self.errors.push(BackendError {
                    cycle,
                    write: true,
                    addr: r.addr,
                    len: r.len,
                    reason,
                });
            } else if let Err(e) = self.store.write(r.addr, &d) {
                self.errors.push(BackendError {
                    cycle,
                    write: true,
                    addr: r.addr,
                    len: r.len,
                    reason: e.to_string(),
                });
            } else {
                self.bytes_written += r.len as u64;
            }
        }
    }

    fn check(&self, r: &Req) -> Option<String> {
        if r.len == 0 || r.len > nitrous_regmap::card::MAX_REQ_BYTES {
            return Some(format!("length {}", r.len));
        }
        if r.addr
            .checked_add(r.len as u64)
            .is_none_or(|e| e > self.store.len())
        {
            return Some(format!("beyond the backend's {} bytes", self.store.len()));
        }
        None
    }

    /// The `br` beat offered this cycle, if any.
    pub fn read_beat(&mut self, cycle: u64) -> Option<ReadBeat> {
        if self.cur.is_none() {
            let r = self.reads.front()?.clone();
            if cycle < r.ready_at {
                return None;
            }
            let mut d = vec![0u8; r.len as usize];
            let mut err = false;
            let reason = self
                .check(&r)
                .or_else(|| self.store.read(r.addr, &mut d).err().map(|e| e.to_string()));
            if let Some(reason) = reason {
                err = true;
                d.fill(0);
                self.errors.push(BackendError {
                    cycle,
                    write: false,
                    addr: r.addr,
                    len: r.len,
                    reason,
                });
            } else {
                self.bytes_read += r.len as u64;
            }
            if d.is_empty() {
                d.resize(16, 0);
            }
            self.cur = Some((d, 0, err));
        }
        let tag = self.reads.front()?.tag;
        let (d, pos, err) = self.cur.as_ref()?;
        let mut data = [0u8; 16];
        let n = (d.len() - pos).min(16);
        data[..n].copy_from_slice(&d[*pos..pos + n]);
        Some(ReadBeat {
            tag,
            data,
            last: pos + 16 >= d.len(),
            err: *err,
        })
    }

    /// The beat from [`Backend::read_beat`] was accepted (`br_ready`).
    pub fn read_accepted(&mut self) {
        if let Some((d, pos, _)) = self.cur.as_mut() {
            *pos += 16;
            if *pos >= d.len() {
                self.cur = None;
                self.reads.pop_front();
            }
        }
    }

    /// Requests not yet finished.
    pub fn outstanding(&self) -> usize {
        self.reads.len() + self.writes.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_then_read_with_latency() {
        let mut b = Backend::new(Box::new(MemStore::new(1 << 20)), 10);
        b.request(true, 4096, 32, 1, 0);
        b.write_beat(&[7; 16], false, 1);
        b.write_beat(&[8; 16], true, 2);
        assert_eq!(b.outstanding(), 0, "write done");
        b.request(false, 4096, 32, 5, 3);
        assert_eq!(b.outstanding(), 1);
        for c in 3..14 {
            assert_eq!(b.read_beat(c), None, "cycle {c}: latency not over");
        }
        let x = b.read_beat(14).unwrap();
        assert_eq!((x.tag, x.data, x.last, x.err), (5, [7; 16], false, false));
        // Not accepted: same beat again.
        assert_eq!(b.read_beat(15).unwrap(), x);
        b.read_accepted();
        let y = b.read_beat(16).unwrap();
        assert_eq!((y.data, y.last), ([8; 16], true));
        b.read_accepted();
        assert_eq!(b.read_beat(17), None);
        assert_eq!(b.bytes_written, 32);
        assert_eq!(b.bytes_read, 32);
    }

    #[test]
    fn out_of_range_is_an_error_beat() {
        let mut b = Backend::new(Box::new(MemStore::new(4096)), 0);
        b.request(false, 4096, 512, 3, 0);
        let x = b.read_beat(1).unwrap();
        assert!(x.err);
        assert_eq!(b.errors().len(), 1);
        b.request(true, 8192, 16, 0, 0);
        b.write_beat(&[1; 16], true, 2);
        assert_eq!(b.errors().len(), 2);
        assert_eq!(b.bytes_written, 0);
    }

    #[test]
    fn file_store_persists_and_reads_zero_past_eof() {
        let dir = std::env::temp_dir().join(format!("nsim-be-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("disk.img");
        let _ = std::fs::remove_file(&p);
        {
            let mut s = FileStore::open(&p, 1 << 20).unwrap();
            s.write(512, &[0x5a; 512]).unwrap();
            let mut buf = [1u8; 512];
            s.read(4096, &mut buf).unwrap();
            assert_eq!(buf, [0; 512]);
        }
        let mut s = FileStore::open(&p, 1 << 20).unwrap();
        let mut buf = [0u8; 512];
        s.read(512, &mut buf).unwrap();
        assert_eq!(buf, [0x5a; 512]);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
