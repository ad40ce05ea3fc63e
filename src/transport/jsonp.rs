//! JSONP long-polling, for clients that can only load `<script>` tags (engine.io 6.6
//! `lib/transports/polling-jsonp.ts`, used instead of XHR polling when the handshake's query
//! has `j`): a GET's payload comes back as the script `___eio[<j's digits>]("<payload>");`,
//! and a POST carries its payload form-encoded as `d=…`. Pure byte work; the connection
//! decides when it applies.

use std::borrow::Cow;

use crate::protocol::value::json;

/// `Content-Type` of a JSONP answer: Node writes it as a string, so as a text payload.
pub const CONTENT_TYPE: &str = "text/plain; charset=UTF-8";

/// The script answering a JSONP GET: `___eio[index](JSON.stringify(payload));`, with U+2028
/// and U+2029 escaped as well so that the JSON is also valid JavaScript. A binary payload
/// (v3 without `b64`) is a `Buffer`, which `JSON.stringify` writes `{"type":"Buffer","data":[…]}`.
pub fn wrap(index: &str, payload: &[u8], binary: bool) -> Vec<u8> {
    let mut js = String::with_capacity(payload.len() + index.len() + 16);
    js.push_str("___eio[");
    js.push_str(index);
    js.push_str("](");
    match (binary, std::str::from_utf8(payload)) {
        (false, Ok(text)) => {
            let from = js.len();
            json::write_str(text, &mut js);
            if js[from..].contains(['\u{2028}', '\u{2029}']) {
                let escaped = js[from..].replace('\u{2028}', "\\u2028").replace('\u{2029}', "\\u2029");
                js.truncate(from);
                js.push_str(&escaped);
            }
        }
        _ => {
            js.push_str(r#"{"type":"Buffer","data":["#);
            for (i, b) in payload.iter().enumerate() {
                if i > 0 {
                    js.push(',');
                }
                js.push_str(itoa::Buffer::new().format(*b));
            }
            js.push_str("]}");
        }
    }
    js.push_str(");");
    js.into_bytes()
}

/// The payload of a JSONP POST body: `querystring.parse(body).d` when it is one string (absent
/// or repeated, Node ignores the body), with the client's newline escapes undone: `\n` (the two
/// characters) is a newline, `\\n` a backslash and `n`.
pub fn unwrap(body: &[u8]) -> Option<String> {
    // `querystring.parse` reads at most 1000 pairs (`maxKeys`).
    let mut d: Option<Cow<'_, str>> = None;
    let mut repeated = false;
    for (key, value) in form_urlencoded::parse(body).take(1000) {
        if key == "d" {
            repeated |= d.is_some();
            d = Some(value);
        }
    }
    let d = d.filter(|_| !repeated)?;
    Some(unescape_newlines(&d))
}

/// Node's two replaces, in order: `/(\\)?\\n/g` (a `\n` not after a backslash becomes a
/// newline), then `/\\\\n/g` (`\\n` becomes `\n`).
fn unescape_newlines(s: &str) -> String {
    let b = s.as_bytes();
    let mut first = String::with_capacity(s.len());
    let mut run = 0;
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && b.get(i + 1) == Some(&b'\\') && b.get(i + 2) == Some(&b'n') {
            i += 3;
        } else if b[i] == b'\\' && b.get(i + 1) == Some(&b'n') {
            first.push_str(&s[run..i]);
            first.push('\n');
            i += 2;
            run = i;
        } else {
            i += 1;
        }
    }
    first.push_str(&s[run..]);
    first.replace("\\\\n", "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_as_node_writes_the_script() {
        let table: &[(&str, &[u8], bool, &str)] = &[
            ("0", b"0{\"sid\":\"x\"}", false, r#"___eio[0]("0{\"sid\":\"x\"}");"#),
            ("12", b"4a\x1e4b\n", false, r#"___eio[12]("4a\u001e4b\n");"#),
            ("", "4\u{2028}\u{2029}é".as_bytes(), false, r#"___eio[]("4\u2028\u2029é");"#),
            ("3", &[1, 255], true, r#"___eio[3]({"type":"Buffer","data":[1,255]});"#),
        ];
        for &(index, payload, binary, want) in table {
            assert_eq!(String::from_utf8(wrap(index, payload, binary)).unwrap(), want);
        }
    }

    #[test]
    fn unwraps_the_d_field_as_node_reads_it() {
        let table: &[(&[u8], Option<&str>)] = &[
            (b"d=4hello", Some("4hello")),
            (b"d=%224a%22+b", Some("\"4a\" b")),
            (b"x=1&d=4a%5Cn4b", Some("4a\n4b")),
            (b"d=4a%5C%5Cn", Some("4a\\n")),
            (b"d=4a%5C%5C%5Cn", Some("4a\\\\n")),
            (b"d=", Some("")),
            (b"e=1", None),
            (b"d=1&d=2", None),
        ];
        for &(body, want) in table {
            assert_eq!(unwrap(body).as_deref(), want, "{}", String::from_utf8_lossy(body));
        }
    }
}
