//! Scale (issue 13 items 4 and 5), at sizes CI can afford (the 1M-entry
//! and 1 GB runs are bench/ scripts): a 100k-entry playlist and a gzip
//! guide import, each live channel finds its guide by id or by normalised
//! name with the counts in the report; players keep being served whole
//! playlists (the old catalog or the new, never a mix) while a 100k
//! refresh swaps the snapshot; the refresh's progress counts entries.

use crate::admin_api::call;
use crate::harness::*;
use reqwest::Method;
use serde_json::Value;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tvgate_core::catalog::{GuideMatches, SourceKind};
use tvgate_core::ports::NewSource;

const ENTRIES: usize = 100_000;
/// Channels the guide lists (the first ones of the playlist).
const GUIDE_CHANNELS: usize = 2_000;

const COUNTRIES: [&str; 5] = ["UK", "US", "DE", "FR", "ES"];
const WORDS: [&str; 4] = ["News", "Sports", "Kids", "Télé"];

/// Channel `i`: (country, word, guide id). Its playlist name is
/// `CC: WORD i HD`, its guide name `WORD i`.
fn chan(i: usize) -> (&'static str, &'static str, String) {
    let cc = COUNTRIES[i % COUNTRIES.len()];
    let w = WORDS[(i / 7) % WORDS.len()];
    (
        cc,
        w,
        format!("{}{i}.{}", w.to_lowercase(), cc.to_lowercase()),
    )
}

/// The playlist: every third entry without a tvg-id and every fifth with
/// one the guide does not know (both found by name when the guide has
/// them); `variant` 2 renames every tenth entry.
fn playlist(variant: u8) -> String {
    let mut text = String::with_capacity(ENTRIES * 120);
    text.push_str("#EXTM3U\n");
    for i in 1..=ENTRIES {
        let (cc, w, id) = chan(i);
        let id = match (i % 3, i % 5) {
            (0, _) => String::new(),
            (_, 0) => format!(" tvg-id=\"unknown{i}\""),
            _ => format!(" tvg-id=\"{id}\""),
        };
        let new = if variant == 2 && i % 10 == 0 {
            " (new)"
        } else {
            ""
        };
        text.push_str(&format!(
            "#EXTINF:-1{id} group-title=\"{cc}\",{cc}: {w} {i} HD{new}\nhttp://127.0.0.1:9/{i}.ts\n"
        ));
    }
    text
}

/// The guide, gzip-compressed: the first [`GUIDE_CHANNELS`] channels with
/// three programmes each.
fn guide_gz() -> Vec<u8> {
    let mut xml = String::from("<?xml version=\"1.0\"?>\n<tv>\n");
    for i in 1..=GUIDE_CHANNELS {
        let (_, w, id) = chan(i);
        xml.push_str(&format!(
            "<channel id=\"{id}\"><display-name>{w} {i}</display-name></channel>\n"
        ));
    }
    for i in 1..=GUIDE_CHANNELS {
        let (_, _, id) = chan(i);
        for h in 0..3 {
            xml.push_str(&format!(
                "<programme start=\"202701150{h}0000 +0000\" stop=\"202701150{}0000 +0000\" channel=\"{id}\"><title>Show {h}</title></programme>\n",
                h + 1
            ));
        }
    }
    xml.push_str("</tv>\n");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(xml.as_bytes()).expect("gzip");
    gz.finish().expect("gzip")
}

/// What the matching should find.
fn expected() -> GuideMatches {
    let mut m = GuideMatches::default();
    for i in 1..=ENTRIES {
        if i > GUIDE_CHANNELS {
            m.unmatched += 1;
        } else if i % 3 == 0 || i % 5 == 0 {
            m.by_name += 1;
        } else {
            m.by_id += 1;
        }
    }
    m
}

async fn add_file(srv: &TestServer, kind: SourceKind, name: &str, bytes: &[u8]) -> i64 {
    let path = srv.dir.path().join(name);
    std::fs::write(&path, bytes).expect("write");
    srv.gate
        .add_source(NewSource {
            kind,
            location: path.to_string_lossy().into_owned(),
            name: name.into(),
            created_at: NOW,
            max_connections: 0,
            delivery: Default::default(),
        })
        .await
        .expect("source")
        .id
        .0
}

async fn refresh(srv: &TestServer, id: i64) -> tvgate::sources::RefreshReport {
    let source = srv
        .gate
        .source(tvgate_core::ids::SourceId(id))
        .await
        .expect("source");
    tvgate::sources::refresh(&srv.gate, &source, srv.dir.path(), tvgate::sources::quiet())
        .await
        .expect("refresh")
}

#[tokio::test]
async fn a_100k_playlist_and_a_gzip_guide_find_each_channels_guide_by_id_then_by_name() {
    let srv = TestServer::start().await;
    let list = add_file(&srv, SourceKind::M3u, "big.m3u", playlist(1).as_bytes()).await;
    let report = refresh(&srv, list).await;
    assert_eq!(report.items.live, ENTRIES as u64);
    // No guide yet: every channel is without one.
    assert_eq!(report.guide.map(|g| g.unmatched), Some(ENTRIES as u64));

    let guide = add_file(&srv, SourceKind::Xmltv, "guide.xml.gz", &guide_gz()).await;
    let report = refresh(&srv, guide).await;
    assert_eq!(report.programmes, 3 * GUIDE_CHANNELS as u64);
    let want = expected();
    assert_eq!(
        report.guide,
        Some(want),
        "a guide's report counts every channel"
    );
    let summary = report.summary(SourceKind::Xmltv);
    assert!(
        summary.contains(&format!("{} by name", want.by_name)),
        "{summary}"
    );
    // The playlist's own report says the same of its channels.
    assert_eq!(refresh(&srv, list).await.guide, Some(want));

    // A channel found by name carries the guide's id, so every face finds
    // its programmes: accents, the country prefix and "HD" aside.
    let cat = srv.gate.catalog();
    let by_name = |i: usize| {
        let (cc, w, id) = chan(i);
        let c = cat
            .live
            .iter()
            .find(|c| c.name() == format!("{cc}: {w} {i} HD"))
            .expect("channel");
        (c.epg_id().map(str::to_string), id)
    };
    for i in [3, 5, 21, 1995] {
        let (epg, id) = by_name(i);
        assert_eq!(epg.as_deref(), Some(id.as_str()), "channel {i}");
        assert_eq!(cat.programmes(&id).len(), 3, "channel {i}");
    }
    assert_eq!(chan(21).1, "Télé", "an accented name is among them");
    // Beyond the guide: unmatched, its own id kept.
    let (epg, id) = by_name(2002);
    assert_eq!(epg.as_deref(), Some(id.as_str()));
    assert!(cat.programmes(&id).is_empty());
}

#[tokio::test]
async fn players_are_served_whole_playlists_while_a_100k_refresh_swaps_the_catalog() {
    let srv = Arc::new(TestServer::start().await);
    srv.add_line("alice", "pw-1", |_| {}).await;
    let (_, password) = srv.gate.create_admin("olga", NOW).await.expect("admin");
    drop(password);
    let (_, token) = srv
        .gate
        .create_api_token("olga", "tests", NOW)
        .await
        .expect("token");
    let list = add_file(&srv, SourceKind::M3u, "swap.m3u", playlist(1).as_bytes()).await;
    refresh(&srv, list).await;
    std::fs::write(srv.dir.path().join("swap.m3u"), playlist(2)).expect("rewrite");

    // Players: a login and a whole playlist, again and again.
    let stop = Arc::new(AtomicBool::new(false));
    let players: Vec<_> = (0..2)
        .map(|_| {
            let srv = srv.clone();
            let stop = stop.clone();
            tokio::spawn(async move {
                let mut seen = Vec::new();
                // Until the refresh is done and this player has been served
                // the new catalog once (a busy machine may take a while).
                let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
                while !(stop.load(Ordering::Acquire) && seen.last() == Some(&(ENTRIES / 10))) {
                    assert!(
                        std::time::Instant::now() < deadline,
                        "no playlist of the new catalog within 60 s: {seen:?}"
                    );
                    let login =
                        get_json(&srv.url("/player_api.php?username=alice&password=pw-1")).await;
                    assert_eq!(login["user_info"]["auth"], 1, "{login}");
                    let (status, m3u) =
                        get(&srv
                            .url("/get.php?username=alice&password=pw-1&type=m3u_plus&output=ts"))
                        .await;
                    assert_eq!(status, 200);
                    let entries = m3u.matches("#EXTINF").count();
                    let renamed = m3u
                        .lines()
                        .filter(|l| l.starts_with("#EXTINF") && l.ends_with("(new)"))
                        .count();
                    assert_eq!(entries, ENTRIES, "a whole playlist");
                    assert!(
                        renamed == 0 || renamed == ENTRIES / 10,
                        "the old catalog or the new, never a mix: {renamed} renamed"
                    );
                    seen.push(renamed);
                }
                seen
            })
        })
        .collect();

    let path = format!("/api/v1/sources/{list}/refresh");
    let (status, job) = call(&srv, Method::POST, &path, Some(&token), None).await;
    assert_eq!(status, 202, "{job}");
    let state: Value = loop {
        let (_, state) = call(&srv, Method::GET, &path, Some(&token), None).await;
        if state["phase"] == "done" || state["phase"] == "failed" {
            break state;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(state["phase"], "done", "{state}");
    assert_eq!(
        state["entries"], ENTRIES as u64,
        "progress counted every entry"
    );
    // Each player goes on until it has been served the new catalog.
    stop.store(true, Ordering::Release);
    let mut served = Vec::new();
    for p in players {
        served.extend(p.await.expect("player"));
    }
    assert!(
        served.len() >= 2,
        "players were served during the refresh: {served:?}"
    );
    assert_eq!(served.first(), Some(&0), "{served:?}");
    assert_eq!(served.last(), Some(&(ENTRIES / 10)), "{served:?}");
    assert_eq!(
        srv.gate
            .catalog()
            .live
            .iter()
            .filter(|c| c.name().ends_with("(new)"))
            .count(),
        ENTRIES / 10
    );
}
