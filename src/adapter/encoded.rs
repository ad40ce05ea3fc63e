//! A broadcast encoded once, whatever the number of recipients: socket.io-adapter's `_encode`,
//! which writes the Socket.IO packet once and, for a text-only packet, the whole WebSocket
//! frame of its Engine.IO message once (`wsPreEncodedFrame`, RFC 6455 §5.2, unmasked as a
//! server's frames are).
//!
//! Socket.IO v4 and v5 write events and acks alike, and the Engine.IO message is `4` + text in
//! both Engine.IO revisions, so one encoding serves every client. What differs per connection
//! is left to the engine: the polling payload framing, binary attachments (v3's type byte,
//! base64 for clients without binary support), and `permessage-deflate`, under which the
//! pre-built frame cannot be used (Node's `_canSendPreEncodedFrame` checks the same).
//!
//! With the msgpack parser the packet is one binary message instead, written once too
//! ([`EncodedPacket::msgpack`], the adapter's key order: `nsp` before `id`), whatever the
//! number of msgpack recipients; the JSON forms are only built if a JSON recipient needs them.
//!
//! Every form is a `Bytes` sharing one buffer: a recipient costs a refcount, and the packet
//! is `Send + Sync`, so one `Arc` of it may go to every shard.

use std::sync::OnceLock;

use bytes::{BufMut, Bytes, BytesMut};
use bytestring::ByteString;

use crate::protocol::sio::msgpack::{self, Order};
use crate::protocol::sio::{DecodeOptions, Packet, SioVersion};
use crate::protocol::value::Value;

/// A Socket.IO packet as sent: its text, the binary attachments that follow it, and the
/// per-transport forms built from them on first use.
#[derive(Debug, Clone)]
pub struct EncodedPacket {
    text: ByteString,
    attachments: Vec<Bytes>,
    forms: OnceLock<Forms>,
    /// The msgpack parser's form; `None` when the text does not encode (not JSON).
    msgpack: OnceLock<Option<Bytes>>,
}

/// The WebSocket frame, and the Engine.IO message as a slice of it.
#[derive(Debug, Clone)]
struct Forms {
    frame: Bytes,
    message: ByteString,
}

impl EncodedPacket {
    /// Encodes `packet`; `attachments` are the buffers its placeholders number (as many as
    /// `packet.attachments`).
    pub fn new(packet: &Packet, attachments: Vec<Bytes>) -> Self {
        debug_assert_eq!(packet.attachments, attachments.len(), "attachments announced vs given");
        Self::from_text(packet.to_text(), attachments)
    }

    /// A packet whose text is already written (`2["ev"]`, `51-["ev",{"_placeholder":…}]`).
    pub fn from_text(text: ByteString, attachments: Vec<Bytes>) -> Self {
        EncodedPacket { text, attachments, forms: OnceLock::new(), msgpack: OnceLock::new() }
    }

    /// An EVENT (a BINARY_EVENT when an argument holds a buffer) to `nsp`; `id` when the
    /// sender waits for acks.
    pub fn event(nsp: impl Into<ByteString>, name: &str, args: &[Value], id: Option<u64>) -> Self {
        let (packet, attachments) = Packet::event_values(nsp, name, args, id);
        Self::new(&packet, attachments)
    }

    /// The same packet in buffers of its own. A shard that receives a broadcast from another
    /// delivers from its own copy: every recipient's reference count then stays on this
    /// core, instead of the two cores contending for one counter.
    pub fn local_copy(&self) -> Self {
        let text = ByteString::from(&*self.text);
        let attachments = self.attachments.iter().map(|a| Bytes::copy_from_slice(a)).collect();
        Self::from_text(text, attachments)
    }

    /// The Socket.IO packet text, without the Engine.IO `4`.
    pub fn text(&self) -> &ByteString {
        &self.text
    }

    /// The buffers sent after the text, one binary message each.
    pub fn attachments(&self) -> &[Bytes] {
        &self.attachments
    }

    /// Whether binary messages follow the text.
    pub fn is_binary(&self) -> bool {
        !self.attachments.is_empty()
    }

    /// The Engine.IO message: `4` + text, as polling payloads and WebSocket messages carry it.
    pub fn eio_message(&self) -> &ByteString {
        &self.forms().message
    }

    /// The complete WebSocket text frame of [`EncodedPacket::eio_message`]: FIN + text opcode,
    /// no mask, the shortest length form. Not for connections with `permessage-deflate`. The
    /// attachments, if any, are separate binary frames the engine writes.
    pub fn ws_frame(&self) -> &Bytes {
        &self.forms().frame
    }

    /// The packet as `socket.io-msgpack-parser` writes it: one binary Engine.IO message,
    /// buffers inline. `None` when the text is not JSON (raw arguments can be anything).
    pub fn msgpack(&self) -> Option<&Bytes> {
        self.msgpack
            .get_or_init(|| {
                let opts = DecodeOptions { max_attachments: usize::MAX };
                let packet = Packet::decode(self.text.clone(), SioVersion::V5, &opts).ok()?;
                msgpack::encode(&packet, &self.attachments, Order::Broadcast).ok()
            })
            .as_ref()
    }

    fn forms(&self) -> &Forms {
        self.forms.get_or_init(|| {
            let len = 1 + self.text.len();
            let mut out = BytesMut::with_capacity(ws_header_len(len) + len);
            put_ws_text_header(len, &mut out);
            let header = out.len();
            out.put_u8(b'4');
            out.extend_from_slice(self.text.as_bytes());
            let frame = out.freeze();
            let message =
                ByteString::try_from(frame.slice(header..)).expect("'4' followed by a UTF-8 string is UTF-8");
            Forms { frame, message }
        })
    }
}

/// Bytes of an unmasked frame header for a payload of `len` bytes.
fn ws_header_len(len: usize) -> usize {
    match len {
        0..=125 => 2,
        126..=0xffff => 4,
        _ => 10,
    }
}

/// FIN + opcode 1, then the 7-bit, 16-bit or 64-bit length, mask bit clear.
fn put_ws_text_header(len: usize, out: &mut BytesMut) {
    out.put_u8(0x81);
    match u16::try_from(len) {
        Ok(short) if short <= 125 => out.put_u8(short as u8),
        Ok(medium) => {
            out.put_u8(126);
            out.put_u16(medium);
        }
        Err(_) => {
            out.put_u8(127);
            out.put_u64(len as u64);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::ws_codec;
    use proptest::prelude::*;

    fn text_of_len(n: usize) -> ByteString {
        ByteString::from("x".repeat(n))
    }

    #[test]
    fn short_frame_exact() {
        let p = EncodedPacket::new(&Packet::new_event("/", "ev", &["1"], None), Vec::new());
        assert_eq!(p.text(), "2[\"ev\",1]");
        assert_eq!(p.eio_message(), "42[\"ev\",1]");
        assert_eq!(&p.ws_frame()[..], b"\x81\x0a42[\"ev\",1]");
        let chat =
            EncodedPacket::new(&Packet::new_event("/chat", "m", &["\"h\u{e9}\""], Some(7)), Vec::new());
        // 20 payload bytes: `é` is two.
        let mut want = b"\x81\x14".to_vec();
        want.extend_from_slice("42/chat,7[\"m\",\"h\u{e9}\"]".as_bytes());
        assert_eq!(&chat.ws_frame()[..], want);
    }

    #[test]
    fn length_forms_exact() {
        // (text length, expected header): the payload is one byte longer (`4`).
        let cases: [(usize, &[u8]); 6] = [
            (0, b"\x81\x01"),
            (124, b"\x81\x7d"),
            (125, b"\x81\x7e\x00\x7e"),
            (200, b"\x81\x7e\x00\xc9"),
            (65534, b"\x81\x7e\xff\xff"),
            (65535, b"\x81\x7f\x00\x00\x00\x00\x00\x01\x00\x00"),
        ];
        for (len, header) in cases {
            let p = EncodedPacket::from_text(text_of_len(len), Vec::new());
            let frame = p.ws_frame();
            assert_eq!(&frame[..header.len()], header, "text of {len}");
            assert_eq!(frame.len(), header.len() + 1 + len);
            assert_eq!(frame[header.len()], b'4');
            assert_eq!(p.eio_message().len(), 1 + len);
        }
    }

    #[test]
    fn forms_share_one_buffer() {
        let p = EncodedPacket::from_text(text_of_len(300), Vec::new());
        let frame = p.ws_frame().as_ptr_range();
        let message = p.eio_message().as_bytes().as_ptr_range();
        assert!(frame.start < message.start && message.end == frame.end);
        assert_eq!(p.ws_frame().as_ptr(), p.clone().ws_frame().as_ptr(), "a clone keeps the cache");
    }

    #[test]
    fn binary_event_keeps_its_attachments() {
        let args = [Value::from(vec![1u8, 2, 3]), Value::from("a")];
        let p = EncodedPacket::event("/", "up", &args, None);
        assert!(p.is_binary());
        assert_eq!(p.text(), r#"51-["up",{"_placeholder":true,"num":0},"a"]"#);
        assert_eq!(p.attachments(), [Bytes::from_static(&[1, 2, 3])]);
        assert_eq!(p.eio_message(), r#"451-["up",{"_placeholder":true,"num":0},"a"]"#);
    }

    #[test]
    fn local_copy_is_equal_in_buffers_of_its_own() {
        let args = [Value::from(vec![1u8, 2, 3]), Value::from("a")];
        let p = EncodedPacket::event("/", "up", &args, None);
        let copy = p.local_copy();
        assert_eq!((copy.text(), copy.attachments()), (p.text(), p.attachments()));
        assert_eq!(copy.ws_frame(), p.ws_frame());
        assert_ne!(copy.text().as_ptr(), p.text().as_ptr());
        assert_ne!(copy.attachments()[0].as_ptr(), p.attachments()[0].as_ptr());
    }

    #[test]
    fn crosses_shards() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<EncodedPacket>();
        send_sync::<std::sync::Arc<EncodedPacket>>();
    }

    proptest! {
        /// Same bytes as the connection writer's own framing (tungstenite's header).
        #[test]
        fn frame_matches_ws_codec(text in "\\PC{0,300}", pad in prop_oneof![Just(0usize), 100usize..70_000]) {
            let text = format!("{text}{}", "y".repeat(pad));
            let p = EncodedPacket::from_text(ByteString::from(text.as_str()), Vec::new());
            let mut want = BytesMut::new();
            ws_codec::write_text(&format!("4{text}"), &mut want);
            prop_assert_eq!(&p.ws_frame()[..], &want[..]);
        }
    }
}
