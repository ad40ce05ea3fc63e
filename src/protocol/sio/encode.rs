//! Writing packets as socket.io-parser's `encodeAsString` does, and building the packets a
//! server sends, with the JSON Node 4.8 puts in them for each protocol version.
//!
//! Wire form: the type digit, `N-` for binary kinds, `nsp,` unless the namespace is `/`, the
//! ack id, the JSON. The JSON of packets built here is written as `JSON.stringify` writes it;
//! raw argument slices are copied verbatim.

use bytes::{Bytes, BytesMut};
use bytestring::ByteString;

use super::{Packet, PacketKind, SioVersion};
use crate::protocol::value::{Value, json, write_json};

/// Where encoded text goes: a send buffer, or a `String` that becomes a `ByteString` for free.
trait Sink {
    fn put(&mut self, s: &str);
}

impl Sink for BytesMut {
    fn put(&mut self, s: &str) {
        self.extend_from_slice(s.as_bytes());
    }
}

impl Sink for String {
    fn put(&mut self, s: &str) {
        self.push_str(s);
    }
}

const DIGITS: [&str; 7] = ["0", "1", "2", "3", "4", "5", "6"];

impl Packet {
    /// Appends the packet's text (without the Engine.IO `4`).
    pub fn encode(&self, out: &mut BytesMut) {
        out.reserve(self.encoded_len());
        self.write(out);
    }

    /// The packet's text as one string, ready to be an Engine.IO message.
    pub fn to_text(&self) -> ByteString {
        let mut out = String::with_capacity(self.encoded_len());
        self.write(&mut out);
        out.into()
    }

    /// The text of this packet (which has no data) followed by the data `data` writes, of
    /// `data_len` bytes, in one string: a packet whose data is made only to be sent is not
    /// built apart and copied.
    pub fn to_text_with(&self, data_len: usize, data: impl FnOnce(&mut String)) -> ByteString {
        debug_assert!(self.data.is_none(), "the data is written by `data`");
        let mut out = String::with_capacity(self.encoded_len() + data_len);
        self.write(&mut out);
        data(&mut out);
        out.into()
    }

    /// An upper bound of the encoded length (exact but for the digits of the numbers).
    pub fn encoded_len(&self) -> usize {
        let query = self.query.as_ref().map_or(0, |q| q.len() + 1);
        let data = self.data.as_ref().map_or(0, |d| d.len());
        1 + 21 + self.nsp.len() + query + 1 + 20 + data
    }

    fn write(&self, out: &mut impl Sink) {
        out.put(DIGITS[self.kind as usize]);
        if self.kind.is_binary() {
            out.put(itoa::Buffer::new().format(self.attachments));
            out.put("-");
        }
        let named = !self.nsp.is_empty() && &*self.nsp != "/";
        if named || self.query.is_some() {
            out.put(&self.nsp);
            if let Some(query) = &self.query {
                out.put("?");
                out.put(query);
            }
            out.put(",");
        }
        if let Some(id) = self.id {
            out.put(itoa::Buffer::new().format(id));
        }
        if let Some(data) = &self.data {
            out.put(data);
        }
    }

    fn with(kind: PacketKind, nsp: ByteString, id: Option<u64>, data: Option<String>) -> Packet {
        Packet { kind, nsp, query: None, id, attachments: 0, data: data.map(ByteString::from) }
    }

    /// v5 connect ack: `0{"sid":"…"}`, with `"pid"` when connection state recovery is on.
    pub fn connect_ok(nsp: impl Into<ByteString>, sid: &str, pid: Option<&str>) -> Packet {
        let mut data = String::with_capacity(sid.len() + pid.map_or(0, str::len) + 20);
        data.push_str("{\"sid\":");
        json::write_str(sid, &mut data);
        if let Some(pid) = pid {
            data.push_str(",\"pid\":");
            json::write_str(pid, &mut data);
        }
        data.push('}');
        Self::with(PacketKind::Connect, nsp.into(), None, Some(data))
    }

    /// v4 connect ack: no payload (`0`, `0/admin,`).
    pub fn connect_v4(nsp: impl Into<ByteString>) -> Packet {
        Self::with(PacketKind::Connect, nsp.into(), None, None)
    }

    /// The connect ack for `version`: [`Packet::connect_ok`] or [`Packet::connect_v4`].
    pub fn connect_ack(
        version: SioVersion,
        nsp: impl Into<ByteString>,
        sid: &str,
        pid: Option<&str>,
    ) -> Packet {
        match version {
            SioVersion::V5 => Self::connect_ok(nsp, sid, pid),
            SioVersion::V4 => Self::connect_v4(nsp),
        }
    }

    /// A middleware's refusal. v5: `{"message":…,"data":…}` (`data` omitted when `None`).
    /// v4: Node sends `err.data || err.message`: the data when it is truthy, else the message
    /// as a JSON string. `data` is raw JSON. (An unknown namespace is refused with the v5
    /// object in both versions: build that one with `SioVersion::V5`.)
    pub fn connect_error(
        nsp: impl Into<ByteString>,
        message: &str,
        data: Option<&str>,
        version: SioVersion,
    ) -> Packet {
        let mut out = String::with_capacity(message.len() + data.map_or(0, str::len) + 24);
        match version {
            SioVersion::V5 => {
                out.push_str("{\"message\":");
                json::write_str(message, &mut out);
                if let Some(data) = data {
                    out.push_str(",\"data\":");
                    out.push_str(data);
                }
                out.push('}');
            }
            SioVersion::V4 => match data.filter(|d| is_truthy(d)) {
                Some(data) => out.push_str(data),
                None => json::write_str(message, &mut out),
            },
        }
        Self::with(PacketKind::ConnectError, nsp.into(), None, Some(out))
    }

    /// `1`, `1/admin,`.
    pub fn disconnect(nsp: impl Into<ByteString>) -> Packet {
        Self::with(PacketKind::Disconnect, nsp.into(), None, None)
    }

    /// `2["name",…args]` with raw JSON arguments; `id` when the sender wants an ack.
    pub fn new_event<S: AsRef<str>>(
        nsp: impl Into<ByteString>,
        name: &str,
        args: &[S],
        id: Option<u64>,
    ) -> Packet {
        Self::with(PacketKind::Event, nsp.into(), id, Some(event_array(name, args)))
    }

    /// `5N-["name",…args]`, the arguments already holding `N` placeholders (see `deconstruct`).
    pub fn new_binary_event<S: AsRef<str>>(
        nsp: impl Into<ByteString>,
        name: &str,
        args: &[S],
        attachments: usize,
        id: Option<u64>,
    ) -> Packet {
        let data = Some(event_array(name, args));
        Packet { attachments, ..Self::with(PacketKind::BinaryEvent, nsp.into(), id, data) }
    }

    /// `3<id>[…args]`.
    pub fn new_ack<S: AsRef<str>>(nsp: impl Into<ByteString>, id: u64, args: &[S]) -> Packet {
        Self::with(PacketKind::Ack, nsp.into(), Some(id), Some(raw_array(args)))
    }

    /// `6N-<id>[…args]`, the arguments already holding `N` placeholders.
    pub fn new_binary_ack<S: AsRef<str>>(
        nsp: impl Into<ByteString>,
        id: u64,
        args: &[S],
        attachments: usize,
    ) -> Packet {
        let data = Some(raw_array(args));
        Packet { attachments, ..Self::with(PacketKind::BinaryAck, nsp.into(), Some(id), data) }
    }

    /// An event from values: EVENT, or BINARY_EVENT and its buffers when any argument holds
    /// binary (Node's `hasBinary` switch).
    pub fn event_values(
        nsp: impl Into<ByteString>,
        name: &str,
        args: &[Value],
        id: Option<u64>,
    ) -> (Packet, Vec<Bytes>) {
        let mut data = String::with_capacity(name.len() + 16 * args.len() + 4);
        let mut buffers = Vec::new();
        data.push('[');
        json::write_str(name, &mut data);
        for arg in args {
            data.push(',');
            write_json(arg, &mut data, &mut buffers);
        }
        data.push(']');
        Self::with_buffers(PacketKind::Event, nsp.into(), id, data, buffers)
    }

    /// An ack from values: ACK, or BINARY_ACK and its buffers.
    pub fn ack_values(nsp: impl Into<ByteString>, id: u64, args: &[Value]) -> (Packet, Vec<Bytes>) {
        let mut data = String::with_capacity(16 * args.len() + 2);
        let mut buffers = Vec::new();
        crate::protocol::value::deconstruct(args, &mut data, &mut buffers);
        Self::with_buffers(PacketKind::Ack, nsp.into(), Some(id), data, buffers)
    }

    /// An EVENT or ACK whose `data` is already the JSON array: BINARY_EVENT or BINARY_ACK
    /// when `buffers` is not empty.
    pub(crate) fn with_buffers(
        kind: PacketKind,
        nsp: ByteString,
        id: Option<u64>,
        data: impl Into<ByteString>,
        buffers: Vec<Bytes>,
    ) -> (Packet, Vec<Bytes>) {
        let kind = match (kind, buffers.is_empty()) {
            (PacketKind::Event, false) => PacketKind::BinaryEvent,
            (PacketKind::Ack, false) => PacketKind::BinaryAck,
            (kind, _) => kind,
        };
        let packet =
            Packet { kind, nsp, query: None, id, attachments: buffers.len(), data: Some(data.into()) };
        (packet, buffers)
    }
}

fn event_array<S: AsRef<str>>(name: &str, args: &[S]) -> String {
    let len = name.len() + args.iter().map(|a| a.as_ref().len() + 1).sum::<usize>() + 4;
    let mut out = String::with_capacity(len);
    out.push('[');
    json::write_str(name, &mut out);
    for arg in args {
        out.push(',');
        out.push_str(arg.as_ref());
    }
    out.push(']');
    out
}

fn raw_array<S: AsRef<str>>(args: &[S]) -> String {
    let mut out = String::with_capacity(args.iter().map(|a| a.as_ref().len() + 1).sum::<usize>() + 2);
    out.push('[');
    for (i, arg) in args.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(arg.as_ref());
    }
    out.push(']');
    out
}

/// JS truthiness of a JSON value: all but `null`, `false`, `""` and numeric zeros.
fn is_truthy(raw: &str) -> bool {
    match raw.trim_matches([' ', '\t', '\n', '\r']) {
        "null" | "false" | "\"\"" => false,
        n if n.starts_with(['-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9']) => {
            n.parse::<f64>() != Ok(0.0)
        }
        _ => true,
    }
}
