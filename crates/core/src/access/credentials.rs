//! Credential hygiene: the first cause behind "Failed to Authorize".
//!
//! A credential tvgate creates can never begin or end with white space and
//! never contains control characters, zero-width characters or the
//! characters that break inside URL paths and query strings. Because of that
//! rule, login can strip what players and copy-paste add (a trailing space,
//! a zero-width joiner from a chat app) without ever turning a real password
//! into a wrong one: the cleaning is lossless for every credential that can
//! exist.

use rand::Rng;
use std::borrow::Cow;

/// Characters refused inside a username or password, with the reason each
/// breaks: `/` `?` `#` `%` `:` split or end URL paths (`/live/USER/PASS/1.ts`),
/// `&` `+` `=` split or alter query strings (`get.php?username=..&password=..`,
/// where `+` decodes to a space), `"` `'` `<` `>` `\` break quoted M3U attributes,
/// HTML and JSON escaping in the clients that do not escape.
pub const FORBIDDEN_CHARS: &[char] = &[
    '/', '?', '#', '%', ':', '&', '+', '=', '"', '\'', '<', '>', '\\',
];

/// The longest credential accepted, in characters.
pub const MAX_LEN: usize = 128;

/// Why a credential was refused at creation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialError {
    #[error("{what} is empty")]
    Empty { what: &'static str },
    #[error("{what} is longer than {MAX_LEN} characters")]
    TooLong { what: &'static str },
    #[error("{what} contains white space (U+{code:04X} at position {pos}); white space is stripped by players and copy-paste, so it is never allowed")]
    WhiteSpace {
        what: &'static str,
        code: u32,
        pos: usize,
    },
    #[error("{what} contains an invisible character (U+{code:04X} at position {pos})")]
    Invisible {
        what: &'static str,
        code: u32,
        pos: usize,
    },
    #[error("{what} contains '{ch}' (position {pos}), which breaks inside stream URLs; avoid / ? # % : & + = \" ' < > \\")]
    UrlBreaking {
        what: &'static str,
        ch: char,
        pos: usize,
    },
}

/// True for characters that render as nothing: zero-width spaces and joiners,
/// the word joiner, the byte-order mark, the soft hyphen and the other
/// format characters that chat apps and word processors insert.
pub fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{034F}'
            | '\u{061C}'
            | '\u{115F}'
            | '\u{1160}'
            | '\u{17B4}'
            | '\u{17B5}'
            | '\u{180B}'..='\u{180F}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{3164}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{FEFF}'
            | '\u{FFA0}'
            | '\u{FFF9}'..='\u{FFFB}'
    )
}

/// Checks a username or password an operator wants to create.
pub fn validate(what: &'static str, value: &str) -> Result<(), CredentialError> {
    if value.is_empty() {
        return Err(CredentialError::Empty { what });
    }
    if value.chars().count() > MAX_LEN {
        return Err(CredentialError::TooLong { what });
    }
    for (pos, c) in value.chars().enumerate() {
        let code = c as u32;
        if c.is_whitespace() {
            return Err(CredentialError::WhiteSpace {
                what,
                code,
                pos: pos + 1,
            });
        }
        if c.is_control() || is_invisible(c) {
            return Err(CredentialError::Invisible {
                what,
                code,
                pos: pos + 1,
            });
        }
        if FORBIDDEN_CHARS.contains(&c) {
            return Err(CredentialError::UrlBreaking {
                what,
                ch: c,
                pos: pos + 1,
            });
        }
    }
    Ok(())
}

/// Cleans what a player sent: strips surrounding white space and every
/// invisible character. Lossless for every credential [`validate`] accepts.
/// Borrows when there is nothing to strip (the common case).
pub fn clean_presented(raw: &str) -> Cow<'_, str> {
    if raw.is_ascii() {
        return clean_ascii(raw);
    }
    clean_any(raw)
}

/// [`clean_presented`] for ASCII text (what players nearly always send):
/// in ASCII the white space, control and invisible characters are exactly
/// the bytes up to 0x20 and DEL, so bytes are compared instead of decoding
/// characters and asking the Unicode tables.
fn clean_ascii(raw: &str) -> Cow<'_, str> {
    let junk = |b: u8| b <= b' ' || b == 0x7f;
    let inner = |b: u8| b < b' ' || b == 0x7f;
    let bytes = raw.as_bytes();
    let start = bytes.iter().position(|b| !junk(*b)).unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !junk(*b))
        .map_or(start, |i| i + 1);
    // ASCII: every byte index is a character boundary.
    let trimmed = &raw[start..end];
    if trimmed.bytes().any(inner) {
        Cow::Owned(trimmed.chars().filter(|c| !inner(*c as u8)).collect())
    } else {
        Cow::Borrowed(trimmed)
    }
}

fn clean_any(raw: &str) -> Cow<'_, str> {
    let trimmed =
        raw.trim_matches(|c: char| c.is_whitespace() || is_invisible(c) || c.is_control());
    if trimmed.chars().any(|c| is_invisible(c) || c.is_control()) {
        Cow::Owned(
            trimmed
                .chars()
                .filter(|c| !is_invisible(*c) && !c.is_control())
                .collect(),
        )
    } else {
        Cow::Borrowed(trimmed)
    }
}

/// The key usernames are unique by: case-folded when the policy is on.
pub fn username_key(clean: &str, case_insensitive: bool) -> Cow<'_, str> {
    if !case_insensitive {
        return Cow::Borrowed(clean);
    }
    if clean.is_ascii() {
        // ASCII folds to ASCII, byte for byte.
        return if clean.bytes().any(|b| b.is_ascii_uppercase()) {
            Cow::Owned(clean.to_ascii_lowercase())
        } else {
            Cow::Borrowed(clean)
        };
    }
    if clean.chars().any(|c| c.is_uppercase()) {
        Cow::Owned(clean.to_lowercase())
    } else {
        Cow::Borrowed(clean)
    }
}

/// Characters of generated passwords: letters and digits without the
/// look-alikes 0/O/o, 1/l/I/i, 5/S, 2/Z, 8/B, so a password read aloud or
/// typed from a TV screen is typed right.
pub const GENERATED_ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyzACDEFGHJKLMNPQRTUVWXY34679";

/// Length of generated passwords: 12 characters of a 49-letter alphabet is
/// about 67 bits, beyond reach of guessing even at keyed-hash speed.
pub const GENERATED_LEN: usize = 12;

/// A fresh random password from [`GENERATED_ALPHABET`].
pub fn generate_password(rng: &mut impl Rng) -> String {
    (0..GENERATED_LEN)
        .map(|_| GENERATED_ALPHABET[rng.gen_range(0..GENERATED_ALPHABET.len())] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validate_refuses_each_class() {
        assert!(validate("password", "s3cret-Pass_1.x~").is_ok());
        assert!(matches!(
            validate("password", ""),
            Err(CredentialError::Empty { .. })
        ));
        assert!(matches!(
            validate("password", "abc "),
            Err(CredentialError::WhiteSpace { pos: 4, .. })
        ));
        assert!(matches!(
            validate("password", "a\u{00A0}b"),
            Err(CredentialError::WhiteSpace { .. })
        ));
        assert!(matches!(
            validate("password", "ab\u{200B}"),
            Err(CredentialError::Invisible { .. })
        ));
        assert!(matches!(
            validate("password", "a\tb"),
            Err(CredentialError::WhiteSpace { .. })
        ));
        assert!(matches!(
            validate("password", "a\u{7}b"),
            Err(CredentialError::Invisible { .. })
        ));
        for bad in ["a/b", "a?b", "a#b", "a%b", "a:b", "a&b", "a+b"] {
            assert!(
                matches!(
                    validate("password", bad),
                    Err(CredentialError::UrlBreaking { .. })
                ),
                "{bad}"
            );
        }
        assert!(matches!(
            validate("username", &"x".repeat(129)),
            Err(CredentialError::TooLong { .. })
        ));
        assert!(validate("username", "Ünïcode-ok").is_ok());
    }

    #[test]
    fn cleaning_is_lossless_for_valid_credentials() {
        assert_eq!(clean_presented("secret "), "secret");
        assert_eq!(clean_presented("\u{feff} secret\u{00A0}\n"), "secret");
        assert_eq!(clean_presented("sec\u{200B}ret"), "secret");
        assert!(matches!(clean_presented("secret"), Cow::Borrowed(_)));
        for ok in ["Secret", "a.b-c_d~e", "Ωmega", "x"] {
            assert!(validate("p", ok).is_ok());
            assert_eq!(clean_presented(ok), ok);
        }
    }

    #[test]
    fn the_ascii_path_cleans_as_the_general_one() {
        // Every ASCII byte alone, around and inside a credential.
        let mut samples: Vec<String> = vec![String::new(), "pw1-bench".into()];
        for b in 0u8..=0x7f {
            let c = char::from(b);
            samples.push(c.to_string());
            samples.push(format!("{c}ab{c}"));
            samples.push(format!("a{c}b"));
            samples.push(format!(" \t{c}x{c}\r\n"));
            samples.push(format!("\x7f{c}\x1f"));
        }
        for s in &samples {
            assert_eq!(clean_ascii(s), clean_any(s), "{s:?}");
            for ci in [false, true] {
                let general = if ci && s.chars().any(|c| c.is_uppercase()) {
                    s.to_lowercase()
                } else {
                    s.clone()
                };
                assert_eq!(username_key(s, ci), general, "{s:?} {ci}");
            }
        }
        assert!(matches!(
            clean_presented("u000001"),
            Cow::Borrowed("u000001")
        ));
        assert!(matches!(username_key("alice", true), Cow::Borrowed(_)));
    }

    #[test]
    fn username_key_folds_case_only_when_asked() {
        assert_eq!(username_key("Alice", true), "alice");
        assert_eq!(username_key("Alice", false), "Alice");
        assert_eq!(username_key("ÄLICE", true), "älice");
    }

    #[test]
    fn generated_passwords_avoid_look_alikes_and_validate() {
        let mut rng = rand::thread_rng();
        for _ in 0..200 {
            let p = generate_password(&mut rng);
            assert_eq!(p.len(), GENERATED_LEN);
            assert!(validate("password", &p).is_ok());
            assert!(!p.chars().any(|c| "0Oo1lIiSZ5B82".contains(c)), "{p}");
        }
    }
}
