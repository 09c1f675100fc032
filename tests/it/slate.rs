//! Denial slates: a player asking for a refused TS stream gets a short clip
//! that says why; browsers, tools and the `status` setting get the status.

use crate::harness::*;
use std::time::Duration;
use tvgate_core::access::Denial;
use tvgate_http::slate::StreamDenials;

const VLC: &str = "VLC/3.0.20 LibVLC/3.0.20";

async fn expired_line(setting: StreamDenials) -> TestServer {
    let srv = TestServer::start_with(|h| h.stream_denials = setting).await;
    srv.add_line("ed", "pw-e", |s| s.expires_at = Some(NOW - 10))
        .await;
    srv.with_catalog().await;
    srv
}

async fn ask(srv: &TestServer, path: &str, ua: &str) -> reqwest::Response {
    client()
        .get(srv.url(path))
        .header("user-agent", ua)
        .send()
        .await
        .expect("request")
}

#[tokio::test]
async fn a_player_sees_the_expired_slate() {
    let srv = expired_line(StreamDenials::Auto).await;
    let r = ask(&srv, "/live/ed/pw-e/1.ts", VLC).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "video/mp2t");
    assert_eq!(r.headers()["x-tvgate-reason"], "expired");
    assert!(r.headers()["x-tvgate-message"]
        .to_str()
        .expect("ascii")
        .starts_with("Subscription expired on "));
    let body = r.bytes().await.expect("body");
    assert!(body.len() > 188 && body.len() % 188 == 0, "{}", body.len());
    assert_eq!(body[0], 0x47);
    assert!(body[..] == tvgate_http::slate::clip("expired").expect("clip")[..]);
    // The denial is counted as any other.
    let metrics = get(&srv.url("/metrics")).await.1;
    assert!(metrics.contains("tvgate_denials_total{reason=\"expired\"} 1\n"));
}

#[tokio::test]
async fn curl_a_browser_and_hls_get_the_status() {
    let srv = expired_line(StreamDenials::Auto).await;
    for (path, ua) in [
        ("/live/ed/pw-e/1.ts", "curl/8.5.0"),
        (
            "/live/ed/pw-e/1.ts",
            "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0",
        ),
        ("/live/ed/pw-e/1.m3u8", VLC),
    ] {
        let r = ask(&srv, path, ua).await;
        assert_eq!(r.status(), 403, "{path} {ua}");
        assert_eq!(r.headers()["x-tvgate-reason"], "expired");
        let body = r.text().await.expect("body");
        assert!(
            body.starts_with("expired: Subscription expired on "),
            "{body}"
        );
    }
}

#[tokio::test]
async fn the_status_setting_always_gives_the_status() {
    let srv = expired_line(StreamDenials::Status).await;
    let r = ask(&srv, "/live/ed/pw-e/1.ts", VLC).await;
    assert_eq!(r.status(), 403);
    assert!(r
        .text()
        .await
        .expect("body")
        .starts_with("expired: Subscription expired on "));
}

#[tokio::test]
async fn the_slate_setting_answers_curl_too_but_never_a_rate_limited_caller() {
    let srv = expired_line(StreamDenials::Slate).await;
    let r = ask(&srv, "/live/ed/pw-e/1.ts", "curl/8.5.0").await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-tvgate-reason"], "expired");
    assert!(tvgate_http::slate::clip("rate_limited").is_none());
}

#[tokio::test]
async fn a_full_line_shows_the_connection_limit_slate_with_the_figures_in_a_header() {
    let srv = TestServer::start_with(|h| h.admission_wait = Duration::from_millis(200)).await;
    srv.add_line("tina", "pw-t", |s| s.max_connections = 1)
        .await;
    srv.with_catalog().await;
    let mut tv = ask(&srv, "/live/tina/pw-t/1.ts", "LivingRoomTV/1.0").await;
    assert_eq!(tv.status(), 200);
    assert!(tv.chunk().await.expect("chunk").is_some());
    let r = ask(&srv, "/live/tina/pw-t/1.ts", VLC).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-tvgate-reason"], "connection_limit");
    let message = r.headers()["x-tvgate-message"]
        .to_str()
        .expect("ascii")
        .to_string();
    assert!(
        message.starts_with("Connection limit reached: 1 of 1 in use by LivingRoomTV/1.0"),
        "{message}"
    );
    drop(tv);
}

/// Every clip is valid MPEG-TS with H.264 video (skipped without ffprobe).
#[test]
fn ffprobe_accepts_every_clip() {
    let probe = std::process::Command::new("ffprobe")
        .arg("-version")
        .output();
    if !probe.is_ok_and(|o| o.status.success()) {
        eprintln!("ffprobe not installed: clips not probed");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let codes = Denial::CODES
        .iter()
        .copied()
        .chain(["source_at_capacity"])
        .filter(|c| !tvgate_http::slate::STATUS_ONLY.contains(c));
    for code in codes {
        let clip = tvgate_http::slate::clip(code).unwrap_or_else(|| panic!("no slate for {code}"));
        let path = dir.path().join(format!("{code}.ts"));
        std::fs::write(&path, clip).expect("write clip");
        let out = std::process::Command::new("ffprobe")
            .args([
                "-v",
                "error",
                "-show_entries",
                "stream=codec_type,codec_name,width,height:format=format_name,duration",
                "-of",
                "default=noprint_wrappers=1",
            ])
            .arg(&path)
            .output()
            .expect("run ffprobe");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{code}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.stderr.is_empty(),
            "{code}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(text.contains("format_name=mpegts"), "{code}: {text}");
        assert!(text.contains("codec_name=h264"), "{code}: {text}");
        assert!(
            text.contains("width=640") && text.contains("height=360"),
            "{code}: {text}"
        );
        let duration: f64 = text
            .lines()
            .filter_map(|l| l.strip_prefix("duration="))
            .filter_map(|d| d.parse().ok())
            .fold(0.0, f64::max);
        assert!((2.5..=4.0).contains(&duration), "{code}: {duration} s");
    }
}
