//! Sources: bad lines are reported with their line numbers and the rest of
//! the file is kept; refreshes keep stream ids stable.

use crate::harness::*;
use tvgate_core::catalog::SourceKind;

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
    let lines: Vec<&str> = report
        .diagnostics
        .iter()
        .map(|d| d.split(':').next().unwrap_or(""))
        .collect();
    assert!(lines.contains(&"line 4"), "{:?}", report.diagnostics);
    assert!(lines.contains(&"line 7"), "{:?}", report.diagnostics);
    assert!(lines.contains(&"line 8"), "{:?}", report.diagnostics);
    let stored = srv.gate.store().sources().await.expect("sources");
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
    tvgate::sources::refresh(&srv.gate, &source, srv.dir.path(), false)
        .await
        .expect("refresh");
    let cat = srv.gate.catalog();
    let two = cat.live.iter().find(|c| &*c.name == "Two").expect("two");
    assert_eq!(two.id.0, ids[1], "an unchanged entry keeps its stream id");
    assert!(cat.live.iter().all(|c| &*c.name != "One"));

    let xml = "<?xml version=\"1.0\"?>\n<tv>\n<programme start=\"20270115080000 +0000\" stop=\"20270115090000 +0000\" channel=\"x\"><title>Kept</title></programme>\n<programme channel=\"x\"><title>No start</title></programme>\n</tv>\n";
    let (_, report) = srv.add_source(SourceKind::Xmltv, "g.xml", xml).await;
    assert_eq!(report.programmes, 1);
    assert!(
        report.diagnostics.iter().any(|d| d.starts_with("line 4")),
        "{:?}",
        report.diagnostics
    );
}

#[tokio::test]
async fn a_missing_source_file_is_recorded_not_fatal() {
    let srv = TestServer::start().await;
    let source = srv
        .gate
        .store()
        .insert_source(tvgate_core::ports::NewSource {
            kind: SourceKind::M3u,
            location: "/nonexistent/x.m3u".into(),
            name: "x".into(),
            created_at: NOW,
        })
        .await
        .expect("insert");
    let err = tvgate::sources::refresh(&srv.gate, &source, srv.dir.path(), false)
        .await
        .expect_err("fails");
    assert!(format!("{err:#}").contains("/nonexistent/x.m3u"), "{err:#}");
    let stored = srv.gate.store().sources().await.expect("sources");
    assert!(stored[0].last_error.is_some());
}
