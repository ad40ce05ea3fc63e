//! Writing Socket.IO packets to an Engine.IO session: the event names nobody may emit, packets
//! built from raw (unparsed) arguments, and each packet in the server's parser — text plus one
//! binary message per attachment, or one msgpack message — with a broadcast's prebuilt frame
//! shared by every recipient.

use bytes::Bytes;
use bytestring::ByteString;

use super::api::{EmitError, RawArgs};
use crate::adapter::EncodedPacket;
use crate::engine::SendError;
use crate::protocol::Packet as EioPacket;
use crate::protocol::sio::msgpack::{self, Order};
use crate::protocol::sio::{Packet, PacketKind, Parser};
use crate::server::EngineSocket;

/// Event names a client may not send and a server may not emit (socket.io's `RESERVED_EVENTS`).
pub(crate) fn is_reserved(name: &str) -> bool {
    matches!(
        name,
        "connect" | "connect_error" | "disconnect" | "disconnecting" | "newListener" | "removeListener"
    )
}

/// Hands a Socket.IO packet and its attachments to the engine session, in the server's
/// parser: text and attachment messages, or one msgpack binary message.
pub(crate) fn send_packet(
    engine: &EngineSocket,
    packet: &Packet,
    attachments: &[Bytes],
    parser: Parser,
) -> Result<(), EmitError> {
    if parser == Parser::MsgPack {
        let bytes =
            msgpack::encode(packet, attachments, Order::Socket).map_err(|_| EmitError::InvalidArgs)?;
        return engine.send(EioPacket::binary(bytes)).map_err(emit_error);
    }
    send_message(engine, EioPacket::message(packet.to_text()), attachments)
}

/// A broadcast's packet: every WebSocket recipient copies the one frame built for all of them
/// (with the msgpack parser, the one binary message).
pub(crate) fn send_encoded(
    engine: &EngineSocket,
    packet: &EncodedPacket,
    parser: Parser,
) -> Result<(), EmitError> {
    if parser == Parser::MsgPack {
        let bytes = packet.msgpack().ok_or(EmitError::InvalidArgs)?;
        return engine.send(EioPacket::binary(bytes.clone())).map_err(emit_error);
    }
    let message = EioPacket::prebuilt_message(packet.text().clone(), packet.ws_frame().clone());
    send_message(engine, message, packet.attachments())
}

/// The Engine.IO message of a Socket.IO packet, then one binary message per attachment.
fn send_message(engine: &EngineSocket, message: EioPacket, attachments: &[Bytes]) -> Result<(), EmitError> {
    engine.send(message).map_err(emit_error)?;
    for attachment in attachments {
        engine.send_binary(attachment.clone()).map_err(emit_error)?;
    }
    Ok(())
}

fn emit_error(e: SendError) -> EmitError {
    match e {
        SendError::Full(_) => EmitError::Full,
        SendError::Closed(_) => EmitError::Disconnected,
    }
}

/// An EVENT (or ACK) whose arguments are JSON texts as received: `["name",a,b]` (or `[a,b]`).
pub(crate) fn raw_packet(
    ack: bool,
    nsp: ByteString,
    name: Option<&str>,
    id: Option<u64>,
    args: &RawArgs,
) -> Packet {
    let mut data = String::with_capacity(raw_len(name, args));
    write_raw(name, args, &mut data);
    Packet { data: Some(ByteString::from(data)), ..raw_head(ack, nsp, id, args) }
}

/// The text of [`raw_packet`]'s packet, written in one string (no packet built, no copy).
pub(crate) fn raw_text(
    ack: bool,
    nsp: ByteString,
    name: Option<&str>,
    id: Option<u64>,
    args: &RawArgs,
) -> ByteString {
    raw_head(ack, nsp, id, args).to_text_with(raw_len(name, args), |out| write_raw(name, args, out))
}

/// Sends [`raw_text`] and the attachments: what [`send_packet`] sends for [`raw_packet`] with
/// the text parser.
pub(crate) fn send_raw_text(
    engine: &EngineSocket,
    text: ByteString,
    attachments: &[Bytes],
) -> Result<(), EmitError> {
    send_message(engine, EioPacket::message(text), attachments)
}

/// The packet of a raw EVENT (or ACK), without its data.
fn raw_head(ack: bool, nsp: ByteString, id: Option<u64>, args: &RawArgs) -> Packet {
    let kind = match (ack, args.attachments.is_empty()) {
        (false, true) => PacketKind::Event,
        (false, false) => PacketKind::BinaryEvent,
        (true, true) => PacketKind::Ack,
        (true, false) => PacketKind::BinaryAck,
    };
    Packet { kind, nsp, query: None, id, attachments: args.attachments.len(), data: None }
}

/// The length of what [`write_raw`] writes, for a name without escapes.
fn raw_len(name: Option<&str>, args: &RawArgs) -> usize {
    4 + name.map_or(0, str::len) + args.json.iter().map(|a| a.len() + 1).sum::<usize>()
}

/// `["name",a,b]` (or `[a,b]`).
fn write_raw(name: Option<&str>, args: &RawArgs, data: &mut String) {
    data.push('[');
    if let Some(name) = name {
        if name.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20) {
            // serde_json escapes as JSON.stringify does.
            data.push_str(&serde_json::to_string(name).unwrap_or_else(|_| "\"\"".into()));
        } else {
            // Nothing to escape: the name between quotes, without a string of its own.
            data.push('"');
            data.push_str(name);
            data.push('"');
        }
    }
    for (i, arg) in args.json.iter().enumerate() {
        if i > 0 || name.is_some() {
            data.push(',');
        }
        data.push_str(arg);
    }
    data.push(']');
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The one-string text is the packet's text, byte for byte, escapes, ids, binary counts and
    /// namespaces included.
    #[test]
    fn raw_text_is_the_raw_packets_text() {
        let args = |json: &[&'static str], attachments: usize| RawArgs {
            json: json.iter().map(|j| ByteString::from_static(j)).collect(),
            attachments: vec![Bytes::from_static(b"\x01"); attachments],
        };
        let cases = [
            (false, "/", Some("echo"), None, args(&[r#""hello""#], 0), r#"2["echo","hello"]"#),
            (false, "/chat", Some("a\"b\\c\n"), None, args(&["1", "{}"], 0), r#"2/chat,["a\"b\\c\n",1,{}]"#),
            (
                false,
                "/",
                Some("up"),
                None,
                args(&[r#"{"_placeholder":true,"num":0}"#], 1),
                r#"51-["up",{"_placeholder":true,"num":0}]"#,
            ),
            (true, "/", None, Some(7), args(&[r#""x""#, "2"], 0), r#"37["x",2]"#),
            (true, "/n", None, Some(12), args(&[], 2), "62-/n,12[]"),
        ];
        for (ack, nsp, name, id, args, wire) in cases {
            let nsp = ByteString::from_static(nsp);
            let text = raw_text(ack, nsp.clone(), name, id, &args);
            assert_eq!(text, raw_packet(ack, nsp, name, id, &args).to_text());
            assert_eq!(&*text, wire);
        }
    }
}
