//! Request limits (issue 17, item 4): 1,000 idle and half-sent
//! connections (slowloris) do not stop a player logging in, one address is
//! capped with a clear refusal, headers and bodies have a time and a size
//! limit. The attacker's sockets come from 127.0.0.2, the player from
//! 127.0.0.1 (both loopback).
//!
//! The test holds both ends of every socket (about 2,300 descriptors), so
//! it raises its own RLIMIT_NOFILE soft limit to the hard limit first.

use crate::harness::TestServer;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

const IDLE: usize = 1_000;

fn raise_fd_limit() {
    // SAFETY: getrlimit/setrlimit with a valid pointer to a local struct.
    unsafe {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

async fn connect_from(from: &str, to: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().expect("socket");
    socket
        .bind(format!("{from}:0").parse().expect("addr"))
        .expect("bind");
    socket.connect(to).await.expect("connect")
}

/// What the server sends on `s` within `wait` (until it closes or the time
/// is up), and whether it closed.
async fn read_all(s: &mut TcpStream, wait: Duration) -> (String, bool) {
    let mut out = Vec::new();
    let mut buf = [0u8; 1024];
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        match tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return (String::from_utf8_lossy(&out).into(), true),
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
            Err(_) => return (String::from_utf8_lossy(&out).into(), false),
        }
    }
}

#[tokio::test]
async fn a_thousand_idle_connections_do_not_stop_a_login_and_are_closed() {
    raise_fd_limit();
    let srv = TestServer::start_with(|h| {
        h.conn_limits.header_timeout = Duration::from_secs(2);
    })
    .await;
    srv.add_line("pat", "pw-p", |_| {}).await;
    // Half send nothing, half the start of a request and then nothing.
    let mut idle = Vec::with_capacity(IDLE);
    for i in 0..IDLE {
        let mut s = connect_from("127.0.0.2", srv.addr).await;
        if i % 2 == 1 {
            let _ = s
                .write_all(b"GET /player_api.php HTTP/1.1\r\nHost: x\r\nX-a: ")
                .await;
        }
        idle.push(s);
    }
    let started = Instant::now();
    let v: serde_json::Value = reqwest::Client::new()
        .get(srv.url("/player_api.php?username=pat&password=pw-p"))
        .send()
        .await
        .expect("the player gets through")
        .json()
        .await
        .expect("json");
    let login = started.elapsed();
    assert_eq!(v["user_info"]["auth"], 1, "{v}");
    assert!(login < Duration::from_secs(2), "login took {login:?}");
    // The address's first 256 were taken; the rest were refused at once
    // with the reason, and all are closed within the header time limit.
    let reads = idle.iter_mut().map(|s| read_all(s, Duration::from_secs(6)));
    let results = futures::future::join_all(reads).await;
    let refused = results
        .iter()
        .filter(|(text, _)| text.starts_with("HTTP/1.1 429 Too Many Requests"))
        .count();
    let closed = results.iter().filter(|(_, closed)| *closed).count();
    assert!(
        results
            .iter()
            .filter(|(t, _)| t.starts_with("HTTP/1.1 429"))
            .all(|(t, _)| t.ends_with("too many connections from your address\n")),
        "the refusal says why"
    );
    assert_eq!(refused, IDLE - 256, "over the cap of 256 per address");
    assert_eq!(closed, IDLE, "every idle connection is closed");
    println!(
        "{IDLE} idle connections from one address: {refused} refused at once, \
         {} closed after the 2 s header limit; login in {login:?}",
        IDLE - refused
    );
}

#[tokio::test]
async fn headers_and_bodies_are_limited_in_size_and_time() {
    let srv = TestServer::start_with(|h| {
        h.conn_limits.body_timeout = Duration::from_secs(1);
    })
    .await;
    let client = reqwest::Client::new();
    // Headers over 16 KiB: 431.
    let r = client
        .get(srv.url("/healthz"))
        .header("x-big", "a".repeat(20_000))
        .send()
        .await
        .expect("answer");
    assert_eq!(r.status(), 431);
    // A body over the forms' 2 MiB: 413.
    let r = client
        .post(srv.url("/admin/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(vec![b'a'; 3 << 20])
        .send()
        .await
        .expect("answer");
    assert_eq!(r.status(), 413);
    // A body that stops arriving: refused after the body time limit, and
    // the connection closed.
    let mut s = connect_from("127.0.0.1", srv.addr).await;
    s.write_all(
        b"POST /admin/login HTTP/1.1\r\nHost: x\r\n\
          Content-Type: application/x-www-form-urlencoded\r\n\
          Content-Length: 100\r\n\r\nname=a",
    )
    .await
    .expect("write");
    let started = Instant::now();
    let (answer, closed) = read_all(&mut s, Duration::from_secs(5)).await;
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(closed, "{answer}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}
