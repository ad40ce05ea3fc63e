//! The `permessage-deflate` WebSocket extension (RFC 7692): its negotiation (`negotiate`) and
//! the per-connection compressor and decompressor (§7.2: raw DEFLATE, sync flush, the trailing
//! `00 00 ff ff` stripped on send and put back on receipt), on `flate2`.
//!
//! `ws` compresses every data message while the server keeps its context; only under
//! `server_no_context_takeover` does the threshold (engine.io's `{ threshold: 1024 }`) leave
//! smaller messages uncompressed. [`Deflater::wants`] follows that rule.

mod negotiate;

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

pub use negotiate::{DeflateParams, ExtensionError, negotiate};

/// The empty stored block a sync flush ends with (§7.2.1), absent on the wire.
pub const TRAILER: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// Why a compressed message cannot be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InflateError {
    /// Inflated past the size limit: a message too big, or a zip bomb.
    #[error("inflated message too big")]
    TooBig,
    #[error("invalid DEFLATE data")]
    Corrupt,
}

/// The most output buffer a [`Deflater`] keeps between messages.
const SCRATCH_KEEP: usize = 64 * 1024;

/// The server's compressor for one connection.
pub struct Deflater {
    /// Created on the first compressed message, as `ws` does: most sockets never need one.
    compress: Option<Compress>,
    /// Forget the context after each message (`server_no_context_takeover`, or a window we
    /// cannot honour otherwise).
    reset: bool,
    /// Below this many bytes a message goes out uncompressed.
    threshold: usize,
    /// Above this many bytes a message goes out uncompressed: a negotiated window smaller than
    /// the compressor's 32 KiB is honoured by compressing only messages that fit in it, each
    /// with a fresh context, so no back-reference reaches past the window.
    limit: usize,
    scratch: Vec<u8>,
}

impl std::fmt::Debug for Deflater {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deflater")
            .field("reset", &self.reset)
            .field("threshold", &self.threshold)
            .field("limit", &self.limit)
            .finish_non_exhaustive()
    }
}

impl Deflater {
    /// `threshold` is engine.io's (1024 by default); `ws` applies it only when the server keeps
    /// no context, and otherwise compresses every data message.
    pub fn new(params: &DeflateParams, threshold: usize) -> Self {
        let narrow = params.server_max_window_bits.filter(|&bits| bits < 15);
        Deflater {
            compress: None,
            reset: params.server_no_context_takeover || narrow.is_some(),
            threshold: if params.server_no_context_takeover { threshold } else { 0 },
            limit: narrow.map_or(usize::MAX, |bits| 1 << bits),
            scratch: Vec::new(),
        }
    }

    /// Whether a message of `len` bytes is sent compressed.
    pub fn wants(&self, len: usize) -> bool {
        len >= self.threshold && len <= self.limit
    }

    /// The message compressed and its trailer stripped (§7.2.1); `None` if the compressor
    /// failed, and the message must go out uncompressed.
    pub fn compress(&mut self, data: &[u8]) -> Option<&[u8]> {
        let compress = self.compress.get_or_insert_with(|| Compress::new(Compression::default(), false));
        // One large message must not pin its buffer for the connection's lifetime.
        if self.scratch.capacity() > SCRATCH_KEEP {
            self.scratch = Vec::new();
        }
        self.scratch.clear();
        let start = compress.total_in();
        let ok = loop {
            let consumed = usize::try_from(compress.total_in() - start).unwrap_or(usize::MAX);
            let Some(rest) = data.get(consumed..) else { break false };
            self.scratch.reserve(rest.len() / 2 + 64);
            let (before_in, before_out) = (compress.total_in(), compress.total_out());
            if compress.compress_vec(rest, &mut self.scratch, FlushCompress::Sync).is_err() {
                break false;
            }
            // Done once all input is in and the flush did not run out of room.
            let consumed = usize::try_from(compress.total_in() - start).unwrap_or(usize::MAX);
            if consumed == data.len() && self.scratch.len() < self.scratch.capacity() {
                break self.scratch.ends_with(&TRAILER);
            }
            if (compress.total_in(), compress.total_out()) == (before_in, before_out) {
                break false;
            }
        };
        if self.reset || !ok {
            compress.reset();
        }
        ok.then(|| &self.scratch[..self.scratch.len() - TRAILER.len()])
    }
}

/// The server's decompressor for one connection.
pub struct Inflater {
    decompress: Option<Decompress>,
    /// The client forgets its context after each message (`client_no_context_takeover`).
    reset: bool,
}

impl std::fmt::Debug for Inflater {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inflater").field("reset", &self.reset).finish_non_exhaustive()
    }
}

/// Output grows by at most this much per step, so a lie costs little memory before it is caught.
const INFLATE_STEP: usize = 64 * 1024;

impl Inflater {
    pub fn new(params: &DeflateParams) -> Self {
        Inflater { decompress: None, reset: params.client_no_context_takeover }
    }

    /// Inflates one whole message (its fragments' payloads joined), never holding more than
    /// `max + 1` bytes of output: past `max` is [`InflateError::TooBig`].
    pub fn inflate(&mut self, data: &[u8], max: usize) -> Result<Vec<u8>, InflateError> {
        let decompress = self.decompress.get_or_insert_with(|| Decompress::new(false));
        let cap = max.saturating_add(1);
        let mut out = Vec::with_capacity(data.len().saturating_mul(2).clamp(64, INFLATE_STEP).min(cap));
        let result = feed(decompress, data, &mut out, max).and_then(|ended| match ended {
            true => Ok(true),
            false => feed(decompress, &TRAILER, &mut out, max),
        });
        // A final block ends the client's stream (`ws` then starts a new one); an error leaves
        // the stream unusable; without context takeover each message starts afresh.
        if !matches!(result, Ok(false)) || self.reset {
            decompress.reset(false);
        }
        result.map(|_| out)
    }
}

/// Feeds `input` through; `Ok(true)` when the DEFLATE stream ended (a block with BFINAL set).
fn feed(d: &mut Decompress, mut input: &[u8], out: &mut Vec<u8>, max: usize) -> Result<bool, InflateError> {
    loop {
        if out.len() == out.capacity() {
            if out.len() > max {
                return Err(InflateError::TooBig);
            }
            out.reserve_exact(out.len().clamp(64, INFLATE_STEP).min(max.saturating_add(1) - out.len()));
        }
        let (before_in, before_out) = (d.total_in(), d.total_out());
        let status =
            d.decompress_vec(input, out, FlushDecompress::Sync).map_err(|_| InflateError::Corrupt)?;
        if out.len() > max {
            return Err(InflateError::TooBig);
        }
        let consumed = usize::try_from(d.total_in() - before_in).map_err(|_| InflateError::Corrupt)?;
        input = input.get(consumed..).ok_or(InflateError::Corrupt)?;
        match status {
            Status::StreamEnd => return Ok(true),
            _ if out.len() < out.capacity() && input.is_empty() => return Ok(false),
            // Room and input, yet no progress: the stream cannot go on.
            _ if out.len() < out.capacity() && d.total_out() == before_out && consumed == 0 => {
                return Err(InflateError::Corrupt);
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn params(header: &str) -> DeflateParams {
        negotiate([header.as_bytes()]).unwrap().unwrap()
    }

    /// RFC 7692 §7.2.3.1 and §7.2.3.2: "Hello", then "Hello" again against the shared window.
    #[test]
    fn rfc7692_examples_inflate() {
        let mut inflater = Inflater::new(&params("permessage-deflate"));
        assert_eq!(inflater.inflate(&[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00], 100).unwrap(), b"Hello");
        assert_eq!(inflater.inflate(&[0xf2, 0x00, 0x11, 0x00, 0x00], 100).unwrap(), b"Hello");
        // §7.2.3.3 a stored block; §7.2.3.4 BFINAL set; §7.2.3.5 two blocks.
        let others: [&[u8]; 3] = [
            &[0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00],
            &[0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00],
            &[0xf2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xff, 0xff, 0xca, 0xc9, 0xc9, 0x07, 0x00],
        ];
        for data in others {
            assert_eq!(inflater.inflate(data, 100).unwrap(), b"Hello", "{data:02x?}");
        }
        // An empty message (§7.2.3.6).
        assert_eq!(inflater.inflate(&[0x00], 100).unwrap(), b"");
    }

    #[test]
    fn hello_compresses_as_rfc7692() {
        let mut deflater = Deflater::new(&params("permessage-deflate; server_no_context_takeover"), 0);
        assert_eq!(deflater.compress(b"Hello").unwrap(), [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]);
        // Without context takeover the second message is compressed alone, to the same bytes.
        assert_eq!(deflater.compress(b"Hello").unwrap(), [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]);
    }

    #[test]
    fn context_takeover_across_messages() {
        let agreed = params("permessage-deflate");
        let (mut deflater, mut inflater) = (Deflater::new(&agreed, 1024), Inflater::new(&agreed));
        let message = b"a message long enough to be worth a back-reference, twice over".repeat(2);
        let first = deflater.compress(&message).unwrap().to_vec();
        let second = deflater.compress(&message).unwrap().to_vec();
        assert!(second.len() < first.len() / 2, "{} vs {}", second.len(), first.len());
        assert_eq!(inflater.inflate(&first, 1000).unwrap(), message);
        assert_eq!(inflater.inflate(&second, 1000).unwrap(), message);
        // A fresh inflater lacks the window the second message refers to.
        assert_ne!(Inflater::new(&agreed).inflate(&second, 1000).unwrap(), message);
    }

    #[test]
    fn client_no_context_takeover_resets_the_inflater() {
        let mut inflater = Inflater::new(&params("permessage-deflate; client_no_context_takeover"));
        assert_eq!(inflater.inflate(&[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00], 100).unwrap(), b"Hello");
        // The window is gone: the back-reference reads the zeroed dictionary (zlib would refuse it).
        assert_eq!(inflater.inflate(&[0xf2, 0x00, 0x11, 0x00, 0x00], 100).unwrap(), b"H\0\0\0\0");
    }

    /// `ws`'s rule: everything is compressed while the server keeps its context; the threshold
    /// applies only under `server_no_context_takeover`.
    #[test]
    fn threshold_and_window() {
        let keep = Deflater::new(&params("permessage-deflate"), 1024);
        assert!(keep.wants(1) && keep.wants(1 << 20));
        let forget = Deflater::new(&params("permessage-deflate; server_no_context_takeover"), 1024);
        assert!(!forget.wants(1023) && forget.wants(1024));
        let narrow = Deflater::new(&params("permessage-deflate; server_max_window_bits=10"), 1024);
        assert!(narrow.wants(1) && narrow.wants(1024) && !narrow.wants(1025));
        assert!(Deflater::new(&params("permessage-deflate; server_max_window_bits=15"), 1024).wants(1 << 20));
    }

    #[test]
    fn zip_bomb_is_bounded() {
        let agreed = params("permessage-deflate");
        let mut deflater = Deflater::new(&agreed, 0);
        let bomb = deflater.compress(&vec![0u8; 8 << 20]).unwrap().to_vec();
        assert!(bomb.len() < 64 << 10);
        let mut inflater = Inflater::new(&agreed);
        assert_eq!(inflater.inflate(&bomb, 1_000_000), Err(InflateError::TooBig));
        // Exactly the limit passes, one byte over does not.
        let mut deflater = Deflater::new(&params("permessage-deflate; server_no_context_takeover"), 0);
        let exact = deflater.compress(&[7u8; 1000]).unwrap().to_vec();
        assert_eq!(Inflater::new(&agreed).inflate(&exact, 1000).map(|m| m.len()), Ok(1000));
        assert_eq!(Inflater::new(&agreed).inflate(&exact, 999), Err(InflateError::TooBig));
    }

    #[test]
    fn corrupt_data_is_an_error_and_the_next_message_starts_afresh() {
        let mut inflater = Inflater::new(&params("permessage-deflate"));
        assert_eq!(inflater.inflate(&[0xff, 0xff, 0xff], 100), Err(InflateError::Corrupt));
        assert_eq!(inflater.inflate(&[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00], 100).unwrap(), b"Hello");
    }

    proptest! {
        #[test]
        fn round_trip(
            messages in proptest::collection::vec(proptest::collection::vec(0u8..4, 0..5000), 1..6),
            header in prop_oneof![
                Just("permessage-deflate"),
                Just("permessage-deflate; server_no_context_takeover; client_no_context_takeover"),
                Just("permessage-deflate; server_max_window_bits=9"),
            ],
        ) {
            let agreed = params(header);
            let (mut deflater, mut inflater) = (Deflater::new(&agreed, 0), Inflater::new(&agreed));
            for message in messages {
                if !deflater.wants(message.len()) {
                    continue;
                }
                let compressed = deflater.compress(&message).unwrap().to_vec();
                prop_assert_eq!(inflater.inflate(&compressed, 1 << 20).unwrap(), message);
            }
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512), max in 0usize..4096) {
            let mut inflater = Inflater::new(&params("permessage-deflate"));
            let _ = inflater.inflate(&bytes, max);
            let _ = inflater.inflate(&bytes, max);
        }
    }
}
