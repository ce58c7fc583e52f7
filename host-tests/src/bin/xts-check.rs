//! `xts-check`: is a backend region the AES-256-XTS ciphertext (IEEE
//! 1619-2007, tweak = LBA as a 128-bit little-endian data unit number,
//! data unit = one LBA) of the given plaintext? The golden model is
//! RustCrypto `xts-mode`; the plaintext is what the card served (e.g.
//! `nitrous sim nvme-read`), the backend the raw image file.
//!
//! usage: xts-check --key <128 hex> --lba-size <512|4096> --first-lba <L>
//!                  --plain <file> --backend <file> --offset <byte offset of LBA L>
//! Exit 0 when every LBA matches, 1 on the first mismatch, 2 on bad usage.

use std::collections::HashMap;
use std::io::Read;
use std::os::unix::fs::FileExt;

fn die(code: i32, msg: String) -> ! {
    eprintln!("xts-check: {msg}");
    std::process::exit(code)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if !args.len().is_multiple_of(2) {
        die(2, "arguments come in --name value pairs".into());
    }
    let mut a: HashMap<&str, &str> = HashMap::new();
    for p in args.chunks(2) {
        a.insert(p[0].trim_start_matches("--"), p[1].as_str());
    }
    let get = |k: &str| -> &str {
        a.get(k)
            .copied()
            .unwrap_or_else(|| die(2, format!("--{k} missing")))
    };
    let num = |k: &str| -> u64 {
        get(k)
            .parse()
            .unwrap_or_else(|_| die(2, format!("--{k}: not a number")))
    };
    let hexkey = get("key");
    if hexkey.len() != 128 || !hexkey.bytes().all(|c| c.is_ascii_hexdigit()) {
        die(2, "--key: 128 hex digits".into());
    }
    let mut key = [0u8; 64];
    for (i, k) in key.iter_mut().enumerate() {
        *k = u8::from_str_radix(&hexkey[2 * i..2 * i + 2], 16).unwrap();
    }
    let bs = num("lba-size") as usize;
    if bs != 512 && bs != 4096 {
        die(2, "--lba-size: 512 or 4096".into());
    }
    let first = num("first-lba");
    let offset = num("offset");
    let mut plain = Vec::new();
    std::fs::File::open(get("plain"))
        .and_then(|mut f| f.read_to_end(&mut plain))
        .unwrap_or_else(|e| die(2, format!("--plain: {e}")));
    if plain.is_empty() || !plain.len().is_multiple_of(bs) {
        die(2, format!("--plain: {} bytes, not whole LBAs", plain.len()));
    }
    let backend =
        std::fs::File::open(get("backend")).unwrap_or_else(|e| die(2, format!("--backend: {e}")));
    let mut raw = vec![0u8; plain.len()];
    // Past the end of the file reads as zeros (the card's FileStore does the same).
    let mut done = 0;
    while done < raw.len() {
        let n = backend
            .read_at(&mut raw[done..], offset + done as u64)
            .unwrap_or_else(|e| die(1, format!("--backend: {e}")));
        if n == 0 {
            break;
        }
        done += n;
    }
    let lbas = plain.len() / bs;
    for i in 0..lbas {
        let lba = first + i as u64;
        let want = nitrous_host_tests::xts(&key, lba, bs, &plain[i * bs..(i + 1) * bs], true);
        if want != raw[i * bs..(i + 1) * bs] {
            die(
                1,
                format!("LBA {lba}: the backend is not XTS(key, LBA) of the plaintext"),
            );
        }
    }
    let nonzero = plain
        .chunks(bs)
        .filter(|b| b.iter().any(|&x| x != 0))
        .count();
    println!("xts-check: {lbas} LBAs from {first} match ({nonzero} with non-zero plaintext)");
}
