//! JavaScript's `Number` conversions, which the wire inherits from Node.
//!
//! The Socket.IO decoder reads its type digit, attachment count and ack id with `Number(string)`
//! (ECMA-262 StringToNumber), so `5 1-`, `50x1-` and `2 ["a"]` mean what they mean in Node; and
//! `JSON.stringify` and event-name lookups print numbers with `Number#toString` (ECMA-262
//! Number::toString), which differs from Rust's float formatting (`1` not `1.0`, `1e+21`).

use std::fmt::Write;

/// `StrWhiteSpaceChar`: what `Number()` ignores around its argument (JS `WhiteSpace` plus
/// `LineTerminator`). Not `char::is_whitespace`: JS counts U+FEFF and not U+0085.
pub(crate) fn is_js_space(c: char) -> bool {
    matches!(
        c,
        '\t' | '\n' | '\u{b}' | '\u{c}' | '\r' | ' ' | '\u{a0}' | '\u{1680}' | '\u{2000}'
            ..='\u{200a}' | '\u{2028}' | '\u{2029}' | '\u{202f}' | '\u{205f}' | '\u{3000}' | '\u{feff}'
    )
}

/// `Number(s)`, with `None` for NaN.
pub(crate) fn parse(s: &str) -> Option<f64> {
    let t = s.trim_matches(is_js_space);
    if t.is_empty() {
        return Some(0.0);
    }
    if let Some(v) = parse_radix_literal(t) {
        return v;
    }
    let (negative, rest) = match t.as_bytes()[0] {
        b'+' => (false, &t[1..]),
        b'-' => (true, &t[1..]),
        _ => (false, t),
    };
    let magnitude = if rest == "Infinity" {
        f64::INFINITY
    } else {
        // On this alphabet, and starting with a digit or a dot, Rust's float grammar is
        // StrUnsignedDecimalLiteral; the check keeps out `inf`, `NaN` and a second sign.
        let starts_ok = rest.as_bytes().first().is_some_and(|&c| c.is_ascii_digit() || c == b'.');
        let alphabet_ok =
            rest.bytes().all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E' | b'+' | b'-'));
        if !(starts_ok && alphabet_ok) {
            return None;
        }
        rest.parse::<f64>().ok()?
    };
    Some(if negative { -magnitude } else { magnitude })
}

/// `0x1f`, `0o17`, `0b11` (no sign allowed). `None` when `t` is not such a literal at all,
/// `Some(None)` when it starts like one but has a bad digit.
fn parse_radix_literal(t: &str) -> Option<Option<f64>> {
    let b = t.as_bytes();
    if b.len() < 3 || b[0] != b'0' {
        return None;
    }
    let radix = match b[1] {
        b'x' | b'X' => 16,
        b'o' | b'O' => 8,
        b'b' | b'B' => 2,
        _ => return None,
    };
    let mut value = 0.0f64;
    for c in t[2..].chars() {
        match c.to_digit(radix) {
            Some(d) => value = value * f64::from(radix) + f64::from(d),
            None => return Some(None),
        }
    }
    Some(Some(value))
}

/// Appends `Number#toString()` of `v`: the shortest digits that round-trip, in positional
/// notation for exponents in `-7..21` and `d.ddde±x` otherwise.
/// A JSON number as JavaScript prints it: integers exactly, others as [`write`] does.
pub(crate) fn write_number(n: &serde_json::Number, out: &mut String) {
    if let Some(u) = n.as_u64() {
        out.push_str(itoa::Buffer::new().format(u));
    } else if let Some(i) = n.as_i64() {
        out.push_str(itoa::Buffer::new().format(i));
    } else {
        write(n.as_f64().unwrap_or(f64::NAN), out);
    }
}

pub(crate) fn write(v: f64, out: &mut String) {
    if v.is_nan() {
        out.push_str("NaN");
        return;
    }
    if v == 0.0 {
        out.push('0');
        return;
    }
    if v < 0.0 {
        out.push('-');
    }
    let v = v.abs();
    if v.is_infinite() {
        out.push_str("Infinity");
        return;
    }
    // Rust's `{:e}` yields the shortest round-tripping digits, like JS: `1.2345e2`.
    let mut sci = String::with_capacity(32);
    let _ = write!(sci, "{v:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let (lead, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let k = (lead.len() + frac.len()) as i32;
    let n = exp + 1;
    let digit_at = |i: i32| -> &str {
        let i = i as usize;
        if i < lead.len() {
            &lead[i..i + 1]
        } else {
            frac.get(i - lead.len()..i - lead.len() + 1).unwrap_or("")
        }
    };
    let push_digits =
        |out: &mut String, from: i32, to: i32| (from..to).for_each(|i| out.push_str(digit_at(i)));
    if k <= n && n <= 21 {
        push_digits(out, 0, k);
        (0..n - k).for_each(|_| out.push('0'));
    } else if 0 < n && n <= 21 {
        push_digits(out, 0, n);
        out.push('.');
        push_digits(out, n, k);
    } else if -6 < n && n <= 0 {
        out.push_str("0.");
        (0..-n).for_each(|_| out.push('0'));
        push_digits(out, 0, k);
    } else {
        push_digits(out, 0, 1);
        if k > 1 {
            out.push('.');
            push_digits(out, 1, k);
        }
        let e = n - 1;
        out.push('e');
        out.push(if e < 0 { '-' } else { '+' });
        let _ = write!(out, "{}", e.unsigned_abs());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn show(v: f64) -> String {
        let mut s = String::new();
        write(v, &mut s);
        s
    }

    #[test]
    fn number_of_string_as_js() {
        let table: &[(&str, Option<f64>)] = &[
            ("", Some(0.0)),
            ("  ", Some(0.0)),
            ("\u{3000}", Some(0.0)),
            ("\u{feff}1", Some(1.0)),
            ("\u{85}1", None),
            ("12", Some(12.0)),
            (" 12\t", Some(12.0)),
            ("007", Some(7.0)),
            ("1 2", None),
            ("+5", Some(5.0)),
            ("-5", Some(-5.0)),
            ("+-5", None),
            ("1e1", Some(10.0)),
            ("1.e1", Some(10.0)),
            (".5", Some(0.5)),
            ("5.", Some(5.0)),
            (".", None),
            ("e5", None),
            ("1e", None),
            ("0x1f", Some(31.0)),
            ("0X1F", Some(31.0)),
            ("0x", None),
            ("0xg", None),
            ("-0x1", None),
            ("0o17", Some(15.0)),
            ("0b101", Some(5.0)),
            ("Infinity", Some(f64::INFINITY)),
            ("-Infinity", Some(f64::NEG_INFINITY)),
            ("inf", None),
            ("NaN", None),
            ("1_000", None),
            ("x", None),
        ];
        for &(s, want) in table {
            assert_eq!(parse(s), want, "{s:?}");
        }
    }

    #[test]
    fn number_to_string_as_js() {
        let table: &[(f64, &str)] = &[
            (0.0, "0"),
            (-0.0, "0"),
            (1.0, "1"),
            (-1.5, "-1.5"),
            (100.0, "100"),
            (0.1, "0.1"),
            (0.1 + 0.2, "0.30000000000000004"),
            (123.456, "123.456"),
            (1e20, "100000000000000000000"),
            (1e21, "1e+21"),
            (1.5e21, "1.5e+21"),
            (1e-6, "0.000001"),
            (1.5e-6, "0.0000015"),
            (1e-7, "1e-7"),
            (1.5e-7, "1.5e-7"),
            (9007199254740992.0, "9007199254740992"),
            (123456789012345680000.0, "123456789012345680000"),
            (5e-324, "5e-324"),
            (f64::MAX, "1.7976931348623157e+308"),
            (f64::INFINITY, "Infinity"),
            (f64::NEG_INFINITY, "-Infinity"),
            (f64::NAN, "NaN"),
        ];
        for &(v, want) in table {
            assert_eq!(show(v), want, "{v:e}");
        }
    }

    proptest! {
        #[test]
        fn printed_numbers_read_back(v in any::<f64>()) {
            let s = show(v);
            match parse(&s) {
                Some(back) => prop_assert!(back == v || (v == 0.0 && back == 0.0), "{s}"),
                None => prop_assert!(v.is_nan()),
            }
        }

        #[test]
        fn parse_never_panics(s in ".{0,24}") {
            let _ = parse(&s);
        }
    }
}
