//! `tvgate line import FILE.csv`: many lines at once. Passwords are hashed
//! on every core with a progress bar; bad rows are reported by line number
//! and the rest go on, so 100,000 lines moved from another panel take
//! minutes, not the hour one-by-one hashing would. The CSV reader and
//! writer and the parallel hashing are core's (`lines_csv`,
//! `secrets::hash_many`), shared with the console and the API.

use anyhow::{anyhow, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::path::Path;
use tvgate_core::access::lines_csv::{read_rows, write_rows};
use tvgate_core::access::secrets::{self, KdfError, KdfParams};
use tvgate_core::gate::Gate;

/// Hashes every password on every core ([`secrets::hash_many`]), with a
/// progress bar on a terminal.
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
    let out = secrets::hash_many(&passwords, params, || pb.inc(1));
    pb.finish_and_clear();
    out
}

pub async fn run(gate: &Gate, file: &Path, passwords_out: Option<&Path>) -> Result<()> {
    let text = std::fs::File::open(file).with_context(|| format!("opening {}", file.display()))?;
    let (rows, mut errors) = read_rows(text)
        .map_err(|e| anyhow!(e))
        .with_context(|| format!("reading {}", file.display()))?;
    let total = rows.len() + errors.len();
    let started = std::time::Instant::now();
    let now = chrono::Utc::now().timestamp();
    let report = gate
        .import_lines(rows, now, |p, k| async move { hash_all(p, k) })
        .await?;
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

/// `tvgate line bulk`: the lines made, as `username,password` on stdout
/// (the passwords are not kept anywhere else).
pub async fn bulk(gate: &Gate, spec: tvgate_core::gate::BulkSpec) -> Result<()> {
    let made = gate
        .create_lines_in_bulk(spec, chrono::Utc::now().timestamp(), |p, k| async move {
            hash_all(p, k)
        })
        .await?;
    let mut out = String::from("username,password\n");
    for (u, p) in &made {
        out.push_str(&format!("{u},{p}\n"));
    }
    print!("{out}");
    eprintln!("{} lines created", made.len());
    Ok(())
}

/// `tvgate line export [FILE]`: every line as CSV (no passwords), in the
/// columns `line import` reads, to FILE or stdout.
pub fn export(gate: &Gate, file: Option<&Path>) -> Result<()> {
    let lines = gate.lines();
    let mut out = Vec::new();
    write_rows(lines.iter().map(|a| &**a), &mut out).map_err(|e| anyhow!(e))?;
    match file {
        Some(path) => {
            std::fs::write(path, out).with_context(|| format!("writing {}", path.display()))?;
            eprintln!("{} lines written to {}", lines.len(), path.display());
        }
        None => {
            use std::io::Write;
            std::io::stdout()
                .write_all(&out)
                .context("writing to stdout")?;
        }
    }
    Ok(())
}
