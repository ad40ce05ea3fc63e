//! `Transfer-Encoding: chunked` request bodies (RFC 9112 §7.1): find where the body ends,
//! then join its chunks into one `Bytes`.
//!
//! Chunk-size lines and trailer fields go through `httparse` (`parse_chunk_size`,
//! `parse_headers`); this module only walks from one to the next. The walk is restartable from
//! the start of the body, so a caller that gets "not yet" simply retries with more bytes.

use std::ops::Range;

use bytes::{Bytes, BytesMut};
use httparse::Status;

use super::request::{HttpError, Malformed};

/// A chunk-size line (size, extensions, CRLF) longer than this is refused rather than buffered:
/// Node refuses extensions past 16 KiB, and no client sends any.
const MAX_CHUNK_LINE: usize = 16 * 1024;

/// Trailer fields parsed at once; more is a malformed body, not a reason to allocate.
const MAX_TRAILERS: usize = 16;

/// Where a complete chunked body ends and what it holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Scan {
    /// Bytes on the wire, from the first chunk-size line through the trailer's blank line.
    pub wire_len: usize,
    /// Decoded body length.
    pub body_len: usize,
    /// Non-empty data chunks, and where the first one lies in the wire bytes.
    chunks: usize,
    first: Range<usize>,
}

/// Scans a chunked body at the start of `wire`. `Ok(None)` means it has not fully arrived.
pub(crate) fn scan(wire: &[u8], max_body: usize, max_trailer: usize) -> Result<Option<Scan>, HttpError> {
    let mut chunks = 0;
    let mut first = 0..0;
    let end = walk(wire, max_body, max_trailer, |data| {
        if chunks == 0 {
            first = data;
        }
        chunks += 1;
    })?;
    Ok(end.map(|(wire_len, body_len)| Scan { wire_len, body_len, chunks, first }))
}

/// Joins the data of a body that [`scan`] accepted; a single chunk is handed out without a copy.
pub(crate) fn collect(wire: &Bytes, scan: &Scan) -> Bytes {
    match scan.chunks {
        0 => Bytes::new(),
        // `first` came from scanning these same bytes, so it is in range.
        1 => wire.slice(scan.first.clone()),
        _ => {
            let mut body = BytesMut::with_capacity(scan.body_len);
            // Same bytes as the accepted scan, so the walk succeeds again.
            let _ = walk(wire, usize::MAX, usize::MAX, |data| body.extend_from_slice(&wire[data]));
            body.freeze()
        }
    }
}

/// Walks chunk by chunk, reporting each non-empty data range; returns `(wire_len, body_len)`.
fn walk(
    wire: &[u8],
    max_body: usize,
    max_trailer: usize,
    mut on_data: impl FnMut(Range<usize>),
) -> Result<Option<(usize, usize)>, HttpError> {
    const BAD: HttpError = HttpError::BadRequest(Malformed::Chunk);
    let mut pos = 0;
    let mut body = 0usize;
    loop {
        let rest = &wire[pos..];
        let Some(&lead) = rest.first() else { return Ok(None) };
        // httparse reads an empty size line as 0; a size needs at least one digit.
        if !lead.is_ascii_hexdigit() {
            return Err(BAD);
        }
        let (line, size) = match httparse::parse_chunk_size(rest) {
            Ok(Status::Complete(found)) => found,
            Ok(Status::Partial) if rest.len() > MAX_CHUNK_LINE => return Err(BAD),
            Ok(Status::Partial) => return Ok(None),
            Err(_) => return Err(BAD),
        };
        if line > MAX_CHUNK_LINE {
            return Err(BAD);
        }
        pos += line;
        if size == 0 {
            return trailer(&wire[pos..], max_trailer).map(|end| end.map(|n| (pos + n, body)));
        }
        let too_large = HttpError::PayloadTooLarge { content_length: None };
        let size = usize::try_from(size).map_err(|_| too_large)?;
        if size > max_body - body {
            return Err(too_large);
        }
        let data = pos..pos.checked_add(size).ok_or(too_large)?;
        let Some(crlf) = wire.get(data.end..data.end.saturating_add(2)) else { return Ok(None) };
        if crlf != b"\r\n" {
            return Err(BAD);
        }
        pos = data.end + 2;
        body += size;
        on_data(data);
    }
}

/// The trailer section after the last chunk: fields then a blank line. Returns its length.
fn trailer(rest: &[u8], max_trailer: usize) -> Result<Option<usize>, HttpError> {
    let mut fields = [httparse::EMPTY_HEADER; MAX_TRAILERS];
    match httparse::parse_headers(rest, &mut fields) {
        Ok(Status::Complete((len, _))) if len > max_trailer => Err(HttpError::HeaderTooLarge),
        Ok(Status::Complete((len, _))) => Ok(Some(len)),
        Ok(Status::Partial) if rest.len() > max_trailer => Err(HttpError::HeaderTooLarge),
        Ok(Status::Partial) => Ok(None),
        Err(_) => Err(HttpError::BadRequest(Malformed::Chunk)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(wire: &[u8]) -> Result<Option<(usize, Bytes)>, HttpError> {
        let wire = Bytes::copy_from_slice(wire);
        Ok(scan(&wire, 1 << 20, 1024)?.map(|s| (s.wire_len, collect(&wire, &s))))
    }

    #[test]
    fn table() {
        let ok: &[(&[u8], &[u8])] = &[
            (b"0\r\n\r\n", b""),
            (b"5\r\nhello\r\n0\r\n\r\n", b"hello"),
            (b"3;ext=1\r\n4hi\r\n0\r\n\r\n", b"4hi"),
            (b"3 ; a=\"b\"; c\r\nabc\r\n2\r\nde\r\n0\r\n\r\n", b"abcde"),
            (b"A\r\n0123456789\r\n0;last\r\n\r\n", b"0123456789"),
            (b"1\r\na\r\n0\r\nX-Trailer: 1\r\nY: 2\r\n\r\n", b"a"),
            (b"00002\r\nab\r\n0\r\n\r\n", b"ab"),
        ];
        for (wire, body) in ok {
            let mut with_tail = wire.to_vec();
            with_tail.extend_from_slice(b"GET / HTTP/1.1\r\n");
            assert_eq!(decode(&with_tail), Ok(Some((wire.len(), Bytes::from_static(body)))), "{wire:?}");
        }
    }

    #[test]
    fn malformed() {
        let bad: &[&[u8]] = &[
            b"\r\n0\r\n\r\n",
            b"x\r\n",
            b"-1\r\n",
            b"5\r\nhelloXX0\r\n\r\n",
            b"5\nhello\r\n0\r\n\r\n",
            b"0\r\nBad Trailer\r\n\r\n",
            b"11111111111111111\r\n",
        ];
        for wire in bad {
            assert_eq!(decode(wire), Err(HttpError::BadRequest(Malformed::Chunk)), "{wire:?}");
        }
    }

    #[test]
    fn every_prefix_is_incomplete() {
        let wire = b"3;ext=1\r\n4hi\r\n2\r\nde\r\n0\r\nT: v\r\n\r\n";
        for cut in 0..wire.len() {
            assert_eq!(decode(&wire[..cut]), Ok(None), "cut at {cut}");
        }
        assert_eq!(decode(wire), Ok(Some((wire.len(), Bytes::from_static(b"4hide")))));
    }

    #[test]
    fn limits() {
        let too_large = Err(HttpError::PayloadTooLarge { content_length: None });
        assert_eq!(scan(b"5\r\nhello\r\n0\r\n\r\n", 4, 64), too_large);
        assert_eq!(scan(b"3\r\nabc\r\n2\r\n", 4, 64), too_large);
        assert_eq!(scan(b"ffffffffffffffff\r\n", usize::MAX, 64), too_large);
        assert!(scan(b"4\r\nabcd\r\n0\r\n\r\n", 4, 64).is_ok_and(|s| s.is_some()));
        assert_eq!(scan(b"0\r\nX: aaaaaaaaaaaaaaaaaaaaaaa", 4, 8), Err(HttpError::HeaderTooLarge));
        let long_ext = [b"1;".as_slice(), &[b'x'; MAX_CHUNK_LINE]].concat();
        assert_eq!(scan(&long_ext, 4, 64), Err(HttpError::BadRequest(Malformed::Chunk)));
    }
}
