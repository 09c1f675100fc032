//! Catch-up (timeshift): `/timeshift/…` and `/streaming/timeshift.php`
//! against a stand-in archive that answers per kind (it says what it was
//! asked, serves an HLS archive for `.m3u8`, and an endless recording for
//! paths with `endless`), so each kind's archive URL is checked on the
//! wire, with the decision, the ledger, the source's cap and its delivery.

use crate::harness::*;
use crate::xtream_source::StandIn;
use axum::extract::Request;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::Value;
use std::path::PathBuf;
use tvgate_core::catalog::{Delivery, SourceKind};
use tvgate_core::ports::NewSource;

/// Two hours before the test clock (2027-01-15 08:00 UTC).
const START: i64 = NOW - 7200;
const START_TEXT: &str = "2027-01-15:06-00";

async fn archive(request: Request) -> Response {
    let path = request.uri().path().to_string();
    let asked = request
        .uri()
        .path_and_query()
        .map(|p| p.to_string())
        .unwrap_or_default();
    if path.ends_with(".m3u8") {
        let playlist =
            "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:6\n#EXT-X-MEDIA-SEQUENCE:0\n\
            #EXTINF:6.0,\nseg1.ts\n#EXTINF:6.0,\nseg2.ts\n#EXT-X-ENDLIST\n";
        return (
            [(header::CONTENT_TYPE, "application/vnd.apple.mpegurl")],
            playlist,
        )
            .into_response();
    }
    if path.contains("endless") {
        let packet = Bytes::from(vec![0x47u8; 188 * 10]);
        let body = futures::stream::unfold(packet, |p| async move {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            Some((Ok::<_, std::io::Error>(p.clone()), p))
        });
        return (
            [(header::CONTENT_TYPE, "video/mp2t")],
            axum::body::Body::from_stream(body),
        )
            .into_response();
    }
    (
        [(header::CONTENT_TYPE, "video/mp2t")],
        format!("ARCHIVE {asked}"),
    )
        .into_response()
}

async fn archive_server() -> StandIn {
    StandIn::start(axum::Router::new().fallback(archive)).await
}

/// Writes `text` and imports it as a playlist source with a cap and a
/// delivery of its own.
async fn add_playlist(
    srv: &TestServer,
    name: &str,
    text: &str,
    max_connections: u32,
    delivery: Delivery,
) {
    let path: PathBuf = srv.dir.path().join(name);
    std::fs::write(&path, text).expect("write");
    let source = srv
        .gate
        .add_source(NewSource {
            kind: SourceKind::M3u,
            location: path.to_string_lossy().into_owned(),
            name: name.into(),
            created_at: NOW,
            max_connections,
            delivery,
        })
        .await
        .expect("source");
    tvgate::sources::refresh(&srv.gate, &source, srv.dir.path(), tvgate::sources::quiet())
        .await
        .expect("refresh");
}

/// A server with one channel per kind, a channel without archive, an
/// endless recording (its source capped at one connection) and a channel
/// whose source redirects.
async fn server(a: &StandIn) -> TestServer {
    let srv = TestServer::start().await;
    let base = a.url("");
    let m3u = format!(
        "#EXTM3U\n\
        #EXTINF:-1 catchup=\"default\" catchup-days=\"3\" catchup-source=\"{base}/arc/def?s={{utc}}&d={{duration:60}}\",Default\n{base}/def.ts\n\
        #EXTINF:-1 catchup=\"append\" catchup-days=\"3\" catchup-source=\"?from={{utc}}&to={{utcend}}\",Append\n{base}/app.ts\n\
        #EXTINF:-1 catchup=\"shift\" catchup-days=\"3\",Shift\n{base}/sh.ts\n\
        #EXTINF:-1 catchup=\"flussonic\" catchup-days=\"3\",Flussonic\n{base}/fl/mpegts\n\
        #EXTINF:-1 catchup=\"fs\" catchup-days=\"3\",Flussonic HLS\n{base}/flh/index.m3u8\n\
        #EXTINF:-1 catchup-days=\"3\",Xc\n{base}/live/u/p/7.ts\n\
        #EXTINF:-1,Plain\n{base}/plain.ts\n\
        #EXTINF:-1,Loop\nloop:demo?9\n"
    );
    add_playlist(&srv, "kinds.m3u", &m3u, 0, Delivery::Proxy).await;
    let capped = format!(
        "#EXTM3U\n#EXTINF:-1 catchup=\"shift\" catchup-days=\"2\",Endless\n{base}/endless.ts\n"
    );
    add_playlist(&srv, "capped.m3u", &capped, 1, Delivery::Proxy).await;
    let redirected =
        format!("#EXTM3U\n#EXTINF:-1 catchup=\"shift\" catchup-days=\"1\",Away\n{base}/away.ts\n");
    add_playlist(&srv, "away.m3u", &redirected, 0, Delivery::Redirect).await;
    srv.add_line("viewer", "vpw", |s| s.max_connections = 1)
        .await;
    srv.add_line("other", "opw", |s| s.max_connections = 1)
        .await;
    srv
}

async fn channel_ids(srv: &TestServer) -> std::collections::HashMap<String, (u64, Value)> {
    let list =
        get_json(&srv.url("/player_api.php?username=viewer&password=vpw&action=get_live_streams"))
            .await;
    list.as_array()
        .expect("a list")
        .iter()
        .map(|v| {
            (
                v["name"].as_str().unwrap_or("").to_string(),
                (v["stream_id"].as_u64().unwrap_or(0), v.clone()),
            )
        })
        .collect()
}

fn timeshift(srv: &TestServer, user: &str, pass: &str, start: &str, id: u64) -> String {
    srv.url(&format!("/timeshift/{user}/{pass}/60/{start}/{id}.ts"))
}

fn reason(r: &reqwest::Response) -> Option<String> {
    r.headers()
        .get("x-tvgate-reason")
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
}

#[tokio::test]
async fn every_kind_reaches_its_archive() {
    let a = archive_server().await;
    let srv = server(&a).await;
    let ids = channel_ids(&srv).await;
    for (name, (_, v)) in &ids {
        let listed = (v["tv_archive"].clone(), v["tv_archive_duration"].clone());
        let expected = match name.as_str() {
            "Plain" | "Loop" => (0, 0),
            "Endless" => (1, 2),
            "Away" => (1, 1),
            _ => (1, 3),
        };
        assert_eq!(
            listed,
            (expected.0.into(), expected.1.into()),
            "{name}: {v}"
        );
    }
    let id = |name: &str| ids[name].0;
    let expected = [
        ("Default", format!("/arc/def?s={START}&d=60")),
        (
            "Append",
            format!("/app.ts?from={START}&to={}", START + 3600),
        ),
        ("Shift", format!("/sh.ts?utc={START}&lutc={NOW}")),
        ("Flussonic", format!("/fl/timeshift_abs-{START}.ts")),
        ("Xc", format!("/timeshift/u/p/60/{START_TEXT}/7.ts")),
    ];
    for (name, path) in expected {
        let (status, body) = get(&timeshift(&srv, "viewer", "vpw", START_TEXT, id(name))).await;
        assert_eq!((status, body), (200, format!("ARCHIVE {path}")), "{name}");
    }
    // The query form, with the start in unix seconds.
    let (status, body) = get(&srv.url(&format!(
        "/streaming/timeshift.php?username=viewer&password=vpw&stream={}&start={START}&duration=30",
        id("Default")
    )))
    .await;
    assert_eq!(
        (status, body),
        (200, format!("ARCHIVE /arc/def?s={START}&d=30"))
    );

    // Flussonic over HLS: the archive playlist, proxied with signed links.
    let (status, playlist) = get(&timeshift(
        &srv,
        "viewer",
        "vpw",
        START_TEXT,
        id("Flussonic HLS"),
    ))
    .await;
    assert_eq!(status, 200, "{playlist}");
    assert!(playlist.contains("#EXT-X-ENDLIST"), "{playlist}");
    assert!(!playlist.contains(&a.addr.to_string()), "{playlist}");
    let segment = playlist
        .lines()
        .find(|l| l.contains("/hls/"))
        .expect("a rewritten segment");
    let (status, body) = get(segment).await;
    assert_eq!((status, body.as_str()), (200, "ARCHIVE /flh/seg1.ts"));

    // A HEAD moves no video and takes no slot.
    let head = client()
        .head(timeshift(&srv, "viewer", "vpw", START_TEXT, id("Shift")))
        .send()
        .await
        .expect("head");
    assert_eq!(head.status(), 200);

    // A source set to redirect: a 302 to the archive URL.
    let r = client()
        .get(timeshift(&srv, "viewer", "vpw", START_TEXT, id("Away")))
        .send()
        .await
        .expect("redirect");
    assert_eq!(r.status(), 302);
    assert_eq!(
        r.headers()[header::LOCATION],
        a.url(&format!("/away.ts?utc={START}&lutc={NOW}")).as_str()
    );
}

#[tokio::test]
async fn refusals_are_precise_and_an_archive_view_holds_a_slot() {
    let a = archive_server().await;
    let srv = server(&a).await;
    let ids = channel_ids(&srv).await;
    let id = |name: &str| ids[name].0;

    // No archive, too old, not yet: no_archive (404), never a slate.
    let (status, body) = get(&timeshift(&srv, "viewer", "vpw", START_TEXT, id("Plain"))).await;
    assert_eq!(status, 404);
    assert_eq!(body, "no_archive: This channel has no catch-up archive\n");
    let (status, body) = get(&timeshift(&srv, "viewer", "vpw", START_TEXT, id("Loop"))).await;
    assert_eq!((status, body.starts_with("no_archive")), (404, true));
    let old = (NOW - 4 * 86_400).to_string();
    let (status, body) = get(&timeshift(&srv, "viewer", "vpw", &old, id("Shift"))).await;
    assert_eq!(status, 404);
    assert!(
        body.contains("no_archive") && body.contains("last 3 days"),
        "{body}"
    );
    let later = (NOW + 600).to_string();
    let (status, body) = get(&timeshift(&srv, "viewer", "vpw", &later, id("Shift"))).await;
    assert_eq!(
        (status, body.starts_with("no_archive")),
        (404, true),
        "{body}"
    );

    // The decision first: a wrong password is 401 whatever the channel.
    let (status, _) = get(&timeshift(&srv, "viewer", "nope", START_TEXT, id("Shift"))).await;
    assert_eq!(status, 401);
    let (status, _) = get(&timeshift(&srv, "viewer", "nope", START_TEXT, 999_999)).await;
    assert_eq!(status, 401);
    let (status, body) = get(&timeshift(&srv, "viewer", "vpw", START_TEXT, 999_999)).await;
    assert_eq!((status, body.as_str()), (404, "no such stream\n"));
    let (status, _) = get(&timeshift(&srv, "viewer", "vpw", "yesterday", id("Shift"))).await;
    assert_eq!(status, 400);
    let (status, _) = get(&srv.url("/timeshift/viewer/vpw/0/2027-01-15:06-00/1.ts")).await;
    assert_eq!(status, 400);

    // An archive view holds the line's one slot, as a film does.
    let watching = client()
        .get(timeshift(&srv, "viewer", "vpw", START_TEXT, id("Endless")))
        .send()
        .await
        .expect("endless");
    assert_eq!(watching.status(), 200);
    assert_eq!(reason(&watching), None);
    let live = client()
        .get(srv.url(&format!("/live/viewer/vpw/{}.ts", id("Loop"))))
        .send()
        .await
        .expect("live");
    assert_eq!(reason(&live).as_deref(), Some("connection_limit"));
    drop(live);
    // It is also a connection to the provider: its source allows one.
    let (status, body) = get(&timeshift(&srv, "other", "opw", START_TEXT, id("Endless"))).await;
    assert_eq!(status, 503, "{body}");
    assert!(body.starts_with("source_at_capacity"), "{body}");

    // Another moment from the same player takes the slot over (a seek
    // in a recording is a new request, as in a film): the first ends.
    let (status, body) = get(&timeshift(&srv, "viewer", "vpw", START_TEXT, id("Shift"))).await;
    assert_eq!(
        (status, body),
        (200, format!("ARCHIVE /sh.ts?utc={START}&lutc={NOW}"))
    );
    // (A body learns its lease ended at its next renewal, once a second
    // of the server's clock.)
    srv.clock.fetch_add(2, std::sync::atomic::Ordering::Relaxed);
    let ended = tokio::time::timeout(std::time::Duration::from_secs(10), async move {
        use futures::StreamExt;
        let mut body = watching.bytes_stream();
        while let Some(Ok(_)) = body.next().await {}
    })
    .await;
    assert!(ended.is_ok(), "the replaced view ends");

    // Its provider connection is given back with it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let again = client()
            .get(timeshift(&srv, "other", "opw", START_TEXT, id("Endless")))
            .send()
            .await
            .expect("endless");
        if again.status() == 200 {
            assert_eq!(reason(&again), None);
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{:?}", reason(&again));
        drop(again);
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// get.php lists an archive with tvgate's own template, which a player
/// (or another tvgate reading the playlist) fills to reach the moment.
#[tokio::test]
async fn the_playlist_offers_the_archive_with_a_template_that_works() {
    let a = archive_server().await;
    let srv = server(&a).await;
    let ids = channel_ids(&srv).await;
    let (status, m3u) =
        get(&srv.url("/get.php?username=viewer&password=vpw&type=m3u_plus&output=ts")).await;
    assert_eq!(status, 200);
    let shift = ids["Shift"].0;
    let template = format!(
        "{}/timeshift/viewer/vpw/{{duration:60}}/{{utc}}/{shift}.ts",
        srv.url("")
    );
    let line = m3u
        .lines()
        .find(|l| l.ends_with(",Shift"))
        .expect("Shift listed");
    assert!(
        line.contains(&format!(
            "catchup=\"default\" catchup-days=\"3\" catchup-source=\"{template}\""
        )),
        "{line}"
    );
    let plain = m3u.lines().find(|l| l.ends_with(",Plain")).expect("Plain");
    assert!(!plain.contains("catchup"), "{plain}");

    // Another tvgate imports that playlist and serves the moment through it.
    let reader = TestServer::start().await;
    reader.add_line("r", "rpw", |_| {}).await;
    let playlist = m3u.clone();
    add_playlist(&reader, "from-tvgate.m3u", &playlist, 0, Delivery::Proxy).await;
    let list =
        get_json(&reader.url("/player_api.php?username=r&password=rpw&action=get_live_streams"))
            .await;
    let entry = list
        .as_array()
        .and_then(|l| l.iter().find(|v| v["name"] == "Shift"))
        .cloned()
        .expect("Shift imported");
    assert_eq!(entry["tv_archive_duration"], 3);
    let id = entry["stream_id"].as_u64().expect("id");
    let (status, body) = get(&timeshift(&reader, "r", "rpw", START_TEXT, id)).await;
    assert_eq!(
        (status, body),
        (200, format!("ARCHIVE /sh.ts?utc={START}&lutc={NOW}"))
    );
}
