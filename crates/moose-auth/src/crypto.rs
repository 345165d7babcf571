//! Small cryptographic helpers on aws-lc (already in the build through TLS).

use aws_lc_rs::rand::SecureRandom;
use base64::Engine;

/// `n` random bytes from the operating system's CSPRNG, URL-safe base64 encoded.
pub(crate) fn random_token(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    aws_lc_rs::rand::SystemRandom::new()
        .fill(&mut bytes)
        .expect("the system CSPRNG is available");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// SHA-256 of `data`, hex encoded. Stored instead of refresh tokens and API keys, so a copy of
/// the database does not hold usable credentials. (These are 32 random bytes, not passwords:
/// a fast hash is enough.)
pub(crate) fn sha256_hex(data: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data.as_bytes());
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// Compares two secrets in time independent of where they differ.
pub(crate) fn constant_time_eq(a: &str, b: &str) -> bool {
    aws_lc_rs::constant_time::verify_slices_are_equal(a.as_bytes(), b.as_bytes()).is_ok()
}
