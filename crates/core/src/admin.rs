//! The operator's lines and API tokens (docs/admin-api.md).
//!
//! Kept apart from subscriber lines on purpose: a line's credentials can
//! never prove an operator, and an operator's never open a stream. An admin
//! password is an argon2id hash like a line's; an API token is 32 random
//! bytes shown once and stored only as its SHA-256 (a high-entropy secret
//! needs no slow hash: nobody can guess it, so the hash only has to keep a
//! stolen database from being a list of working tokens).

use crate::UnixTime;
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// An operator account's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AdminId(pub i64);

/// An operator account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admin {
    pub id: AdminId,
    pub name: String,
    /// PHC string of the argon2id hash.
    pub password_hash: String,
    pub created_at: UnixTime,
}

/// An API token as stored: never the token itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiToken {
    pub id: i64,
    pub admin: AdminId,
    /// The owner's name (joined in for display and logs).
    pub admin_name: String,
    /// What the operator called it ("monitoring", "billing").
    pub name: String,
    pub created_at: UnixTime,
    pub revoked_at: Option<UnixTime>,
}

/// A token to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewApiToken {
    pub admin: AdminId,
    pub name: String,
    /// [`token_hash`] of the token.
    pub hash: Vec<u8>,
    pub created_at: UnixTime,
}

/// The prefix of every API token, so one found in a log or a paste is
/// recognisable (and secret scanners can match it).
pub const TOKEN_PREFIX: &str = "tvg_";

/// A fresh token: the prefix and 32 random bytes, base64url without padding.
pub fn generate_token(rng: &mut impl RngCore) -> String {
    let mut bytes = [0u8; 32];
    rng.fill_bytes(&mut bytes);
    let body = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    format!("{TOKEN_PREFIX}{body}")
}

/// What is stored for a token: its SHA-256.
pub fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// Checks an operator's or a token's name: 1 to 64 visible characters
/// without white space, so a name in a table or a log reads unambiguously.
pub fn validate_name(what: &str, name: &str) -> Result<(), String> {
    if name.is_empty() || name.chars().count() > 64 {
        return Err(format!("{what} must be 1 to 64 characters"));
    }
    if name.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("{what} {name:?} has spaces or control characters"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_distinct_prefixed_and_hash_stably() {
        let mut rng = rand::thread_rng();
        let a = generate_token(&mut rng);
        let b = generate_token(&mut rng);
        assert_ne!(a, b);
        assert!(a.starts_with(TOKEN_PREFIX));
        assert_eq!(a.len(), TOKEN_PREFIX.len() + 43);
        assert_eq!(token_hash(&a), token_hash(&a));
        assert_ne!(token_hash(&a), token_hash(&b));
        assert_eq!(token_hash(&a).len(), 32);
    }

    #[test]
    fn names_are_checked() {
        assert!(validate_name("name", "alice").is_ok());
        assert!(validate_name("name", "").is_err());
        assert!(validate_name("name", "a b").is_err());
        assert!(validate_name("name", &"x".repeat(65)).is_err());
    }
}
