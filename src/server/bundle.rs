//! The official browser client, served under the Socket.IO path as Node's `serveClient` does
//! (socket.io 4.8 `lib/index.ts`: `attachServe`, `serve`, `sendFile`): `socket.io.js`,
//! `socket.io.min.js`, `socket.io.esm.min.js`, `socket.io.msgpack.min.js` and their `.map`s.
//!
//! The files come from the `socket.io-client` npm package (`npm ci --prefix client` installs
//! it); they are read once at start and shared by every shard. Each answer is Node's, header
//! for header: `Cache-Control: public, max-age=0`, the JavaScript or JSON content type,
//! `ETag: "<version>"` and a `304` for an `If-None-Match` of exactly that tag or its weak form,
//! in the coding `accepts` picks (see `http::compression`). Where Node streams a chunked body we send a
//! `Content-Length` in its place; each compressed file is made on first demand, then kept.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use bytes::{BufMut, Bytes, BytesMut};

pub use crate::http::compression::Coding;

use crate::http::response::{header, length};
use crate::http::{Method, ReplyInfo, Request, Responder};

/// Where the bundle is looked for when neither the builder nor the environment says.
pub const DEFAULT_DIR: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/client/node_modules/socket.io-client/dist");
/// The environment variable naming the bundle directory (over [`DEFAULT_DIR`]).
pub const DIR_ENV: &str = "TPCIO_CLIENT_DIR";

const JAVASCRIPT: &[u8] = b"application/javascript; charset=utf-8";
const JSON: &[u8] = b"application/json; charset=utf-8";

/// Node's `CLIENT_FILES`, and whether a bundle must have each (the msgpack build is optional).
const FILES: [(&str, bool); 8] = [
    ("socket.io.esm.min.js", true),
    ("socket.io.esm.min.js.map", true),
    ("socket.io.js", true),
    ("socket.io.js.map", true),
    ("socket.io.min.js", true),
    ("socket.io.min.js.map", true),
    ("socket.io.msgpack.min.js", false),
    ("socket.io.msgpack.min.js.map", false),
];

/// Why a bundle could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BundleError {
    #[error(
        "the Socket.IO client bundle is missing: cannot read {path}: {source}. Install it with \
         `npm ci --prefix client` (or scripts/setup.sh), point {DIR_ENV} at a socket.io-client \
         `dist/` directory, or turn client serving off (`SocketIo::serve_client(false)`)"
    )]
    Missing { path: PathBuf, source: io::Error },
    #[error(
        "no client version found for the Socket.IO client bundle in {dir}: neither {dir}/../package.json \
         nor the banner of socket.io.js names one"
    )]
    NoVersion { dir: PathBuf },
}

impl From<BundleError> for io::Error {
    fn from(e: BundleError) -> io::Error {
        let kind = match &e {
            BundleError::Missing { source, .. } => source.kind(),
            BundleError::NoVersion { .. } => io::ErrorKind::InvalidData,
        };
        io::Error::new(kind, e)
    }
}

/// One client file, with its compressed forms once asked for.
#[derive(Debug)]
struct File {
    name: &'static str,
    content_type: &'static [u8],
    body: Bytes,
    encoded: [OnceLock<Bytes>; 3],
}

impl File {
    fn body(&self, coding: Option<Coding>) -> Bytes {
        match coding {
            None => self.body.clone(),
            Some(c) => self.encoded[c.index()].get_or_init(|| c.compress(&self.body).into()).clone(),
        }
    }
}

/// The client files of one `socket.io-client` version, in memory.
#[derive(Debug)]
pub struct ClientBundle {
    version: String,
    /// `"<version>"`: Node's strong ETag.
    etag: Vec<u8>,
    files: Vec<File>,
}

impl ClientBundle {
    /// The directory to load: `explicit` if given, else `$TPCIO_CLIENT_DIR`, else [`DEFAULT_DIR`].
    pub fn dir(explicit: Option<&Path>) -> PathBuf {
        match (explicit, std::env::var_os(DIR_ENV)) {
            (Some(dir), _) => dir.to_owned(),
            (None, Some(dir)) if !dir.is_empty() => dir.into(),
            _ => PathBuf::from(DEFAULT_DIR),
        }
    }

    /// Reads every client file of `dir` (a `socket.io-client/dist`). The version, for the ETag,
    /// is that of the package around it (`../package.json`), else the one `socket.io.js` names.
    pub fn load(dir: &Path) -> Result<ClientBundle, BundleError> {
        // A directory that is not there at all is named as such, not by its first file.
        if let Err(source) = std::fs::read_dir(dir) {
            return Err(BundleError::Missing { path: dir.to_owned(), source });
        }
        let mut files = Vec::with_capacity(FILES.len());
        for (name, required) in FILES {
            let path = dir.join(name);
            let body = match std::fs::read(&path) {
                Ok(body) => body,
                Err(e) if !required && e.kind() == io::ErrorKind::NotFound => continue,
                Err(source) => return Err(BundleError::Missing { path, source }),
            };
            let content_type = if name.ends_with(".map") { JSON } else { JAVASCRIPT };
            files.push(File { name, content_type, body: body.into(), encoded: Default::default() });
        }
        let script = files.iter().find(|f| f.name == "socket.io.js").map(|f| &f.body[..]);
        let version = package_version(dir)
            .or_else(|| script.and_then(banner_version))
            .ok_or_else(|| BundleError::NoVersion { dir: dir.to_owned() })?;
        let etag = format!("\"{version}\"").into_bytes();
        Ok(ClientBundle { version, etag, files })
    }

    /// The client's version, as the ETag carries it.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The names of the files served, as they follow the Socket.IO path.
    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.files.iter().map(|f| f.name)
    }

    /// The file named `name`, as it is on disk.
    pub fn file(&self, name: &str) -> Option<&Bytes> {
        self.files.iter().find(|f| f.name == name).map(|f| &f.body)
    }

    /// Answers `req` if `subpath` (what follows the Socket.IO path, query excluded) names a
    /// client file: writes the whole response into `out` and returns `true`. Any method is
    /// served, as Node's `request` listener does; an `OPTIONS` is a CORS preflight when CORS is on.
    pub fn respond(
        &self,
        subpath: &[u8],
        req: &Request,
        resp: &Responder<'_>,
        to: &ReplyInfo,
        out: &mut BytesMut,
    ) -> bool {
        let name = subpath.strip_prefix(b"/").unwrap_or(subpath);
        let Some(file) = self.files.iter().find(|f| f.name.as_bytes() == name) else {
            return false;
        };
        if req.method() == Method::Options && resp.preflight(out, req) {
            return true;
        }
        if self.not_modified(req) {
            // Node's `writeHead(304)`: no body, so no framing header either.
            resp.start(out, 304, to);
            resp.end(out, to);
            out.put_slice(b"\r\n");
            return true;
        }
        let coding = crate::http::compression::negotiate(req.header_values("accept-encoding"), &Coding::ALL);
        let body = file.body(coding);
        out.reserve(320 + body.len());
        resp.start(out, 200, to);
        header(out, b"Cache-Control", b"public, max-age=0");
        header(out, b"Content-Type", file.content_type);
        header(out, b"ETag", &self.etag);
        if let Some(coding) = coding {
            header(out, b"content-encoding", coding.name().as_bytes());
        }
        resp.end(out, to);
        length(out, body.len());
        resp.body(out, to, &body);
        true
    }

    /// `If-None-Match` is exactly `"<version>"` or `W/"<version>"` (Node compares the whole
    /// header value, so a list never matches).
    fn not_modified(&self, req: &Request) -> bool {
        let mut values = req.header_values("if-none-match");
        match (values.next().map(<[u8]>::trim_ascii), values.next()) {
            (Some(tag), None) => tag == self.etag || tag.strip_prefix(b"W/") == Some(&self.etag[..]),
            _ => false,
        }
    }
}

/// The `version` of `dir/../package.json` (`socket.io-client`'s, or `socket.io`'s around its
/// `client-dist/`: the very version Node's ETag carries).
fn package_version(dir: &Path) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Package {
        version: String,
    }
    let text = std::fs::read(dir.parent()?.join("package.json")).ok()?;
    let package: Package = serde_json::from_slice(&text).ok()?;
    valid_version(package.version)
}

/// The version in the bundle's banner: `/*!\n * Socket.IO v4.8.4\n`.
fn banner_version(script: &[u8]) -> Option<String> {
    const MARK: &[u8] = b"Socket.IO v";
    let head = &script[..script.len().min(256)];
    let start = memchr::memmem::find(head, MARK)? + MARK.len();
    let len = head[start..].iter().take_while(|b| !b.is_ascii_whitespace()).count();
    valid_version(String::from_utf8(head[start..start + len].to_vec()).ok()?)
}

/// A version fit for a header: non-empty, of semver's characters.
fn valid_version(version: String) -> Option<String> {
    let fits = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'+');
    (!version.is_empty() && version.len() <= 64 && version.bytes().all(fits)).then_some(version)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use proptest::prelude::*;

    use super::*;
    use crate::http::Cors;
    use crate::http::response::tests::{node, request};

    const D: &str = "Thu, 01 Jan 1970 00:00:00 GMT";
    const SCRIPT: &str = "/*!\n * Socket.IO v4.8.4\n * (c) 2014-2026 Guillermo Rauch\n */\nvar io;\n";

    /// A fresh `<tmp>/pkg/dist` holding every required file (the script with a real banner), and
    /// `package.json` beside `dist/` when `version` is given.
    fn fixture(version: Option<&str>) -> PathBuf {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let root = std::env::temp_dir().join(format!("tpcio-bundle-{}-{n}", std::process::id()));
        let dir = root.join("dist");
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&dir).unwrap();
        for (name, required) in FILES {
            let body = if name == "socket.io.js" { SCRIPT.to_owned() } else { format!("/* {name} */") };
            if required {
                std::fs::write(dir.join(name), body).unwrap();
            }
        }
        if let Some(version) = version {
            let json = format!(r#"{{"name":"socket.io-client","version":"{version}"}}"#);
            std::fs::write(root.join("package.json"), json).unwrap();
        }
        dir
    }

    fn serve(bundle: &ClientBundle, cors: Option<&Cors>, wire: &str) -> Option<String> {
        let req = request(wire);
        let path = req.path().to_vec();
        let subpath = path.strip_prefix(b"/socket.io/")?;
        let mut out = BytesMut::new();
        let answered = bundle.respond(subpath, &req, &node(cors), &ReplyInfo::from_request(&req), &mut out);
        answered.then(|| String::from_utf8_lossy(&out).into_owned())
    }

    #[test]
    fn loads_files_and_the_package_version() {
        let dir = fixture(Some("4.8.9"));
        let bundle = ClientBundle::load(&dir).unwrap();
        assert_eq!(bundle.version(), "4.8.9");
        assert_eq!(bundle.etag, b"\"4.8.9\"");
        assert_eq!(bundle.names().count(), 6, "the msgpack build is optional");
        assert_eq!(bundle.file("socket.io.js").map(|b| &b[..]), Some(SCRIPT.as_bytes()));
        std::fs::write(dir.join("socket.io.msgpack.min.js"), "m").unwrap();
        assert_eq!(ClientBundle::load(&dir).unwrap().names().count(), 7);
    }

    #[test]
    fn falls_back_to_the_banner_version() {
        let dir = fixture(None);
        assert_eq!(ClientBundle::load(&dir).unwrap().version(), "4.8.4");
        std::fs::write(dir.parent().unwrap().join("package.json"), r#"{"version":"bad version"}"#).unwrap();
        assert_eq!(ClientBundle::load(&dir).unwrap().version(), "4.8.4");
        std::fs::write(dir.join("socket.io.js"), "var io;").unwrap();
        let err = ClientBundle::load(&dir).unwrap_err();
        assert!(matches!(err, BundleError::NoVersion { .. }), "{err}");
    }

    #[test]
    fn a_missing_file_is_a_clear_error() {
        let dir = fixture(Some("1.0.0"));
        std::fs::remove_file(dir.join("socket.io.min.js.map")).unwrap();
        let err = ClientBundle::load(&dir).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("socket.io.min.js.map") && text.contains("npm ci --prefix client"), "{text}");
        assert_eq!(io::Error::from(err).kind(), io::ErrorKind::NotFound);
        let err = ClientBundle::load(Path::new("/nonexistent/tpcio/dist")).unwrap_err();
        assert!(matches!(err, BundleError::Missing { .. }));
    }

    #[test]
    fn the_directory_comes_from_the_builder_first() {
        assert_eq!(ClientBundle::dir(Some(Path::new("/x"))), PathBuf::from("/x"));
        assert!(DEFAULT_DIR.ends_with("/client/node_modules/socket.io-client/dist"));
    }

    /// Heads captured from socket.io 4.8.4 under Node 20 (`new Server(port)`, and with
    /// `cors: { origin: "*" }`), `Date` replaced and `Transfer-Encoding: chunked` turned into
    /// the `Content-Length` we send in its place.
    #[test]
    fn responses_match_node() {
        let bundle = ClientBundle::load(&fixture(Some("4.8.4"))).unwrap();
        let any = Cors::default();
        let keep = format!("Date: {D}\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\n");
        let js = "Cache-Control: public, max-age=0\r\nContent-Type: application/javascript; charset=utf-8\r\nETag: \"4.8.4\"\r\n";
        let get =
            |path: &str, extra: &str| format!("GET /socket.io/{path} HTTP/1.1\r\nHost: x\r\n{extra}\r\n");
        let len = SCRIPT.len();
        let cases: Vec<(Option<&Cors>, String, String)> = vec![
            (
                None,
                get("socket.io.js", "Accept-Encoding: identity\r\n"),
                format!("HTTP/1.1 200 OK\r\n{js}{keep}Content-Length: {len}\r\n\r\n{SCRIPT}"),
            ),
            (
                None,
                get("socket.io.js", "If-None-Match: \"4.8.4\"\r\n"),
                format!("HTTP/1.1 304 Not Modified\r\n{keep}\r\n"),
            ),
            (
                Some(&any),
                get("socket.io.js", "If-None-Match: W/\"4.8.4\"\r\nOrigin: http://a.com\r\n"),
                format!("HTTP/1.1 304 Not Modified\r\nAccess-Control-Allow-Origin: *\r\n{keep}\r\n"),
            ),
            (
                Some(&any),
                get("socket.io.js.map", "Origin: http://a.com\r\n"),
                format!(
                    "HTTP/1.1 200 OK\r\nAccess-Control-Allow-Origin: *\r\nCache-Control: public, max-age=0\r\nContent-Type: application/json; charset=utf-8\r\nETag: \"4.8.4\"\r\n{keep}Content-Length: 22\r\n\r\n/* socket.io.js.map */"
                ),
            ),
            (
                Some(&any),
                "OPTIONS /socket.io/socket.io.min.js HTTP/1.1\r\nOrigin: http://a.com\r\n\r\n".into(),
                format!(
                    "HTTP/1.1 204 No Content\r\nAccess-Control-Allow-Origin: *\r\nAccess-Control-Allow-Methods: GET,HEAD,PUT,PATCH,POST,DELETE\r\nVary: Access-Control-Request-Headers\r\nContent-Length: 0\r\n{keep}\r\n"
                ),
            ),
            (
                None,
                "OPTIONS /socket.io/socket.io.min.js HTTP/1.1\r\n\r\n".into(),
                format!("HTTP/1.1 200 OK\r\n{js}{keep}Content-Length: 22\r\n\r\n/* socket.io.min.js */"),
            ),
            (
                None,
                "HEAD /socket.io/socket.io.min.js HTTP/1.1\r\n\r\n".into(),
                format!("HTTP/1.1 200 OK\r\n{js}{keep}Content-Length: 22\r\n\r\n"),
            ),
            (
                None,
                "GET /socket.io/socket.io.esm.min.js?v=1 HTTP/1.0\r\nIf-None-Match: \"4.8.4\", \"x\"\r\n\r\n"
                    .into(),
                format!(
                    "HTTP/1.1 200 OK\r\n{js}Date: {D}\r\nConnection: close\r\nContent-Length: 26\r\n\r\n/* socket.io.esm.min.js */"
                ),
            ),
        ];
        for (cors, wire, expected) in cases {
            assert_eq!(serve(&bundle, cors, &wire).as_deref(), Some(&expected[..]), "{wire:?}");
        }
    }

    #[test]
    fn compressed_answers_name_their_coding() {
        let bundle = ClientBundle::load(&fixture(Some("4.8.4"))).unwrap();
        let wire = "GET /socket.io/socket.io.js HTTP/1.1\r\nAccept-Encoding: gzip, deflate, br\r\n\r\n";
        let answer = serve(&bundle, None, wire).unwrap();
        let expected_head = format!(
            "HTTP/1.1 200 OK\r\nCache-Control: public, max-age=0\r\nContent-Type: application/javascript; charset=utf-8\r\nETag: \"4.8.4\"\r\ncontent-encoding: gzip\r\nDate: {D}\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\nContent-Length: {}\r\n\r\n",
            Coding::Gzip.compress(SCRIPT.as_bytes()).len()
        );
        assert!(answer.starts_with(&expected_head), "{answer:?}");
        // Made once, then the same bytes for every request.
        let file = &bundle.files[2];
        assert_eq!(file.name, "socket.io.js");
        assert!(file.encoded[Coding::Gzip.index()].get().is_some());
        assert!(file.encoded[Coding::Br.index()].get().is_none());
        let br = serve(&bundle, None, &wire.replace("gzip, deflate, br", "br")).unwrap();
        assert!(br.contains("content-encoding: br\r\n"));
        assert_eq!(file.body(Some(Coding::Br)), file.body(Some(Coding::Br)));
    }

    #[test]
    fn other_names_are_left_to_the_engine() {
        let bundle = ClientBundle::load(&fixture(Some("4.8.4"))).unwrap();
        for path in ["", "socket.io.esm.js", "socket.io.msgpack.min.js", "x/socket.io.js", "socket.io.js/"] {
            assert_eq!(
                serve(&bundle, None, &format!("GET /socket.io/{path} HTTP/1.1\r\n\r\n")),
                None,
                "{path}"
            );
        }
        let req = request("GET /socket.io.js HTTP/1.1\r\n\r\n");
        let mut out = BytesMut::new();
        // An endpoint path given without its trailing slash leaves one before the name.
        assert!(bundle.respond(b"/socket.io.js", &req, &node(None), &ReplyInfo::default(), &mut out));
    }

    #[test]
    fn versions_are_checked() {
        assert_eq!(banner_version(SCRIPT.as_bytes()).as_deref(), Some("4.8.4"));
        assert_eq!(banner_version(b"/* Socket.IO v */"), None);
        assert_eq!(valid_version("4.8.4-rc.1+b".into()).as_deref(), Some("4.8.4-rc.1+b"));
        assert_eq!(valid_version("4.8\r\nX: y".into()), None);
    }

    proptest! {
        #[test]
        fn arbitrary_subpaths_never_panic(subpath in any::<Vec<u8>>(), tag in "[ -~]{0,12}") {
            static BUNDLE: OnceLock<ClientBundle> = OnceLock::new();
            let bundle = BUNDLE.get_or_init(|| ClientBundle::load(&fixture(Some("4.8.4"))).unwrap());
            let req = request(&format!("GET /socket.io/socket.io.js HTTP/1.1\r\nIf-None-Match: {tag}\r\n\r\n"));
            let mut out = BytesMut::new();
            let _ = bundle.respond(&subpath, &req, &node(None), &ReplyInfo::default(), &mut out);
            prop_assert!(bundle.respond(b"socket.io.js", &req, &node(None), &ReplyInfo::default(), &mut out));
        }
    }
}
