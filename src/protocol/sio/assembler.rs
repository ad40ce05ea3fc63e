//! Collecting the binary messages that follow a `BINARY_EVENT` / `BINARY_ACK`, and the
//! per-connection decoder that alternates text packets and attachments (socket.io-parser
//! `Decoder.add` and `BinaryReconstructor`).
//!
//! Node's order of checks is kept: a text message while attachments are expected, or a binary
//! message when none is, is an error (the connection closes); placeholders are checked once the
//! last attachment is in. So is one quirk: a binary packet announcing 0 attachments is emitted
//! at once but leaves Node's decoder waiting for attachments that can never complete it, so
//! any later text message is an error and later binary messages vanish.

use bytes::Bytes;
use bytestring::ByteString;

use super::{DecodeOptions, Packet, ParseError, SioVersion};
use crate::protocol::value::{placeholders_valid, reconstruct};

/// A complete packet, and for binary kinds its attachments in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decoded {
    pub packet: Packet,
    pub attachments: Vec<Bytes>,
}

/// The attachments of one binary packet, arriving one message at a time.
#[derive(Debug)]
pub struct BinaryAssembler {
    packet: Packet,
    buffers: Vec<Bytes>,
}

impl BinaryAssembler {
    /// Starts collecting for a decoded `BINARY_EVENT` / `BINARY_ACK`.
    pub fn new(packet: Packet) -> Self {
        let buffers = Vec::with_capacity(packet.attachments);
        BinaryAssembler { packet, buffers }
    }

    /// How many attachments are still expected.
    pub fn remaining(&self) -> usize {
        self.packet.attachments.saturating_sub(self.buffers.len())
    }

    /// Takes one attachment; `true` once the last has arrived.
    pub fn push(&mut self, data: Bytes) -> bool {
        self.buffers.push(data);
        self.remaining() == 0
    }

    /// The packet and its attachments, once every placeholder names one of them.
    pub fn finish(self) -> Result<Decoded, ParseError> {
        // The scan reads every member; Node checks the parsed object, where a repeated key
        // keeps only its last value: a refusal is confirmed on the tree.
        let valid = match &self.packet.data {
            Some(data) => {
                placeholders_valid(data, self.buffers.len()) || reconstruct(data, &self.buffers).is_ok()
            }
            None => true,
        };
        if !valid {
            return Err(ParseError::IllegalPlaceholder);
        }
        Ok(Decoded { packet: self.packet, attachments: self.buffers })
    }
}

#[derive(Debug)]
enum State {
    Idle,
    Assembling(BinaryAssembler),
    /// After a binary packet with 0 attachments (see the module docs).
    Stuck,
}

/// One connection's Socket.IO decoder: text messages in, complete packets out.
#[derive(Debug)]
pub struct Decoder {
    version: SioVersion,
    opts: DecodeOptions,
    state: State,
}

impl Decoder {
    pub fn new(version: SioVersion, opts: DecodeOptions) -> Self {
        Decoder { version, opts, state: State::Idle }
    }

    pub fn version(&self) -> SioVersion {
        self.version
    }

    /// Whether attachments are being waited for.
    pub fn is_assembling(&self) -> bool {
        !matches!(self.state, State::Idle)
    }

    /// A text message: a packet, or `None` when its attachments are still to come.
    pub fn push_text(&mut self, text: ByteString) -> Result<Option<Decoded>, ParseError> {
        if self.is_assembling() {
            return Err(ParseError::UnexpectedText);
        }
        let packet = Packet::decode(text, self.version, &self.opts)?;
        if !packet.kind.is_binary() {
            return Ok(Some(Decoded { packet, attachments: Vec::new() }));
        }
        if packet.attachments == 0 {
            self.state = State::Stuck;
            return Ok(Some(Decoded { packet, attachments: Vec::new() }));
        }
        self.state = State::Assembling(BinaryAssembler::new(packet));
        Ok(None)
    }

    /// A binary message: the completed packet when it was the last attachment.
    pub fn push_binary(&mut self, data: Bytes) -> Result<Option<Decoded>, ParseError> {
        match std::mem::replace(&mut self.state, State::Idle) {
            State::Idle => Err(ParseError::UnexpectedBinary),
            State::Stuck => {
                self.state = State::Stuck;
                Ok(None)
            }
            State::Assembling(mut assembler) => {
                if assembler.push(data) {
                    assembler.finish().map(Some)
                } else {
                    self.state = State::Assembling(assembler);
                    Ok(None)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::sio::PacketKind;
    use proptest::prelude::*;

    fn decoder() -> Decoder {
        Decoder::new(SioVersion::V5, DecodeOptions::default())
    }

    fn text(s: &'static str) -> ByteString {
        ByteString::from_static(s)
    }

    #[test]
    fn collects_attachments_in_order() {
        let mut d = decoder();
        let two = r#"52-/admin,7["baz",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#;
        assert_eq!(d.push_text(text(two)), Ok(None));
        assert!(d.is_assembling());
        assert_eq!(d.push_text(text(r#"2["x"]"#)), Err(ParseError::UnexpectedText));
        assert_eq!(d.push_binary(Bytes::from_static(b"\x01\x02")), Ok(None));
        let done = d.push_binary(Bytes::from_static(b"\x03")).unwrap().unwrap();
        assert_eq!(done.packet.kind, PacketKind::BinaryEvent);
        assert_eq!((&*done.packet.nsp, done.packet.id), ("/admin", Some(7)));
        assert_eq!(done.attachments, [&b"\x01\x02"[..], b"\x03"]);
        assert!(!d.is_assembling());
        let plain = d.push_text(text(r#"2["x"]"#)).unwrap().unwrap();
        assert!(plain.attachments.is_empty());
        assert_eq!(d.push_binary(Bytes::new()), Err(ParseError::UnexpectedBinary));
    }

    #[test]
    fn checks_placeholders_on_the_last_attachment() {
        let mut d = decoder();
        assert_eq!(d.push_text(text(r#"61-3[{"_placeholder":true,"num":1}]"#)), Ok(None));
        assert_eq!(d.push_binary(Bytes::new()), Err(ParseError::IllegalPlaceholder));
        // As Node reads it: the bad placeholder is under a key that repeats, so it is gone.
        let json = r#"51-["x",{"a":{"_placeholder":true,"num":1},"a":{"_placeholder":true,"num":0}}]"#;
        assert_eq!(d.push_text(text(json)), Ok(None));
        assert!(d.push_binary(Bytes::new()).unwrap().is_some());
    }

    #[test]
    fn zero_attachments_are_refused() {
        let mut d = decoder();
        let zero = d.push_text(text(r#"50-["a",{"_placeholder":true,"num":5}]"#));
        assert_eq!(zero.map(|p| p.is_some()), Err(ParseError::IllegalAttachments));
    }

    #[test]
    fn low_level_assembler() {
        let p = Packet::decode(
            text(r#"51-["a",{"_placeholder":true,"num":0}]"#),
            SioVersion::V5,
            &DecodeOptions::default(),
        )
        .unwrap();
        let mut a = BinaryAssembler::new(p.clone());
        assert_eq!(a.remaining(), 1);
        assert!(a.push(Bytes::from_static(b"z")));
        assert_eq!(a.finish(), Ok(Decoded { packet: p, attachments: vec![Bytes::from_static(b"z")] }));
    }

    #[derive(Debug, Clone)]
    enum Msg {
        Text(String),
        Binary(Vec<u8>),
    }

    proptest! {
        #[test]
        fn any_message_sequence_never_panics(msgs in proptest::collection::vec(prop_oneof![
            "[0-9/,\\-\\[\\]{}\"a-z_:]{0,30}".prop_map(Msg::Text),
            Just(Msg::Text(r#"52-["a",{"_placeholder":true,"num":1},{"_placeholder":true,"num":0}]"#.into())),
            proptest::collection::vec(any::<u8>(), 0..4).prop_map(Msg::Binary),
        ], 0..12)) {
            let mut d = decoder();
            for m in msgs {
                let _ = match m {
                    Msg::Text(t) => d.push_text(t.into()),
                    Msg::Binary(b) => d.push_binary(b.into()),
                };
            }
        }
    }
}
