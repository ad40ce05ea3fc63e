//! Sockets found by [`Broadcast::fetch_sockets`](crate::socket::Broadcast::fetch_sockets), on any
//! shard: Node socket.io 4.8's `RemoteSocket` (`lib/broadcast-operator.ts`) and the
//! `SocketDetails` it is built from, with Node's `socket.handshake` object.
//!
//! A [`RemoteSocket`] is a snapshot (its rooms are those of the fetch) plus operations that
//! address the socket by its id's room. Node sends those to every server; here they go to
//! the one shard that owns the socket, which its id names.

use std::future::Future;
use std::rc::Rc;
use std::time::{Duration, UNIX_EPOCH};

use bytestring::ByteString;

use super::peer::Reach;
use crate::adapter::{BroadcastOptions, EncodedPacket, Room, SocketDetails};
use crate::protocol::sid::Sid;
use crate::protocol::sio::v4::query_to_json;
use crate::protocol::value::{self, Value};
use crate::shard::ShardId;
use crate::socket::api::{AckError, EmitError};
use crate::socket::layer::Layer;
use crate::socket::namespace::SocketInfo;
use crate::socket::send::is_reserved;

/// A socket of a namespace, on this shard or another, as `fetch_sockets` found it.
#[derive(Clone)]
pub struct RemoteSocket {
    layer: Rc<Layer>,
    nsp: ByteString,
    id: Sid,
    rooms: Vec<Room>,
    handshake: Value,
    data: Value,
    /// On another server of the cluster, not on a shard of this process.
    remote: bool,
}

impl std::fmt::Debug for RemoteSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteSocket")
            .field("id", &self.id)
            .field("nsp", &self.nsp)
            .field("rooms", &self.rooms)
            .finish_non_exhaustive()
    }
}

impl RemoteSocket {
    pub(crate) fn new(
        layer: Rc<Layer>,
        nsp: ByteString,
        details: SocketDetails,
        remote: bool,
    ) -> Option<Self> {
        let id = Sid::parse(details.id.as_bytes())?;
        let SocketDetails { rooms, handshake, data, .. } = details;
        Some(RemoteSocket { layer, nsp, id, rooms, handshake, data, remote })
    }

    /// Whether it is on another server of the cluster.
    pub fn is_on_other_server(&self) -> bool {
        self.remote
    }

    /// The socket's id (its Engine.IO session id).
    pub fn id(&self) -> Sid {
        self.id
    }

    /// The namespace the socket is connected to.
    pub fn namespace(&self) -> &str {
        &self.nsp
    }

    /// Its rooms when it was fetched, its own id's first.
    pub fn rooms(&self) -> &[Room] {
        &self.rooms
    }

    /// Node's `socket.handshake`: `headers` (names in lower case), `address`, `xdomain`,
    /// `secure`, `issued` (ms since the epoch), `url`, `query` and `auth`. Node's `time` (a
    /// local date string) is left out.
    pub fn handshake(&self) -> &Value {
        &self.handshake
    }

    /// Node's `socket.data` as its server sent it (`null` from this server, which has no JSON
    /// form of a socket's data, unless the Admin UI runs: then `{_admin: {clientId, transport}}`).
    pub fn data(&self) -> &Value {
        &self.data
    }

    /// What was fetched, as the cluster adapter carries it.
    pub(crate) fn details(&self) -> SocketDetails {
        SocketDetails {
            id: ByteString::from(self.id.as_str()),
            handshake: self.handshake.clone(),
            rooms: self.rooms.clone(),
            data: self.data.clone(),
        }
    }

    /// The shard that made it (and owns it, unless connection state recovery restored it on
    /// another shard since), when it is on this server.
    pub fn shard(&self) -> ShardId {
        self.id.shard(self.layer.ctx().shards())
    }

    /// Its owning shard; through the cluster when it is on another server. With connection
    /// state recovery a socket may have moved to another shard than its id names: every shard
    /// is asked, and only the one with the socket acts.
    fn target(&self) -> (Reach, BroadcastOptions) {
        let reach = match (self.remote, self.layer.recovery().is_some()) {
            (true, _) => Reach::All,
            (false, true) => Reach::Process,
            (false, false) => Reach::Shard(self.shard()),
        };
        (reach, BroadcastOptions::new().to(ByteString::from(self.id.as_str())))
    }

    /// Emits to this socket, wherever it is; `args` is an argument list as for
    /// [`SocketRef::emit`](crate::socket::SocketRef::emit).
    pub fn emit<A: serde::Serialize + ?Sized>(&self, event: &str, args: &A) -> Result<(), EmitError> {
        if is_reserved(event) {
            return Err(EmitError::Reserved);
        }
        let (reach, opts) = self.target();
        let (packet, attachments) =
            crate::socket::typed::encode::event_packet(self.nsp.clone(), event, args, None)?;
        let packet = EncodedPacket::new(&packet, attachments);
        self.layer.broadcast(reach, &self.nsp, opts, std::sync::Arc::new(packet));
        Ok(())
    }

    /// Emits and waits at most `timeout` for the ack's first argument (Node's remote socket
    /// answers with `responses[0]`). `Disconnected` when the socket was gone.
    ///
    /// `args` as for [`SocketRef::emit`](crate::socket::SocketRef::emit); the answer comes as `R`: a
    /// [`Value`] as it came, or any `Deserialize` type read from it.
    pub fn emit_with_ack<A: serde::Serialize + ?Sized, R: serde::de::DeserializeOwned + 'static>(
        &self,
        event: &str,
        args: &A,
        timeout: Duration,
    ) -> impl Future<Output = Result<R, AckError>> + 'static + use<A, R> {
        let (reach, opts) = self.target();
        let started = match is_reserved(event) {
            true => Err(AckError::Reserved),
            false => match crate::socket::typed::encode::event_packet(self.nsp.clone(), event, args, None) {
                Err(_) => Err(AckError::Unserializable),
                Ok((packet, attachments)) => {
                    let make = |ack_id| {
                        let packet = crate::protocol::sio::Packet { id: Some(ack_id), ..packet };
                        Some(EncodedPacket::new(&packet, attachments))
                    };
                    let opts = opts.timeout(timeout);
                    self.layer
                        .start_broadcast_with_ack_packet(reach, &self.nsp, opts, make)
                        .ok_or(AckError::Unserializable)
                }
            },
        };
        first_answer(started)
    }

    /// Joins `room` on its shard.
    pub fn join(&self, room: impl Into<Room>) {
        let (reach, opts) = self.target();
        self.layer.rooms(reach, &self.nsp, opts, vec![room.into()], true);
    }

    /// Makes the socket leave `room`, on whichever shard it lives.
    pub fn leave(&self, room: impl Into<Room>) {
        let (reach, opts) = self.target();
        self.layer.rooms(reach, &self.nsp, opts, vec![room.into()], false);
    }

    /// Disconnects it ("server namespace disconnect"); with `close`, its whole connection.
    pub fn disconnect(&self, close: bool) {
        let (reach, opts) = self.target();
        self.layer.disconnect_sockets(reach, &self.nsp, opts, close);
    }
}

impl Layer {
    /// The details of this shard's sockets that `opts` selects.
    pub(crate) fn local_details(&self, nsp: &str, opts: &BroadcastOptions) -> Vec<SocketDetails> {
        let Some(ns) = self.registry.get(nsp) else { return Vec::new() };
        let selected = ns.select(opts);
        selected
            .into_iter()
            .filter_map(|(id, _)| {
                let info = ns.details_of(id)?;
                Some(SocketDetails {
                    id: ByteString::from(id.as_str()),
                    handshake: handshake_value(&info),
                    data: match &ns.tap {
                        // The Admin UI's `_admin` (and the user's data, when it has a JSON form).
                        Some(_) => {
                            let user = ns.data_of(id).and_then(|d| ns.handler.export_data(&d));
                            crate::socket::admin::socket_data(user, &info.engine)
                        }
                        None => Value::Null,
                    },
                    rooms: info.rooms,
                })
            })
            .collect()
    }
}

/// Node's `socket.handshake` object (`lib/socket.ts` `buildHandshake`), without `time`.
fn handshake_value(info: &SocketInfo) -> Value {
    let auth = value::from_json(&info.auth).unwrap_or(Value::Object(Vec::new()));
    let issued = info.issued.duration_since(UNIX_EPOCH).unwrap_or_default().as_millis() as u64;
    let Some(handshake) = info.engine.handshake() else {
        return Value::Object(vec![("issued".into(), Value::from(issued)), ("auth".into(), auth)]);
    };
    let request = &handshake.request;
    let mut headers: Vec<(String, Value)> = Vec::new();
    for (name, value) in request.headers() {
        let name = String::from_utf8_lossy(name).to_ascii_lowercase();
        let value = String::from_utf8_lossy(value).into_owned();
        // Node joins repeated headers with ", ".
        match headers.iter_mut().find(|(n, _)| *n == name) {
            Some((_, Value::String(joined))) => {
                joined.push_str(", ");
                joined.push_str(&value);
            }
            _ => headers.push((name, Value::String(value))),
        }
    }
    let xdomain = headers.iter().any(|(n, _)| n == "origin");
    let query = query_to_json(&String::from_utf8_lossy(request.query()));
    let address = handshake.remote.map(|a| a.ip().to_string()).unwrap_or_default();
    Value::Object(vec![
        ("headers".into(), Value::Object(headers)),
        ("address".into(), Value::from(address)),
        ("xdomain".into(), Value::from(xdomain)),
        ("secure".into(), Value::from(false)),
        ("issued".into(), Value::from(issued)),
        ("url".into(), Value::from(String::from_utf8_lossy(request.target()).into_owned())),
        ("query".into(), value::from_json(&query).unwrap_or(Value::Object(Vec::new()))),
        ("auth".into(), auth),
    ])
}

/// The first answer to a remote socket's ack, as `R`.
async fn first_answer<R: serde::de::DeserializeOwned + 'static>(
    started: Result<super::requests::AckWait, AckError>,
) -> Result<R, AckError> {
    match started?.wait().await {
        Ok(mut responses) if !responses.is_empty() => {
            crate::socket::typed::encode::answer_one(responses.swap_remove(0))
                .map_err(|_| AckError::InvalidAnswer)
        }
        Ok(_) => Err(AckError::Disconnected),
        Err(_) => Err(AckError::Timeout),
    }
}
