//! HTTPS of `tvgate serve` and `demo`: the certificate and key read from
//! their files at start (what is wrong is one line naming the file, and the
//! server does not start), the HTTPS listener bound beside the plain one,
//! and the files read again on SIGHUP (`systemctl reload tvgate`): a good
//! pair replaces the certificate for new handshakes, a bad one is logged
//! and the old one kept.

use crate::cli::TlsFlags;
use crate::settings::{Settings, TlsFiles};
use anyhow::{Context, Result};
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tvgate_http::tls::{certified_key, CertError, CertifiedKey, HttpsListener, ServerCert};

/// The flags on top of the settings, checked together as the settings are.
pub fn apply_flags(settings: &mut Settings, flags: &TlsFlags) -> Result<()> {
    if let Some(v) = &flags.tls_listen {
        settings.tls_listen = v.clone();
    }
    if let Some(v) = &flags.tls_cert {
        settings.tls_cert_file = v.clone();
    }
    if let Some(v) = &flags.tls_key {
        settings.tls_key_file = v.clone();
    }
    settings.tls_files()?;
    Ok(())
}

/// Reads the certificate and key: an error names the file and what is
/// wrong with it, on one line.
pub fn load(files: &TlsFiles) -> Result<CertifiedKey> {
    let (cert_path, key_path) = (files.cert.display(), files.key.display());
    let cert = std::fs::read(&files.cert)
        .with_context(|| format!("tls_cert_file {cert_path}: cannot be read"))?;
    let key = std::fs::read(&files.key)
        .with_context(|| format!("tls_key_file {key_path}: cannot be read"))?;
    certified_key(&cert, &key).map_err(|e| match e {
        CertError::Certificate(why) => anyhow::anyhow!("tls_cert_file {cert_path}: {why}"),
        CertError::Key(why) => anyhow::anyhow!("tls_key_file {key_path}: {why}"),
        CertError::Mismatch => anyhow::anyhow!(
            "tls_key_file {key_path} is not the private key of the certificate in \
             tls_cert_file {cert_path}"
        ),
    })
}

/// The HTTPS side of a server about to start: its files and certificate.
pub struct Https {
    pub files: TlsFiles,
    pub cert: Arc<ServerCert>,
}

impl Https {
    /// The certificate of the settings' HTTPS listener; `None` without one.
    pub fn from_settings(settings: &Settings) -> Result<Option<Https>> {
        let Some(files) = settings.tls_files()? else {
            return Ok(None);
        };
        let cert = ServerCert::new(load(&files)?);
        Ok(Some(Https { files, cert }))
    }

    /// Binds `tls_listen`.
    pub async fn bind(&self, settings: &Settings) -> Result<HttpsListener> {
        let tcp = TcpListener::bind(&settings.tls_listen)
            .await
            .with_context(|| format!("listening for HTTPS on {}", settings.tls_listen))?;
        HttpsListener::new(tcp, self.cert.clone()).context("setting up TLS")
    }
}

/// On every SIGHUP until `shutdown`: reads the certificate files again
/// (when there is an HTTPS listener) and presents the new pair from the
/// next handshake on; a pair that does not load is logged and the old one
/// kept. Without HTTPS a SIGHUP only says there is nothing to reload, so
/// `systemctl reload` never stops the server. The signal is caught from
/// the moment this returns.
pub fn reload_on_hangup(https: Option<(TlsFiles, Arc<ServerCert>)>, shutdown: CancellationToken) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::hangup()) {
            Ok(hangups) => {
                tokio::spawn(reload_loop(hangups, https, shutdown));
            }
            Err(e) => tracing::warn!(
                error = %e,
                "SIGHUP cannot be caught: the certificate is only read at start"
            ),
        }
    }
    #[cfg(not(unix))]
    {
        let _ = (https, shutdown);
    }
}

#[cfg(unix)]
async fn reload_loop(
    mut hangups: tokio::signal::unix::Signal,
    https: Option<(TlsFiles, Arc<ServerCert>)>,
    shutdown: CancellationToken,
) {
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            received = hangups.recv() => if received.is_none() { return },
        }
        let Some((files, cert)) = &https else {
            tracing::info!("SIGHUP: nothing to reload (no HTTPS listener)");
            continue;
        };
        let loaded = {
            let files = files.clone();
            tokio::task::spawn_blocking(move || load(&files)).await
        };
        match loaded {
            Ok(Ok(key)) => {
                cert.replace(key);
                tracing::info!(
                    cert = %files.cert.display(),
                    key = %files.key.display(),
                    "TLS certificate reloaded: new connections get it"
                );
            }
            Ok(Err(e)) => tracing::error!(
                error = %format!("{e:#}"),
                "TLS certificate not reloaded: the one in use stays"
            ),
            Err(e) => tracing::error!(error = %e, "TLS certificate not reloaded"),
        }
    }
}
