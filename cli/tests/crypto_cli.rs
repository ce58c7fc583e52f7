//! `nitrous crypto ...` end to end: the binary, the Verilator engines, and
//! RustCrypto as the golden model. Error paths: one line on stderr, exit 2
//! for bad input, no plaintext for a bad tag.

use aes::cipher::KeyInit;
use aes_gcm::aead::AeadInPlace;
use std::io::Write;
use std::process::{Command, Output, Stdio};

fn nitrous(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_nitrous"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn nitrous");
    // The process may exit before reading stdin (argument errors).
    let _ = child.stdin.take().unwrap().write_all(stdin);
    child.wait_with_output().unwrap()
}

fn assert_one_line_error(o: &Output, code: i32, what: &str) {
    assert_eq!(o.status.code(), Some(code), "{what}: exit code");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(
        err.trim_end().lines().count(),
        1,
        "{what}: stderr must be one line, got {err:?}"
    );
    assert!(err.starts_with("nitrous: "), "{what}: {err:?}");
    assert!(o.stdout.is_empty(), "{what}: nothing on stdout");
}

const XTS_KEY: &str = "2718281828459045235360287471352662497757247093699959574966967627\
3141592653589793238462643383279502884197169399375105820974944592";

fn xts_golden(key_hex: &str, dun: u128, unit: usize, data: &[u8], decrypt: bool) -> Vec<u8> {
    let key = hex::decode(key_hex).unwrap();
    let xts = xts_mode::Xts128::new(
        aes::Aes256::new(key[..32].into()),
        aes::Aes256::new(key[32..].into()),
    );
    let mut buf = data.to_vec();
    if decrypt {
        xts.decrypt_area(&mut buf, unit, dun, xts_mode::get_tweak_default);
    } else {
        xts.encrypt_area(&mut buf, unit, dun, xts_mode::get_tweak_default);
    }
    buf
}

#[test]
fn xts_enc_dec_match_xts_mode_both_configs_and_unit_sizes() {
    let data: Vec<u8> = (0..8192u32).map(|i| (i * 7 + 3) as u8).collect();
    for config in ["full", "compact"] {
        for (unit, dun) in [("512", 0xfffffffffu128), ("4096", 3)] {
            let args = [
                "crypto",
                "xts-enc",
                "--key",
                XTS_KEY,
                "--dun",
                &dun.to_string(),
                "--unit-size",
                unit,
                "--config",
                config,
            ];
            let enc = nitrous(&args, &data);
            assert!(
                enc.status.success(),
                "{config} {unit}: {}",
                String::from_utf8_lossy(&enc.stderr)
            );
            let want = xts_golden(XTS_KEY, dun, unit.parse().unwrap(), &data, false);
            assert!(
                enc.stdout == want,
                "{config} unit {unit}: xts-enc differs from xts-mode"
            );
            let mut dargs = args;
            dargs[1] = "xts-dec";
            let dec = nitrous(&dargs, &enc.stdout);
            assert!(dec.status.success());
            assert!(
                dec.stdout == data,
                "{config} unit {unit}: xts-dec did not restore the input"
            );
        }
    }
}

#[test]
fn gcm_enc_and_dec_match_aes_gcm() {
    let key = [0x42u8; 32];
    let iv = [9u8; 12];
    let aad = b"header";
    let msg: Vec<u8> = (0..1000u32).map(|i| i as u8).collect();
    let mut ct = msg.clone();
    let tag = aes_gcm::Aes256Gcm::new(&key.into())
        .encrypt_in_place_detached(&iv.into(), aad, &mut ct)
        .unwrap();
    let (k, i, a) = (hex::encode(key), hex::encode(iv), hex::encode(aad));
    for config in ["full", "compact"] {
        let enc = nitrous(
            &[
                "crypto", "gcm-enc", "--key", &k, "--iv", &i, "--aad", &a, "--config", config,
            ],
            &msg,
        );
        assert!(
            enc.status.success(),
            "{}",
            String::from_utf8_lossy(&enc.stderr)
        );
        assert_eq!(enc.stdout.len(), msg.len() + 16);
        assert!(
            enc.stdout[..msg.len()] == ct[..],
            "{config}: ciphertext differs from aes-gcm"
        );
        assert_eq!(
            &enc.stdout[msg.len()..],
            &tag[..],
            "{config}: tag differs from aes-gcm"
        );
        let t = hex::encode(tag);
        let dec = nitrous(
            &[
                "crypto", "gcm-dec", "--key", &k, "--iv", &i, "--aad", &a, "--tag", &t, "--config",
                config,
            ],
            &ct,
        );
        assert!(dec.status.success());
        assert!(dec.stdout == msg, "{config}: gcm-dec plaintext");
        // One flipped tag bit: no plaintext at all, one line, non-zero exit.
        let mut bad = tag;
        bad[15] ^= 0x80;
        let b = hex::encode(bad);
        let dec = nitrous(
            &[
                "crypto", "gcm-dec", "--key", &k, "--iv", &i, "--aad", &a, "--tag", &b, "--config",
                config,
            ],
            &ct,
        );
        assert_one_line_error(&dec, 1, "gcm-dec with a bad tag");
    }
}

#[test]
fn gcm_empty_message_and_aad() {
    let key = [1u8; 32];
    let iv = [2u8; 12];
    let tag = aes_gcm::Aes256Gcm::new(&key.into())
        .encrypt_in_place_detached(&iv.into(), b"", &mut [])
        .unwrap();
    let o = nitrous(
        &[
            "crypto",
            "gcm-enc",
            "--key",
            &hex::encode(key),
            "--iv",
            &hex::encode(iv),
        ],
        b"",
    );
    assert!(o.status.success());
    assert_eq!(o.stdout, tag.to_vec());
}

#[test]
fn bad_arguments_get_one_line_and_exit_2() {
    let data = vec![0u8; 512];
    let cases: Vec<(Vec<&str>, &[u8], &str)> = vec![
        (
            vec!["crypto", "xts-enc", "--key", "zz", "--dun", "0"],
            &data,
            "bad hex",
        ),
        (
            vec!["crypto", "xts-enc", "--key", "00", "--dun", "0"],
            &data,
            "short key",
        ),
        (
            vec!["crypto", "xts-enc", "--key", XTS_KEY, "--dun", "x"],
            &data,
            "bad dun",
        ),
        (
            vec![
                "crypto",
                "xts-enc",
                "--key",
                XTS_KEY,
                "--dun",
                "0",
                "--unit-size",
                "1000",
            ],
            &data,
            "bad unit size",
        ),
        (
            vec![
                "crypto", "xts-enc", "--key", XTS_KEY, "--dun", "0", "--config", "huge",
            ],
            &data,
            "bad config",
        ),
        (
            vec!["crypto", "xts-enc", "--key", XTS_KEY, "--dun", "0"],
            &data[..500],
            "partial block",
        ),
        (
            vec!["crypto", "xts-enc", "--key", XTS_KEY, "--dun", "0"],
            b"",
            "empty input",
        ),
        (
            vec![
                "crypto",
                "xts-enc",
                "--key",
                XTS_KEY,
                "--dun",
                "0",
                "--unit-size",
                "4096",
            ],
            &data,
            "partial data unit",
        ),
        (
            vec![
                "crypto",
                "gcm-enc",
                "--key",
                "00",
                "--iv",
                "000000000000000000000000",
            ],
            b"",
            "short gcm key",
        ),
        (
            vec!["crypto", "gcm-enc", "--key", &XTS_KEY[..64], "--iv", "00"],
            b"",
            "short iv",
        ),
        (
            vec![
                "crypto",
                "gcm-enc",
                "--key",
                &XTS_KEY[..64],
                "--iv",
                "000000000000000000000000",
                "--aad",
                "abc",
            ],
            b"",
            "odd aad hex",
        ),
        (
            vec![
                "crypto",
                "gcm-dec",
                "--key",
                &XTS_KEY[..64],
                "--iv",
                "000000000000000000000000",
                "--tag",
                "00",
            ],
            b"",
            "short tag",
        ),
        (vec!["crypto", "nope"], b"", "unknown subcommand"),
    ];
    for (args, input, what) in cases {
        let o = nitrous(&args, input);
        assert_one_line_error(&o, 2, what);
    }
}
