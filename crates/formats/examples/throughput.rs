//! Measures reader throughput on a file: `cargo run --release -p
//! tvgate-formats --example throughput -- m3u|xmltv|xml-scan FILE [ROUNDS]`
//! (`xml-scan`: quick-xml's bare event loop, the ceiling for `xmltv`).
//!
//! The file is read into memory once, then parsed ROUNDS times through a
//! 64 KiB `BufReader` (as a file would be); the best round is reported, in
//! MB/s of input (10^6 bytes per second). Items are counted and dropped.

use std::io::BufReader;
use std::time::Instant;
use tvgate_formats::{m3u, xmltv};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(kind), Some(path)) = (args.get(1), args.get(2)) else {
        eprintln!("usage: throughput m3u|xmltv|xml-scan FILE [ROUNDS]");
        std::process::exit(2);
    };
    let rounds: usize = args.get(3).and_then(|r| r.parse().ok()).unwrap_or(5);
    let data = std::fs::read(path).expect("read the file");
    let mut best = f64::INFINITY;
    let mut best_cpu = f64::INFINITY;
    let mut items = 0u64;
    let mut diagnostics = 0usize;
    for _ in 0..rounds {
        let input = BufReader::with_capacity(64 * 1024, &data[..]);
        let started = Instant::now();
        let cpu_started = cpu_seconds();
        items = 0;
        match kind.as_str() {
            "m3u" => {
                let summary = m3u::read(input, |e| {
                    items += 1;
                    drop(e);
                })
                .expect("in-memory read");
                diagnostics = summary.diagnostics.len();
            }
            "xmltv" => {
                diagnostics = xmltv::read(input, |i| {
                    items += 1;
                    drop(i);
                })
                .expect("in-memory read")
                .len();
            }
            // Baseline: quick-xml's own event loop, nothing done with events.
            "xml-scan" => {
                let mut reader = quick_xml::Reader::from_reader(input);
                let mut buf = Vec::with_capacity(16 * 1024);
                loop {
                    buf.clear();
                    match reader.read_event_into(&mut buf) {
                        Ok(quick_xml::events::Event::Eof) => break,
                        Ok(_) => items += 1,
                        Err(e) => panic!("{e}"),
                    }
                }
            }
            other => panic!("unknown format {other}"),
        }
        best = best.min(started.elapsed().as_secs_f64());
        if let (Some(a), Some(b)) = (cpu_started, cpu_seconds()) {
            best_cpu = best_cpu.min(b - a);
        }
    }
    let mb = data.len() as f64 / 1e6;
    println!(
        "{kind} {path}: {mb:.1} MB, {items} items, {diagnostics} diagnostics, best of {rounds}: \
         {best:.3} s wall = {:.0} MB/s; {best_cpu:.3} s on CPU = {:.0} MB/s per core",
        mb / best,
        mb / best_cpu
    );
}

/// CPU time of this thread (Linux `schedstat`, nanoseconds): on a shared
/// machine the wall clock also counts the time other processes ran.
fn cpu_seconds() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: f64 = text.split_whitespace().next()?.parse().ok()?;
    Some(ns / 1e9)
}
