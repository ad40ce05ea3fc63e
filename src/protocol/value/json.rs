//! JSON string literals as JavaScript writes and reads them.
//!
//! Writing follows `JSON.stringify` (ECMA-262 QuoteJSONString): `"` and `\` escaped, `\b \t \n
//! \f \r` short, other controls as lowercase `\u00xx`, everything else (`/`, U+2028, non-ASCII)
//! verbatim. Reading accepts what `JSON.parse` accepts, including lone surrogates (`"\ud800"`,
//! which a JS client produces when it cuts a string in the middle of an emoji); Rust strings
//! cannot hold those, so they become U+FFFD.

use std::borrow::Cow;

/// Appends `s` as a JSON string literal, byte for byte as `JSON.stringify(s)`.
pub(crate) fn write_str(s: &str, out: &mut String) {
    out.reserve(s.len() + 2);
    out.push('"');
    let mut run = 0;
    for (i, b) in s.bytes().enumerate() {
        let escape = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            0x08 => "\\b",
            b'\t' => "\\t",
            b'\n' => "\\n",
            0x0c => "\\f",
            b'\r' => "\\r",
            0..0x20 => "",
            _ => continue,
        };
        // `b` is ASCII, so `run..i` and `i + 1..` fall on char boundaries.
        out.push_str(&s[run..i]);
        if escape.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.push_str("\\u00");
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xf)]));
        } else {
            out.push_str(escape);
        }
        run = i + 1;
    }
    out.push_str(&s[run..]);
    out.push('"');
}

/// Decodes the text between the quotes of a JSON string literal. Never fails: an escape that
/// `JSON.parse` would reject (not expected, the text was validated) is kept as written.
pub(crate) fn unescape(inner: &str) -> String {
    let bytes = inner.as_bytes();
    let mut out = String::with_capacity(inner.len());
    let mut run = 0;
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'\\' {
            i += 1;
            continue;
        }
        out.push_str(&inner[run..i]);
        let (c, len) = match bytes.get(i + 1) {
            Some(b'"') => ('"', 2),
            Some(b'\\') => ('\\', 2),
            Some(b'/') => ('/', 2),
            Some(b'b') => ('\u{8}', 2),
            Some(b'f') => ('\u{c}', 2),
            Some(b'n') => ('\n', 2),
            Some(b'r') => ('\r', 2),
            Some(b't') => ('\t', 2),
            Some(b'u') => match unicode_escape(bytes, i) {
                Some((c, len, _)) => (c, len),
                None => ('\\', 1),
            },
            _ => ('\\', 1),
        };
        out.push(c);
        i += len;
        run = i;
    }
    out.push_str(&inner[run..]);
    out
}

/// Rewrites each lone-surrogate escape of a JSON text to `\ufffd`, so that strict parsers
/// (serde_json, simd-json) accept what `JSON.parse` accepts. Borrows when there is none.
pub(crate) fn replace_lone_surrogates(json: &str) -> Cow<'_, str> {
    let bytes = json.as_bytes();
    let mut out: Option<String> = None;
    let mut run = 0;
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'\\' {
            i += 1;
            continue;
        }
        match bytes.get(i + 1) {
            Some(b'u') => match unicode_escape(bytes, i) {
                Some((_, len, true)) => {
                    let buf = out.get_or_insert_with(|| String::with_capacity(json.len()));
                    buf.push_str(&json[run..i]);
                    buf.push_str("\\ufffd");
                    i += len;
                    run = i;
                }
                Some((_, len, false)) => i += len,
                None => i += 2,
            },
            // Skipping the escaped character keeps `\\u` from being read as an escape.
            _ => i += 2,
        }
    }
    match out {
        None => Cow::Borrowed(json),
        Some(mut buf) => {
            buf.push_str(json.get(run..).unwrap_or(""));
            Cow::Owned(buf)
        }
    }
}

/// Reads the `\uXXXX` escape at `at` (and a following low-surrogate escape when it is a high
/// surrogate): the character, the bytes consumed, and whether it was a lone surrogate.
fn unicode_escape(bytes: &[u8], at: usize) -> Option<(char, usize, bool)> {
    let first = hex4(bytes, at + 2)?;
    if !(0xd800..0xe000).contains(&first) {
        return char::from_u32(u32::from(first)).map(|c| (c, 6, false));
    }
    let low = match bytes.get(at + 6..at + 8) {
        Some(b"\\u") if first < 0xdc00 => hex4(bytes, at + 8).filter(|l| (0xdc00..0xe000).contains(l)),
        _ => None,
    };
    if let Some(low) = low {
        let code = 0x10000 + ((u32::from(first) - 0xd800) << 10) + (u32::from(low) - 0xdc00);
        return char::from_u32(code).map(|c| (c, 12, false));
    }
    Some((char::REPLACEMENT_CHARACTER, 6, true))
}

fn hex4(bytes: &[u8], at: usize) -> Option<u16> {
    let digits = bytes.get(at..at + 4)?;
    digits.iter().try_fold(0u16, |acc, &d| Some(acc << 4 | char::from(d).to_digit(16)? as u16))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn quoted(s: &str) -> String {
        let mut out = String::new();
        write_str(s, &mut out);
        out
    }

    #[test]
    fn escapes_as_json_stringify() {
        let table = [
            ("hello", r#""hello""#),
            ("a\"b\\c/d", r#""a\"b\\c/d""#),
            ("\u{8}\t\n\u{c}\r", r#""\b\t\n\f\r""#),
            ("\u{0}\u{1f}\u{7f}", "\"\\u0000\\u001f\u{7f}\""),
            ("é€😀\u{2028}", "\"é€😀\u{2028}\""),
        ];
        for (s, want) in table {
            assert_eq!(quoted(s), want);
        }
    }

    #[test]
    fn unescapes_as_json_parse() {
        let table = [
            (r"plain", "plain"),
            (r#"a\"b\\c\/d"#, "a\"b\\c/d"),
            (r"\b\f\n\r\t", "\u{8}\u{c}\n\r\t"),
            (r"\u0041\u00e9\u20AC", "Aé€"),
            (r"\ud83d\ude00", "😀"),
            (r"\ud83d", "\u{fffd}"),
            (r"\ude00x", "\u{fffd}x"),
            (r"\ud83d\u0041", "\u{fffd}A"),
        ];
        for (inner, want) in table {
            assert_eq!(unescape(inner), want, "{inner}");
        }
    }

    #[test]
    fn replaces_only_lone_surrogates() {
        assert!(matches!(replace_lone_surrogates(r#"["\ud83d\ude00"]"#), Cow::Borrowed(_)));
        assert_eq!(replace_lone_surrogates(r#"["\ud83d",1]"#), r#"["\ufffd",1]"#);
        assert_eq!(replace_lone_surrogates(r#"["\\ud83d"]"#), r#"["\\ud83d"]"#);
        assert_eq!(replace_lone_surrogates(r#"{"\udc00":"\ud800\ud800"}"#), r#"{"\ufffd":"\ufffd\ufffd"}"#);
    }

    proptest! {
        #[test]
        fn serde_json_reads_what_we_write(s in any::<String>()) {
            let back: String = serde_json::from_str(&quoted(&s)).unwrap();
            prop_assert_eq!(&back, &s);
            let q = quoted(&s);
            prop_assert_eq!(unescape(&q[1..q.len() - 1]), s);
            prop_assert_eq!(serde_json::to_string(&back).unwrap(), q);
        }

        #[test]
        fn never_panics(s in any::<String>()) {
            let _ = unescape(&s);
            let _ = replace_lone_surrogates(&s);
        }
    }
}
