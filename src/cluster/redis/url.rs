//! Parsing `redis://[user:pass@]host[:port][/db]`.

use super::{RedisError, RedisUrl};

/// The port Redis listens on when a URL names none.
pub const DEFAULT_PORT: u16 = 6379;

pub(super) fn parse(url: &str) -> Result<RedisUrl, RedisError> {
    let bad = |why: &str| RedisError::Url(format!("{why} (in {})", redacted(url)));
    let rest = url
        .strip_prefix("redis://")
        .ok_or_else(|| bad("the scheme must be redis:// (TLS and unix sockets are not supported)"))?;
    if rest.contains(['?', '#']) {
        return Err(bad("query parameters and fragments are not supported"));
    }
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, ""),
    };
    // The password may itself hold an unescaped '@': the host follows the last one.
    let (userinfo, hostport) = match authority.rfind('@') {
        Some(i) => (Some(&authority[..i]), &authority[i + 1..]),
        None => (None, authority),
    };
    let (username, password) = match userinfo {
        None => (None, None),
        Some(info) => {
            let (user, pass) = match info.find(':') {
                Some(i) => (&info[..i], Some(&info[i + 1..])),
                None => (info, None),
            };
            let user = percent_decode(user).map_err(|e| bad(&format!("username: {e}")))?;
            let pass = pass.map(percent_decode).transpose().map_err(|e| bad(&format!("password: {e}")))?;
            (Some(user).filter(|u| !u.is_empty()), pass.filter(|p| !p.is_empty()))
        }
    };
    let (host, port) = split_host_port(hostport).map_err(bad)?;
    let db = match path {
        "" => 0,
        db => {
            db.parse::<u32>().map_err(|_| bad("the database must be a number, as in redis://host:6379/2"))?
        }
    };
    Ok(RedisUrl { host, port, username, password, db })
}

/// `host`, `host:port`, `[v6]` or `[v6]:port`.
fn split_host_port(hostport: &str) -> Result<(String, u16), &'static str> {
    let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
        let end = v6.find(']').ok_or("unclosed '[' in the host")?;
        let after = &v6[end + 1..];
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':').ok_or("junk after the IPv6 host")?),
        };
        (&v6[..end], port)
    } else {
        match hostport.rfind(':') {
            Some(i) => (&hostport[..i], Some(&hostport[i + 1..])),
            None => (hostport, None),
        }
    };
    if host.is_empty() {
        return Err("the host is missing");
    }
    let port = match port {
        None => DEFAULT_PORT,
        Some(p) => match p.parse::<u16>() {
            Ok(0) | Err(_) => return Err("the port must be a number from 1 to 65535"),
            Ok(p) => p,
        },
    };
    Ok((host.to_string(), port))
}

/// Decodes `%XX` escapes; the result must be UTF-8.
pub(super) fn percent_decode(s: &str) -> Result<String, &'static str> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3).ok_or("a '%' must be followed by two hex digits")?;
            let hi = hex_val(hex[0]).ok_or("a '%' must be followed by two hex digits")?;
            let lo = hex_val(hex[1]).ok_or("a '%' must be followed by two hex digits")?;
            out.push(hi << 4 | lo);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "percent-escapes do not decode to UTF-8")
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// The URL with anything between `//` and the last `@` masked, for error messages.
fn redacted(url: &str) -> String {
    match (url.find("//"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}***{}", &url[..s + 2], &url[at..]),
        _ => url.to_string(),
    }
}
