//! The support report the article recommends sending the provider:
//! username, device and app, the MAC or device id, the exact error, the
//! time, and every check with its evidence. Plain text, Markdown, or JSON
//! (the stable schema of docs/doctor.schema.json).
//!
//! The password never appears in any form: the report carries only
//! `"[redacted]"` for it, and [`Redactor`] scrubs every string (check
//! titles, evidence, fixes, URLs with `password=` or `/live/u/PASS/`) before
//! the report exists, so no renderer can leak it.

use crate::check::{Cause, Check, Step, Verdict};
use crate::input::Method;
use crate::verdict::Diagnosis;
use reqwest::Url;
use serde::Serialize;

/// Bumped only on incompatible changes to the JSON form.
pub const SCHEMA_VERSION: u32 = 1;

/// What stands in for the password everywhere.
pub const MASK: &str = "********";

/// The whole report.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub schema_version: u32,
    pub tool: Tool,
    pub generated_at: Times,
    pub subject: Subject,
    pub diagnosis: Diagnosis,
    pub checks: Vec<Check>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Tool {
    pub name: String,
    pub version: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Times {
    /// RFC 3339 in UTC.
    pub utc: String,
    /// RFC 3339 with the machine's offset.
    pub local: String,
    pub unix: i64,
}

/// Who and what the report is about, as given.
#[derive(Debug, Clone, Serialize)]
pub struct Subject {
    pub method: Method,
    /// The server's base URL (never holds credentials).
    pub server: Option<String>,
    pub username: String,
    /// Always `"[redacted]"`.
    pub password: String,
    pub mac: Option<String>,
    pub device: Option<String>,
    pub app: Option<String>,
    /// What the player showed.
    pub error: String,
    pub user_agent: String,
}

impl Report {
    /// Scrubs every string of the report.
    pub fn redact(&mut self, r: &Redactor) {
        let s = &mut self.subject;
        for field in [&mut s.server, &mut s.mac, &mut s.device, &mut s.app]
            .into_iter()
            .flatten()
        {
            *field = r.clean(field);
        }
        s.error = r.clean(&s.error);
        s.user_agent = r.clean(&s.user_agent);
        self.diagnosis.next_step = r.clean(&self.diagnosis.next_step);
        for c in &mut self.checks {
            redact_check(c, r);
        }
    }

    /// The JSON form (pretty-printed).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }
}

/// Scrubs one check.
pub fn redact_check(c: &mut Check, r: &Redactor) {
    c.title = r.clean(&c.title);
    c.fix = r.clean(&c.fix);
    for e in &mut c.evidence {
        *e = r.clean(e);
    }
}

/// Removes secrets from text: every spelling of each secret (as typed,
/// percent-encoded as in a path or a query), and the value of any
/// `password=` parameter whatever it is.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    forms: Vec<String>,
    short: Vec<String>,
}

impl Redactor {
    pub fn new<'a>(secrets: impl IntoIterator<Item = &'a str>) -> Redactor {
        let mut r = Redactor::default();
        for s in secrets {
            r.add(s);
        }
        r
    }

    pub fn add(&mut self, secret: &str) {
        let trimmed = secret.trim();
        // Every byte but letters and digits percent-encoded, as some
        // servers write links (`demo%2DPass`).
        let strict: String = secret
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect();
        let mut forms = vec![secret.to_string(), trimmed.to_string(), strict];
        if let Ok(mut u) = Url::parse("http://x/") {
            if let Ok(mut seg) = u.path_segments_mut() {
                seg.clear().push(secret);
            }
            forms.push(u.path()[1..].to_string());
            u.query_pairs_mut().append_pair("p", secret);
            if let Some(q) = u.query() {
                forms.push(q[2..].to_string());
            }
        }
        for f in forms {
            if f.is_empty() {
                continue;
            }
            // Short secrets would mangle ordinary words: only whole path
            // segments and parameters are scrubbed for them.
            let list = if f.chars().count() >= 3 {
                &mut self.forms
            } else {
                &mut self.short
            };
            if !list.contains(&f) {
                list.push(f);
            }
        }
        // Longest first, so a form is never half-replaced by a shorter one.
        self.forms.sort_by_key(|f| std::cmp::Reverse(f.len()));
    }

    pub fn clean(&self, text: &str) -> String {
        let mut out = scrub_password_params(text);
        for f in &self.forms {
            if out.contains(f.as_str()) {
                out = out.replace(f.as_str(), MASK);
            }
        }
        for f in &self.short {
            out = out.replace(&format!("/{f}/"), &format!("/{MASK}/"));
        }
        out
    }
}

/// `password=VALUE` → `password=********` up to the next `&`, space or quote.
fn scrub_password_params(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("password=") {
        let (head, tail) = rest.split_at(i + "password=".len());
        out.push_str(head);
        let end = tail
            .find(|c: char| c == '&' || c.is_whitespace() || c == '"' || c == '\'' || c == ')')
            .unwrap_or(tail.len());
        if end > 0 {
            out.push_str(MASK);
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

/// A cause as a heading.
pub fn cause_label(cause: Cause) -> &'static str {
    match cause {
        Cause::Works => "It works from here",
        Cause::Credentials => {
            "Login details not as the server expects (username, password or address)"
        }
        Cause::Subscription => "Subscription ended or suspended",
        Cause::ConnectionLimit => "Connection limit reached",
        Cause::DeviceBinding => "Bound to another device (MAC)",
        Cause::DnsBlocking => "DNS blocking",
        Cause::ServerUnreachable => "Server unreachable",
    }
}

/// A step as a heading.
pub fn step_label(step: Step) -> &'static str {
    match step {
        Step::Typing => "1. Typing",
        Step::NameResolution => "2. Name resolution (DNS)",
        Step::Transport => "3. Connection to the server",
        Step::Account => "4. Account",
        Step::Stream => "5. Stream",
    }
}

/// A verdict as a short tag.
pub fn verdict_tag(v: Verdict) -> &'static str {
    match v {
        Verdict::Ok => "ok",
        Verdict::Warning => "WARNING",
        Verdict::Fault => "FAULT",
        Verdict::Skipped => "skipped",
    }
}

/// Shows invisible characters in a name as `<U+200B>`.
pub fn visible(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if crate::typing::is_zero_width(c) || c == '\u{00A0}' || (c.is_whitespace() && c != ' ') {
            out.push_str(&format!("<U+{:04X}>", c as u32));
        } else {
            out.push(c);
        }
    }
    if out.starts_with(' ') || out.ends_with(' ') {
        format!("\"{out}\"")
    } else {
        out
    }
}

fn subject_lines(r: &Report) -> Vec<(&'static str, String)> {
    let s = &r.subject;
    let none = || "(not given)".to_string();
    vec![
        (
            "Username",
            if s.username.is_empty() {
                none()
            } else {
                visible(&s.username)
            },
        ),
        ("Password", s.password.clone()),
        ("Server", s.server.clone().unwrap_or_else(none)),
        (
            "Login method",
            match s.method {
                Method::Xtream => "Xtream Codes API".into(),
                Method::M3u => "M3U link".into(),
                Method::Stalker => "Stalker portal (MAG box, by its MAC)".into(),
            },
        ),
        ("Device", s.device.clone().unwrap_or_else(none)),
        ("App", s.app.clone().unwrap_or_else(none)),
        ("MAC / device id", s.mac.clone().unwrap_or_else(none)),
        ("Error shown", s.error.clone()),
        (
            "Time",
            format!("{} (local: {})", r.generated_at.utc, r.generated_at.local),
        ),
        ("Checked as", s.user_agent.clone()),
        ("Checked by", format!("{} {}", r.tool.name, r.tool.version)),
    ]
}

/// Plain text: the verdict first, then the support details, then every check.
pub fn render_text(r: &Report) -> String {
    let d = &r.diagnosis;
    let mut out = format!(
        "VERDICT: {} (exit code {})\n{}\nNext step: {}\n\nSupport report\n",
        cause_label(d.cause),
        d.exit_code,
        d.summary,
        d.next_step
    );
    for (k, v) in subject_lines(r) {
        out.push_str(&format!("  {k:<16} {v}\n"));
    }
    out.push_str("\nChecks\n");
    let mut step = None;
    for c in &r.checks {
        if step != Some(c.step) {
            step = Some(c.step);
            out.push_str(&format!("  {}\n", step_label(c.step)));
        }
        out.push_str(&format!("    [{}] {}\n", verdict_tag(c.verdict), c.title));
        for e in &c.evidence {
            out.push_str(&format!("        - {e}\n"));
        }
        if !c.fix.is_empty() && c.verdict != Verdict::Ok {
            out.push_str(&format!("        Fix: {}\n", c.fix));
        }
    }
    out
}

fn md_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(
            c,
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '#'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Markdown, for a ticket or an e-mail.
pub fn render_markdown(r: &Report) -> String {
    let d = &r.diagnosis;
    let mut out = format!(
        "# tvgate doctor report\n\n**Verdict: {}** (exit code {})\n\n{}\n\n**Next step:** {}\n\n## Support details\n\n| | |\n|---|---|\n",
        cause_label(d.cause),
        d.exit_code,
        md_escape(&d.summary),
        md_escape(&d.next_step)
    );
    for (k, v) in subject_lines(r) {
        out.push_str(&format!("| {k} | {} |\n", md_escape(&v)));
    }
    let mut step = None;
    for c in &r.checks {
        if step != Some(c.step) {
            step = Some(c.step);
            out.push_str(&format!("\n## {}\n\n", step_label(c.step)));
        }
        out.push_str(&format!(
            "- **{}** {}\n",
            verdict_tag(c.verdict),
            md_escape(&c.title)
        ));
        for e in &c.evidence {
            out.push_str(&format!("  - {}\n", md_escape(e)));
        }
        if !c.fix.is_empty() && c.verdict != Verdict::Ok {
            out.push_str(&format!("  - *Fix:* {}\n", md_escape(&c.fix)));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_of_the_password_is_scrubbed() {
        let r = Redactor::new(["p@ss word"]);
        for text in [
            "http://h/live/u/p@ss%20word/1.ts",
            "http://h/get.php?username=u&password=p%40ss+word&type=m3u",
            "typed p@ss word here",
            "http://h/live/u/p%40ss%20word/1.ts",
        ] {
            let out = r.clean(text);
            for leak in ["p@ss", "p%40ss", "ss word", "ss+word", "ss%20word"] {
                assert!(!out.contains(leak), "{out}");
            }
            assert!(out.contains(MASK), "{out}");
        }
    }

    #[test]
    fn short_passwords_are_scrubbed_in_urls_only() {
        let r = Redactor::new(["ab"]);
        assert_eq!(
            r.clean("http://h/live/u/ab/1.ts"),
            "http://h/live/u/********/1.ts"
        );
        assert_eq!(r.clean("a cab"), "a cab");
        assert_eq!(r.clean("?password=ab&x=1"), "?password=********&x=1");
    }

    #[test]
    fn invisible_characters_are_shown() {
        assert_eq!(visible("al\u{200B}ice "), "\"al<U+200B>ice \"");
    }
}
