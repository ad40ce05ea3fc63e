//! TLS for the tests: a certificate authority made by the test with `rcgen`, leaf certificates
//! it signs (for `localhost` and `127.0.0.1`) written as PEM files the server reads, and a
//! blocking HTTPS client on rustls that trusts that authority only.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose, PublicKeyData,
    SerialNumber,
};
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};

use super::TIMEOUT;
use super::http::{Response, parse_response, request_bytes};

/// A test's certificate authority and the files of its current leaf certificate.
pub struct TestCa {
    issuer: Issuer<'static, KeyPair>,
    ca_der: CertificateDer<'static>,
    /// The authority's certificate, PEM (what a client is told to trust).
    pub ca_path: PathBuf,
    pub cert_path: PathBuf,
    pub key_path: PathBuf,
}

/// A leaf certificate as issued.
pub struct Leaf {
    pub der: CertificateDer<'static>,
    pub cert_pem: String,
    pub key_pem: String,
    /// base64(SHA-256(SubjectPublicKeyInfo)): what chromium's
    /// `--ignore-certificate-errors-spki-list` takes.
    pub spki_sha256: String,
}

impl TestCa {
    /// A new authority in `target/tls-test/<name>/`, with a first leaf (serial 1) installed.
    pub fn new(name: &str) -> TestCa {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target").join("tls-test").join(name);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
        let key = KeyPair::generate().expect("a CA key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, format!("tpcio test CA {name}"));
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let cert = params.self_signed(&key).expect("the CA certificate");
        let ca_path = dir.join("ca.pem");
        std::fs::write(&ca_path, cert.pem()).expect("write ca.pem");
        let ca = TestCa {
            issuer: Issuer::new(params, key),
            ca_der: cert.der().clone(),
            ca_path,
            cert_path: dir.join("cert.pem"),
            key_path: dir.join("key.pem"),
        };
        ca.install(&ca.issue(1, &["localhost", "127.0.0.1"]));
        ca
    }

    /// A leaf for `names`, with serial number `serial`, signed by this authority.
    pub fn issue(&self, serial: u64, names: &[&str]) -> Leaf {
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let mut params = CertificateParams::new(names).expect("leaf parameters");
        params.serial_number = Some(SerialNumber::from(serial));
        params.distinguished_name.push(DnType::CommonName, format!("tpcio test leaf {serial}"));
        let key = KeyPair::generate().expect("a leaf key");
        let cert = params.signed_by(&key, &self.issuer).expect("the leaf certificate");
        let spki = ring::digest::digest(&ring::digest::SHA256, &key.subject_public_key_info());
        Leaf {
            der: cert.der().clone(),
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            spki_sha256: base64::engine::general_purpose::STANDARD.encode(spki.as_ref()),
        }
    }

    /// Writes `leaf` over the certificate and key files.
    pub fn install(&self, leaf: &Leaf) {
        std::fs::write(&self.cert_path, &leaf.cert_pem).expect("write cert.pem");
        std::fs::write(&self.key_path, &leaf.key_pem).expect("write key.pem");
    }

    /// The server's configuration for the files.
    pub fn server_config(&self) -> tpcio::prelude::TlsConfig {
        tpcio::prelude::TlsConfig::new(&self.cert_path, &self.key_path)
    }

    /// A client configuration trusting this authority alone, offering ALPN `h2` and `http/1.1`
    /// as browsers do.
    pub fn client_config(&self) -> Arc<ClientConfig> {
        let mut roots = RootCertStore::empty();
        roots.add(self.ca_der.clone()).expect("the CA certificate is accepted");
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Arc::new(config)
    }
}

/// One HTTPS connection, blocking, every read bounded by a timeout.
pub struct TlsConn {
    pub tls: StreamOwned<ClientConnection, TcpStream>,
    buf: Vec<u8>,
}

impl TlsConn {
    /// Connects to `addr` as `localhost` and completes the handshake.
    pub fn connect(addr: SocketAddr, config: &Arc<ClientConfig>) -> TlsConn {
        let tcp = TcpStream::connect(addr).expect("connect to the server");
        tcp.set_nodelay(true).expect("TCP_NODELAY");
        tcp.set_read_timeout(Some(TIMEOUT)).expect("a read timeout");
        let name = ServerName::try_from("localhost").expect("a server name");
        let client = ClientConnection::new(config.clone(), name).expect("a TLS client");
        let mut tls = StreamOwned::new(client, tcp);
        while tls.conn.is_handshaking() {
            tls.conn.complete_io(&mut tls.sock).expect("the TLS handshake completes");
        }
        TlsConn { tls, buf: Vec::new() }
    }

    /// The certificate the server presented (the leaf).
    pub fn server_certificate(&self) -> CertificateDer<'static> {
        self.tls.conn.peer_certificates().expect("a server certificate")[0].clone().into_owned()
    }

    /// The protocol the server chose by ALPN.
    pub fn alpn(&self) -> Option<Vec<u8>> {
        self.tls.conn.alpn_protocol().map(<[u8]>::to_vec)
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.tls.write_all(bytes).expect("write to the server");
        self.tls.flush().expect("flush to the server");
    }

    pub fn request(&mut self, method: &str, target: &str, headers: &[(&str, &str)], body: &[u8]) -> Response {
        self.send(&request_bytes(method, target, headers, body));
        self.response()
    }

    pub fn get(&mut self, target: &str) -> Response {
        self.request("GET", target, &[], b"")
    }

    pub fn post(&mut self, target: &str, body: &[u8]) -> Response {
        self.request("POST", target, &[("Content-Type", "text/plain;charset=UTF-8")], body)
    }

    /// The next response; panics if none arrives within [`TIMEOUT`].
    pub fn response(&mut self) -> Response {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if let Some(response) = parse_response(&mut self.buf) {
                return response;
            }
            assert!(
                Instant::now() < deadline,
                "no response; so far {:?}",
                String::from_utf8_lossy(&self.buf)
            );
            let mut chunk = [0u8; 16 * 1024];
            match self.tls.read(&mut chunk) {
                Ok(0) => panic!("the server closed; so far {:?}", String::from_utf8_lossy(&self.buf)),
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => panic!("no response ({e}); so far {:?}", String::from_utf8_lossy(&self.buf)),
            }
        }
    }
}

/// Reads `stream` until the server closes it (FIN or reset); what came, and how long it took.
/// Panics past `limit`.
pub fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> (Vec<u8>, Duration) {
    let start = Instant::now();
    let mut got = Vec::new();
    loop {
        let left = limit.saturating_sub(start.elapsed());
        assert!(!left.is_zero(), "the server kept the connection open past {limit:?}");
        stream.set_read_timeout(Some(left)).expect("a read timeout");
        let mut chunk = [0u8; 4096];
        match stream.read(&mut chunk) {
            Ok(0) => return (got, start.elapsed()),
            Ok(n) => got.extend_from_slice(&chunk[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => return (got, start.elapsed()),
        }
    }
}
