//! Packets from `Serialize` arguments: what every typed emit writes (see
//! [`crate::protocol::value::ser`] for the argument list and the JSON).

use bytes::Bytes;
use bytestring::ByteString;
use serde::Serialize;
use tracing::debug;

use crate::protocol::sio::{Packet, PacketKind};
use crate::protocol::value::ser::{SerError, write_args};
use crate::protocol::value::{self, Value};
use crate::socket::api::{EmitError, RawArgs};

fn text(out: Vec<u8>) -> Result<ByteString, EmitError> {
    // serde_json writes `&str` fragments and ASCII only: never fails.
    String::from_utf8(out).map(ByteString::from).map_err(|_| EmitError::Unserializable)
}

fn rejected(e: SerError) -> EmitError {
    debug!("emit refused: {e}");
    EmitError::Unserializable
}

/// An EVENT (BINARY_EVENT with buffers) `[name, ...args]`, with ack id `id`.
pub fn event_packet<A: Serialize + ?Sized>(
    nsp: ByteString,
    name: &str,
    args: &A,
    id: Option<u64>,
) -> Result<(Packet, Vec<Bytes>), EmitError> {
    let mut out = Vec::with_capacity(name.len() + 64);
    out.push(b'[');
    serde_json::to_writer(&mut out, name).map_err(|e| rejected(e.into()))?;
    let mut attachments = Vec::new();
    write_args(args, &mut out, &mut attachments, true, None).map_err(rejected)?;
    out.push(b']');
    Ok(Packet::with_buffers(PacketKind::Event, nsp, id, text(out)?, attachments))
}

/// An ACK (BINARY_ACK with buffers) `[...args]` for ack id `id`.
pub fn ack_packet<A: Serialize + ?Sized>(
    nsp: ByteString,
    id: u64,
    args: &A,
) -> Result<(Packet, Vec<Bytes>), EmitError> {
    let mut out = Vec::with_capacity(64);
    out.push(b'[');
    let mut attachments = Vec::new();
    write_args(args, &mut out, &mut attachments, false, None).map_err(rejected)?;
    out.push(b']');
    Ok(Packet::with_buffers(PacketKind::Ack, nsp, Some(id), text(out)?, attachments))
}

/// The arguments as separate JSON texts (slices of one buffer) and their buffers.
pub fn raw_args<A: Serialize + ?Sized>(args: &A) -> Result<RawArgs, EmitError> {
    let mut out = Vec::with_capacity(64);
    let mut attachments = Vec::new();
    let mut bounds = Vec::new();
    write_args(args, &mut out, &mut attachments, false, Some(&mut bounds)).map_err(rejected)?;
    let all = text(out)?;
    let json = bounds.into_iter().map(|(from, to)| all.slice_ref(&all[from..to])).collect();
    Ok(RawArgs { json, attachments })
}

/// The arguments as values (buffers in place), for what carries values: the cluster's
/// server-side emits.
pub fn values<A: Serialize + ?Sized>(args: &A) -> Result<Vec<Value>, EmitError> {
    let raw = raw_args(args)?;
    raw.json
        .iter()
        .map(|json| value::reconstruct(json, &raw.attachments).map_err(|_| EmitError::Unserializable))
        .collect()
}

/// Answers as the caller's type: `Vec<Value>` as they came (buffers included), any other
/// type deserialized from them.
pub fn answer<R: serde::de::DeserializeOwned + 'static>(values: Vec<Value>) -> Result<R, value::ValueError> {
    let boxed: Box<dyn std::any::Any> = Box::new(values);
    match boxed.downcast::<R>() {
        Ok(same) => Ok(*same),
        Err(boxed) => {
            let values = *boxed.downcast::<Vec<Value>>().expect("boxed a Vec<Value> just above");
            value::from_value(Value::Array(values))
        }
    }
}

/// One answer as the caller's type: a [`Value`] as it came, any other type deserialized from it.
pub fn answer_one<R: serde::de::DeserializeOwned + 'static>(v: Value) -> Result<R, value::ValueError> {
    let boxed: Box<dyn std::any::Any> = Box::new(v);
    match boxed.downcast::<R>() {
        Ok(same) => Ok(*same),
        Err(boxed) => value::from_value(*boxed.downcast::<Value>().expect("boxed a Value just above")),
    }
}

/// The EVENT a raw relay writes: `[name, ...args]` with the arguments as received.
pub fn raw_event_packet(nsp: ByteString, name: &str, args: &RawArgs) -> Packet {
    crate::socket::send::raw_packet(false, nsp, Some(name), None, args)
}
