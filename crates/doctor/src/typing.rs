//! The article's first and most common cause: what was typed is not what
//! the provider issued, in ways nobody can see. White space at either end,
//! non-breaking and zero-width characters (chat apps and word processors add
//! them), look-alike letters from other scripts, smart quotes and dashes, a
//! password typed with Caps Lock on.
//!
//! Each field gets one check; each defect one line of evidence that says
//! where and what ("position 9: zero-width space U+200B", "ends with a
//! space") and never shows the password itself. The corrected input is
//! produced so the runner can retry the login with it. Pure: no network.

use crate::check::{Cause, Check, Step, Verdict};

/// What the typing step found in the credentials.
#[derive(Debug, Clone)]
pub struct Typing {
    /// One check per field (ok or warning).
    pub checks: Vec<Check>,
    /// The username and password with every certain defect removed.
    pub username: String,
    pub password: String,
    /// Other spellings worth one retry when the login fails (Caps Lock
    /// undone); never applied on their own because they are guesses.
    pub alternatives: Vec<(String, String)>,
}

impl Typing {
    /// True when the corrected input differs from what was typed.
    pub fn corrected(&self, username: &str, password: &str) -> bool {
        self.username != username || self.password != password
    }
}

/// Zero-width and other invisible characters that copy-paste adds.
pub fn is_zero_width(c: char) -> bool {
    matches!(
        c,
        '\u{200B}'..='\u{200F}' | '\u{2060}'..='\u{2064}' | '\u{FEFF}' | '\u{00AD}' | '\u{180E}'
    )
}

/// A readable name for a character worth pointing at.
fn char_name(c: char) -> &'static str {
    match c {
        ' ' => "space",
        '\t' => "tab",
        '\n' | '\r' => "line break",
        '\u{00A0}' => "non-breaking space",
        '\u{2007}' | '\u{202F}' => "narrow non-breaking space",
        '\u{200B}' => "zero-width space",
        '\u{200C}' => "zero-width non-joiner",
        '\u{200D}' => "zero-width joiner",
        '\u{200E}' | '\u{200F}' => "direction mark",
        '\u{2060}' => "word joiner",
        '\u{FEFF}' => "byte-order mark (zero-width no-break space)",
        '\u{00AD}' => "soft hyphen",
        '\u{2018}' => "left single quotation mark",
        '\u{2019}' => "right single quotation mark",
        '\u{201A}' | '\u{201B}' => "single quotation mark",
        '\u{201C}' => "left double quotation mark",
        '\u{201D}' => "right double quotation mark",
        '\u{201E}' | '\u{201F}' => "double quotation mark",
        '\u{2010}' | '\u{2011}' => "hyphen",
        '\u{2012}' => "figure dash",
        '\u{2013}' => "en dash",
        '\u{2014}' => "em dash",
        '\u{2015}' => "horizontal bar",
        '\u{2212}' => "minus sign",
        _ => "white space",
    }
}

/// Smart punctuation and the plain character the provider meant.
fn plain_punctuation(c: char) -> Option<char> {
    match c {
        '\u{2018}' | '\u{2019}' | '\u{201A}' | '\u{201B}' => Some('\''),
        '\u{201C}' | '\u{201D}' | '\u{201E}' | '\u{201F}' => Some('"'),
        '\u{2010}'..='\u{2015}' | '\u{2212}' => Some('-'),
        _ => None,
    }
}

/// Cyrillic and Greek letters that look exactly like Latin ones.
fn latin_lookalike(c: char) -> Option<(char, &'static str)> {
    let cyr = "Cyrillic";
    let gr = "Greek";
    Some(match c {
        'а' => ('a', cyr),
        'е' => ('e', cyr),
        'о' => ('o', cyr),
        'р' => ('p', cyr),
        'с' => ('c', cyr),
        'у' => ('y', cyr),
        'х' => ('x', cyr),
        'і' => ('i', cyr),
        'ј' => ('j', cyr),
        'ѕ' => ('s', cyr),
        'ԁ' => ('d', cyr),
        'ԛ' => ('q', cyr),
        'ԝ' => ('w', cyr),
        'һ' => ('h', cyr),
        'А' => ('A', cyr),
        'В' => ('B', cyr),
        'Е' => ('E', cyr),
        'К' => ('K', cyr),
        'М' => ('M', cyr),
        'Н' => ('H', cyr),
        'О' => ('O', cyr),
        'Р' => ('P', cyr),
        'С' => ('C', cyr),
        'Т' => ('T', cyr),
        'Х' => ('X', cyr),
        'У' => ('Y', cyr),
        'І' => ('I', cyr),
        'Ј' => ('J', cyr),
        'Ѕ' => ('S', cyr),
        'ο' => ('o', gr),
        'ν' => ('v', gr),
        'ρ' => ('p', gr),
        'ι' => ('i', gr),
        'Α' => ('A', gr),
        'Β' => ('B', gr),
        'Ε' => ('E', gr),
        'Ζ' => ('Z', gr),
        'Η' => ('H', gr),
        'Ι' => ('I', gr),
        'Κ' => ('K', gr),
        'Μ' => ('M', gr),
        'Ν' => ('N', gr),
        'Ο' => ('O', gr),
        'Ρ' => ('P', gr),
        'Τ' => ('T', gr),
        'Υ' => ('Y', gr),
        'Χ' => ('X', gr),
        _ => return None,
    })
}

/// One field's findings and its cleaned value.
struct Field {
    evidence: Vec<String>,
    fixes: Vec<&'static str>,
    cleaned: String,
    caps_lock: bool,
}

/// Inspects one field. `secret` keeps look-alike letters unnamed (a Latin
/// letter of the password would otherwise be printed).
fn inspect_field(value: &str, secret: bool) -> Field {
    let chars: Vec<char> = value.chars().collect();
    let mut evidence = Vec::new();
    let mut fixes = Vec::new();
    let is_space = |c: char| c.is_whitespace() || c == '\u{00A0}';
    let lead = chars.iter().take_while(|c| is_space(**c)).count();
    let trail = chars[lead..]
        .iter()
        .rev()
        .take_while(|c| is_space(**c))
        .count();
    let describe_run = |run: &[char]| -> String {
        let first = char_name(run[0]);
        if run.len() == 1 {
            format!("a {first}")
        } else {
            format!("{} white-space characters", run.len())
        }
    };
    if lead > 0 {
        evidence.push(format!("starts with {}", describe_run(&chars[..lead])));
        fixes.push("delete the space at the start");
    }
    if trail > 0 {
        evidence.push(format!(
            "ends with {}",
            describe_run(&chars[chars.len() - trail..])
        ));
        fixes.push("delete the space at the end (tap at the end of the field: the cursor must sit right after the last character)");
    }
    let has_latin = chars.iter().any(|c| c.is_ascii_alphabetic());
    let mut cleaned = String::new();
    let body_end = chars.len() - trail;
    for (i, &c) in chars.iter().enumerate() {
        let pos = i + 1;
        if i < lead || i >= body_end {
            continue;
        }
        if is_zero_width(c) {
            evidence.push(format!(
                "position {pos}: {} U+{:04X} (invisible)",
                char_name(c),
                c as u32
            ));
            fixes.push("retype the field instead of pasting it: it holds an invisible character");
            continue;
        }
        if c == '\u{00A0}' || c == '\u{2007}' || c == '\u{202F}' {
            evidence.push(format!(
                "position {pos}: {} U+{:04X} where a normal space is usual",
                char_name(c),
                c as u32
            ));
            fixes.push("retype the space");
            cleaned.push(' ');
            continue;
        }
        if let Some(p) = plain_punctuation(c) {
            evidence.push(format!(
                "position {pos}: {} U+{:04X}; the provider most likely meant a plain {p}",
                char_name(c),
                c as u32
            ));
            fixes.push("retype quotes and dashes on the device's keyboard (word processors and mail apps make them curly)");
            cleaned.push(p);
            continue;
        }
        if has_latin {
            if let Some((latin, script)) = latin_lookalike(c) {
                if secret {
                    evidence.push(format!(
                        "position {pos}: a {script} letter U+{:04X} that looks exactly like a Latin one",
                        c as u32
                    ));
                } else {
                    evidence.push(format!(
                        "position {pos}: {script} '{c}' U+{:04X} that looks exactly like Latin '{latin}'",
                        c as u32
                    ));
                }
                fixes.push("retype the field with a Latin keyboard layout");
                cleaned.push(latin);
                continue;
            }
        }
        cleaned.push(c);
    }
    let caps_lock = looks_caps_locked(&cleaned);
    let letters: Vec<char> = cleaned.chars().filter(|c| c.is_alphabetic()).collect();
    let upper = letters.iter().filter(|c| c.is_uppercase()).count();
    if caps_lock {
        evidence.push(format!(
            "{} of its {} letters are capitals, as when typed with Caps Lock on",
            upper,
            letters.len()
        ));
        fixes.push(
            "check Caps Lock: letters in passwords and usernames are case-sensitive on most panels",
        );
    }
    fixes.dedup();
    Field {
        evidence,
        fixes,
        cleaned,
        caps_lock,
    }
}

/// Caps Lock turns typing inside out: every letter is a capital except
/// those typed with Shift, which are usually the first of a word. So: at
/// least three letters, at least two thirds of them capitals, and every
/// small letter the first of a run of letters. A guess, so only a warning.
pub fn looks_caps_locked(s: &str) -> bool {
    let chars: Vec<char> = s.chars().collect();
    let letters = chars.iter().filter(|c| c.is_alphabetic()).count();
    let upper = chars.iter().filter(|c| c.is_uppercase()).count();
    let lower_inside_a_word = chars
        .iter()
        .enumerate()
        .any(|(i, c)| c.is_lowercase() && i > 0 && chars[i - 1].is_alphabetic());
    letters >= 3 && upper * 3 >= letters * 2 && !lower_inside_a_word
}

/// Letters with their case swapped (what Caps Lock does to typing).
pub fn swap_case(s: &str) -> String {
    s.chars()
        .flat_map(|c| {
            if c.is_uppercase() {
                c.to_lowercase().collect::<Vec<_>>()
            } else {
                c.to_uppercase().collect::<Vec<_>>()
            }
        })
        .collect()
}

fn field_check(id: &str, label: &str, field: &Field, extra: Option<&str>) -> Check {
    if field.evidence.is_empty() {
        let mut c = Check::new(
            Step::Typing,
            id,
            format!("{label}: no hidden, look-alike or stray characters"),
            Verdict::Ok,
        );
        if let Some(e) = extra {
            c = c.evidence(e);
        }
        return c;
    }
    let title = if field.evidence.len() == 1 && field.caps_lock {
        format!("{label} looks typed with Caps Lock on")
    } else {
        format!("{label} has characters that are easy to miss")
    };
    let mut c = Check::new(Step::Typing, id, title, Verdict::Warning).points_to(Cause::Credentials);
    for e in &field.evidence {
        c = c.evidence(e.clone());
    }
    if let Some(e) = extra {
        c = c.evidence(e);
    }
    let mut fix = field.fixes.join("; ");
    if let Some(first) = fix.get(..1) {
        fix = format!("{}{}.", first.to_uppercase(), &fix[1..]);
    }
    c.fix(fix)
}

/// Inspects the username, the password and (when given) the server field.
pub fn inspect(username: &str, password: &str, server: Option<&str>) -> Typing {
    let user = inspect_field(username, false);
    let pass = inspect_field(password, true);
    let mut checks = Vec::new();
    if let Some(s) = server {
        let f = inspect_field(s, false);
        if !f.evidence.is_empty() && !f.caps_lock {
            checks.push(field_check("typing.server", "Server address", &f, None));
        }
    }
    let case_note = username.chars().any(|c| c.is_uppercase()).then_some(
        "has capital letters: many panels treat usernames as case-sensitive (tvgate does not)",
    );
    checks.push(field_check("typing.username", "Username", &user, case_note));
    checks.push(field_check("typing.password", "Password", &pass, None));
    let mut alternatives = Vec::new();
    if pass.caps_lock || user.caps_lock {
        let u = if user.caps_lock {
            swap_case(&user.cleaned)
        } else {
            user.cleaned.clone()
        };
        let p = if pass.caps_lock {
            swap_case(&pass.cleaned)
        } else {
            pass.cleaned.clone()
        };
        alternatives.push((u, p));
    }
    Typing {
        checks,
        username: user.cleaned,
        password: pass.cleaned,
        alternatives,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailing_space_and_zero_width_are_found_and_removed_without_showing_the_password() {
        let t = inspect("alice", "hunter\u{200B}22 ", None);
        assert_eq!(t.password, "hunter22");
        let c = t
            .checks
            .iter()
            .find(|c| c.id == "typing.password")
            .expect("check");
        assert_eq!(c.verdict, Verdict::Warning);
        let all = c.evidence.join("\n");
        assert!(all.contains("ends with a space"), "{all}");
        assert!(all.contains("position 7: zero-width space U+200B"), "{all}");
        assert!(!all.contains("hunter"), "{all}");
    }

    #[test]
    fn lookalikes_quotes_and_nbsp() {
        let t = inspect("аlice", "pa\u{2019}ss\u{00A0}w\u{2014}rd", None);
        assert_eq!(t.username, "alice");
        assert_eq!(t.password, "pa'ss w-rd");
        let u = t
            .checks
            .iter()
            .find(|c| c.id == "typing.username")
            .expect("check");
        assert!(
            u.evidence[0].contains("Cyrillic 'а' U+0430"),
            "{:?}",
            u.evidence
        );
    }

    #[test]
    fn a_cyrillic_password_is_not_a_defect() {
        let t = inspect("ivan", "пароль", None);
        assert!(t.checks.iter().all(|c| c.verdict == Verdict::Ok));
    }

    #[test]
    fn caps_lock_is_a_guess_offered_for_retry() {
        let t = inspect("bob", "sECRET-42", None);
        assert_eq!(t.password, "sECRET-42");
        assert_eq!(t.alternatives, vec![("bob".into(), "Secret-42".into())]);
        let c = t
            .checks
            .iter()
            .find(|c| c.id == "typing.password")
            .expect("check");
        assert!(c.title.contains("Caps Lock"), "{}", c.title);
        assert!(inspect("bob", "Secret-42", None).alternatives.is_empty());
        assert!(looks_caps_locked("sECRET-cASE-4"));
        assert!(looks_caps_locked("HUNTER2"));
        assert!(!looks_caps_locked("ABC-Def"));
        assert!(!looks_caps_locked("AB1"));
    }
}
