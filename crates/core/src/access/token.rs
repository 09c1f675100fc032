//! Short-lived signed tokens that stand in for a line's credentials in the
//! URLs of a proxied HLS playlist.
//!
//! A player that asked for `/live/USER/PASS/ID.m3u8` gets a playlist whose
//! segment URLs carry a token instead of the password: the token names the
//! line, the stream, the connection lease it belongs to, when it expires and
//! an opaque target (which upstream URL it stands for; the face keeps the
//! map, so no upstream URL or credential is ever visible in the token).
//!
//! Wire form: base64url (no padding) of a fixed 37-byte claim block followed
//! by the first 16 bytes of HMAC-SHA256 over it. The key is derived from the
//! verifier key ([`VerifierKey::derive`]), so no new key file is needed and
//! every node sharing the verifier key accepts every node's tokens. Checking
//! is constant-time on the MAC; any kind of bad token gets the same error
//! kind at the face. No clock: `now` is a parameter.

use crate::access::secrets::{keyed_hmac, HmacSha256, VerifierKey};
use crate::ids::{LineId, StreamId};
use crate::ledger::LeaseId;
use crate::UnixTime;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::Mac;
use subtle::ConstantTimeEq;

/// What a token grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Claims {
    pub line: LineId,
    pub stream: StreamId,
    pub lease: LeaseId,
    /// Unix seconds after which the token is refused.
    pub expires: UnixTime,
    /// Opaque to this module: which upstream resource the token stands for.
    pub target: u64,
}

/// Why a token was refused. Faces answer every kind the same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("malformed token")]
    Malformed,
    #[error("bad token signature")]
    BadSignature,
    #[error("token expired")]
    Expired,
}

const VERSION: u8 = 1;
const CLAIMS_LEN: usize = 1 + 8 + 4 + 8 + 8 + 8;
const MAC_LEN: usize = 16;
const TOKEN_LEN: usize = CLAIMS_LEN + MAC_LEN;

/// The key tokens are signed with: HMAC-SHA256 keyed once (its pads
/// hashed), cloned for each token.
#[derive(Clone)]
pub struct TokenKey(HmacSha256);

impl std::fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKey(..)")
    }
}

impl TokenKey {
    pub fn from_bytes(key: [u8; 32]) -> TokenKey {
        TokenKey(keyed_hmac(&key))
    }

    /// The HLS token key derived from the server's verifier key.
    pub fn from_verifier(key: &VerifierKey) -> TokenKey {
        TokenKey::from_bytes(key.derive("hls-token"))
    }

    fn mac(&self, claims: &[u8]) -> [u8; 32] {
        let mut mac = self.0.clone();
        mac.update(claims);
        mac.finalize().into_bytes().into()
    }

    /// The URL-safe token for `claims`.
    pub fn sign(&self, claims: &Claims) -> String {
        let mut raw = [0u8; TOKEN_LEN];
        raw[0] = VERSION;
        raw[1..9].copy_from_slice(&claims.line.0.to_be_bytes());
        raw[9..13].copy_from_slice(&claims.stream.0.to_be_bytes());
        raw[13..21].copy_from_slice(&claims.lease.0.to_be_bytes());
        raw[21..29].copy_from_slice(&claims.expires.to_be_bytes());
        raw[29..37].copy_from_slice(&claims.target.to_be_bytes());
        let mac = self.mac(&raw[..CLAIMS_LEN]);
        raw[CLAIMS_LEN..].copy_from_slice(&mac[..MAC_LEN]);
        URL_SAFE_NO_PAD.encode(raw)
    }

    /// The claims of a token this key signed, if it has not expired at `now`.
    pub fn verify(&self, token: &str, now: UnixTime) -> Result<Claims, TokenError> {
        // Longer input cannot be a token; refuse before decoding it.
        if token.len() > TOKEN_LEN * 4 / 3 + 4 {
            return Err(TokenError::Malformed);
        }
        let raw = URL_SAFE_NO_PAD
            .decode(token)
            .map_err(|_| TokenError::Malformed)?;
        if raw.len() != TOKEN_LEN || raw[0] != VERSION {
            return Err(TokenError::Malformed);
        }
        let mac = self.mac(&raw[..CLAIMS_LEN]);
        if !bool::from(mac[..MAC_LEN].ct_eq(&raw[CLAIMS_LEN..])) {
            return Err(TokenError::BadSignature);
        }
        let be8 = |at: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&raw[at..at + 8]);
            b
        };
        let mut stream = [0u8; 4];
        stream.copy_from_slice(&raw[9..13]);
        let claims = Claims {
            line: LineId(i64::from_be_bytes(be8(1))),
            stream: StreamId(u32::from_be_bytes(stream)),
            lease: LeaseId(u64::from_be_bytes(be8(13))),
            expires: i64::from_be_bytes(be8(21)),
            target: u64::from_be_bytes(be8(29)),
        };
        if now >= claims.expires {
            return Err(TokenError::Expired);
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> Claims {
        Claims {
            line: LineId(-3),
            stream: StreamId(4_000_000_000),
            lease: LeaseId(u64::MAX),
            expires: 1_000,
            target: 77,
        }
    }

    #[test]
    fn a_token_round_trips_until_it_expires() {
        let key = TokenKey::from_verifier(&VerifierKey::from_bytes([9; 32]));
        let t = key.sign(&claims());
        assert!(
            t.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
            "{t}"
        );
        assert_eq!(key.verify(&t, 999), Ok(claims()));
        assert_eq!(key.verify(&t, 1_000), Err(TokenError::Expired));
    }

    #[test]
    fn tampered_foreign_and_garbage_tokens_are_refused() {
        let key = TokenKey::from_verifier(&VerifierKey::from_bytes([9; 32]));
        let t = key.sign(&claims());
        // Flip each character in turn: no single change is accepted.
        for i in 0..t.len() {
            let mut b = t.clone().into_bytes();
            b[i] = if b[i] == b'A' { b'B' } else { b'A' };
            let tampered = String::from_utf8(b).expect("ascii");
            if tampered != t {
                assert!(key.verify(&tampered, 0).is_err(), "position {i}");
            }
        }
        let other = TokenKey::from_verifier(&VerifierKey::from_bytes([8; 32]));
        assert_eq!(other.verify(&t, 0), Err(TokenError::BadSignature));
        // The derived key is not the verifier key itself.
        assert_eq!(
            TokenKey::from_bytes([9; 32]).verify(&t, 0),
            Err(TokenError::BadSignature)
        );
        for junk in [
            "",
            "a",
            "!!!!",
            &t[..t.len() - 1],
            &format!("{t}AA"),
            &"A".repeat(10_000),
        ] {
            assert!(key.verify(junk, 0).is_err(), "{junk:?}");
        }
    }
}
