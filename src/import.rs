//! `tvgate user import FILE.csv`: many lines at once. Passwords are hashed
//! on every core with a progress bar; bad rows are reported by line number
//! and the rest go on, so 100,000 lines moved from another panel take
//! minutes, not the hour one-by-one hashing would.

use crate::admin_cli::parse_expiry;
use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;
use std::io::IsTerminal;
use std::path::Path;
use tvgate_core::access::secrets::{hash_password, KdfError, KdfParams};
use tvgate_core::access::Status;
use tvgate_core::gate::{Gate, ImportRow, RowError};
use tvgate_core::ledger::LimitPolicy;

/// Reads the CSV: a header row names the columns (`username`, `password`,
/// optionally `max_connections`, `expires`, `status`, `limit_policy`). Rows that cannot be
/// read are returned as errors with their line numbers.
pub fn read_rows(text: impl std::io::Read) -> Result<(Vec<ImportRow>, Vec<RowError>)> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::Headers)
        .from_reader(text);
    let headers = reader.headers().context("reading the header row")?.clone();
    let col = |names: &[&str]| {
        headers
            .iter()
            .position(|h| names.iter().any(|n| h.eq_ignore_ascii_case(n)))
    };
    let Some(user_col) = col(&["username", "user", "login"]) else {
        bail!(
            "the header row has no `username` column (found: {})",
            headers.iter().collect::<Vec<_>>().join(", ")
        );
    };
    let pass_col = col(&["password", "pass"]);
    let max_col = col(&["max_connections", "max_cons", "connections"]);
    let exp_col = col(&["expires", "exp_date", "expiry", "expires_at"]);
    let status_col = col(&["status"]);
    let policy_col = col(&["limit_policy", "policy"]);
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map(|p| p.line()).unwrap_or(0);
                errors.push(RowError {
                    line,
                    message: format!("unreadable row: {e}"),
                });
                continue;
            }
        };
        let line = record.position().map(|p| p.line()).unwrap_or(0);
        let field = |c: Option<usize>| {
            c.and_then(|c| record.get(c))
                .map(str::trim)
                .filter(|v| !v.is_empty())
        };
        let username = record.get(user_col).unwrap_or("").to_string();
        if username.trim().is_empty() {
            errors.push(RowError {
                line,
                message: "empty username".into(),
            });
            continue;
        }
        let max_connections = match field(max_col).map(str::parse::<u32>) {
            None => None,
            Some(Ok(n)) => Some(n),
            Some(Err(_)) => {
                errors.push(RowError {
                    line,
                    message: format!(
                        "max_connections {:?} is not a number",
                        field(max_col).unwrap_or("")
                    ),
                });
                continue;
            }
        };
        let expires_at = match field(exp_col).map(|v| {
            // Unix seconds are accepted as well (other panels export them).
            if v.bytes().all(|b| b.is_ascii_digit()) && v.len() >= 9 {
                v.parse::<i64>().map(Some).map_err(|e| anyhow::anyhow!(e))
            } else {
                parse_expiry(v)
            }
        }) {
            None => None,
            Some(Ok(e)) => Some(e),
            Some(Err(e)) => {
                errors.push(RowError {
                    line,
                    message: e.to_string(),
                });
                continue;
            }
        };
        let status = match field(status_col).map(str::parse::<Status>) {
            None => None,
            Some(Ok(s)) => Some(s),
            Some(Err(e)) => {
                errors.push(RowError { line, message: e });
                continue;
            }
        };
        // Empty: unchanged; `default`: the server-wide setting.
        let limit_policy = match field(policy_col).map(LimitPolicy::parse_for_line) {
            None => None,
            Some(Ok(p)) => Some(p),
            Some(Err(e)) => {
                errors.push(RowError { line, message: e });
                continue;
            }
        };
        // Passwords are taken as written; the gate validates them.
        let password = pass_col
            .and_then(|c| record.get(c))
            .unwrap_or("")
            .to_string();
        rows.push(ImportRow {
            line,
            username,
            password,
            max_connections,
            expires_at,
            status,
            limit_policy,
        });
    }
    Ok((rows, errors))
}

/// Hashes every password on every core, with a progress bar on a terminal.
pub fn hash_all(passwords: Vec<String>, params: KdfParams) -> Vec<Result<String, KdfError>> {
    let pb = if std::io::stderr().is_terminal() {
        ProgressBar::new(passwords.len() as u64)
    } else {
        ProgressBar::hidden()
    };
    let style =
        ProgressStyle::with_template("hashing passwords [{bar:30}] {pos}/{len} ({per_sec}, {eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
    pb.set_style(style);
    let out = passwords
        .par_iter()
        .map(|p| {
            let r = hash_password(p, params);
            pb.inc(1);
            r
        })
        .collect();
    pb.finish_and_clear();
    out
}

pub async fn run(gate: &Gate, file: &Path, passwords_out: Option<&Path>) -> Result<()> {
    let text = std::fs::File::open(file).with_context(|| format!("opening {}", file.display()))?;
    let (rows, mut errors) =
        read_rows(text).with_context(|| format!("reading {}", file.display()))?;
    let total = rows.len() + errors.len();
    let started = std::time::Instant::now();
    let now = chrono::Utc::now().timestamp();
    let report = gate.import_accounts(rows, now, hash_all).await?;
    errors.extend(report.errors);
    errors.sort_by_key(|e| e.line);
    for e in &errors {
        eprintln!("{}: line {}: {}", file.display(), e.line, e.message);
    }
    if !report.generated.is_empty() {
        let mut out = String::from("username,password\n");
        for (u, p) in &report.generated {
            out.push_str(&format!("{u},{p}\n"));
        }
        match passwords_out {
            Some(path) => {
                std::fs::write(path, out).with_context(|| format!("writing {}", path.display()))?;
                println!("generated passwords written to {}", path.display());
            }
            None => print!("{out}"),
        }
    }
    println!(
        "{} rows: {} created, {} updated, {} refused ({:.1} s)",
        total,
        report.counts.created,
        report.counts.updated,
        errors.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
