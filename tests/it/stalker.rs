//! The Stalker/Ministra portal over HTTP, as a MAG box or an emulator uses
//! it: handshake, profile, genres, channels (paged), links that stream
//! through the relay and the ledger, the guide, the watchdog, and scan
//! protection.

use crate::harness::*;
use serde_json::Value;
use std::net::IpAddr;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tvgate_core::ledger::LimitPolicy;

/// The MAC of the test line, and the username it is stored under (a
/// username cannot hold `:`).
const MAC: &str = "00:1A:79:00:00:01";
const MAC_USER: &str = "001A79000001";

/// A box talking to the portal.
struct Stb {
    http: reqwest::Client,
    base: String,
    mac: String,
    token: String,
    path: &'static str,
}

impl Stb {
    fn new(srv: &TestServer, mac: &str) -> Stb {
        Stb::from(srv, mac, "127.0.0.1")
    }

    fn from(srv: &TestServer, mac: &str, ip: &str) -> Stb {
        Stb {
            http: reqwest::Client::builder()
                .local_address(ip.parse::<IpAddr>().expect("ip"))
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            base: srv.url(""),
            mac: mac.to_string(),
            token: String::new(),
            path: "/stalker_portal/server/load.php",
        }
    }

    /// GET `type=&action=&...`; (status, body).
    async fn get(&self, query: &str) -> (u16, String) {
        let url = format!("{}{}?{query}&JsHttpRequest=1-xml", self.base, self.path);
        let mut req = self.http.get(url).header(
            "cookie",
            format!("mac={}; stb_lang=en; timezone=Europe%2FParis", self.mac),
        );
        if !self.token.is_empty() {
            req = req.header("authorization", format!("Bearer {}", self.token));
        }
        let r = req.send().await.expect("request");
        let status = r.status().as_u16();
        (status, r.text().await.expect("body"))
    }

    async fn js(&self, query: &str) -> Value {
        let (status, body) = self.get(query).await;
        assert_eq!(status, 200, "{query}: {body}");
        let v: Value = serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("{query}: not JSON ({e}): {body}"));
        v["js"].clone()
    }

    async fn handshake(&mut self) {
        let js = self.js("type=stb&action=handshake&token=").await;
        self.token = js["token"].as_str().expect("token").to_string();
        assert_eq!(self.token.len(), 32, "{js}");
    }

    async fn profile(&self) -> Value {
        self.js("type=stb&action=get_profile&sn=0000000000000&stb_type=MAG250&hd=1")
            .await
    }
}

async fn portal(tweak: impl FnOnce(&mut tvgate_http::HttpSettings)) -> TestServer {
    let srv = TestServer::start_with(tweak).await;
    srv.add_line(MAC_USER, "mac-pw-1", |s| s.max_connections = 1)
        .await;
    srv.with_catalog().await;
    srv
}

fn line_id(srv: &TestServer) -> tvgate_core::ids::LineId {
    srv.gate.find_line(MAC_USER).expect("line").id
}

#[tokio::test]
async fn a_box_goes_from_handshake_to_a_relayed_channel() {
    let srv = portal(|h| h.stalker.page_size = 1).await;
    // The stock JS URI-encodes the MAC; case and separators do not matter.
    let mut stb = Stb::new(&srv, "00%3a1a%3a79%3a00%3a00%3a01");
    let (_, no_mac) = get(&srv.url("/portal.php?type=itv&action=get_genres")).await;
    assert_eq!(no_mac, "Unauthorized request.");
    let (status, js) = get(&srv.url("/c/version.js")).await;
    assert_eq!(status, 200);
    assert!(js.contains("var ver = '"), "{js}");
    assert_eq!(
        get(&srv.url("/stalker_portal/c/xpcom.common.js")).await.0,
        200
    );

    stb.handshake().await;
    let again = stb
        .js(&format!("type=stb&action=handshake&token={}", stb.token))
        .await;
    assert_eq!(again["token"], stb.token.as_str(), "idempotent handshake");
    let p = stb.profile().await;
    assert_eq!(p["status"], 0, "{p}");
    assert_eq!(p["mac"], MAC);
    assert!(p["watchdog_timeout"].as_u64().is_some());
    let info = stb.js("type=account_info&action=get_main_info").await;
    assert!(
        info["end_date"]
            .as_str()
            .expect("end_date")
            .contains("(30 days)"),
        "{info}"
    );

    let genres = stb.js("type=itv&action=get_genres").await;
    let titles: Vec<&str> = genres
        .as_array()
        .expect("genres")
        .iter()
        .map(|g| g["title"].as_str().expect("title"))
        .collect();
    assert_eq!(titles, ["All", "News", "Sports"]);
    assert_eq!(genres[0]["id"], "*");

    let all = stb.js("type=itv&action=get_all_channels").await;
    assert_eq!(all["total_items"], 2);
    let news = all["data"]
        .as_array()
        .expect("data")
        .iter()
        .find(|c| c["name"] == "News One")
        .expect("News One")
        .clone();
    assert_eq!(news["number"], "1", "number is a string");
    assert_eq!(news["use_http_tmp_link"], "1");
    let cmd = news["cmd"].as_str().expect("cmd");
    assert!(
        !cmd.contains("mac-pw-1") && !cmd.contains(MAC_USER),
        "{cmd}"
    );

    // One channel per page here: two pages, then an empty one.
    let mut names = vec![];
    for p in 1..=3 {
        let page = stb
            .js(&format!(
                "type=itv&action=get_ordered_list&genre=*&fav=0&sortby=number&p={p}"
            ))
            .await;
        assert_eq!(page["total_items"], 2);
        assert_eq!(page["max_page_items"], 1);
        for c in page["data"].as_array().expect("data") {
            names.push(c["name"].as_str().expect("name").to_string());
        }
    }
    assert_eq!(names, ["News One", "Sport One"]);
    let sports_id = genres[2]["id"].as_str().expect("id");
    let sports = stb
        .js(&format!(
            "type=itv&action=get_ordered_list&genre={sports_id}&p=1"
        ))
        .await;
    assert_eq!(sports["total_items"], 1);

    let id = news["id"].as_str().expect("id");
    let epg = stb
        .js(&format!("type=itv&action=get_short_epg&ch_id={id}&size=2"))
        .await;
    assert_eq!(epg.as_array().map(Vec::len), Some(2), "{epg}");
    assert!(epg[0]["name"].as_str().expect("name").starts_with("Show "));
    let info = stb.js("type=itv&action=get_epg_info&period=96").await;
    assert!(
        info["data"][id].as_array().is_some_and(|a| !a.is_empty()),
        "{info}"
    );
    let events = stb
        .js("type=watchdog&action=get_events&init=0&cur_play_type=1&event_active_id=0")
        .await;
    assert_eq!(events["data"]["msgs"], 0);

    let link = stb
        .js(&format!(
            "type=itv&action=create_link&cmd={}&forced_storage=undefined&disable_ad=0",
            urlencode(cmd)
        ))
        .await;
    assert_eq!(link["error"], "");
    let cmd = link["cmd"].as_str().expect("cmd");
    let url = cmd.strip_prefix("ffmpeg ").expect("ffmpeg prefix");
    assert!(url.starts_with(&srv.url("/stalker/live/")), "{url}");
    assert!(
        !url.contains("mac-pw-1") && !url.contains(MAC_USER) && !url.contains(&stb.token),
        "{url}"
    );

    let mut r = client().get(url).send().await.expect("stream");
    assert_eq!(r.status(), 200);
    let first = r.chunk().await.expect("chunk").expect("bytes");
    assert_eq!(first[0], 0x47, "MPEG-TS sync byte");
    assert_eq!(
        srv.ledger.active(line_id(&srv), NOW).await,
        1,
        "the stream holds a slot"
    );
    drop(r);
    let freed = tokio::time::timeout(Duration::from_secs(5), async {
        while srv.ledger.active(line_id(&srv), NOW).await != 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(freed.is_ok(), "the slot is freed when the box stops");

    // Other calls are harmless; POST works like GET (iptvpy POSTs forms).
    assert_eq!(
        stb.js("type=vod&action=get_categories").await,
        serde_json::json!([])
    );
    assert_eq!(stb.js("type=stb&action=log&data=x").await, true);
    let r = stb
        .http
        .post(srv.url("/server/load.php"))
        .header("cookie", format!("mac={MAC}"))
        .header("authorization", format!("Bearer {}", stb.token))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("type=itv&action=get_all_channels&JsHttpRequest=1-xml")
        .send()
        .await
        .expect("post");
    let v: Value = r.json().await.expect("json");
    assert_eq!(v["js"]["total_items"], 2);
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn bad_tokens_and_links_are_refused() {
    let srv = portal(|_| {}).await;
    let mut stb = Stb::new(&srv, MAC);
    stb.token = "0123456789ABCDEF0123456789ABCDEF".into();
    assert_eq!(
        stb.get("type=stb&action=get_profile").await.1,
        "Authorization failed."
    );
    stb.handshake().await;
    // The token belongs to this MAC only.
    let mut thief = Stb::new(&srv, "00:1A:79:00:00:99");
    thief.token = stb.token.clone();
    assert_eq!(
        thief.get("type=itv&action=get_genres").await.1,
        "Authorization failed."
    );
    // Not identified yet: no channels.
    assert_eq!(
        stb.get("type=itv&action=get_genres").await.1,
        "Authorization failed."
    );
    assert_eq!(stb.profile().await["status"], 0);
    let all = stb.js("type=itv&action=get_all_channels").await;
    let cmd = all["data"][0]["cmd"].as_str().expect("cmd").to_string();
    let link = stb
        .js(&format!(
            "type=itv&action=create_link&cmd={}",
            urlencode(&cmd)
        ))
        .await;
    let url = link["cmd"]
        .as_str()
        .expect("cmd")
        .trim_start_matches("ffmpeg ")
        .to_string();
    // A tampered link, a link for another channel id, an expired link.
    let (head, file) = url.rsplit_once('/').expect("path");
    let tampered = format!("{}X/{file}", head);
    assert_eq!(get(&tampered).await.0, 403);
    assert_eq!(get(&format!("{head}/999.ts")).await.0, 403);
    srv.clock.fetch_add(301, Ordering::Relaxed);
    assert_eq!(get(&url).await.0, 403);
    // An idle token lapses (24 h by default): back to the handshake.
    srv.clock.fetch_add(24 * 3600, Ordering::Relaxed);
    assert_eq!(
        stb.get("type=itv&action=get_genres").await.1,
        "Authorization failed."
    );
}

#[tokio::test]
async fn an_expired_line_is_refused_and_a_running_box_is_cut_off() {
    let srv = portal(|_| {}).await;
    srv.add_line("001A79000002", "x-pw-2", |s| {
        s.expires_at = Some(NOW - 86_400)
    })
    .await;
    let mut old = Stb::new(&srv, "00:1A:79:00:00:02");
    old.handshake().await;
    let p = old.profile().await;
    assert_eq!(p["status"], 1, "{p}");
    assert!(
        p["msg"]
            .as_str()
            .expect("msg")
            .to_lowercase()
            .contains("expired"),
        "{p}"
    );
    assert_eq!(
        old.get("type=itv&action=get_genres").await.1,
        "Authorization failed."
    );

    // A box running when its line is disabled is told by the watchdog,
    // and its other calls are refused.
    let mut stb = Stb::new(&srv, MAC);
    stb.handshake().await;
    assert_eq!(stb.profile().await["status"], 0);
    let patch = tvgate_core::access::LinePatch {
        status: Some(tvgate_core::access::Status::Disabled),
        ..Default::default()
    };
    srv.gate
        .update_line(MAC_USER, patch)
        .await
        .expect("disable");
    let ev = stb.js("type=watchdog&action=get_events&init=0").await;
    assert_eq!(ev["data"]["event"], "cut_off", "{ev}");
    assert_eq!(ev["data"]["msgs"], 1);
    assert_eq!(
        stb.get("type=itv&action=get_all_channels").await.1,
        "Access denied."
    );
}

#[tokio::test]
async fn a_box_whose_stream_was_taken_over_hears_it_from_the_watchdog() {
    let srv = portal(|h| h.limit_policy = LimitPolicy::NewestWins).await;
    srv.clock.store(NOW, Ordering::Relaxed);
    let mut stb = Stb::new(&srv, MAC);
    stb.handshake().await;
    assert_eq!(stb.profile().await["status"], 0);
    let all = stb.js("type=itv&action=get_all_channels").await;
    let cmd = all["data"][0]["cmd"].as_str().expect("cmd").to_string();
    let id = all["data"][0]["id"].as_str().expect("id").to_string();
    let link = stb
        .js(&format!(
            "type=itv&action=create_link&cmd={}",
            urlencode(&cmd)
        ))
        .await;
    let url = link["cmd"]
        .as_str()
        .expect("cmd")
        .trim_start_matches("ffmpeg ")
        .to_string();
    let mut boxed = client()
        .get(&url)
        .header("user-agent", "MAG250")
        .send()
        .await
        .expect("stream");
    assert!(boxed.chunk().await.expect("chunk").is_some());
    // The same line opens the channel elsewhere (an Xtream player).
    let mut phone = client()
        .get(srv.url(&format!("/live/{MAC_USER}/mac-pw-1/{id}.ts")))
        .header("user-agent", "Phone")
        .send()
        .await
        .expect("phone");
    assert_eq!(phone.status(), 200);
    assert!(phone.chunk().await.expect("chunk").is_some());
    srv.clock.fetch_add(15, Ordering::Relaxed);
    let ended = tokio::time::timeout(Duration::from_secs(10), async {
        while let Ok(Some(_)) = boxed.chunk().await {}
    })
    .await;
    assert!(ended.is_ok(), "the box's stream ended");
    let ev = stb.js("type=watchdog&action=get_events&init=0").await;
    assert_eq!(ev["data"]["event"], "send_msg", "{ev}");
    assert!(ev["data"]["msg"]
        .as_str()
        .expect("msg")
        .contains("another device"));
    let ev = stb.js("type=watchdog&action=get_events&init=0").await;
    assert_eq!(ev["data"]["msgs"], 0, "delivered once");
}

#[tokio::test]
async fn a_mac_scan_is_blocked_per_address() {
    let srv = portal(|_| {}).await;
    let mut bodies = vec![];
    for i in 0..6 {
        // One in another spelling: unknown all the same.
        let mac = if i == 2 {
            "00-1a-79-00-10-02".to_string()
        } else {
            format!("00:1A:79:00:10:{i:02X}")
        };
        let mut stb = Stb::new(&srv, &mac);
        stb.handshake().await;
        let p = stb.profile().await;
        assert_eq!(p["status"], 1, "{p}");
        bodies.push(p);
    }
    // Every unknown MAC gets the same answer, whatever its spelling...
    let unknown = &bodies[0];
    assert!(bodies[..5].iter().all(|b| b == unknown), "{bodies:?}");
    // ...until the sixth blocks the address: from then on every MAC gets
    // the block's own answer (the doctor names it), the same for all.
    let blocked = bodies[5].clone();
    assert_ne!(&blocked, unknown);
    assert_eq!(blocked["status"], 1);
    assert!(
        blocked["msg"].as_str().is_some_and(|m| m
            .to_lowercase()
            .contains("too many unregistered devices were tried from this address")),
        "{blocked}"
    );
    let mut dashed = Stb::new(&srv, "00-1a-79-00-20-01");
    dashed.handshake().await;
    assert_eq!(dashed.profile().await, blocked);
    // Blocked now: the known MAC from this address gets the same answer...
    let mut known = Stb::new(&srv, MAC);
    known.handshake().await;
    assert_eq!(known.profile().await, blocked);
    // ...while another address is served.
    let mut elsewhere = Stb::from(&srv, MAC, "127.0.0.2");
    elsewhere.handshake().await;
    assert_eq!(elsewhere.profile().await["status"], 0);
    // The block ends after 10 minutes.
    srv.clock.fetch_add(601, Ordering::Relaxed);
    assert_eq!(known.profile().await["status"], 0);
}

#[tokio::test]
async fn login_and_password_when_required() {
    let srv = portal(|h| h.stalker.login_required = true).await;
    let mut stb = Stb::new(&srv, MAC);
    stb.handshake().await;
    assert_eq!(stb.profile().await["status"], 2);
    let mut stranger = Stb::new(&srv, "00:1A:79:00:30:01");
    stranger.handshake().await;
    assert_eq!(
        stranger.profile().await["status"],
        2,
        "unknown MACs look the same"
    );
    assert_eq!(
        stb.js("type=stb&action=do_auth&login=001A79000001&password=wrong")
            .await,
        false
    );
    assert_eq!(stb.profile().await["status"], 2);
    assert_eq!(
        stb.js("type=stb&action=do_auth&login=001A79000001&password=mac-pw-1")
            .await,
        true
    );
    assert_eq!(stb.profile().await["status"], 0);
}

/// With binding on, the first box binds (its MAC and serial pinned); a
/// clone of that MAC with another serial is refused `device_not_registered`
/// with a hint that names the bound box without revealing it.
#[tokio::test]
async fn a_cloned_mac_with_another_serial_is_not_registered() {
    let srv = portal(|_| {}).await;
    srv.gate
        .set_device_policy(
            MAC_USER,
            tvgate_core::gate::DevicePolicyPatch {
                limit: Some(1),
                ..Default::default()
            },
            NOW,
        )
        .await
        .expect("binding on");
    let mut real = Stb::new(&srv, MAC);
    real.handshake().await;
    let p = real
        .js("type=stb&action=get_profile&sn=SN00000001&device_id=AAAA&stb_type=MAG250")
        .await;
    assert_eq!(p["status"], 0, "the first box binds: {p}");
    let mut clone = Stb::from(&srv, MAC, "127.0.0.3");
    clone.handshake().await;
    let p = clone
        .js("type=stb&action=get_profile&sn=SN99999999&device_id=BBBB&stb_type=MAG250")
        .await;
    assert_eq!(p["status"], 1, "{p}");
    let msg = p["msg"].as_str().expect("msg");
    assert!(
        msg.contains("ending 0001"),
        "the hint names the MAC's tail: {msg}"
    );
    assert!(
        !msg.contains("00:1A:79:00:00:01"),
        "the full MAC never shows: {msg}"
    );
    let audit = srv
        .gate
        .device_audit(Some(MAC_USER), 10)
        .await
        .expect("audit");
    assert!(!audit.is_empty());
}
