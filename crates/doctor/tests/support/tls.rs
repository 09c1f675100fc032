//! Certificates made at test time with rcgen, and the server-side TLS
//! setup for them.

use std::sync::Arc;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::TlsAcceptor;

/// A self-signed certificate and its key.
pub struct TestCert {
    /// The certificate in PEM: what `--ca-file` would hold to trust it.
    pub cert_pem: String,
    cert_der: CertificateDer<'static>,
    key_der: Vec<u8>,
}

impl TestCert {
    /// A self-signed certificate for these names (IP addresses become IP
    /// names, e.g. "127.0.0.1").
    pub fn for_names(names: &[&str]) -> TestCert {
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let certified =
            rcgen::generate_simple_self_signed(names).expect("generate a test certificate");
        TestCert {
            cert_pem: certified.cert.pem(),
            cert_der: certified.cert.der().clone(),
            key_der: certified.key_pair.serialize_der(),
        }
    }

    /// A self-signed certificate for these names that expired in 2001.
    pub fn expired_for_names(names: &[&str]) -> TestCert {
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let mut params = rcgen::CertificateParams::new(names).expect("certificate names");
        params.not_before = rcgen::date_time_ymd(2000, 1, 1);
        params.not_after = rcgen::date_time_ymd(2001, 1, 1);
        let key_pair = rcgen::KeyPair::generate().expect("generate a key");
        let cert = params
            .self_signed(&key_pair)
            .expect("sign the test certificate");
        TestCert {
            cert_pem: cert.pem(),
            cert_der: cert.der().clone(),
            key_der: key_pair.serialize_der(),
        }
    }

    /// A TLS acceptor that presents this certificate.
    pub fn acceptor(&self) -> TlsAcceptor {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key_der.clone()));
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("protocol versions")
            .with_no_client_auth()
            .with_single_cert(vec![self.cert_der.clone()], key)
            .expect("server certificate");
        TlsAcceptor::from(Arc::new(config))
    }
}
