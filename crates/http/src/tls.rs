//! HTTPS beside plain HTTP: the server's certificate, replaceable while
//! serving ([`ServerCert`]), and the listener that turns accepted TCP
//! connections into TLS ones ([`HttpsListener`]).
//!
//! Handshakes run one task each, off the accept loop and with a time
//! limit, so a slow or broken client (a plain HTTP request on the TLS port,
//! a scanner) costs one task for at most [`HANDSHAKE_TIMEOUT`] and never
//! holds up anyone else; its failure is logged at debug, as noise. Only
//! finished handshakes reach the HTTP server, which then treats a TLS
//! connection exactly like a plain one.
//!
//! The certificate is read from PEM by the caller (the binary names the
//! files); this module only parses and checks it. A reload
//! ([`ServerCert::replace`]) affects the handshakes that start after it:
//! connections already open keep going.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

/// A certificate chain with its signing key, as [`certified_key`] makes it.
pub use rustls::sign::CertifiedKey;

/// How long a client may take to finish its TLS handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// What is wrong with a certificate and key given in PEM, by file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertError {
    /// The certificate file holds no usable certificate.
    Certificate(String),
    /// The key file holds no usable private key.
    Key(String),
    /// The key is not the one the (first) certificate was issued for.
    Mismatch,
}

impl std::fmt::Display for CertError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CertError::Certificate(why) | CertError::Key(why) => f.write_str(why),
            CertError::Mismatch => {
                f.write_str("the private key does not belong to the certificate")
            }
        }
    }
}

impl std::error::Error for CertError {}

/// The cryptography every TLS piece of the server uses (ring).
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A certificate chain (the server's certificate first, then its
/// intermediates) and its private key (PKCS#8, RSA or SEC1), both PEM,
/// checked to belong together.
pub fn certified_key(cert_pem: &[u8], key_pem: &[u8]) -> Result<CertifiedKey, CertError> {
    let chain = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| CertError::Certificate(format!("not a readable PEM file ({e})")))?;
    if chain.is_empty() {
        return Err(CertError::Certificate(
            "holds no certificate (no -----BEGIN CERTIFICATE----- block)".into(),
        ));
    }
    let key = match PrivateKeyDer::from_pem_slice(key_pem) {
        Ok(key) => key,
        Err(rustls::pki_types::pem::Error::NoItemsFound) => {
            let text = String::from_utf8_lossy(key_pem);
            return Err(CertError::Key(if text.contains("ENCRYPTED PRIVATE KEY") {
                "holds an encrypted private key; give it decrypted \
                 (openssl pkey -in KEY -out KEY.plain)"
                    .into()
            } else {
                "holds no private key (no -----BEGIN PRIVATE KEY-----, RSA PRIVATE KEY \
                 or EC PRIVATE KEY block)"
                    .into()
            }));
        }
        Err(e) => return Err(CertError::Key(format!("not a readable PEM file ({e})"))),
    };
    let signing = provider()
        .key_provider
        .load_private_key(key)
        .map_err(|e| CertError::Key(format!("private key not usable ({e})")))?;
    let certified = CertifiedKey::new(chain, signing);
    match certified.keys_match() {
        Ok(()) => Ok(certified),
        // A key that cannot name its public half is checked by the first
        // handshake instead.
        Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => Ok(certified),
        Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch)) => {
            Err(CertError::Mismatch)
        }
        Err(e) => Err(CertError::Certificate(format!(
            "certificate not usable ({e})"
        ))),
    }
}

/// The server's certificate, which every handshake asks for: replacing it
/// affects the handshakes that start afterwards.
#[derive(Debug)]
pub struct ServerCert {
    current: RwLock<Arc<CertifiedKey>>,
}

impl ServerCert {
    pub fn new(key: CertifiedKey) -> Arc<ServerCert> {
        Arc::new(ServerCert {
            current: RwLock::new(Arc::new(key)),
        })
    }

    /// Presents `key` from the next handshake on.
    pub fn replace(&self, key: CertifiedKey) {
        // std RwLock: held only to swap or clone an Arc.
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(key);
    }

    fn current(&self) -> Arc<CertifiedKey> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

impl ResolvesServerCert for ServerCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current())
    }
}

/// The rustls settings of the HTTPS listener: TLS 1.3 and 1.2 (older
/// set-top boxes speak only 1.2), HTTP/1.1 offered by ALPN, the
/// certificate asked of `cert` at each handshake.
pub fn server_config(cert: Arc<ServerCert>) -> Result<Arc<rustls::ServerConfig>, rustls::Error> {
    let mut config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_cert_resolver(cert);
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// A bound TCP listener whose connections are served over TLS.
pub struct HttpsListener {
    tcp: TcpListener,
    acceptor: TlsAcceptor,
    handshake_timeout: Duration,
}

impl HttpsListener {
    /// TLS with `cert` on a listener the caller bound.
    pub fn new(tcp: TcpListener, cert: Arc<ServerCert>) -> Result<HttpsListener, rustls::Error> {
        Ok(HttpsListener {
            tcp,
            acceptor: TlsAcceptor::from(server_config(cert)?),
            handshake_timeout: HANDSHAKE_TIMEOUT,
        })
    }

    /// The same with another handshake time limit (tests).
    pub fn with_handshake_timeout(mut self, limit: Duration) -> HttpsListener {
        self.handshake_timeout = limit;
        self
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.tcp.local_addr()
    }

    /// Starts accepting: the returned listener yields connections whose
    /// handshake has finished. Dropping it stops the accept loop and closes
    /// the port.
    pub(crate) fn start(self) -> std::io::Result<Handshaken> {
        let local = self.tcp.local_addr()?;
        let (tx, incoming) = mpsc::channel(64);
        tokio::spawn(accept_loop(
            self.tcp,
            self.acceptor,
            self.handshake_timeout,
            tx,
        ));
        Ok(Handshaken { incoming, local })
    }
}

/// Accepts TCP connections and hands each to its own handshake task,
/// until the receiving side is gone.
async fn accept_loop(
    tcp: TcpListener,
    acceptor: TlsAcceptor,
    limit: Duration,
    done: mpsc::Sender<(TlsStream<TcpStream>, SocketAddr)>,
) {
    loop {
        let (stream, peer) = tokio::select! {
            _ = done.closed() => return,
            accepted = tcp.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    accept_failed(e).await;
                    continue;
                }
            },
        };
        let acceptor = acceptor.clone();
        let done = done.clone();
        tokio::spawn(async move {
            match tokio::time::timeout(limit, acceptor.accept(stream)).await {
                Ok(Ok(tls)) => {
                    // The server is gone when this fails; the connection closes.
                    let _ = done.send((tls, peer)).await;
                }
                Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
            }
        });
    }
}

/// As axum's own accept loop: a connection that died before it was
/// accepted is nothing; anything else (out of file descriptors) is logged
/// and retried after a second.
async fn accept_failed(e: std::io::Error) {
    use std::io::ErrorKind;
    if matches!(
        e.kind(),
        ErrorKind::ConnectionRefused | ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset
    ) {
        return;
    }
    tracing::error!(error = %e, "accepting a TLS connection failed");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

/// Connections whose TLS handshake has finished, for the HTTP server.
pub(crate) struct Handshaken {
    incoming: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
}

impl axum::serve::Listener for Handshaken {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.incoming.recv().await {
            Some(pair) => pair,
            // The accept loop only ends once this listener is gone.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        Ok(self.local)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn self_signed() -> (String, String) {
        let c = rcgen::generate_simple_self_signed(vec!["localhost".to_string()])
            .expect("test certificate");
        (c.cert.pem(), c.key_pair.serialize_pem())
    }

    #[test]
    fn a_certificate_and_its_pkcs8_key_load() {
        let (cert, key) = self_signed();
        assert!(certified_key(cert.as_bytes(), key.as_bytes()).is_ok());
    }

    #[test]
    fn rsa_and_sec1_keys_load() {
        for (cert, key) in [
            (
                include_str!("../tests/fixtures/rsa-cert.pem"),
                include_str!("../tests/fixtures/rsa-key.pem"),
            ),
            (
                include_str!("../tests/fixtures/ec-cert.pem"),
                include_str!("../tests/fixtures/ec-key.pem"),
            ),
        ] {
            assert!(
                key.contains("-----BEGIN RSA PRIVATE KEY-----")
                    || key.contains("-----BEGIN EC PRIVATE KEY-----")
            );
            let loaded = certified_key(cert.as_bytes(), key.as_bytes());
            assert!(loaded.is_ok(), "{loaded:?}");
        }
    }

    #[test]
    fn what_is_wrong_is_named_by_file() {
        let (cert, key) = self_signed();
        let (other_cert, _) = self_signed();
        type Expected = fn(&CertError) -> bool;
        let cases: [(&str, &str, Expected); 5] = [
            ("", &key, |e| matches!(e, CertError::Certificate(w) if w.contains("no certificate"))),
            (&key, &key, |e| matches!(e, CertError::Certificate(_))),
            (&cert, &cert, |e| matches!(e, CertError::Key(w) if w.contains("no private key"))),
            (
                &cert,
                "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n",
                |e| matches!(e, CertError::Key(w) if w.contains("encrypted")),
            ),
            (&other_cert, &key, |e| *e == CertError::Mismatch),
        ];
        for (i, (cert, key, expected)) in cases.into_iter().enumerate() {
            match certified_key(cert.as_bytes(), key.as_bytes()) {
                Err(e) => assert!(expected(&e), "case {i}: {e:?}"),
                Ok(_) => panic!("case {i} loaded"),
            }
        }
        let truncated = &cert[..cert.len() / 2];
        assert!(matches!(
            certified_key(truncated.as_bytes(), key.as_bytes()),
            Err(CertError::Certificate(w)) if w.contains("not a readable PEM")
        ));
    }
}
