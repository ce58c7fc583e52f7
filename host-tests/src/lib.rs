//! End-to-end test helpers.

/// The golden model of the card's storage encryption: RustCrypto
/// `xts-mode` (IEEE 1619-2007) over `data`, data units of `lba_size` bytes
/// with consecutive tweaks from `lba` (tweak = namespace LBA, as the card
/// does it). `key` is the 64-byte `Key1 || Key2`.
pub fn xts(key: &[u8; 64], lba: u64, lba_size: usize, data: &[u8], encrypt: bool) -> Vec<u8> {
    use aes::cipher::KeyInit;
    let x = xts_mode::Xts128::new(
        aes::Aes256::new(key[..32].into()),
        aes::Aes256::new(key[32..].into()),
    );
    let mut b = data.to_vec();
    if encrypt {
        x.encrypt_area(&mut b, lba_size, lba as u128, xts_mode::get_tweak_default);
    } else {
        x.decrypt_area(&mut b, lba_size, lba as u128, xts_mode::get_tweak_default);
    }
    b
}
