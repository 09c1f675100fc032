//! The Xtream Codes surface: wire types, actions, aliases, playlists, guide.

use crate::harness::*;
use serde_json::Value;

fn api(srv: &TestServer, query: &str) -> String {
    srv.url(&format!(
        "/player_api.php?username=alice&password=pw-1&{query}"
    ))
}

#[tokio::test]
async fn login_payload_has_every_key_with_player_types() {
    login_payload_has_every_key_with_player_types_on(TestServer::start().await).await;
}

/// The body of [`login_payload_has_every_key_with_player_types`], also run on PostgreSQL (`postgres.rs`).
pub(crate) async fn login_payload_has_every_key_with_player_types_on(srv: TestServer) {
    srv.add_line("alice", "pw-1", |s| s.max_connections = 2)
        .await;
    let v = get_json(&api(&srv, "")).await;
    let u = &v["user_info"];
    assert_eq!(u["auth"], 1, "auth is a JSON number");
    assert_eq!(u["username"], "alice");
    assert_eq!(u["password"], "pw-1");
    assert_eq!(u["status"], "Active");
    assert_eq!(u["exp_date"], (NOW + 30 * 86_400).to_string());
    for key in [
        "is_trial",
        "active_cons",
        "created_at",
        "max_connections",
        "message",
    ] {
        assert!(u[key].is_string(), "{key} is a string: {u}");
    }
    assert_eq!(u["max_connections"], "2");
    assert_eq!(
        u["allowed_output_formats"],
        serde_json::json!(["ts", "m3u8"])
    );
    let s = &v["server_info"];
    assert_eq!(s["url"], "127.0.0.1");
    assert_eq!(s["port"], srv.addr.port().to_string());
    assert_eq!(s["timestamp_now"], NOW);
    assert_eq!(s["timezone"], "UTC");
    assert_eq!(s["time_now"], "2027-01-15 08:00:00");
    assert_eq!(s["process"], true);
    assert!(v.get("tvgate").is_none(), "no extension on a healthy login");
}

#[tokio::test]
async fn unknown_actions_and_aliases_answer_the_login_payload() {
    let srv = TestServer::start().await;
    srv.add_line("alice", "pw-1", |_| {}).await;
    let plain = get_json(&api(&srv, "")).await;
    for action in [
        "get_profile",
        "get_server_info",
        "get_account_info",
        "nonsense",
    ] {
        let v = get_json(&api(&srv, &format!("action={action}"))).await;
        assert_eq!(v["user_info"], plain["user_info"], "{action}");
    }
    // XUI's path alias and a POSTed form (an Android app does that).
    let v = get_json(&srv.url("/player_api/alice/pw-1")).await;
    assert_eq!(v["user_info"]["auth"], 1);
    let r = client()
        .post(srv.url("/player_api.php"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("username=alice&password=pw-1")
        .send()
        .await
        .expect("post");
    let v: Value = r.json().await.expect("json");
    assert_eq!(v["user_info"]["auth"], 1);
}

#[tokio::test]
async fn lists_details_and_numeric_aliases() {
    lists_details_and_numeric_aliases_on(TestServer::start().await).await;
}

/// The body of [`lists_details_and_numeric_aliases`], also run on PostgreSQL (`postgres.rs`).
pub(crate) async fn lists_details_and_numeric_aliases_on(srv: TestServer) {
    srv.add_line("alice", "pw-1", |_| {}).await;
    srv.with_catalog().await;
    let cats = get_json(&api(&srv, "action=get_live_categories")).await;
    assert_eq!(cats.as_array().map(Vec::len), Some(2));
    assert!(cats[0]["category_id"].is_string() && cats[0]["parent_id"].is_number());
    assert_eq!(
        get_json(&api(&srv, "action=201")).await,
        cats,
        "201 is get_live_categories"
    );

    let live = get_json(&api(&srv, "action=get_live_streams")).await;
    let live = live.as_array().expect("array");
    assert_eq!(live.len(), 2);
    assert_eq!(live[0]["name"], "News One");
    assert_eq!(live[0]["num"], 1);
    assert!(live[0]["stream_id"].is_number());
    assert_eq!(live[0]["epg_channel_id"], "news.t");
    assert!(live[0]["added"].is_string() && live[0]["is_adult"] == "0");
    assert_eq!(live[0]["direct_source"], "", "upstream URLs never leak");
    let news_cat = live[0]["category_id"].as_str().expect("category id");
    let filtered = get_json(&api(
        &srv,
        &format!("action=get_live_streams&category_id={news_cat}"),
    ))
    .await;
    assert_eq!(filtered.as_array().map(Vec::len), Some(1));

    let vod = get_json(&api(&srv, "action=get_vod_streams")).await;
    assert_eq!(vod[0]["container_extension"], "ts");
    let vod_id = vod[0]["stream_id"].as_u64().expect("id");
    let info = get_json(&api(&srv, &format!("action=get_vod_info&vod_id={vod_id}"))).await;
    assert_eq!(info["movie_data"]["stream_id"], vod_id);
    assert_eq!(
        get_json(&api(&srv, "action=get_vod_info&vod_id=999999")).await,
        serde_json::json!({"info": []})
    );

    let series = get_json(&api(&srv, "action=get_series")).await;
    assert_eq!(series[0]["name"], "The Show");
    assert!(series[0]["last_modified"].is_string() && series[0]["cover"].is_string());
    let sid = series[0]["series_id"].as_u64().expect("series id");
    let info = get_json(&api(
        &srv,
        &format!("action=get_series_info&series_id={sid}"),
    ))
    .await;
    assert_eq!(info["seasons"][0]["season_number"], 1);
    assert_eq!(info["episodes"]["1"].as_array().map(Vec::len), Some(2));
    assert_eq!(info["episodes"]["1"][1]["episode_num"], 2);
    assert_eq!(info["episodes"]["1"][0]["container_extension"], "mkv");
    assert_eq!(
        get_json(&api(&srv, &format!("action=204&series_id={sid}"))).await,
        info
    );
}

#[tokio::test]
async fn short_epg_is_base64_in_the_advertised_zone() {
    let srv = TestServer::start().await;
    srv.add_line("alice", "pw-1", |_| {}).await;
    srv.with_catalog().await;
    let live = get_json(&api(&srv, "action=get_live_streams")).await;
    let id = live[0]["stream_id"].as_u64().expect("id");
    let epg = get_json(&api(
        &srv,
        &format!("action=get_short_epg&stream_id={id}&limit=2"),
    ))
    .await;
    let list = epg["epg_listings"].as_array().expect("listings");
    assert_eq!(list.len(), 2);
    use base64::Engine;
    let title = base64::engine::general_purpose::STANDARD
        .decode(list[0]["title"].as_str().expect("title"))
        .expect("b64");
    assert_eq!(
        String::from_utf8(title).expect("utf8"),
        "Show 2 & more",
        "the programme on now comes first"
    );
    assert_eq!(list[0]["now_playing"], 1);
    assert_eq!(list[0]["start"], "2027-01-15 08:00:00");
    assert!(list[0]["start_timestamp"].is_string());
    let all = get_json(&api(
        &srv,
        &format!("action=get_simple_data_table&stream_id={id}"),
    ))
    .await;
    assert_eq!(all["epg_listings"].as_array().map(Vec::len), Some(6));
    let none = get_json(&api(&srv, "action=get_short_epg&stream_id=424242")).await;
    assert_eq!(none, serde_json::json!({"epg_listings": []}));
}

#[tokio::test]
async fn get_php_is_a_clean_m3u_plus_with_the_lines_credentials() {
    let srv = TestServer::start().await;
    srv.add_line("alice", "pw-1", |_| {}).await;
    srv.with_catalog().await;
    let (status, body) =
        get(&srv.url("/get.php?username=alice&password=pw-1&type=m3u_plus&output=ts")).await;
    assert_eq!(status, 200);
    let lines: Vec<&str> = body.lines().collect();
    assert!(lines[0].starts_with("#EXTM3U x-tvg-url=\""), "{}", lines[0]);
    assert!(lines[0].contains("url-tvg="));
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.starts_with("#EXTINF:-1 "))
            .count(),
        5
    );
    assert!(
        lines[1].contains("tvg-id=\"news.t\"")
            && lines[1].contains("group-title=\"News\"")
            && lines[1].ends_with(",News One")
    );
    assert_eq!(lines[2], srv.url("/live/alice/pw-1/1.ts"));
    assert!(body.contains("/movie/alice/pw-1/") && body.contains("/series/alice/pw-1/"));
    assert!(!body.contains("127.0.0.1:9"), "source URLs never leak");
    // Exactly this type: mpv refuses it with a charset parameter.
    let r = client()
        .get(srv.url("/get.php?username=alice&password=pw-1&type=m3u_plus"))
        .send()
        .await
        .expect("get.php");
    assert_eq!(r.headers()["content-type"], "audio/x-mpegurl");
    let (_, hls) = get(&srv.url("/get.php?username=alice&password=pw-1&type=m3u&output=hls")).await;
    assert!(
        hls.lines().nth(2).is_some_and(|l| l.ends_with("/1.m3u8")),
        "{hls}"
    );
    assert!(hls
        .lines()
        .nth(1)
        .is_some_and(|l| l == "#EXTINF:-1,News One"));
    // The path alias.
    let (status, alias) = get(&srv.url("/playlist/alice/pw-1/m3u_plus")).await;
    assert_eq!((status, alias.lines().count()), (200, body.lines().count()));
}

#[tokio::test]
async fn xmltv_php_lists_visible_channels_then_programmes() {
    let srv = TestServer::start().await;
    srv.add_line("alice", "pw-1", |_| {}).await;
    srv.with_catalog().await;
    let (status, xml) = get(&srv.url("/xmltv.php?username=alice&password=pw-1")).await;
    assert_eq!(status, 200);
    assert!(xml.starts_with("<?xml"));
    assert!(xml.contains("<channel id=\"news.t\"><display-name>News One</display-name>"));
    assert!(
        xml.contains("<channel id=\"sport.t\">"),
        "a channel without programmes is still listed"
    );
    assert_eq!(xml.matches("<programme ").count(), 6);
    assert!(xml.contains("Show 0 &amp; more"));
    assert!(xml.find("<channel").unwrap_or(usize::MAX) < xml.find("<programme").unwrap_or(0));
    let (status, _) = get(&srv.url("/epg/alice/pw-1")).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn panel_api_adds_categories_and_channels() {
    let srv = TestServer::start().await;
    srv.add_line("alice", "pw-1", |_| {}).await;
    srv.with_catalog().await;
    let v = get_json(&srv.url("/panel_api.php?username=alice&password=pw-1")).await;
    assert_eq!(v["user_info"]["auth"], 1);
    assert_eq!(v["categories"]["live"].as_array().map(Vec::len), Some(2));
    assert_eq!(
        v["available_channels"].as_object().map(|o| o.len()),
        Some(3)
    );
}

#[tokio::test]
async fn streams_are_served_or_handed_over() {
    streams_are_served_or_handed_over_on(TestServer::start().await).await;
}

/// The body of [`streams_are_served_or_handed_over`], also run on PostgreSQL (`postgres.rs`).
pub(crate) async fn streams_are_served_or_handed_over_on(srv: TestServer) {
    srv.add_line("alice", "pw-1", |_| {}).await;
    srv.with_catalog().await;
    // The built-in loop is served directly, as MPEG-TS.
    let mut r = client()
        .get(srv.url("/live/alice/pw-1/1.ts"))
        .send()
        .await
        .expect("live");
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "video/mp2t");
    let chunk = r.chunk().await.expect("chunk").expect("bytes");
    assert_eq!(chunk[0], 0x47, "starts on a TS packet");
    drop(r);
    // The short form is live too.
    let r = client()
        .get(srv.url("/alice/pw-1/1"))
        .send()
        .await
        .expect("short");
    assert_eq!(r.status(), 200);
    drop(r);
    // Sources the operator set to `redirect` get a 302 to the source.
    let source = srv
        .gate
        .sources()
        .await
        .expect("sources")
        .into_iter()
        .find(|s| s.name == "catalog.m3u")
        .expect("catalog source");
    srv.gate
        .update_source(
            source.id,
            tvgate_core::ports::SourcePatch {
                delivery: Some(tvgate_core::catalog::Delivery::Redirect),
                ..Default::default()
            },
        )
        .await
        .expect("set redirect");
    let r = client()
        .get(srv.url("/live/alice/pw-1/2.ts"))
        .send()
        .await
        .expect("redirect");
    assert_eq!(r.status(), 302);
    assert_eq!(
        r.headers()["location"],
        "http://127.0.0.1:9/upstream/sport.ts"
    );
    // A movie id on the live path is not a live stream.
    let (status, _) = get(&srv.url("/live/alice/pw-1/3.ts")).await;
    assert_eq!(status, 404);
    let (status, _) = get(&srv.url("/movie/alice/pw-1/3.ts")).await;
    assert_eq!(status, 200);
    // Catch-up URLs are parsed and authorized.
    let (status, body) = get(&srv.url("/timeshift/alice/pw-1/60/2027-01-15:07-00/1.ts")).await;
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("catch-up"));
    let (status, _) = get(&srv.url("/timeshift/alice/nope/60/2027-01-15:07-00/1.ts")).await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn cors_echoes_the_origin() {
    let srv = TestServer::start().await;
    let r = client()
        .get(srv.url("/player_api.php"))
        .header("origin", "http://player.example")
        .send()
        .await
        .expect("get");
    assert_eq!(
        r.headers()["access-control-allow-origin"],
        "http://player.example"
    );
    assert_eq!(r.headers()["access-control-allow-credentials"], "true");
    let r = client()
        .request(reqwest::Method::OPTIONS, srv.url("/get.php"))
        .send()
        .await
        .expect("options");
    assert_eq!(r.status(), 204);
}

#[tokio::test]
async fn the_guide_comes_gzipped_when_asked() {
    use std::io::Read;
    let srv = TestServer::start().await;
    srv.add_line("alice", "pw-1", |_| {}).await;
    srv.with_catalog().await;
    let (_, plain) = get(&srv.url("/xmltv.php?username=alice&password=pw-1")).await;
    for path in [
        "/epg/alice/pw-1/gz",
        "/xmltv.php?username=alice&password=pw-1&gzip=1",
    ] {
        let r = client().get(srv.url(path)).send().await.expect("get");
        assert_eq!(r.headers()["content-type"], "application/gzip");
        let bytes = r.bytes().await.expect("body");
        let mut text = String::new();
        flate2::read::GzDecoder::new(&bytes[..])
            .read_to_string(&mut text)
            .expect("gunzip");
        assert_eq!(text, plain, "{path}");
    }
}

/// The login payload is written by hand (`Login::write_json`); for many
/// accounts (odd but valid usernames, every status and option, a message
/// with characters JSON escapes) its bytes are what serde writes for the
/// same values.
#[tokio::test]
async fn login_payloads_are_the_bytes_serde_writes() {
    use tvgate_core::access::{OutputFormat, OutputFormats, Status};
    use tvgate_formats::xtream::{Extension, Login, ServerInfo, UserInfo};
    let srv = TestServer::start_with(|s| {
        s.message = "Say \"hi\" \\ to\ttabs, </script> \u{2028} and \u{1} ünïcødé".into();
    })
    .await;
    let long = "x".repeat(128);
    let names = [
        "alice",
        "Ünïcødé",
        "日本語のユーザー",
        "a.b-c_d~e!$()*,;@[]{}|^`",
        "📺tv",
        long.as_str(),
        "u000001",
    ];
    let mut n = 0;
    for (i, name) in names.iter().enumerate() {
        let password = format!("pw-{i}-ÄÖ");
        srv.add_line(name, &password, |s| {
            s.max_connections = [1, 4, 1000][i % 3];
            s.is_trial = i % 2 == 1;
            s.expires_at = match i % 4 {
                0 => None,
                1 => Some(NOW - 86_400),
                _ => Some(NOW + 86_400 * i as i64),
            };
            s.status = [
                Status::Active,
                Status::Active,
                Status::Disabled,
                Status::Banned,
            ][i % 4];
            s.allowed_formats = match i % 3 {
                0 => OutputFormats::DEFAULT,
                1 => OutputFormats::empty().with(OutputFormat::Ts),
                _ => OutputFormats::empty()
                    .with(OutputFormat::Ts)
                    .with(OutputFormat::M3u8)
                    .with(OutputFormat::Rtmp),
            };
        })
        .await;
        let enc = |s: &str| {
            percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
        };
        for action in ["", "&action=get_account_info"] {
            let url = srv.url(&format!(
                "/player_api.php?username={}&password={}{action}",
                enc(name),
                enc(&password)
            ));
            let (status, body) = get(&url).await;
            assert_eq!(status, 200, "{name}: {body}");
            let v: Value = serde_json::from_str(&body).expect("JSON");
            let (u, s) = (&v["user_info"], &v["server_info"]);
            let text = |v: &Value| v.as_str().expect("a string").to_string();
            let formats: Vec<String> = u["allowed_output_formats"]
                .as_array()
                .expect("array")
                .iter()
                .map(text)
                .collect();
            let formats: Vec<&str> = formats.iter().map(String::as_str).collect();
            let fields: Vec<String> = [
                &u["username"],
                &u["password"],
                &u["message"],
                &u["status"],
                &u["is_trial"],
                &u["active_cons"],
                &u["created_at"],
                &u["max_connections"],
                &s["url"],
                &s["port"],
                &s["https_port"],
                &s["server_protocol"],
                &s["rtmp_port"],
                &s["timezone"],
                &s["time_now"],
            ]
            .into_iter()
            .map(text)
            .collect();
            let exp = u["exp_date"].as_str().map(str::to_string);
            let ext = v
                .get("tvgate")
                .map(|t| (text(&t["reason"]), text(&t["message"])));
            // Expired, disabled and banned lines carry tvgate's extension.
            assert_eq!(ext.is_some(), i % 4 != 0, "{name}: {body}");
            let reference = Login {
                user_info: UserInfo {
                    username: &fields[0],
                    password: &fields[1],
                    message: &fields[2],
                    auth: u["auth"].as_u64().expect("auth") as u8,
                    status: &fields[3],
                    exp_date: exp.as_deref(),
                    is_trial: &fields[4],
                    active_cons: &fields[5],
                    created_at: &fields[6],
                    max_connections: &fields[7],
                    allowed_output_formats: &formats,
                },
                server_info: ServerInfo {
                    url: &fields[8],
                    port: &fields[9],
                    https_port: &fields[10],
                    server_protocol: &fields[11],
                    rtmp_port: &fields[12],
                    timezone: &fields[13],
                    timestamp_now: s["timestamp_now"].as_i64().expect("number"),
                    time_now: &fields[14],
                    process: s["process"].as_bool().expect("bool"),
                },
                tvgate: ext
                    .as_ref()
                    .map(|(reason, message)| Extension { reason, message }),
            };
            assert_eq!(
                body,
                String::from_utf8(serde_json::to_vec(&reference).expect("serde")).expect("utf-8"),
                "{name}"
            );
            assert_eq!(fields[0], *name);
            n += 1;
        }
    }
    assert_eq!(n, names.len() * 2);
}
