//! The client's address (issue 17, item 6): a forwarding header is
//! believed only from `trusted_proxies`. Two loopback addresses play the
//! two sides: 127.0.0.1 is an untrusted peer, 127.0.0.2 the trusted
//! proxy (Linux routes all of 127.0.0.0/8 to the loopback interface).

use crate::harness::{TestServer, NOW};
use std::net::{IpAddr, Ipv4Addr};
use tvgate_core::access::device::IpRange;
use tvgate_core::gate::DevicePolicyPatch;

const UNTRUSTED: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1));
const PROXY: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));

async fn server() -> TestServer {
    let srv = TestServer::start_with(|h| {
        h.trusted_proxies.networks =
            tvgate_formats::cidr::CidrList::parse("127.0.0.2").expect("networks");
        h.stream_denials = tvgate_http::slate::StreamDenials::Status;
    })
    .await;
    srv.with_catalog().await;
    srv
}

/// A client whose connections come from `from`.
fn from(from: IpAddr) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(from)
        .build()
        .expect("client")
}

async fn login(srv: &TestServer, from_ip: IpAddr, xff: &str, user: &str, pw: &str) -> String {
    let url = srv.url(&format!("/player_api.php?username={user}&password={pw}"));
    let v: serde_json::Value = from(from_ip)
        .get(url)
        .header("x-forwarded-for", xff)
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    // A failed login is `{"user_info":{"auth":0}}` and nothing more.
    let failed = v["user_info"]["auth"] == 0 && v.get("tvgate").is_none();
    match v["tvgate"]["reason"].as_str() {
        Some(reason) => reason.to_string(),
        None if failed => "invalid_credentials".to_string(),
        None => v["user_info"]["status"].as_str().unwrap_or("?").to_string(),
    }
}

#[tokio::test]
async fn a_spoofed_header_from_an_untrusted_peer_does_not_refill_the_failure_budget() {
    let srv = server().await;
    srv.add_line("ann", "right-pw", |_| {}).await;
    // 20 failures (the per-address burst), each naming another address.
    for i in 0..20 {
        let xff = format!("198.51.100.{i}");
        assert_eq!(
            login(&srv, UNTRUSTED, &xff, "ann", "wrong").await,
            "invalid_credentials"
        );
    }
    // Still the same client: its budget is spent, whatever it claims.
    assert_eq!(
        login(&srv, UNTRUSTED, "198.51.100.200", "ann", "wrong").await,
        "rate_limited"
    );
    // Through the trusted proxy a new address is a new budget...
    assert_eq!(
        login(&srv, PROXY, "203.0.113.7", "ann", "wrong").await,
        "invalid_credentials"
    );
    // ...and the proxy's own address is not the one counted: an address
    // the proxy names is blocked as itself once it spends its burst.
    for _ in 0..20 {
        login(&srv, PROXY, "203.0.113.8", "ann", "wrong").await;
    }
    assert_eq!(
        login(&srv, PROXY, "203.0.113.8", "ann", "wrong").await,
        "rate_limited"
    );
    assert_eq!(
        login(&srv, PROXY, "203.0.113.9", "ann", "right-pw").await,
        "Active",
        "another client behind the same proxy is not blocked"
    );
    // A client writing its own hop to the left of the proxy's gains nothing.
    assert_eq!(
        login(&srv, PROXY, "203.0.113.9, 203.0.113.8", "ann", "right-pw").await,
        "rate_limited"
    );
}

#[tokio::test]
async fn an_ip_lock_sees_the_socket_unless_a_trusted_proxy_names_the_client() {
    let srv = server().await;
    srv.add_line("bo", "pw-b", |_| {}).await;
    srv.gate
        .set_device_policy(
            "bo",
            DevicePolicyPatch {
                ip_lock: Some(vec![IpRange::parse("192.0.2.0/24").expect("range")]),
                ..Default::default()
            },
            NOW,
        )
        .await
        .expect("lock");
    assert_eq!(
        login(&srv, UNTRUSTED, "192.0.2.10", "bo", "pw-b").await,
        "device_not_registered",
        "the header from an untrusted peer does not unlock"
    );
    assert_eq!(
        login(&srv, PROXY, "192.0.2.10", "bo", "pw-b").await,
        "Active"
    );
    assert_eq!(
        login(&srv, PROXY, "198.51.100.1", "bo", "pw-b").await,
        "device_not_registered"
    );
}

#[tokio::test]
async fn the_ledger_records_the_socket_or_the_address_the_proxy_saw() {
    let srv = server().await;
    srv.add_line("cy", "pw-c", |s| s.max_connections = 2).await;
    let line = srv.gate.find_line("cy").expect("line").id;
    let open = |ip: IpAddr, xff: &'static str| {
        let url = srv.url("/live/cy/pw-c/1.ts");
        async move {
            let mut r = from(ip)
                .get(url)
                .header("x-forwarded-for", xff)
                .header("user-agent", "VLC/3")
                .send()
                .await
                .expect("request");
            assert_eq!(r.status(), 200);
            assert!(r.chunk().await.expect("chunk").is_some());
            r
        }
    };
    let _a = open(UNTRUSTED, "198.51.100.50").await;
    let _b = open(PROXY, "203.0.113.60").await;
    let mut ips: Vec<IpAddr> = srv
        .ledger
        .holders(line, NOW)
        .await
        .into_iter()
        .map(|l| l.ip)
        .collect();
    ips.sort();
    let want: Vec<IpAddr> = vec![
        "127.0.0.1".parse().expect("ip"),
        "203.0.113.60".parse().expect("ip"),
    ];
    assert_eq!(ips, want);
}
