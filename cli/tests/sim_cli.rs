//! `nitrous sim ...` end to end: the binary, the card file, the platform
//! model around the Verilated card. Error paths: one line on stderr, exit
//! 2, the backend file untouched. `lspci` output is checked with the real
//! `lspci -F` when pciutils is installed. The NVMe round trips need the
//! card's NVMe function and are ignored until it is in the `card` top.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn nitrous(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_nitrous"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn nitrous");
    let _ = child.stdin.take().unwrap().write_all(stdin);
    child.wait_with_output().unwrap()
}

fn assert_one_line_error(o: &Output, what: &str, want: &str) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(
        o.status.code(),
        Some(2),
        "{what}: exit code; stderr {err:?}"
    );
    assert_eq!(
        err.trim_end().lines().count(),
        1,
        "{what}: stderr must be one line, got {err:?}"
    );
    assert!(err.starts_with("nitrous: "), "{what}: {err:?}");
    assert!(err.contains(want), "{what}: {err:?} lacks {want:?}");
    assert!(o.stdout.is_empty(), "{what}: nothing on stdout");
}

struct Dir(PathBuf);

impl Dir {
    fn new(name: &str) -> Dir {
        let d = std::env::temp_dir().join(format!("nitrous-sim-cli-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        Dir(d)
    }
    fn path(&self, f: &str) -> PathBuf {
        self.0.join(f)
    }
    fn s(&self, f: &str) -> String {
        self.path(f).to_string_lossy().into_owned()
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn key_hex(i: u8) -> String {
    hex::encode(key(i))
}

fn key(i: u8) -> [u8; 64] {
    std::array::from_fn(|j| (j as u8).wrapping_mul(7).wrapping_add(i * 29 + 3))
}

/// Two VFs: 64 x 512 B and 16 x 4096 B.
fn write_card(d: &Dir) -> String {
    let text = format!(
        "[[vf]]\nblocks = 64\nlba_size = 512\nkey = \"{}\"\n\n\
         [[vf]]\nblocks = 16\nlba_size = 4096\nkey = \"{}\"\nqueues = 3\n",
        key_hex(1),
        key_hex(2)
    );
    std::fs::write(d.path("card.toml"), text).unwrap();
    d.s("card.toml")
}

#[test]
fn bad_arguments_leave_the_backend_untouched() {
    let d = Dir::new("bad");
    let card = write_card(&d);
    let img = d.s("disk.img");
    let pattern: Vec<u8> = (0..(64 * 512 + 16 * 4096))
        .map(|i| (i * 11) as u8)
        .collect();
    std::fs::write(&img, &pattern).unwrap();
    let cases: Vec<(Vec<&str>, &[u8], &str)> = vec![
        (
            vec!["nvme-write", "--vf", "3", "--lba", "0"],
            b"x",
            "VF 3 does not exist",
        ),
        (
            vec!["nvme-write", "--vf", "0", "--lba", "0"],
            b"x",
            "VF 0 does not exist",
        ),
        (
            vec!["nvme-write", "--vf", "1", "--lba", "64"],
            b"x",
            "outside VF 1's namespace of 64 blocks",
        ),
        (
            vec!["nvme-write", "--vf", "1", "--lba", "63"],
            &[1u8; 1024],
            "LBA range 63+2",
        ),
        (
            vec!["nvme-write", "--vf", "2", "--lba", "0"],
            b"",
            "no data",
        ),
        (
            vec!["nvme-read", "--vf", "2", "--lba", "10", "--blocks", "7"],
            b"",
            "LBA range 10+7",
        ),
        (
            vec!["nvme-read", "--vf", "2", "--lba", "0", "--blocks", "0"],
            b"",
            "--blocks 0",
        ),
        (
            vec!["nvme-read", "--vf", "9", "--lba", "0", "--blocks", "1"],
            b"",
            "VF 9",
        ),
        (vec!["nvme-perf", "--size", "1000"], b"", "--size 1000"),
        (vec!["nvme-perf", "--qd", "0"], b"", "--qd 0"),
    ];
    for (cmd, stdin, want) in cases {
        let mut args = vec!["sim", "--card", &card, "--backend", &img];
        args.extend(cmd.iter());
        let o = nitrous(&args, stdin);
        assert_one_line_error(&o, &cmd.join(" "), want);
    }
    assert_eq!(std::fs::read(&img).unwrap(), pattern, "backend modified");
    // A backend that does not exist is not created by a refused command.
    let fresh = d.s("fresh.img");
    let o = nitrous(
        &[
            "sim",
            "--card",
            &card,
            "--backend",
            &fresh,
            "nvme-read",
            "--vf",
            "1",
            "--lba",
            "64",
            "--blocks",
            "1",
        ],
        b"",
    );
    assert_one_line_error(&o, "out of range", "outside");
    assert!(!Path::new(&fresh).exists());
}

#[test]
fn malformed_card_files_are_one_line_errors() {
    let d = Dir::new("cardfile");
    let img = d.s("disk.img");
    std::fs::write(&img, [0x5au8; 4096]).unwrap();
    let k = key_hex(1);
    let cases = [
        ("[[vf]\nblocks = 1\n".to_string(), "not valid TOML"),
        (String::new(), "no [[vf]] tables"),
        (format!("[[vf]]\nblocks = 8\nlba_size = 520\nkey = \"{k}\"\n"), "vf 1: lba_size: 520"),
        (format!("[[vf]]\nblocks = 8\nlba_size = 512\nkey = \"{k}\"\n[[vf]]\nblocks = 8\nlba_size = 512\nkey = \"00\"\n"), "vf 2: key"),
        ("[[vf]]\nlba_size = 512\nkey = \"00\"\n".to_string(), "vf 1: missing field `blocks`"),
        (format!("[[vf]]\nblocks = 8\nlba_size = 512\nkey = \"{k}\"\nspeed = 3\n"), "unknown field `speed`"),
        // More VFs than the largest card top built (card: 4, card16: 16).
        ((1..=17).map(|_| format!("[[vf]]\nblocks = 8\nlba_size = 512\nkey = \"{k}\"\n")).collect(), "17 VFs; the simulated card has"),
    ];
    for (text, want) in cases {
        std::fs::write(d.path("c.toml"), &text).unwrap();
        let card = d.s("c.toml");
        let o = nitrous(
            &[
                "sim",
                "--card",
                &card,
                "--backend",
                &img,
                "nvme-write",
                "--vf",
                "1",
                "--lba",
                "0",
            ],
            b"data",
        );
        assert_one_line_error(&o, want, want);
        if !want.contains("simulated card") {
            assert!(
                String::from_utf8_lossy(&o.stderr).contains("c.toml"),
                "names the file"
            );
        }
    }
    assert_eq!(std::fs::read(&img).unwrap(), [0x5au8; 4096]);
    let o = nitrous(&["sim", "--card", &d.s("missing.toml"), "lspci"], b"");
    assert_one_line_error(&o, "missing file", "missing.toml");
}

#[test]
fn lspci_shows_pf_and_every_vf() {
    let d = Dir::new("lspci");
    let card = write_card(&d);
    let o = nitrous(&["sim", "--card", &card, "lspci"], b"");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8(o.stdout).unwrap();
    let heads: Vec<&str> = text
        .lines()
        .filter(|l| l.contains(": Device 1234:"))
        .collect();
    assert_eq!(heads.len(), 3, "{heads:?}");
    assert!(heads[0].starts_with("01:00.0 "));
    assert!(heads[1].starts_with("01:00.1 "));
    assert!(heads[2].starts_with("01:00.2 "));
    assert_eq!(text.lines().filter(|l| l.starts_with("ff0:")).count(), 3);
    if Command::new("lspci").arg("--version").output().is_err() {
        println!("NOTICE: lspci (pciutils) not installed; decode check skipped");
        return;
    }
    std::fs::write(d.path("dump"), &text).unwrap();
    let o = Command::new("lspci")
        .args(["-F", &d.s("dump"), "-vvv"])
        .output()
        .unwrap();
    let dec = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success());
    for want in [
        "Single Root I/O Virtualization (SR-IOV)",
        "Initial VFs: 4, Total VFs: 4, Number of VFs: 2",
        "VF offset: 1, stride: 1, Device ID: 4e56",
        "01:00.2 Non-Volatile memory controller",
        "Vector table: BAR=0 offset=00002000",
    ] {
        assert!(dec.contains(want), "lspci -F lacks {want:?}:\n{dec}");
    }
    // The driver has not enabled the VFs' MSI-X: lspci shows Count=9 Enable-.
    let count = format!(
        "MSI-X: Enable- Count={}",
        nitrous_regmap::nvme::MSIX_VECTORS
    );
    assert_eq!(dec.matches(&count).count(), 2, "{dec}");
}

fn xts_encrypt(key: &[u8; 64], lba: u64, lba_size: usize, data: &[u8]) -> Vec<u8> {
    use aes::cipher::KeyInit;
    let xts = xts_mode::Xts128::new(
        aes::Aes256::new(key[..32].into()),
        aes::Aes256::new(key[32..].into()),
    );
    let mut b = data.to_vec();
    xts.encrypt_area(&mut b, lba_size, lba as u128, xts_mode::get_tweak_default);
    b
}

#[test]
fn write_read_round_trip_persists_ciphertext() {
    let d = Dir::new("rw");
    let card = write_card(&d);
    let img = d.s("disk.img");
    let data: Vec<u8> = (0..3 * 4096).map(|i| (i * 5 + 1) as u8).collect();
    let o = nitrous(
        &[
            "sim",
            "--card",
            &card,
            "--backend",
            &img,
            "nvme-write",
            "--vf",
            "2",
            "--lba",
            "4",
        ],
        &data,
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // A second process reads it back from the backend file.
    let o = nitrous(
        &[
            "sim",
            "--card",
            &card,
            "--backend",
            &img,
            "nvme-read",
            "--vf",
            "2",
            "--lba",
            "4",
            "--blocks",
            "3",
        ],
        b"",
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(o.stdout, data);
    // VF 2's namespace starts after VF 1's 64 x 512 bytes.
    let disk = std::fs::read(&img).unwrap();
    let at = 64 * 512 + 4 * 4096;
    assert_eq!(
        disk[at..at + data.len()],
        xts_encrypt(&key(2), 4, 4096, &data)[..]
    );
    // VF 1 sees its own (empty) namespace, not VF 2's data.
    let o = nitrous(
        &[
            "sim",
            "--card",
            &card,
            "--backend",
            &img,
            "nvme-read",
            "--vf",
            "1",
            "--lba",
            "0",
            "--blocks",
            "1",
        ],
        b"",
    );
    assert!(o.status.success());
    assert_eq!(o.stdout.len(), 512);
}

#[test]
fn perf_reports_json_figures() {
    let d = Dir::new("perf");
    let card = write_card(&d);
    let json = d.s("perf.json");
    let o = nitrous(
        &[
            "sim",
            "--card",
            &card,
            "nvme-perf",
            "--qd",
            "4",
            "--size",
            "4k",
            "--read-pct",
            "50",
            "--ios",
            "40",
            "--json",
            &json,
        ],
        b"",
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let t = &v["total"];
    assert_eq!(t["commands"], 80);
    assert!(t["bytes_per_cycle"].as_f64().unwrap() > 0.0);
    assert!(t["commands_per_kcycle"].as_f64().unwrap() > 0.0);
    let p50 = t["latency_cycles"]["p50"].as_u64().unwrap();
    let p99 = t["latency_cycles"]["p99"].as_u64().unwrap();
    assert!(p50 > 0 && p50 <= p99);
    assert_eq!(v["vfs"].as_array().unwrap().len(), 2);
    for f in v["vfs"].as_array().unwrap() {
        assert_eq!(f["commands"], 40);
        assert!(f["latency_cycles"]["p99"].as_u64().unwrap() > 0);
    }
}

#[test]
fn serve_proxy_bad_arguments_are_one_line_errors() {
    let d = Dir::new("proxy-args");
    let card = write_card(&d);
    let img = d.s("disk.img");
    let run = |extra: &[&str]| {
        let mut a = vec!["sim", "--card", &card, "--backend", &img, "serve-proxy"];
        a.extend_from_slice(extra);
        nitrous(&a, b"")
    };
    // stdin of the child is a pipe: not a socket.
    assert_one_line_error(
        &run(&["--vf", "1", "--fd", "0"]),
        "--fd 0",
        "is not a socket",
    );
    assert_one_line_error(&run(&["--vf", "1", "--fd", "987"]), "--fd 987", "--fd 987");
    assert_one_line_error(&run(&["--vf", "3", "--fd", "0"]), "--vf 3", "VF 3");
    assert_one_line_error(
        &run(&["--vf", "1", "--fd", "0", "--", "-kernel", "x"]),
        "qemu args without --launch",
        "--launch",
    );
    assert_one_line_error(&run(&["--vf", "1"]), "no --fd, no --launch", "required");
    assert!(
        !Path::new(&img).exists(),
        "the backend file was never created"
    );
}
