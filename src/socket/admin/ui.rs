//! The dashboard's files (`@socket.io/admin-ui`'s `ui/dist`: a page, its scripts, styles and
//! images), read once when the server is built and served under the UI path (`/admin/`) on
//! every shard: `GET`/`HEAD`, an `ETag` per file and `304` for it, gzip when the client takes
//! it (made on first demand, then kept). `/admin` is redirected to `/admin/`, where the page's
//! relative links work.
//!
//! The page keeps its server URL in `localStorage` (`server_url`) and connects at once when it
//! has one. Served here, it gets a line that sets it, when unset, to the page's own origin (and
//! the Socket.IO path and admin namespace to this server's): the dashboard then talks to this
//! server with no other host, asking only for the credentials when there are any.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use bytes::Bytes;

use super::{AdminUiError, DEFAULT_UI_DIR, UI_DIR_ENV};
use crate::http::Method;
use crate::http::compression::Coding;
use crate::http::response::{header, length};
use crate::server::{PlainHttp, Server};

struct File {
    content_type: &'static str,
    body: Bytes,
    gzip: OnceLock<Bytes>,
    etag: String,
}

/// The directory to serve: `explicit`, else `$TPCIO_ADMIN_UI_DIR`, else [`DEFAULT_UI_DIR`].
fn dir(explicit: Option<&Path>) -> PathBuf {
    match (explicit, std::env::var_os(UI_DIR_ENV)) {
        (Some(dir), _) => dir.to_owned(),
        (None, Some(dir)) if !dir.is_empty() => dir.into(),
        _ => PathBuf::from(DEFAULT_UI_DIR),
    }
}

/// Every file under `root`, by its path relative to it (`/`-separated).
fn read_tree(root: &Path, under: &Path, out: &mut Vec<(String, Vec<u8>)>) -> Result<(), AdminUiError> {
    fn missing(path: &Path) -> impl FnOnce(std::io::Error) -> AdminUiError + '_ {
        move |source| AdminUiError::MissingUi { path: path.to_owned(), source }
    }
    for entry in std::fs::read_dir(under).map_err(missing(under))? {
        let path = entry.map_err(missing(under))?.path();
        if path.is_dir() {
            read_tree(root, &path, out)?;
        } else {
            let body = std::fs::read(&path).map_err(missing(&path))?;
            let rel = path.strip_prefix(root).unwrap_or(&path).to_string_lossy().replace('\\', "/");
            out.push((rel, body));
        }
    }
    Ok(())
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit('.').next().unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" => "application/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "map" | "json" => "application/json; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        _ => "application/octet-stream",
    }
}

/// The page's defaults: this origin, this server's Socket.IO path and admin namespace, each
/// only when the dashboard has none stored.
fn defaults_script(sio_path: &str, namespace: &str) -> String {
    let path = sio_path.trim_end_matches('/');
    let path = if path.is_empty() { "/" } else { path };
    let json = |s: &str| serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into());
    format!(
        "<script>(function(){{var s=window.localStorage;if(!s)return;\
         if(!s.getItem(\"server_url\"))s.setItem(\"server_url\",location.origin);\
         if(!s.getItem(\"path\"))s.setItem(\"path\",{});\
         if(!s.getItem(\"namespace\"))s.setItem(\"namespace\",{});}})();</script>",
        json(path),
        json(namespace)
    )
}

fn etag(body: &[u8]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in body {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("\"{hash:016x}\"")
}

fn load(dir: &Path, sio_path: &str, namespace: &str) -> Result<Vec<(String, File)>, AdminUiError> {
    let mut raw = Vec::new();
    read_tree(dir, dir, &mut raw)?;
    if !raw.iter().any(|(name, _)| name == "index.html") {
        let source = std::io::Error::new(std::io::ErrorKind::NotFound, "no index.html");
        return Err(AdminUiError::MissingUi { path: dir.join("index.html"), source });
    }
    Ok(raw
        .into_iter()
        .map(|(name, mut body)| {
            if name == "index.html" {
                let html = String::from_utf8_lossy(&body).into_owned();
                let at = html.find("<script").or_else(|| html.find("</head>")).unwrap_or(0);
                let mut page = html[..at].to_owned();
                page.push_str(&defaults_script(sio_path, namespace));
                page.push_str(&html[at..]);
                body = page.into_bytes();
            }
            let file = File {
                content_type: content_type(&name),
                etag: etag(&body),
                body: body.into(),
                gzip: OnceLock::new(),
            };
            (name, file)
        })
        .collect())
}

/// Serves the files at `ui_path` (a trailing `/` is added when missing).
pub(super) fn attach(
    server: Server,
    ui_path: &str,
    ui_dir: Option<&Path>,
    sio_path: &str,
    namespace: &str,
) -> Server {
    let base = format!("{}/", ui_path.trim_end_matches('/'));
    let files = match load(&dir(ui_dir), sio_path, namespace) {
        Ok(files) => files,
        Err(e) => {
            // Reported when the server starts, as a missing client bundle is.
            let error = std::sync::Mutex::new(Some(e));
            return server.before_start(move || {
                let e = error.lock().ok().and_then(|mut e| e.take());
                Err(std::io::Error::other(
                    e.map_or_else(|| "the Admin UI's files are missing".into(), |e| e.to_string()),
                ))
            });
        }
    };
    let mut server = server;
    let redirect = base.clone();
    if base.len() > 1 {
        server = server.route(base.trim_end_matches('/'), move |_shard, http: &mut PlainHttp<'_>| {
            moved(http, &redirect)
        });
    }
    for (name, file) in files {
        let file = Arc::new(file);
        let path = if name == "index.html" { base.clone() } else { format!("{base}{name}") };
        if name == "index.html" {
            let file = file.clone();
            server = server
                .route(format!("{base}index.html"), move |_, http: &mut PlainHttp<'_>| serve(&file, http));
        }
        server = server.route(path, move |_, http: &mut PlainHttp<'_>| serve(&file, http));
    }
    server
}

/// `301` to `location`.
fn moved(http: &mut PlainHttp<'_>, location: &str) -> bool {
    let (out, to) = (&mut *http.out, http.reply);
    http.responder.start(out, 301, to);
    header(out, b"Location", location.as_bytes());
    http.responder.end(out, to);
    length(out, 0);
    http.responder.body(out, to, b"");
    true
}

fn serve(file: &File, http: &mut PlainHttp<'_>) -> bool {
    if !matches!(http.request.method(), Method::Get | Method::Head) {
        return false;
    }
    let (out, to) = (&mut *http.out, http.reply);
    let tag = file.etag.as_bytes();
    let matches = |v: &[u8]| {
        v.split(|&b| b == b',')
            .map(<[u8]>::trim_ascii)
            .any(|t| t == b"*" || t.strip_prefix(b"W/").unwrap_or(t) == tag)
    };
    if http.request.header_values("if-none-match").any(matches) {
        http.responder.empty(out, to, 304);
        return true;
    }
    let compressible = file.content_type.starts_with("text/")
        || file.content_type.starts_with("application/")
        || file.content_type.starts_with("image/svg");
    let coding = match compressible && file.body.len() > 1024 {
        true => crate::http::compression::negotiate(
            http.request.header_values("accept-encoding"),
            &[Coding::Gzip],
        ),
        false => None,
    };
    let body = match coding {
        Some(c) => file.gzip.get_or_init(|| c.compress(&file.body).into()).clone(),
        None => file.body.clone(),
    };
    out.reserve(320 + body.len());
    http.responder.start(out, 200, to);
    header(out, b"Content-Type", file.content_type.as_bytes());
    header(out, b"Cache-Control", b"public, max-age=0");
    header(out, b"ETag", file.etag.as_bytes());
    if let Some(c) = coding {
        header(out, b"Content-Encoding", c.name().as_bytes());
    }
    http.responder.end(out, to);
    length(out, body.len());
    http.responder.body(out, to, &body);
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_defaults_to_its_own_origin() {
        let script = defaults_script("/socket.io/", "/admin");
        assert!(script.contains(r#"s.setItem("server_url",location.origin)"#), "{script}");
        assert!(script.contains(r#"s.setItem("path","/socket.io")"#), "{script}");
        assert!(script.contains(r#"s.setItem("namespace","/admin")"#), "{script}");
        assert_eq!(content_type("js/app.1.js"), "application/javascript; charset=utf-8");
        assert_eq!(content_type("img/logo.svg"), "image/svg+xml");
    }

    #[test]
    fn the_installed_dashboard_loads() {
        let files = load(Path::new(DEFAULT_UI_DIR), "/socket.io/", "/admin").expect("client/ is installed");
        let index = &files.iter().find(|(n, _)| n == "index.html").expect("the page").1;
        let html = std::str::from_utf8(&index.body).unwrap();
        let defaults = html.find("server_url").expect("the defaults");
        let app = html.find("<script src=").expect("the app");
        assert!(defaults < app, "the defaults run before the app");
        assert!(files.iter().any(|(n, _)| n.starts_with("js/app.") && n.ends_with(".js")));
    }
}
