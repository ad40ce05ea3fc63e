//! What protocol v4 clients (socket.io-client 2.x over Engine.IO v3) put in the namespace.
//!
//! A 2.x client sends its connection query inside the CONNECT packet's namespace
//! (`0/admin?token=abc,`). Node (socket.io 4.8 `Client._parseNamespace`, for `protocol === 3`)
//! reads every incoming namespace as a URL: the namespace is its path and the auth payload is
//! `Object.fromEntries(url.searchParams)`, an object of strings.
//!
//! Not reproduced from the WHATWG URL parser: percent-encoding of unusual path characters,
//! `.`/`..` segments, `\` as `/`. A 2.x client only sends the names its application chose.

use crate::protocol::value::json;

/// Splits a namespace into its path and the query after `?` (a `#` fragment ends both).
pub fn split_namespace(nsp: &str) -> (&str, Option<&str>) {
    let nsp = nsp.split_once('#').map_or(nsp, |(before, _)| before);
    match nsp.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (nsp, None),
    }
}

/// The query as the JSON of `Object.fromEntries(new URLSearchParams(query))`:
/// `a=1&b=x%20y` → `{"a":"1","b":"x y"}`. A repeated name keeps its first place and last value.
pub fn query_to_json(query: &str) -> String {
    let mut fields: Vec<(String, String)> = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let (name, value) = (form_decode(name), form_decode(value));
        match fields.iter_mut().find(|(n, _)| *n == name) {
            Some(field) => field.1 = value,
            None => fields.push((name, value)),
        }
    }
    let mut out = String::with_capacity(query.len() + 8);
    out.push('{');
    for (i, (name, value)) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        json::write_str(name, &mut out);
        out.push(':');
        json::write_str(value, &mut out);
    }
    out.push('}');
    out
}

/// application/x-www-form-urlencoded decoding: `+` is a space, `%XX` a byte (kept as written
/// when not two hex digits), invalid UTF-8 becomes U+FFFD.
fn form_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => match (bytes.get(i + 1).and_then(hex_value), bytes.get(i + 2).and_then(hex_value)) {
                (Some(high), Some(low)) => {
                    out.push(high << 4 | low);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_value(c: &u8) -> Option<u8> {
    char::from(*c).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn splits_path_and_query() {
        assert_eq!(split_namespace("/"), ("/", None));
        assert_eq!(split_namespace("/admin"), ("/admin", None));
        assert_eq!(split_namespace("/admin?token=abc"), ("/admin", Some("token=abc")));
        assert_eq!(split_namespace("/?a=b"), ("/", Some("a=b")));
        assert_eq!(split_namespace("/admin?"), ("/admin", Some("")));
        assert_eq!(split_namespace("/a#x?y"), ("/a", None));
        assert_eq!(split_namespace("/a?b#c"), ("/a", Some("b")));
    }

    #[test]
    fn query_as_search_params() {
        let table = [
            ("", "{}"),
            ("token=abc", r#"{"token":"abc"}"#),
            ("a=1&b=x%20y+z", r#"{"a":"1","b":"x y z"}"#),
            ("a=1&b=2&a=3", r#"{"a":"3","b":"2"}"#),
            ("&&flag&=v", r#"{"flag":"","":"v"}"#),
            ("q=%E2%82%AC%zz%4", r#"{"q":"€%zz%4"}"#),
            ("q=%FF", "{\"q\":\"\u{fffd}\"}"),
            ("q=%2B%26%3D", r#"{"q":"+&="}"#),
            ("k=\"", r#"{"k":"\""}"#),
            ("q=%+1", r#"{"q":"% 1"}"#),
        ];
        for (query, want) in table {
            assert_eq!(query_to_json(query), want, "{query}");
        }
    }

    proptest! {
        #[test]
        fn query_json_is_json(q in any::<String>()) {
            let json = query_to_json(&q);
            prop_assert!(serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(&json).is_ok());
            let _ = split_namespace(&q);
        }
    }
}
