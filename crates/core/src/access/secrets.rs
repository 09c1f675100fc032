//! Password hashing and the keyed verifier.
//!
//! The store keeps an argon2id hash of every password: the canonical, slow
//! credential. Checking it costs about 30 ms of a core, which is too much to
//! pay on every API call and stream request, and far too much when 10,000
//! players reconnect after a restart. So each line also carries a *keyed
//! verifier*: HMAC-SHA256 under a server key that lives outside the database
//! (a file in the data directory by default, or the environment), over the
//! line id, its current argon2 hash string and the password. Checking it
//! costs about a microsecond and survives restarts.
//!
//! - Without the key, a stolen database yields only argon2 hashes: the
//!   verifiers are useless to an attacker.
//! - Binding the verifier to the argon2 hash string (with its random salt)
//!   means a password change invalidates it with nothing else to remember.
//! - A verifier made under another key (after key rotation) is recognised by
//!   its key id, and the line falls back to argon2 once.
//!
//! docs/security.md states the argument and its limits in full.

use crate::ids::LineId;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// argon2id cost settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KdfParams {
    /// Memory in KiB.
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl Default for KdfParams {
    /// OWASP's argon2id recommendation: 19 MiB, 2 passes, 1 lane.
    fn default() -> Self {
        KdfParams {
            memory_kib: 19 * 1024,
            iterations: 2,
            parallelism: 1,
        }
    }
}

/// Why hashing failed (only for parameters out of argon2's range).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("password hashing failed: {0}")]
pub struct KdfError(pub String);

fn argon2(params: KdfParams) -> Result<Argon2<'static>, KdfError> {
    let p = Params::new(
        params.memory_kib,
        params.iterations,
        params.parallelism,
        None,
    )
    .map_err(|e| KdfError(e.to_string()))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, p))
}

/// Hashes a password into a PHC string (`$argon2id$v=19$m=...`).
pub fn hash_password(password: &str, params: KdfParams) -> Result<String, KdfError> {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    argon2(params)?
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| KdfError(e.to_string()))
}

/// Hashes many passwords on every core (std threads taking the next
/// password in turn), calling `on_each` after each one so a caller can show
/// progress. The one parallel hashing of bulk work: the CLI's import calls
/// it with a progress bar, the web faces on a blocking thread. Results are
/// in the order of `passwords`.
pub fn hash_many(
    passwords: &[String],
    params: KdfParams,
    on_each: impl Fn() + Sync,
) -> Vec<Result<String, KdfError>> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(passwords.len())
        .max(1);
    let next = AtomicUsize::new(0);
    let out: Mutex<Vec<Option<Result<String, KdfError>>>> = Mutex::new(vec![None; passwords.len()]);
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(password) = passwords.get(i) else {
                    break;
                };
                let hashed = hash_password(password, params);
                out.lock().unwrap_or_else(|p| p.into_inner())[i] = Some(hashed);
                on_each();
            });
        }
    });
    out.into_inner()
        .unwrap_or_else(|p| p.into_inner())
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err(KdfError("a hashing thread stopped early".into()))))
        .collect()
}

/// Checks a password against a PHC string. The parameters come from the
/// string itself, so lines hashed under older settings still verify.
pub fn verify_password(password: &str, phc: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok()
}

/// Bytes of a verifier: a 4-byte key id followed by a 32-byte MAC.
pub const VERIFIER_LEN: usize = 36;

/// The server's verifier key. Never stored in the database.
#[derive(Clone)]
pub struct VerifierKey {
    key: [u8; 32],
    id: [u8; 4],
    /// HMAC keyed once with `key` (its inner and outer pads already
    /// hashed): each verifier check clones it instead of hashing the two
    /// pad blocks again.
    keyed: HmacSha256,
}

impl std::fmt::Debug for VerifierKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "VerifierKey(id {:02x?})", self.id)
    }
}

/// The outcome of checking a presented password against a stored verifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerifierCheck {
    Match,
    Mismatch,
    /// No verifier, or one made under another key: argon2 must decide.
    Unknown,
}

pub(crate) type HmacSha256 = Hmac<Sha256>;

/// HMAC-SHA256 keyed with `key`, to be cloned for each message.
pub(crate) fn keyed_hmac(key: &[u8]) -> HmacSha256 {
    // Infallible: HMAC takes keys of any length.
    <HmacSha256 as Mac>::new_from_slice(key).expect("hmac accepts any key length")
}

impl VerifierKey {
    pub fn from_bytes(key: [u8; 32]) -> Self {
        let digest = Sha256::digest([b"tvgate-key-id".as_slice(), &key].concat());
        let mut id = [0u8; 4];
        id.copy_from_slice(&digest[..4]);
        VerifierKey {
            key,
            id,
            keyed: keyed_hmac(&key),
        }
    }

    /// A fresh random key.
    pub fn generate() -> Self {
        Self::from_bytes(rand::random())
    }

    pub fn bytes(&self) -> &[u8; 32] {
        &self.key
    }

    /// A one-way fingerprint of the key (64 hex digits), which a shared
    /// store records so that every node is known to hold the same key. It
    /// tells nothing of the key: finding a 256-bit random key from its
    /// SHA-256 is out of reach, so the store may keep it beside the
    /// verifiers (the key itself must never be there).
    pub fn fingerprint(&self) -> String {
        Sha256::digest([b"tvgate-key-fingerprint-v1\0".as_slice(), &self.key].concat())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// A key for another purpose (e.g. `"hls-token"`), derived from this one
    /// so no second key file is needed; a MAC made under it proves nothing
    /// about passwords.
    pub fn derive(&self, purpose: &str) -> [u8; 32] {
        let mut mac = self.keyed.clone();
        mac.update(b"tvgate-derive-v1\0");
        mac.update(purpose.as_bytes());
        mac.finalize().into_bytes().into()
    }

    fn mac(&self, line: LineId, phc: &str, password: &str) -> [u8; 32] {
        let mut mac = self.keyed.clone();
        mac.update(b"tvgate-verifier-v1\0");
        mac.update(&line.0.to_le_bytes());
        mac.update(phc.as_bytes());
        mac.update(b"\0");
        mac.update(password.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// The verifier to store for a line whose password is `password`.
    pub fn verifier(&self, line: LineId, phc: &str, password: &str) -> Vec<u8> {
        let mut out = Vec::with_capacity(VERIFIER_LEN);
        out.extend_from_slice(&self.id);
        out.extend_from_slice(&self.mac(line, phc, password));
        out
    }

    /// Checks `password` against a stored verifier, in constant time.
    pub fn check(
        &self,
        stored: Option<&[u8]>,
        line: LineId,
        phc: &str,
        password: &str,
    ) -> VerifierCheck {
        let Some(stored) = stored.filter(|s| s.len() == VERIFIER_LEN && s[..4] == self.id) else {
            return VerifierCheck::Unknown;
        };
        let mac = self.mac(line, phc, password);
        if bool::from(mac.ct_eq(&stored[4..])) {
            VerifierCheck::Match
        } else {
            VerifierCheck::Mismatch
        }
    }
}

/// A syntactically valid hash that no password matches, used to spend the
/// same argon2 work for unknown users when a slow check is needed.
pub const DUMMY_PHC: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$dHZnYXRlLWR1bW15LXNhbHQ$J3qbyKxuAoYzJ5O2ypVWmYcblqFxCyFPnEnCrP1bdgY";

#[cfg(test)]
mod tests {
    use super::*;

    fn cheap() -> KdfParams {
        KdfParams {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        }
    }

    #[test]
    fn hash_many_keeps_the_order_and_counts_each() {
        let passwords: Vec<String> = (0..7).map(|i| format!("pw-{i}")).collect();
        let seen = std::sync::atomic::AtomicUsize::new(0);
        let hashes = hash_many(&passwords, cheap(), || {
            seen.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        });
        assert_eq!(seen.into_inner(), 7);
        for (p, h) in passwords.iter().zip(&hashes) {
            assert!(verify_password(p, h.as_ref().expect("hashed")), "{p}");
        }
        assert!(hash_many(&[], cheap(), || ()).is_empty());
    }

    #[test]
    fn fingerprints_tell_keys_apart_and_not_their_id() {
        let a = VerifierKey::from_bytes([1; 32]);
        let b = VerifierKey::from_bytes([2; 32]);
        assert_eq!(
            a.fingerprint(),
            VerifierKey::from_bytes([1; 32]).fingerprint()
        );
        assert_ne!(a.fingerprint(), b.fingerprint());
        assert_eq!(a.fingerprint().len(), 64);
        let id: String = a.id.iter().map(|b| format!("{b:02x}")).collect();
        assert!(
            !a.fingerprint().starts_with(&id),
            "another hash than the key id"
        );
    }

    #[test]
    fn hash_and_verify() {
        let phc = hash_password("s3cret", cheap()).expect("hash");
        assert!(phc.starts_with("$argon2id$"));
        assert!(verify_password("s3cret", &phc));
        assert!(!verify_password("S3cret", &phc));
        assert!(!verify_password("s3cret", "not a hash"));
        assert!(!verify_password("anything", DUMMY_PHC));
    }

    #[test]
    fn verifier_matches_only_the_password_the_key_and_the_hash() {
        let key = VerifierKey::generate();
        let phc = hash_password("pw", cheap()).expect("hash");
        let v = key.verifier(LineId(7), &phc, "pw");
        assert_eq!(v.len(), VERIFIER_LEN);
        assert_eq!(
            key.check(Some(&v), LineId(7), &phc, "pw"),
            VerifierCheck::Match
        );
        assert_eq!(
            key.check(Some(&v), LineId(7), &phc, "PW"),
            VerifierCheck::Mismatch
        );
        assert_eq!(
            key.check(Some(&v), LineId(8), &phc, "pw"),
            VerifierCheck::Mismatch
        );
        let rehashed = hash_password("pw", cheap()).expect("hash");
        assert_eq!(
            key.check(Some(&v), LineId(7), &rehashed, "pw"),
            VerifierCheck::Mismatch
        );
        assert_eq!(
            VerifierKey::generate().check(Some(&v), LineId(7), &phc, "pw"),
            VerifierCheck::Unknown
        );
        assert_eq!(
            key.check(None, LineId(7), &phc, "pw"),
            VerifierCheck::Unknown
        );
    }
}
