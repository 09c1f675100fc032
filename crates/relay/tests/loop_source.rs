//! The looped demo channel is a valid, seamless live transport stream:
//! checked packet by packet with the `mpegts` helpers, against a virtual
//! clock, and by ffmpeg/ffprobe (from a file and over real HTTP).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use tokio::time::Instant;
use tvgate_formats::mpegts::{self, PACKET_LEN, PCR_HZ, PTS_HZ, PTS_MODULUS};
use tvgate_relay::{demo_clip, LoopClip};

/// Follows a transport stream packet by packet and records every problem a
/// demuxer would notice at a loop point.
#[derive(Default)]
struct Checker {
    packets: usize,
    /// Per PID: last continuity counter.
    cc: HashMap<u16, u8>,
    /// Per PID: last raw decode time and its unwrapped value.
    decode: HashMap<u16, (u64, i64)>,
    /// Per PID: all unwrapped presentation times.
    present: BTreeMap<u16, Vec<i64>>,
    /// Raw and unwrapped PCR, first unwrapped PCR.
    pcr: Option<(u64, i64)>,
    first_pcr: Option<i64>,
    max_pcr_gap: i64,
    /// A raw timestamp went down (a 33-bit wrap happened).
    wrapped: bool,
    errors: Vec<String>,
}

impl Checker {
    fn feed(&mut self, bytes: &[u8]) {
        assert_eq!(
            bytes.len() % PACKET_LEN,
            0,
            "chunk of {} bytes",
            bytes.len()
        );
        for pkt in bytes.chunks_exact(PACKET_LEN) {
            self.packet(pkt);
            self.packets += 1;
        }
    }

    fn packet(&mut self, pkt: &[u8]) {
        let n = self.packets;
        let Some(pid) = mpegts::pid(pkt) else {
            self.errors.push(format!("packet {n}: no sync byte"));
            return;
        };
        if pid == mpegts::PID_NULL {
            return;
        }
        let cc = mpegts::continuity_counter(pkt).unwrap();
        if let Some(prev) = self.cc.insert(pid, cc) {
            let want = if mpegts::has_payload(pkt) {
                (prev + 1) & 0x0F
            } else {
                prev
            };
            if cc != want {
                self.errors
                    .push(format!("packet {n} pid {pid}: cc {cc}, expected {want}"));
            }
        }
        if mpegts::discontinuity_indicator(pkt) {
            self.errors
                .push(format!("packet {n} pid {pid}: discontinuity_indicator"));
        }
        if let Some(raw) = mpegts::pcr(pkt) {
            let v = match self.pcr {
                None => raw as i64,
                Some((prev_raw, prev)) => {
                    let step = mpegts::pcr_diff(prev_raw, raw);
                    self.wrapped |= raw < prev_raw;
                    if step <= 0 {
                        self.errors.push(format!("packet {n}: PCR step {step}"));
                    }
                    self.max_pcr_gap = self.max_pcr_gap.max(step);
                    prev + step
                }
            };
            self.first_pcr.get_or_insert(v);
            self.pcr = Some((raw, v));
        }
        if let Some(ts) = mpegts::pes_timestamps(pkt) {
            let Some(dts_raw) = ts.decode_time() else {
                return;
            };
            let dts = match self.decode.get(&pid) {
                None => dts_raw as i64,
                Some(&(prev_raw, prev)) => {
                    let step = mpegts::pts_diff(prev_raw, dts_raw);
                    self.wrapped |= dts_raw < prev_raw;
                    if step <= 0 {
                        self.errors
                            .push(format!("packet {n} pid {pid}: DTS step {step}"));
                    }
                    prev + step
                }
            };
            self.decode.insert(pid, (dts_raw, dts));
            let pts = dts + mpegts::pts_diff(dts_raw, ts.pts.unwrap_or(dts_raw));
            if pts < dts {
                self.errors
                    .push(format!("packet {n} pid {pid}: PTS before DTS"));
            }
            self.present.entry(pid).or_default().push(pts);
        }
    }

    /// Seconds of media delivered, by the PCR.
    fn media_secs(&self) -> f64 {
        match (self.first_pcr, self.pcr) {
            (Some(first), Some((_, last))) => (last - first) as f64 / PCR_HZ as f64,
            _ => 0.0,
        }
    }

    /// Panics with every problem found. Also requires that presentation
    /// times advance in even steps (no gap or overlap at loop points).
    fn assert_clean(&self) {
        let mut errors = self.errors.clone();
        for (pid, pts) in &self.present {
            let mut pts = pts.clone();
            pts.sort_unstable();
            let steps: Vec<i64> = pts.windows(2).map(|w| w[1] - w[0]).collect();
            let (lo, hi) = (steps.iter().min(), steps.iter().max());
            if lo != hi || lo == Some(&0) {
                errors.push(format!(
                    "pid {pid}: presentation steps from {lo:?} to {hi:?}"
                ));
            }
        }
        if self.max_pcr_gap > (PCR_HZ / 10) as i64 {
            errors.push(format!("PCR gap of {} ticks (> 100 ms)", self.max_pcr_gap));
        }
        let shown: Vec<&String> = errors.iter().take(20).collect();
        assert!(errors.is_empty(), "{} problems: {shown:#?}", errors.len());
    }
}

/// The demo clip with every timestamp moved close to the 33-bit wrap, so
/// that it wraps during loop 1.
fn near_wrap_clip() -> Bytes {
    let mut v = demo_clip().to_vec();
    let shift = PTS_MODULUS - 8 * PTS_HZ;
    for pkt in v.chunks_exact_mut(PACKET_LEN) {
        mpegts::shift_timestamps(pkt, shift);
    }
    Bytes::from(v)
}

#[test]
fn three_loops_are_continuous() {
    for (name, clip) in [("demo", demo_clip()), ("near wrap", near_wrap_clip())] {
        let clip = LoopClip::parse(clip).unwrap();
        let mut checker = Checker::default();
        for bytes in clip.loops().take(3) {
            checker.feed(&bytes);
        }
        checker.assert_clean();
        assert_eq!(checker.wrapped, name == "near wrap", "{name}");
        assert_eq!(checker.present.len(), 2, "{name}: video and audio");
        // 3 loops of 6.4 s, less the clip's own first-to-last PCR shortfall.
        let media = checker.media_secs();
        assert!((19.0..19.2).contains(&media), "{name}: {media} s");
    }
}

#[tokio::test(start_paused = true)]
async fn paced_stream_delivers_media_in_real_time() {
    let clip = LoopClip::parse(demo_clip()).unwrap();
    let loop_secs = clip.duration().as_secs_f64();
    let lead = 1.0;
    let mut stream = clip.stream();
    let start = Instant::now();
    let mut checker = Checker::default();
    // (virtual seconds since start, media seconds delivered so far)
    let mut samples: Vec<(f64, f64)> = Vec::new();
    while checker.packets < 3 * clip.packet_count() + 1 {
        // The paused clock auto-advances to the stream's next deadline.
        let chunk = stream.next().await.expect("endless");
        assert!(!chunk.is_empty());
        checker.feed(&chunk);
        samples.push((start.elapsed().as_secs_f64(), checker.media_secs()));
    }
    checker.assert_clean();

    // Never more than the lead (plus a chunk) ahead of real time.
    for &(t, m) in &samples {
        assert!(
            m <= t + lead + 0.05,
            "at {t:.3} s already {m:.3} s of media"
        );
    }
    // Burst of about the lead at start.
    let burst = samples
        .iter()
        .filter(|s| s.0 == 0.0)
        .map(|s| s.1)
        .fold(0.0, f64::max);
    assert!(
        (lead - 0.1..=lead).contains(&burst),
        "start burst {burst:.3} s"
    );
    // At every whole second, the lead is kept (within a PCR interval).
    let end = samples.last().unwrap().0;
    for t in 1..end as u32 {
        let t = f64::from(t);
        let m = samples
            .iter()
            .filter(|s| s.0 <= t)
            .map(|s| s.1)
            .fold(0.0, f64::max);
        assert!(m >= t + lead - 0.15, "at {t} s only {m:.3} s of media");
    }
    // Three loops took three loop durations of virtual time, less the lead.
    let want = 3.0 * loop_secs - lead;
    assert!(
        (want - 0.2..=want + 0.01).contains(&end),
        "3 loops after {end:.3} s"
    );
}

#[tokio::test(start_paused = true)]
async fn slow_reader_gets_bigger_chunks_not_drift() {
    let clip = LoopClip::parse(demo_clip()).unwrap();
    let mut stream = clip.stream();
    let start = Instant::now();
    let mut checker = Checker::default();
    checker.feed(&stream.next().await.unwrap());
    // The reader stalls for 3 s: what is due then comes in chunks of at most
    // 348 packets, and pacing resumes on the original schedule.
    tokio::time::advance(Duration::from_secs(3)).await;
    let mut biggest = 0;
    while start.elapsed() < Duration::from_secs(5) {
        let chunk = stream.next().await.unwrap();
        assert_eq!(chunk.len() % PACKET_LEN, 0);
        biggest = biggest.max(chunk.len() / PACKET_LEN);
        checker.feed(&chunk);
    }
    assert_eq!(biggest, 348);
    // (Stopped mid-GOP: only the per-packet checks apply.)
    assert!(checker.errors.is_empty(), "{:#?}", checker.errors);
    // 5 s of virtual time plus the 1 s lead.
    let media = checker.media_secs();
    assert!(
        (5.85..=6.05).contains(&media),
        "{media} s of media after 5 s"
    );
}

fn have_ffmpeg() -> bool {
    let ok = |cmd: &str| {
        std::process::Command::new(cmd)
            .arg("-version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    let found = ok("ffmpeg") && ok("ffprobe");
    if !found {
        eprintln!("note: ffmpeg/ffprobe not installed, skipping");
    }
    found
}

/// Runs a command to completion (killed after `limit`) and returns stdout,
/// asserting it exits successfully with nothing on stderr.
async fn run_clean(program: &str, args: &[&str], limit: Duration) -> String {
    let child = tokio::process::Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    let out = tokio::time::timeout(limit, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("{program} {args:?}: timed out (killed)"))
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stderr.trim().is_empty(),
        "{program} {args:?}: {}\n{stderr}",
        out.status
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

async fn ffmpeg_checks_file(path: &Path) {
    let file = path.to_str().unwrap();
    let limit = Duration::from_secs(60);
    let copy = [
        "-nostdin", "-v", "warning", "-i", file, "-c", "copy", "-f", "null", "-",
    ];
    run_clean("ffmpeg", &copy, limit).await;
    let decode = ["-nostdin", "-v", "warning", "-i", file, "-f", "null", "-"];
    run_clean("ffmpeg", &decode, limit).await;
    // A real muxer also checks that DTS are monotonic.
    let out = path.with_extension("remux.ts");
    let remux = [
        "-nostdin",
        "-v",
        "warning",
        "-i",
        file,
        "-c",
        "copy",
        "-f",
        "mpegts",
        "-y",
        out.to_str().unwrap(),
    ];
    run_clean("ffmpeg", &remux, limit).await;
    let probe = [
        "-v",
        "error",
        "-show_entries",
        "format=duration",
        "-of",
        "default=nw=1:nk=1",
        file,
    ];
    let duration: f64 = run_clean("ffprobe", &probe, limit)
        .await
        .trim()
        .parse()
        .unwrap();
    assert!(
        (19.1..19.5).contains(&duration),
        "ffprobe duration {duration}"
    );
    let packets = ["-v", "error", "-show_packets", "-of", "csv", file];
    run_clean("ffprobe", &packets, limit).await;
}

#[tokio::test]
async fn ffmpeg_reads_three_loops_without_warnings() {
    if !have_ffmpeg() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for (name, clip) in [("demo", demo_clip()), ("wrap", near_wrap_clip())] {
        let clip = LoopClip::parse(clip).unwrap();
        let path = dir.path().join(format!("{name}.ts"));
        let bytes: Vec<u8> = clip.loops().take(3).flat_map(|b| b.to_vec()).collect();
        std::fs::write(&path, bytes).unwrap();
        ffmpeg_checks_file(&path).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ffmpeg_plays_http_live_channel_across_loop_points() {
    if !have_ffmpeg() {
        return;
    }
    let clip = LoopClip::parse(demo_clip()).unwrap();
    // 25 s of media must cross at least two loop points.
    assert!(clip.duration() < Duration::from_secs(12));
    let app = axum::Router::new().route(
        "/x.ts",
        axum::routing::get(move || {
            let stream = clip.stream().map(Ok::<_, std::convert::Infallible>);
            async move {
                (
                    [(axum::http::header::CONTENT_TYPE, "video/mp2t")],
                    axum::body::Body::from_stream(stream),
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/x.ts", listener.local_addr().unwrap());
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let started = std::time::Instant::now();
    let limit = Duration::from_secs(50);
    let common = [
        "-nostdin",
        "-v",
        "warning",
        "-nostats",
        "-progress",
        "pipe:1",
        "-i",
        &url,
        "-t",
        "25",
    ];
    let copy: Vec<&str> = common
        .iter()
        .copied()
        .chain(["-c", "copy", "-f", "null", "-"])
        .collect();
    let decode: Vec<&str> = common.iter().copied().chain(["-f", "null", "-"]).collect();
    // Two viewers at once: stream copy and full decode.
    let (copy_out, decode_out) = tokio::join!(
        run_clean("ffmpeg", &copy, limit),
        run_clean("ffmpeg", &decode, limit)
    );
    let elapsed = started.elapsed();
    server.abort();

    for out in [copy_out, decode_out] {
        let out_time_us = out
            .lines()
            .filter_map(|l| l.strip_prefix("out_time_us="))
            .filter_map(|v| v.parse::<i64>().ok())
            .max()
            .unwrap_or(0);
        assert!(
            out_time_us >= 24_900_000,
            "ffmpeg only got {out_time_us} us\n{out}"
        );
    }
    // Paced: 25 s of media cannot arrive much faster than 25 s - lead.
    assert!(elapsed >= Duration::from_secs(22), "took only {elapsed:?}");
}
