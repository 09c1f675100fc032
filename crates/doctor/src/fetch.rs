//! The HTTP client the account and stream steps share: the player's user
//! agent, the extra trusted certificate, the address name resolution found
//! (so a `--system-resolver` override or a DNS-over-HTTPS answer is what is
//! actually used), and a hard deadline on every request and every body read,
//! so nothing here can hang.

use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use reqwest::header::HeaderMap;
use reqwest::{StatusCode, Url};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

/// A configured client with its per-step deadline.
#[derive(Clone)]
pub struct Http {
    client: reqwest::Client,
    pub timeout: Duration,
    /// The user agent every request sends ("" for none).
    pub user_agent: String,
}

/// An answer read up to a size limit.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub content_type: String,
    pub body: Bytes,
    /// True when the body was longer than the limit (the rest was not read).
    pub truncated: bool,
    pub final_url: Url,
    /// Time until the answer's headers arrived.
    pub millis: u64,
}

impl Fetched {
    /// An HTML page (by its type or its first bytes).
    pub fn is_html(&self) -> bool {
        self.content_type.contains("html") || looks_like_html(&self.body)
    }

    /// A header as text.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    }
}

/// True when the first non-blank bytes open an HTML document.
pub fn looks_like_html(body: &[u8]) -> bool {
    let start = body
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(body.len());
    let head: Vec<u8> = body[start..]
        .iter()
        .take(15)
        .map(|b| b.to_ascii_lowercase())
        .collect();
    head.starts_with(b"<!doctype html")
        || head.starts_with(b"<html")
        || head.starts_with(b"<head")
        || head.starts_with(b"<body")
}

/// The text of an HTML page's `<title>` (or its first `<h1>`), for evidence.
pub fn html_title(body: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(&body[..body.len().min(64 * 1024)]);
    let lower = text.to_ascii_lowercase();
    for tag in ["title", "h1"] {
        if let Some(s) = lower.find(&format!("<{tag}")) {
            let open_end = lower[s..].find('>')? + s + 1;
            let close = lower[open_end..].find(&format!("</{tag}"))? + open_end;
            let t = text[open_end..close]
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ");
            if !t.is_empty() {
                return Some(t.chars().take(120).collect());
            }
        }
    }
    None
}

/// Why a request got no answer.
#[derive(Debug, Clone)]
pub enum FetchError {
    /// Nothing within the deadline.
    Timeout(Duration),
    /// Connection refused, reset, TLS failure...
    Failed(String),
}

impl std::fmt::Display for FetchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FetchError::Timeout(d) => write!(f, "no answer within {} s", d.as_secs_f32()),
            FetchError::Failed(e) => f.write_str(e),
        }
    }
}

/// The full chain of a reqwest error, for evidence.
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let t = s.to_string();
        if !out.contains(&t) {
            out.push_str(": ");
            out.push_str(&t);
        }
        source = s.source();
    }
    out
}

impl Http {
    /// A client for `host`, pinned to `addr` when name resolution chose
    /// one; an empty `user_agent` sends none.
    pub fn new(
        user_agent: &str,
        timeout: Duration,
        extra_ca_pem: Option<&[u8]>,
        pin: Option<(&str, IpAddr)>,
    ) -> Result<Http, String> {
        let mut b = reqwest::Client::builder()
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::limited(5));
        if !user_agent.is_empty() {
            b = b.user_agent(user_agent);
        }
        if let Some(pem) = extra_ca_pem {
            let cert = reqwest::Certificate::from_pem(pem)
                .map_err(|e| format!("the --ca-file is not a PEM certificate: {e}"))?;
            b = b.add_root_certificate(cert);
        }
        if let Some((host, ip)) = pin {
            b = b.resolve(host, SocketAddr::new(ip, 0));
        }
        let client = b.build().map_err(|e| error_chain(&e))?;
        Ok(Http {
            client,
            timeout,
            user_agent: user_agent.to_string(),
        })
    }

    /// GET `url`, reading at most `limit` bytes of the body; the whole
    /// exchange must finish within the step's deadline.
    pub async fn get(&self, url: &Url, limit: usize) -> Result<Fetched, FetchError> {
        self.get_with(url, &[], limit).await
    }

    /// [`Http::get`] with extra request headers (a portal's cookie and
    /// session token).
    pub async fn get_with(
        &self,
        url: &Url,
        headers: &[(&str, String)],
        limit: usize,
    ) -> Result<Fetched, FetchError> {
        let deadline = Instant::now() + self.timeout;
        let started = Instant::now();
        let mut request = self.client.get(url.clone());
        for (name, value) in headers {
            request = request.header(*name, value.as_str());
        }
        let send = request.send();
        let response = match tokio::time::timeout(self.timeout, send).await {
            Err(_) => return Err(FetchError::Timeout(self.timeout)),
            Ok(Err(e)) if e.is_timeout() => return Err(FetchError::Timeout(self.timeout)),
            Ok(Err(e)) => return Err(FetchError::Failed(error_chain(&e))),
            Ok(Ok(r)) => r,
        };
        let millis = started.elapsed().as_millis() as u64;
        let status = response.status();
        let headers = response.headers().clone();
        let final_url = response.url().clone();
        let content_type = headers
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        let mut body = BytesMut::new();
        let mut truncated = false;
        let mut stream = response.bytes_stream();
        loop {
            let next = tokio::time::timeout_at(deadline.into(), stream.next()).await;
            match next {
                Err(_) => {
                    if body.is_empty() {
                        return Err(FetchError::Timeout(self.timeout));
                    }
                    truncated = true;
                    break;
                }
                Ok(None) => break,
                Ok(Some(Err(e))) => {
                    if body.is_empty() {
                        return Err(FetchError::Failed(error_chain(&e)));
                    }
                    truncated = true;
                    break;
                }
                Ok(Some(Ok(chunk))) => {
                    let room = limit.saturating_sub(body.len());
                    body.extend_from_slice(&chunk[..chunk.len().min(room)]);
                    if body.len() >= limit {
                        truncated = true;
                        break;
                    }
                }
            }
        }
        Ok(Fetched {
            status,
            headers,
            content_type,
            body: body.freeze(),
            truncated,
            final_url,
            millis,
        })
    }

    /// GET `url` and hand back the response for streaming reads.
    pub async fn open(&self, url: &Url) -> Result<(reqwest::Response, u64), FetchError> {
        let started = Instant::now();
        match tokio::time::timeout(self.timeout, self.client.get(url.clone()).send()).await {
            Err(_) => Err(FetchError::Timeout(self.timeout)),
            Ok(Err(e)) if e.is_timeout() => Err(FetchError::Timeout(self.timeout)),
            Ok(Err(e)) => Err(FetchError::Failed(error_chain(&e))),
            Ok(Ok(r)) => Ok((r, started.elapsed().as_millis() as u64)),
        }
    }
}
