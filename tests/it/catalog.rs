//! Sources: bad lines are reported with their line numbers and the rest of
//! the file is kept; refreshes keep stream ids stable.

use crate::harness::*;
use tvgate_core::catalog::SourceKind;
use tvgate_core::gate::GateError;

#[tokio::test]
async fn a_malformed_playlist_keeps_every_good_entry_and_names_each_bad_line() {
    let srv = TestServer::start().await;
    let m3u = "#EXTM3U\n\
        #EXTINF:-1 tvg-id=\"a\" group-title=\"G\",Good A\n\
        http://127.0.0.1:9/a.ts\n\
        #EXTINF:-1 tvg-id=\"b\" group-title=\"G\",Dangling without URL\n\
        #EXTINF:-1 tvg-id=\"c\" group-title=\"G\",Good C\n\
        http://127.0.0.1:9/c.ts\n\
        this line is junk\n\
        http://127.0.0.1:9/stray.ts\n\
        #EXTINF:-1 tvg-id=\"d\" group-title=\"G\",Good D\n\
        http://127.0.0.1:9/d.ts\n";
    let (source, report) = srv.add_source(SourceKind::M3u, "messy.m3u", m3u).await;
    assert_eq!(report.items.live, 3, "{report:?}");
    let lines: Vec<u64> = report.diagnostics.iter().map(|d| d.line).collect();
    assert!(lines.contains(&4), "{:?}", report.diagnostics);
    assert!(lines.contains(&7), "{:?}", report.diagnostics);
    assert!(lines.contains(&8), "{:?}", report.diagnostics);
    let stored = srv.gate.sources().await.expect("sources");
    let s = stored.iter().find(|s| s.id == source.id).expect("source");
    assert_eq!(
        s.diagnostics.len(),
        report.diagnostics.len(),
        "the store keeps the import errors"
    );
    assert_eq!(s.item_count, 3);
    assert!(s.last_error.is_none());
}

#[tokio::test]
async fn refresh_keeps_stream_ids_and_a_broken_guide_keeps_the_rest() {
    let srv = TestServer::start().await;
    let v1 = "#EXTM3U\n#EXTINF:-1,One\nhttp://127.0.0.1:9/1.ts\n#EXTINF:-1,Two\nhttp://127.0.0.1:9/2.ts\n";
    let (source, _) = srv.add_source(SourceKind::M3u, "p.m3u", v1).await;
    let ids: Vec<u32> = srv.gate.catalog().live.iter().map(|c| c.id.0).collect();
    let v2 = "#EXTM3U\n#EXTINF:-1,Zero\nhttp://127.0.0.1:9/0.ts\n#EXTINF:-1,Two\nhttp://127.0.0.1:9/2.ts\n";
    std::fs::write(&source.location, v2).expect("rewrite");
    tvgate::sources::refresh(&srv.gate, &source, srv.dir.path(), tvgate::sources::quiet())
        .await
        .expect("refresh");
    let cat = srv.gate.catalog();
    let two = cat.live.iter().find(|c| c.name() == "Two").expect("two");
    assert_eq!(two.id.0, ids[1], "an unchanged entry keeps its stream id");
    assert!(cat.live.iter().all(|c| c.name() != "One"));

    let xml = "<?xml version=\"1.0\"?>\n<tv>\n<programme start=\"20270115080000 +0000\" stop=\"20270115090000 +0000\" channel=\"x\"><title>Kept</title></programme>\n<programme channel=\"x\"><title>No start</title></programme>\n</tv>\n";
    let (_, report) = srv.add_source(SourceKind::Xmltv, "g.xml", xml).await;
    assert_eq!(report.programmes, 1);
    assert!(
        report.diagnostics.iter().any(|d| d.line == 4),
        "{:?}",
        report.diagnostics
    );
}

#[tokio::test]
async fn a_guide_import_applies_the_guide_plan_from_file_to_catalog() {
    let srv = TestServer::start().await;
    // Out of order, a repeated channel id, stops missing.
    let xml = "<?xml version=\"1.0\"?>\n<tv>\n\
<channel id=\"a\"><display-name>First A</display-name></channel>\n\
<channel id=\"a\"><display-name>Second A</display-name></channel>\n\
<programme start=\"20270115090000 +0000\" channel=\"a\"><title>Later</title></programme>\n\
<programme start=\"20270115080000 +0000\" channel=\"a\"><title>Earlier</title></programme>\n\
</tv>\n";
    let (_, report) = srv.add_source(SourceKind::Xmltv, "plan.xml", xml).await;
    assert_eq!((report.channels, report.programmes), (1, 2));
    let cat = srv.gate.catalog();
    assert_eq!(
        cat.guide_channel("a").map(|c| c.name.as_ref()),
        Some("First A")
    );
    let start = tvgate_formats::xmltv::parse_time("20270115080000 +0000").expect("time");
    let rows: Vec<_> = cat
        .programmes("a")
        .iter()
        .map(|p| (p.title.as_ref(), p.start - start, p.stop - start))
        .collect();
    assert_eq!(
        rows,
        [
            ("Earlier", 0, 3600),
            (
                "Later",
                3600,
                3600 + tvgate_core::catalog::guide_plan::LAST_PROGRAMME_SECS
            )
        ]
    );
}

#[tokio::test]
async fn a_failed_refresh_is_recorded_and_keeps_what_the_last_good_one_stored() {
    let srv = TestServer::start().await;
    let m3u = "#EXTM3U\n#EXTINF:-1,One\nhttp://127.0.0.1:9/1.ts\n";
    let (source, _) = srv.add_source(SourceKind::M3u, "kept.m3u", m3u).await;
    let failed = srv
        .gate
        .import_source(
            source.id,
            Err("fetching http://up/list: HTTP 500".into()),
            NOW + 60,
        )
        .await
        .expect_err("fails");
    assert!(
        matches!(&failed, GateError::ImportFailed(e) if e.contains("HTTP 500")),
        "{failed}"
    );
    let stored = srv.gate.source(source.id).await.expect("source");
    assert_eq!(stored.last_refresh, Some(NOW + 60));
    assert_eq!(
        stored.last_error.as_deref(),
        Some("fetching http://up/list: HTTP 500")
    );
    // The count is what the source still has (the shrink guard compares
    // the next refresh with it).
    assert_eq!((stored.item_count, stored.diagnostic_count), (1, 0));
    assert_eq!(srv.gate.catalog().live.len(), 1, "the stored channel stays");
}

#[tokio::test]
async fn a_missing_source_file_is_recorded_not_fatal() {
    let srv = TestServer::start().await;
    let source = srv
        .gate
        .add_source(tvgate_core::ports::NewSource {
            kind: SourceKind::M3u,
            location: "/nonexistent/x.m3u".into(),
            name: "x".into(),
            created_at: NOW,
            max_connections: 0,
            delivery: Default::default(),
        })
        .await
        .expect("insert");
    let err =
        tvgate::sources::refresh(&srv.gate, &source, srv.dir.path(), tvgate::sources::quiet())
            .await
            .expect_err("fails");
    assert!(format!("{err:#}").contains("/nonexistent/x.m3u"), "{err:#}");
    let stored = srv.gate.sources().await.expect("sources");
    assert!(stored[0].last_error.is_some());
}

#[tokio::test]
async fn sources_come_from_urls_plain_or_gzip() {
    use axum::routing::get as route;
    use std::io::Write;
    let m3u = "#EXTM3U\n#EXTINF:-1 tvg-id=\"u.1\" group-title=\"Web\",From the web\nhttp://127.0.0.1:9/w.ts\n";
    let xml = "<?xml version=\"1.0\"?><tv><programme start=\"20270115080000 +0000\" stop=\"20270115090000 +0000\" channel=\"u.1\"><title>Zipped</title></programme></tv>";
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(xml.as_bytes()).expect("gzip");
    let gz = gz.finish().expect("gzip");
    let app = axum::Router::new()
        .route("/list.m3u", route(move || async move { m3u }))
        .route("/guide.xml.gz", route(move || async move { gz.clone() }))
        .route(
            "/missing",
            route(|| async { (axum::http::StatusCode::NOT_FOUND, "no") }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let upstream = listener.local_addr().expect("addr");
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let srv = TestServer::start().await;
    let add = |kind, location: String| {
        let gate = srv.gate.clone();
        async move {
            gate.add_source(tvgate_core::ports::NewSource {
                kind,
                location,
                name: "web".into(),
                created_at: NOW,
                max_connections: 0,
                delivery: Default::default(),
            })
            .await
            .expect("insert")
        }
    };
    let list = add(SourceKind::M3u, format!("http://{upstream}/list.m3u")).await;
    let report =
        tvgate::sources::refresh(&srv.gate, &list, srv.dir.path(), tvgate::sources::quiet())
            .await
            .expect("m3u over http");
    assert_eq!(report.items.live, 1);
    let guide = add(SourceKind::Xmltv, format!("http://{upstream}/guide.xml.gz")).await;
    let report =
        tvgate::sources::refresh(&srv.gate, &guide, srv.dir.path(), tvgate::sources::quiet())
            .await
            .expect("gzip guide over http");
    assert_eq!(report.programmes, 1);
    assert_eq!(
        srv.gate.catalog().programmes("u.1")[0].title.as_ref(),
        "Zipped"
    );
    let missing = add(
        SourceKind::M3u,
        format!("http://user:secret@{upstream}/missing?token=abc"),
    )
    .await;
    let err = tvgate::sources::refresh(
        &srv.gate,
        &missing,
        srv.dir.path(),
        tvgate::sources::quiet(),
    )
    .await
    .expect_err("404");
    let text = format!("{err:#}");
    assert!(text.contains("404"), "{text}");
    assert!(
        !text.contains("secret") && !text.contains("token=abc"),
        "credentials redacted: {text}"
    );
    assert_eq!(
        srv.gate.catalog().live.len(),
        1,
        "a failed refresh keeps what the other source brought"
    );
    server.abort();
}
