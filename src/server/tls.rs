//! HTTPS and `wss://` served directly, as Node's `https.createServer({ cert, key })`: the
//! certificate and key files ([`TlsConfig`]), the rustls configuration every shard accepts with
//! (HTTP/1.1 only: ALPN `http/1.1`, as Node's `https` server offers), and the reload of the
//! files while the server runs ([`TlsReloader`], `SIGHUP` in the binary).
//!
//! All shards accept with one configuration, swapped whole by a reload, as Node's
//! `server.setSecureContext` swaps its context: the next handshake on every shard presents the
//! new certificate, and it cannot resume a session of the old configuration (whose session
//! cache goes with it), so a client sees the new certificate on its next connection.
//! Connections already open keep the configuration they started with. A reload that cannot
//! read, parse or match the new files is refused with the reason, and the old configuration
//! stays.
//!
//! The connections themselves are driven in `super::stream`.

use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::CertifiedKey;

/// Where the certificate and its key are read from: PEM files, read at start and again on each
/// reload (Node's `cert` and `key`).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TlsConfig {
    /// The certificate chain, leaf first (PEM `CERTIFICATE` blocks).
    pub cert: PathBuf,
    /// The private key of the leaf (PEM: PKCS#8, PKCS#1 RSA or SEC1 EC).
    pub key: PathBuf,
}

impl TlsConfig {
    /// The certificate chain and the private key, both PEM files, read when the server starts and again on each reload.
    pub fn new(cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        TlsConfig { cert: cert.into(), key: key.into() }
    }
}

/// Why a certificate could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The certificate file holds no PEM certificate.
    #[error("{path}: no PEM certificate in it ({reason})")]
    NoCertificate {
        /// The file.
        path: PathBuf,
        /// What the PEM reader said.
        reason: String,
    },
    /// The key file holds no PEM private key.
    #[error("{path}: no PEM private key in it ({reason})")]
    NoKey {
        /// The file.
        path: PathBuf,
        /// What the PEM reader said.
        reason: String,
    },
    /// The key is of a kind rustls cannot sign with, or does not belong to the certificate.
    #[error("{key} does not fit {cert}: {source}")]
    Mismatch {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
        /// What rustls said.
        source: rustls::Error,
    },
    /// rustls refused the configuration.
    #[error("TLS configuration: {0}")]
    Config(rustls::Error),
}

/// Reads the files named by `config` and makes the configuration connections are accepted
/// with. The crypto is *ring*'s, chosen here rather than through a process-wide default that an
/// application embedding us might set differently.
fn load(config: &TlsConfig) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let key = certified_key(config, &provider)?;
    let mut server = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(TlsError::Config)?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(rustls::sign::SingleCertAndKey::from(key)));
    // HTTP/1.1 only: a client that offers ALPN is told so; one that offers only `h2` is
    // refused by the handshake.
    server.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(server))
}

/// The certificate chain and key named by `config`, checked to belong together.
fn certified_key(config: &TlsConfig, provider: &CryptoProvider) -> Result<CertifiedKey, TlsError> {
    let read =
        |path: &Path| std::fs::read(path).map_err(|source| TlsError::Read { path: path.into(), source });
    let cert_pem = read(&config.cert)?;
    let chain = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::NoCertificate { path: config.cert.clone(), reason: e.to_string() })?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate { path: config.cert.clone(), reason: "empty".into() });
    }
    let key = PrivateKeyDer::from_pem_slice(&read(&config.key)?)
        .map_err(|e| TlsError::NoKey { path: config.key.clone(), reason: e.to_string() })?;
    CertifiedKey::from_der(chain, key, provider).map_err(|source| TlsError::Mismatch {
        cert: config.cert.clone(),
        key: config.key.clone(),
        source,
    })
}

/// The configuration the shards accept with: the last one loaded.
#[derive(Debug)]
pub(crate) struct Acceptor(RwLock<Arc<rustls::ServerConfig>>);

impl Acceptor {
    /// A TLS session for a connection just accepted.
    pub(crate) fn session(&self) -> Option<rustls::ServerConnection> {
        let config = self.0.read().unwrap_or_else(PoisonError::into_inner).clone();
        rustls::ServerConnection::new(config).ok()
    }
}

/// The server's TLS side once started: what the shards accept with, and the handle that
/// reloads it.
pub(crate) struct Tls {
    pub(crate) acceptor: Arc<Acceptor>,
    pub(crate) reloader: TlsReloader,
}

impl Tls {
    /// Loads the files, or says why they cannot serve.
    pub(crate) fn start(config: &TlsConfig) -> Result<Tls, TlsError> {
        let acceptor = Arc::new(Acceptor(RwLock::new(load(config)?)));
        Ok(Tls { reloader: TlsReloader { config: config.clone(), acceptor: acceptor.clone() }, acceptor })
    }
}

/// Reloads the certificate and key from their files (what the binary does on `SIGHUP`); cheap
/// to clone and usable from any thread.
#[derive(Clone, Debug)]
pub struct TlsReloader {
    config: TlsConfig,
    acceptor: Arc<Acceptor>,
}

impl TlsReloader {
    /// Reads the files again. On success every shard's next handshake presents the new
    /// certificate (open connections keep theirs); on `Err` nothing changed.
    pub fn reload(&self) -> Result<(), TlsError> {
        let config = load(&self.config)?;
        *self.acceptor.0.write().unwrap_or_else(PoisonError::into_inner) = config;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(name: &str) -> (PathBuf, TlsConfig) {
        let dir = std::env::temp_dir().join(format!("tpcio-tls-unit-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a temporary directory");
        let config = TlsConfig::new(dir.join("cert.pem"), dir.join("key.pem"));
        (dir, config)
    }

    fn write_leaf(config: &TlsConfig) -> rcgen::CertifiedKey<rcgen::KeyPair> {
        let leaf = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("a certificate");
        std::fs::write(&config.cert, leaf.cert.pem()).expect("write");
        std::fs::write(&config.key, leaf.signing_key.serialize_pem()).expect("write");
        leaf
    }

    #[test]
    fn bad_files_are_refused_with_the_reason_and_a_reload_keeps_the_old_configuration() {
        let (dir, config) = files("bad");
        assert!(matches!(Tls::start(&config), Err(TlsError::Read { .. })));
        let first = write_leaf(&config);
        let tls = Tls::start(&config).expect("a good pair starts");
        let before = tls.acceptor.0.read().expect("unpoisoned").clone();

        std::fs::write(&config.cert, "no PEM here").expect("write");
        assert!(matches!(tls.reloader.reload(), Err(TlsError::NoCertificate { .. })));
        std::fs::write(&config.cert, first.cert.pem()).expect("write");
        std::fs::write(&config.key, "no key").expect("write");
        assert!(matches!(tls.reloader.reload(), Err(TlsError::NoKey { .. })));
        // Another certificate's key.
        let other = rcgen::generate_simple_self_signed(vec!["other".to_owned()]).expect("a certificate");
        std::fs::write(&config.key, other.signing_key.serialize_pem()).expect("write");
        assert!(matches!(tls.reloader.reload(), Err(TlsError::Mismatch { .. })));
        assert!(Arc::ptr_eq(&before, &tls.acceptor.0.read().expect("unpoisoned")), "nothing changed");

        write_leaf(&config);
        tls.reloader.reload().expect("a good pair reloads");
        assert!(!Arc::ptr_eq(&before, &tls.acceptor.0.read().expect("unpoisoned")));
        assert!(tls.acceptor.session().is_some());
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn only_http_1_1_is_offered() {
        let (dir, config) = files("alpn");
        write_leaf(&config);
        let tls = Tls::start(&config).expect("starts");
        assert_eq!(tls.acceptor.0.read().expect("unpoisoned").alpn_protocols, vec![b"http/1.1".to_vec()]);
        let _ = std::fs::remove_dir_all(dir);
    }
}
