//! HTTP content codings: which one a response gets, chosen exactly as Node does with
//! `accepts(req).encodings([...])` (the `negotiator` 0.6 package) — `["gzip", "deflate"]` for
//! polling responses (`httpCompression`, threshold 1 KiB), `["br", "gzip", "deflate"]` for the
//! client bundle (`serveClient`) — and the compression itself.
//!
//! `negotiator` ranks each offered coding by its best-matching `Accept-Encoding` entry (an exact
//! name beats `*`, then the higher `q`, then the later entry), then sorts the codings by `q`,
//! exactness, position of that entry in the header, and our order of preference. So
//! `gzip, deflate, br` (what browsers send) picks gzip, and `*` picks br. Headers are taken as
//! Latin-1, as Node decodes them; `q` is read with JavaScript's `parseFloat`.

use std::io::Write;

use flate2::Compression;
use flate2::write::{GzEncoder, ZlibEncoder};

/// Node's default `httpCompression.threshold`: smaller polling bodies go out as they are.
pub const DEFAULT_THRESHOLD: usize = 1024;

/// What polling responses may be compressed with, in Node's order.
pub const POLLING: [Coding; 2] = [Coding::Gzip, Coding::Deflate];

/// A content coding a response can be sent in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Coding {
    Br,
    Gzip,
    Deflate,
}

/// Node's zlib default is quality 11, which takes 0.4–0.8 s for `socket.io.js` and its map and
/// would stall the shard that first asks; 9 is ten times faster for ~10 % more bytes, and runs
/// once per file and process.
const BROTLI_QUALITY: u32 = 9;
/// zlib's default window for brotli (`BROTLI_DEFAULT_WINDOW`), as Node's.
const BROTLI_WINDOW: u32 = 22;

impl Coding {
    pub const ALL: [Coding; 3] = [Coding::Br, Coding::Gzip, Coding::Deflate];

    pub fn name(self) -> &'static str {
        match self {
            Coding::Br => "br",
            Coding::Gzip => "gzip",
            Coding::Deflate => "deflate",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }

    /// `body` in this coding: Node's `createBrotliCompress()`, `createGzip()` and `createDeflate()`
    /// (zlib format) at their default levels, brotli aside (see `BROTLI_QUALITY`).
    pub fn compress(self, body: &[u8]) -> Vec<u8> {
        let out = Vec::with_capacity(body.len() / 3 + 64);
        // Writing into a Vec cannot fail.
        match self {
            Coding::Br => {
                let mut out = out;
                let mut enc = brotli::CompressorWriter::new(&mut out, 4096, BROTLI_QUALITY, BROTLI_WINDOW);
                enc.write_all(body).expect("in memory");
                drop(enc);
                out
            }
            Coding::Gzip => {
                let mut enc = GzEncoder::new(out, Compression::default());
                enc.write_all(body).expect("in memory");
                enc.finish().expect("in memory")
            }
            Coding::Deflate => {
                let mut enc = ZlibEncoder::new(out, Compression::default());
                enc.write_all(body).expect("in memory");
                enc.finish().expect("in memory")
            }
        }
    }
}

/// One `Accept-Encoding` entry: its coding name, `q` (NaN when unreadable, as in JavaScript) and
/// its position in the header.
struct Entry<'a> {
    name: &'a [u8],
    q: f64,
    at: usize,
}

/// How well a coding is accepted: `negotiator`'s `{ q, s, o, i }`.
#[derive(Clone, Copy)]
struct Priority {
    q: f64,
    /// 1 for an exact name, 0 for `*`.
    exact: i32,
    /// Position of the matching entry in the header (-1: none).
    at: i64,
    /// Position of the coding in our preference list.
    ours: usize,
}

/// The coding to answer in among `offered` (in our order of preference), or `None` for the body
/// as it is. `accept_encoding` is every `Accept-Encoding` field of the request, which Node joins
/// with `, `.
pub fn negotiate<'a>(accept_encoding: impl Iterator<Item = &'a [u8]>, offered: &[Coding]) -> Option<Coding> {
    let mut entries = Vec::new();
    for (at, item) in accept_encoding.flat_map(|field| field.split(|&b| b == b',')).enumerate() {
        if let Some((name, q)) = parse_entry(trim(item)) {
            entries.push(Entry { name, q, at });
        }
    }
    offered
        .iter()
        .enumerate()
        .map(|(ours, &coding)| (coding, priority(coding, ours, &entries)))
        .filter(|(_, p)| p.q > 0.0)
        .min_by(|(_, a), (_, b)| {
            // Every q left is a number above zero: the comparisons are total.
            b.q.total_cmp(&a.q).then(b.exact.cmp(&a.exact)).then(a.at.cmp(&b.at)).then(a.ours.cmp(&b.ours))
        })
        .map(|(coding, _)| coding)
}

/// `negotiator`'s `getEncodingPriority`: the best entry naming `coding` or `*`, where a later
/// entry wins a full tie. Its test is a chain of JavaScript `||` over differences, in which a NaN
/// difference counts as a tie.
fn priority(coding: Coding, ours: usize, entries: &[Entry<'_>]) -> Priority {
    let mut best = Priority { q: 0.0, exact: 0, at: -1, ours };
    for entry in entries {
        let exact = if entry.name.eq_ignore_ascii_case(coding.name().as_bytes()) {
            1
        } else if entry.name == b"*" {
            0
        } else {
            continue;
        };
        let candidate = Priority { q: entry.q, exact, at: entry.at as i64, ours };
        let dq = best.q - candidate.q;
        let better = match best.exact - candidate.exact {
            0 if dq != 0.0 && !dq.is_nan() => dq < 0.0,
            0 => best.at < candidate.at,
            ds => ds < 0,
        };
        if better {
            best = candidate;
        }
    }
    best
}

/// `negotiator`'s `parseEncoding`, on a trimmed entry: `/^\s*([^\s;]+)\s*(?:;(.*))?$/`, then the
/// first parameter written exactly `q=`.
fn parse_entry(entry: &[u8]) -> Option<(&[u8], f64)> {
    let name_len = entry.iter().position(|&b| is_space(b) || b == b';').unwrap_or(entry.len());
    if name_len == 0 {
        return None;
    }
    let (name, rest) = entry.split_at(name_len);
    let rest = &rest[rest.iter().position(|&b| !is_space(b)).unwrap_or(rest.len())..];
    let params = match rest.split_first() {
        None => return Some((name, 1.0)),
        Some((b';', params)) => params,
        Some(_) => return None,
    };
    // JavaScript's `.` does not match a line terminator.
    if params.iter().any(|&b| b == b'\n' || b == b'\r') {
        return None;
    }
    for param in params.split(|&b| b == b';') {
        let mut parts = trim(param).split(|&b| b == b'=');
        if parts.next() == Some(b"q") {
            return Some((name, parts.next().map_or(f64::NAN, parse_float)));
        }
    }
    Some((name, 1.0))
}

/// JavaScript's `parseFloat`: the longest decimal literal at the start, NaN if there is none.
fn parse_float(s: &[u8]) -> f64 {
    let s = &s[s.iter().position(|&b| !is_space(b)).unwrap_or(s.len())..];
    let sign = usize::from(matches!(s.first(), Some(b'+' | b'-')));
    if s[sign..].starts_with(b"Infinity") {
        return if s.first() == Some(&b'-') { f64::NEG_INFINITY } else { f64::INFINITY };
    }
    let digits = |from: usize| s[from..].iter().take_while(|b| b.is_ascii_digit()).count();
    let int = digits(sign);
    let mut end = sign + int;
    let mut any = int > 0;
    if s.get(end) == Some(&b'.') {
        let frac = digits(end + 1);
        if frac > 0 || any {
            end += 1 + frac;
            any |= frac > 0;
        }
    }
    if !any {
        return f64::NAN;
    }
    if matches!(s.get(end), Some(b'e' | b'E')) {
        let exp_sign = usize::from(matches!(s.get(end + 1), Some(b'+' | b'-')));
        let exp = digits(end + 1 + exp_sign);
        if exp > 0 {
            end += 1 + exp_sign + exp;
        }
    }
    std::str::from_utf8(&s[..end]).ok().and_then(|n| n.parse().ok()).unwrap_or(f64::NAN)
}

/// JavaScript's white space, on Latin-1 bytes (NBSP included).
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r' | 0xa0)
}

fn trim(s: &[u8]) -> &[u8] {
    let start = s.iter().position(|&b| !is_space(b)).unwrap_or(s.len());
    let end = s.iter().rposition(|&b| !is_space(b)).map_or(start, |i| i + 1);
    &s[start..end.max(start)]
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use proptest::prelude::*;

    use super::*;

    fn pick(header: &str) -> Option<Coding> {
        negotiate(std::iter::once(header.as_bytes()), &Coding::ALL)
    }

    /// Checked against `accepts@1.3.8` (`negotiator@0.6.3`) under Node 20, and the first seven
    /// against a socket.io 4.8.4 server's `content-encoding`.
    #[test]
    fn negotiates_like_negotiator() {
        let table: &[(&str, Option<Coding>)] = &[
            ("gzip, deflate, br", Some(Coding::Gzip)),
            ("br;q=0.5, gzip", Some(Coding::Gzip)),
            ("deflate, gzip", Some(Coding::Deflate)),
            ("*", Some(Coding::Br)),
            ("gzip;q=0, *", Some(Coding::Br)),
            ("identity", None),
            ("br;q=0", None),
            ("", None),
            ("br, gzip", Some(Coding::Br)),
            ("gzip, br;q=1", Some(Coding::Gzip)),
            ("*;q=0.5, deflate", Some(Coding::Deflate)),
            ("*, br;q=0", Some(Coding::Gzip)),
            ("BR", Some(Coding::Br)),
            ("gzip;q=abc, deflate;q=0.1", Some(Coding::Deflate)),
            ("gzip;q=0.5x, deflate;q=0.1", Some(Coding::Gzip)),
            ("gzip; q=0.2, br;q = 0.1", Some(Coding::Br)),
            ("gzip;level=1;q=0.3, deflate;q=0.2", Some(Coding::Gzip)),
            ("gzip deflate", None),
            ("gzip;q=.5, br;q=5e-1", Some(Coding::Gzip)),
            ("gzip;q=1e-1, deflate;q=0.05", Some(Coding::Gzip)),
            ("gzip;q, br;q=0.1", Some(Coding::Br)),
            ("gzip;q=Infinity, br", Some(Coding::Gzip)),
            (" , gzip ;q=0.5", Some(Coding::Gzip)),
        ];
        for &(header, want) in table {
            assert_eq!(pick(header), want, "{header:?}");
        }
        // Two fields are one list.
        assert_eq!(negotiate([&b"deflate"[..], b"br"].into_iter(), &Coding::ALL), Some(Coding::Deflate));
        assert_eq!(negotiate(std::iter::empty(), &Coding::ALL), None);
    }

    #[test]
    fn polling_offers_gzip_then_deflate() {
        let table: [(&str, Option<Coding>); 8] = [
            ("gzip, deflate, br", Some(Coding::Gzip)),
            ("deflate", Some(Coding::Deflate)),
            ("br", None),
            ("", None),
            ("*", Some(Coding::Gzip)),
            ("gzip;q=0, *", Some(Coding::Deflate)),
            ("gzip;q=0.5, deflate;q=0.8", Some(Coding::Deflate)),
            ("gzip;q=0, deflate;q=0", None),
        ];
        for (header, want) in table {
            assert_eq!(negotiate(std::iter::once(header.as_bytes()), &POLLING), want, "{header:?}");
        }
    }

    #[test]
    fn parse_float_reads_a_prefix() {
        for (s, want) in [("0.5", 0.5), (" 1", 1.0), ("1.", 1.0), (".5", 0.5), ("2e1x", 20.0), ("3e", 3.0)] {
            assert_eq!(parse_float(s.as_bytes()), want, "{s:?}");
        }
        for s in ["", ".", "-", "e1", "abc"] {
            assert!(parse_float(s.as_bytes()).is_nan(), "{s:?}");
        }
        assert_eq!(parse_float(b"-Infinity"), f64::NEG_INFINITY);
    }

    #[test]
    fn compressed_bodies_decompress() {
        let body = "var io = function () { return 42; };\n".repeat(300);
        let mut back = String::new();
        flate2::read::GzDecoder::new(&Coding::Gzip.compress(body.as_bytes())[..])
            .read_to_string(&mut back)
            .unwrap();
        assert_eq!(back, body);
        back.clear();
        flate2::read::ZlibDecoder::new(&Coding::Deflate.compress(body.as_bytes())[..])
            .read_to_string(&mut back)
            .unwrap();
        assert_eq!(back, body);
        back.clear();
        brotli::Decompressor::new(&Coding::Br.compress(body.as_bytes())[..], 4096)
            .read_to_string(&mut back)
            .unwrap();
        assert_eq!(back, body);
    }

    proptest! {
        #[test]
        fn arbitrary_headers_never_panic(fields in proptest::collection::vec(any::<Vec<u8>>(), 0..3)) {
            let _ = negotiate(fields.iter().map(Vec::as_slice), &Coding::ALL);
        }

        #[test]
        fn arbitrary_q_values_never_panic(q in any::<Vec<u8>>()) {
            let _ = parse_float(&q);
        }
    }
}
