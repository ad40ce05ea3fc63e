//! HTTP compression of polling responses, as Node's polling transport does it
//! (`httpCompression`, threshold 1 KiB): gzip or deflate, chosen from the
//! request's `Accept-Encoding` the way the `negotiator` package chooses.

use std::io::Write;

use flate2::Compression;
use flate2::write::{GzEncoder, ZlibEncoder};

/// Node's default `httpCompression.threshold`: smaller bodies go out as they are.
pub const DEFAULT_THRESHOLD: usize = 1024;

/// A content coding the server can produce.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    Gzip,
    Deflate,
}

impl Encoding {
    pub fn as_bytes(self) -> &'static [u8] {
        match self {
            Encoding::Gzip => b"gzip",
            Encoding::Deflate => b"deflate",
        }
    }

    /// What `accepts(req).encodings(["gzip", "deflate"])` picks: the highest `q`, gzip on a tie;
    /// `*` stands for any coding not named; `q=0` refuses.
    pub fn negotiate(accept_encoding: &[u8]) -> Option<Encoding> {
        let header = std::str::from_utf8(accept_encoding).ok()?;
        let (mut gzip, mut deflate, mut any) = (None, None, None);
        for item in header.split(',') {
            let mut parts = item.split(';');
            let name = parts.next().unwrap_or_default().trim();
            let q = parts
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|v| v.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            let slot = match name.to_ascii_lowercase().as_str() {
                "gzip" => &mut gzip,
                "deflate" => &mut deflate,
                "*" => &mut any,
                _ => continue,
            };
            *slot = Some(q);
        }
        let gzip = gzip.or(any).unwrap_or(0.0);
        let deflate = deflate.or(any).unwrap_or(0.0);
        match (gzip, deflate) {
            (g, d) if g > 0.0 && g >= d => Some(Encoding::Gzip),
            (_, d) if d > 0.0 => Some(Encoding::Deflate),
            _ => None,
        }
    }

    /// Compresses `body` (zlib's default level, as Node's `zlib.createGzip()`).
    pub fn compress(self, body: &[u8]) -> Vec<u8> {
        let out = Vec::with_capacity(body.len() / 2 + 64);
        // Writing into a Vec cannot fail.
        match self {
            Encoding::Gzip => {
                let mut enc = GzEncoder::new(out, Compression::default());
                enc.write_all(body).expect("in memory");
                enc.finish().expect("in memory")
            }
            Encoding::Deflate => {
                let mut enc = ZlibEncoder::new(out, Compression::default());
                enc.write_all(body).expect("in memory");
                enc.finish().expect("in memory")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    #[test]
    fn negotiates_like_negotiator() {
        let table: [(&str, Option<Encoding>); 9] = [
            ("gzip, deflate, br", Some(Encoding::Gzip)),
            ("deflate", Some(Encoding::Deflate)),
            ("br", None),
            ("", None),
            ("*", Some(Encoding::Gzip)),
            ("gzip;q=0, *", Some(Encoding::Deflate)),
            ("gzip;q=0.5, deflate;q=0.8", Some(Encoding::Deflate)),
            ("gzip;q=0, deflate;q=0", None),
            ("GZIP", Some(Encoding::Gzip)),
        ];
        for (header, want) in table {
            assert_eq!(Encoding::negotiate(header.as_bytes()), want, "{header:?}");
        }
    }

    #[test]
    fn compressed_bodies_decompress() {
        let body = "4hello world ".repeat(200);
        let mut back = String::new();
        flate2::read::GzDecoder::new(&Encoding::Gzip.compress(body.as_bytes())[..])
            .read_to_string(&mut back)
            .unwrap();
        assert_eq!(back, body);
        back.clear();
        flate2::read::ZlibDecoder::new(&Encoding::Deflate.compress(body.as_bytes())[..])
            .read_to_string(&mut back)
            .unwrap();
        assert_eq!(back, body);
    }
}
