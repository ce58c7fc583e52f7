//! `nitrous demo`: a sample through the simulated XTS and GCM engines in
//! both configs, checked against RustCrypto, then the card end to end (two
//! encrypted NVMe VFs driven by the project's driver), with a short report.

use crate::CliError;
use nitrous_sim::engines::gcm::Message;
use nitrous_sim::engines::stream::Stall;
use nitrous_sim::engines::xts::DataUnit;
use nitrous_sim::engines::{AnyGcm, AnyXts, EngineConfig};
use std::time::Instant;

const SAMPLE: &str = "nitrous demo: every stored block is encrypted with AES-256-XTS \
(tweak = data unit number) and every packet between cards with AES-256-GCM. ";

fn fail(e: impl std::fmt::Display) -> CliError {
    CliError::Failed(e.to_string())
}

fn check(ok: bool, what: &str) -> Result<&'static str, CliError> {
    if ok {
        Ok("ok")
    } else {
        Err(CliError::Failed(format!("demo check failed: {what}")))
    }
}

pub fn run() -> Result<(), CliError> {
    use aes::cipher::KeyInit;
    // 8 data units of 512 bytes (4 KiB) of readable text.
    let text: Vec<u8> = SAMPLE.bytes().cycle().take(4096).collect();
    let xts_key: [u8; 64] = std::array::from_fn(|i| (i as u8).wrapping_mul(73).wrapping_add(1));
    let gcm_key: [u8; 32] = std::array::from_fn(|i| (i as u8).wrapping_mul(29).wrapping_add(3));
    let iv = [0x42u8; 12];
    let aad = b"card 0 -> card 1".to_vec();

    // Golden models (RustCrypto).
    let mut golden_xts = text.clone();
    xts_mode::Xts128::new(
        aes::Aes256::new(xts_key[..32].into()),
        aes::Aes256::new(xts_key[32..].into()),
    )
    .encrypt_area(&mut golden_xts, 512, 7, xts_mode::get_tweak_default);
    let mut golden_gcm = text.clone();
    let golden_tag = {
        use aes_gcm::aead::AeadInPlace;
        aes_gcm::Aes256Gcm::new(&gcm_key.into())
            .encrypt_in_place_detached(&iv.into(), &aad, &mut golden_gcm)
            .map_err(fail)?
    };

    out!("nitrous demo: 4 KiB sample through the verilated engines\n");
    out!("| engine | config | op | cycles | B/cycle | latency | check vs RustCrypto | wall |");
    out!("|---|---|---|---:|---:|---:|---|---:|");
    for cfg in [EngineConfig::Full, EngineConfig::Compact] {
        let name = match cfg {
            EngineConfig::Full => "full",
            EngineConfig::Compact => "compact",
        };
        // XTS encrypt then decrypt, 8 units of 512 B from DUN 7.
        let mut xts = AnyXts::new(cfg);
        xts.load_key(&xts_key).map_err(fail)?;
        for decrypt in [false, true] {
            let input = if decrypt { &golden_xts } else { &text };
            let units: Vec<DataUnit> = input
                .chunks(512)
                .enumerate()
                .map(|(i, c)| DataUnit {
                    number: 7 + i as u128,
                    decrypt,
                    data: c.to_vec(),
                })
                .collect();
            let t0 = Instant::now();
            let (out, st) = xts
                .run(&units, Stall::never(), Stall::never())
                .map_err(fail)?;
            let expect = if decrypt { &text } else { &golden_xts };
            let verdict = check(&out == expect, "XTS output differs from xts-mode")?;
            out!(
                "| XTS-AES-256 | {name} | {} | {} | {:.2} | {} | {verdict} | {:.0} ms |",
                if decrypt { "decrypt" } else { "encrypt" },
                st.last_out_cycle - st.first_in_cycle + 1,
                st.sustained_bytes_per_cycle(),
                st.latency_cycles(),
                t0.elapsed().as_secs_f64() * 1e3
            );
        }
        // GCM encrypt, decrypt, and a tampered decrypt.
        let mut gcm = AnyGcm::new(cfg);
        gcm.load_key(&gcm_key).map_err(fail)?;
        let t0 = Instant::now();
        let enc = Message {
            iv,
            aad: aad.clone(),
            data: text.clone(),
            decrypt: false,
            tag: [0; 16],
        };
        let (sealed, st) = gcm
            .run(&[enc], Stall::never(), Stall::never())
            .map_err(fail)?;
        let ok = sealed[0].data == golden_gcm && sealed[0].tag[..] == golden_tag[..];
        out!(
            "| AES-256-GCM | {name} | encrypt | {} | {:.2} | {} | {} | {:.0} ms |",
            st.last_out_cycle - st.first_in_cycle + 1,
            st.sustained_bytes_per_cycle(),
            st.latency_cycles(),
            check(ok, "GCM ciphertext/tag differ from aes-gcm")?,
            t0.elapsed().as_secs_f64() * 1e3
        );
        let mut bad_tag = sealed[0].tag;
        bad_tag[0] ^= 1;
        let dec = |tag| Message {
            iv,
            aad: aad.clone(),
            data: golden_gcm.clone(),
            decrypt: true,
            tag,
        };
        let (opened, _) = gcm
            .run(
                &[dec(sealed[0].tag), dec(bad_tag)],
                Stall::never(),
                Stall::never(),
            )
            .map_err(fail)?;
        let ok = opened[0].tag_ok && opened[0].data == text && !opened[1].tag_ok;
        out!(
            "| AES-256-GCM | {name} | decrypt + tamper | | | | {} | |",
            check(
                ok,
                "GCM decrypt did not verify, or a flipped tag bit was accepted"
            )?
        );
    }
    let first = String::from_utf8_lossy(&text[..64]);
    out!("\nplaintext  : {first}...");
    out!("XTS cipher : {}...", hex::encode(&golden_xts[..32]));
    out!("GCM tag    : {}", hex::encode(golden_tag));
    out!(
        "\nAll engine outputs match RustCrypto (xts-mode, aes-gcm); a flipped tag bit is rejected."
    );
    card(&text)
}

/// The card end to end: SR-IOV enable, provisioning through the PF
/// mailbox, the project's NVMe driver on two VFs, and a look at the
/// backend, which must hold the XTS ciphertext and never the plaintext.
fn card(text: &[u8]) -> Result<(), CliError> {
    use aes::cipher::KeyInit;
    use nitrous_driver::nvme::{Nvme, Options};
    use nitrous_driver::sim::SimCard;
    use nitrous_regmap::mailbox::Counter;
    use nitrous_sim::platform::{card_platform, MemStore, PlatformConfig};

    // Two VFs: 1 MiB namespaces, 512-byte and 4 KiB LBAs, own keys.
    let vfs: [(u8, u8, u64); 2] = [(1, 9, 0), (2, 12, 1 << 20)];
    let key = |vf: u8| -> [u8; 64] {
        std::array::from_fn(|i| (i as u8).wrapping_mul(53) ^ vf.wrapping_mul(0x5c))
    };
    let t0 = Instant::now();
    let p =
        card_platform(PlatformConfig::default(), Box::new(MemStore::new(2 << 20))).map_err(fail)?;
    let sim = SimCard::new(p);
    let pf = sim.pf().map_err(fail)?;
    pf.enable_vfs(vfs.len() as u16).map_err(fail)?;
    for &(vf, shift, base) in &vfs {
        pf.setup_vf(vf, (1 << 20) >> shift, shift, base, &key(vf))
            .map_err(fail)?;
    }
    out!("\nThe card: PF mailbox + NVMe VFs with inline AES-256-XTS (Verilator `card` top)\n");
    out!("| VF | LBA size | namespace (Identify) | write 4 KiB at LBA 16 | read back | backend = XTS(key, LBA) | plaintext in backend |");
    out!("|---|---:|---|---:|---|---|---|");
    let lba = 16u64;
    for &(vf, shift, base) in &vfs {
        let mut nvme = Nvme::new(
            sim.function(vf).map_err(fail)?,
            Options {
                io_queues: 2,
                queue_size: 32,
                interrupts: true,
                cmd_timeout: std::time::Duration::from_secs(600),
            },
        )
        .map_err(fail)?;
        let ns = nvme.namespace().map_err(fail)?.clone();
        let c0 = sim.cycle();
        nvme.write(0, lba, text).map_err(fail)?;
        let cycles = sim.cycle() - c0;
        let mut back = vec![0u8; text.len()];
        nvme.read(1, lba, &mut back).map_err(fail)?;
        let bs = 1usize << shift;
        let mut raw = vec![0u8; text.len()];
        sim.platform()
            .backend()
            .read(base + (lba << shift), &mut raw)
            .map_err(fail)?;
        let mut golden = text.to_vec();
        let k = key(vf);
        xts_mode::Xts128::new(
            aes::Aes256::new(k[..32].into()),
            aes::Aes256::new(k[32..].into()),
        )
        .encrypt_area(&mut golden, bs, lba as u128, xts_mode::get_tweak_default);
        let leaked = raw.windows(16).any(|w| text.windows(16).any(|t| t == w));
        out!(
            "| {vf} | {} B | {} x {} B, \"{}\" | {cycles} cycles | {} | {} | {} |",
            bs,
            ns.blocks,
            ns.block_size,
            nvme.controller().model,
            check(back == text, "read back differs")?,
            check(raw == golden, "backend is not the XTS ciphertext")?,
            if leaked {
                return Err(fail("plaintext found in the backend"));
            } else {
                "none"
            }
        );
    }
    let served: u64 = vfs
        .iter()
        .map(|&(vf, _, _)| pf.read_counter(vf, Counter::Served).unwrap_or(0))
        .sum();
    out!(
        "\n{} cycles simulated in {:.0} ms; the card served {served} commands; \
         key-window reads: {} (keys are write-only).",
        sim.cycle(),
        t0.elapsed().as_secs_f64() * 1e3,
        pf.key_reads().map_err(fail)?
    );
    Ok(())
}
