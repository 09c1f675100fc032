//! `tvgate demo`: the server with a ready, offline demo. A subscriber, four
//! live channels in two categories that really play (the bundled clip as an
//! endless channel), a movie, a series with three episodes, and a guide for
//! today. The playlist and guide are written into the data directory and
//! imported like any operator's source, so the demo exercises the real path.

use crate::settings::Settings;
use crate::sources;
use anyhow::{Context, Result};
use std::sync::Arc;
use tvgate_core::access::{LinePatch, OutputFormats, Status};
use tvgate_core::catalog::SourceKind;
use tvgate_core::gate::{Gate, LineSpec};
use tvgate_core::ports::NewSource;

pub const DEMO_USER: &str = "demo";

const CHANNELS: &[(&str, &str, &str)] = &[
    ("demo.news", "tvgate News", "News"),
    ("demo.world", "tvgate World", "News"),
    ("demo.sports", "tvgate Sports", "Sports"),
    ("demo.arena", "tvgate Arena", "Sports"),
];

fn playlist() -> String {
    let mut m3u = String::from("#EXTM3U\n");
    for (i, (id, name, group)) in CHANNELS.iter().enumerate() {
        m3u.push_str(&format!("#EXTINF:-1 tvg-id=\"{id}\" tvg-name=\"{name}\" tvg-logo=\"\" group-title=\"{group}\",{name}\nloop:demo?ch={}\n", i + 1));
    }
    m3u.push_str("#EXTINF:-1 tvg-type=\"movie\" tvg-name=\"Test Pattern: The Movie (2024)\" group-title=\"Demo Movies\",Test Pattern: The Movie (2024)\nclip:demo.ts?movie=1\n");
    for e in 1..=3 {
        m3u.push_str(&format!("#EXTINF:-1 tvg-type=\"series\" group-title=\"Demo Series\",Signal Hunters S01E0{e}\nclip:demo.ts?episode={e}\n"));
    }
    m3u
}

const SHOWS: &[(&str, &str)] = &[
    (
        "Morning Report",
        "The day's headlines, read over a test card.",
    ),
    (
        "Signal & Noise",
        "A calm half hour about colour bars & tones <live>.",
    ),
    ("Late Edition", "Night news: what changed today."),
    ("Match Day", "Highlights from the test-pattern league."),
];

/// A guide from two hours ago to a day ahead, in half-hour slots, written
/// with the same XMLTV writer `xmltv.php` uses.
fn guide(now: i64) -> Vec<u8> {
    use tvgate_formats::xmltv::{self, Channel, ProgrammeRef};
    let mut xml = Vec::new();
    xmltv::push_prologue(&mut xml);
    for (id, name, _) in CHANNELS {
        let channel = Channel {
            id: id.to_string(),
            display_names: vec![name.to_string()],
            icon: None,
        };
        xmltv::push_channel(&mut xml, &channel);
    }
    let start = now - now.rem_euclid(3600) - 2 * 3600;
    for (c, (id, _, _)) in CHANNELS.iter().enumerate() {
        for slot in 0..52i64 {
            let begin = start + slot * 1800;
            let (title, desc) = SHOWS[(slot as usize + c) % SHOWS.len()];
            let programme = ProgrammeRef {
                channel: id,
                start: begin,
                stop: Some(begin + 1800),
                title,
                desc: Some(desc),
                lang: Some("en"),
            };
            xmltv::push_programme_ref(&mut xml, &programme, 0);
        }
    }
    xmltv::push_epilogue(&mut xml);
    xml
}

/// Writes and imports the demo sources and (re)creates the demo line.
/// Returns the demo password.
pub async fn prepare(
    gate: &Arc<Gate>,
    settings: &Settings,
    password: Option<String>,
) -> Result<String> {
    let now = chrono::Utc::now().timestamp();
    let dir = &settings.data_dir;
    let m3u_path = dir.join("demo.m3u");
    let xml_path = dir.join("demo-guide.xml");
    std::fs::write(&m3u_path, playlist())
        .with_context(|| format!("writing {}", m3u_path.display()))?;
    std::fs::write(&xml_path, guide(now))
        .with_context(|| format!("writing {}", xml_path.display()))?;
    let existing = gate.sources().await?;
    for (kind, path, name) in [
        (SourceKind::M3u, &m3u_path, "demo playlist"),
        (SourceKind::Xmltv, &xml_path, "demo guide"),
    ] {
        let location = std::fs::canonicalize(path)?.to_string_lossy().into_owned();
        let source = match existing.iter().find(|s| s.location == location) {
            Some(s) => s.clone(),
            None => {
                gate.add_source(NewSource {
                    kind,
                    location,
                    name: name.to_string(),
                    created_at: now,
                    max_connections: 0,
                    delivery: Default::default(),
                })
                .await?
            }
        };
        sources::refresh(gate, &source, dir, sources::quiet()).await?;
    }
    let expires = Some(now + 365 * 86_400);
    let password = match gate.find_line(DEMO_USER) {
        Some(_) => {
            let (_, p) = gate.set_password(DEMO_USER, password).await?;
            let patch = LinePatch {
                status: Some(Status::Active),
                expires_at: Some(expires),
                max_connections: Some(2),
                ..Default::default()
            };
            gate.update_line(DEMO_USER, patch).await?;
            p
        }
        None => {
            let mut spec = LineSpec::new(DEMO_USER);
            spec.password = password.clone();
            spec.expires_at = expires;
            spec.max_connections = 2;
            spec.allowed_formats = OutputFormats::DEFAULT;
            spec.note = "demo subscriber".into();
            let (_, generated) = gate.create_line(spec, now).await?;
            generated.or(password).unwrap_or_default()
        }
    };
    Ok(password)
}

/// The login details a person needs.
pub fn details(base: &str, password: &str) -> serde_json::Value {
    let q = format!(
        "username={}&password={}",
        tvgate_http::params::query_value(DEMO_USER),
        tvgate_http::params::query_value(password)
    );
    serde_json::json!({
        "server": base,
        "username": DEMO_USER,
        "password": password,
        "m3u_url": format!("{base}/get.php?{q}&type=m3u_plus&output=ts"),
        "xmltv_url": format!("{base}/xmltv.php?{q}"),
        "player_api_url": format!("{base}/player_api.php?{q}"),
        "example_stream": format!("{base}/live/{DEMO_USER}/{password}/1.ts"),
    })
}
