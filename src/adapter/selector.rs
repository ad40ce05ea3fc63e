//! Which sockets a broadcast (or a `fetchSockets`, `socketsJoin`, …) reaches: socket.io's
//! `BroadcastOperator` state (`to`/`in`, `except`, `volatile`, `local`, `compress`, `timeout`),
//! which the adapter receives as socket.io-adapter's `BroadcastOptions`.
//!
//! The serde form is the one `@socket.io/redis-adapter` puts on the wire (JSON for most
//! requests, msgpack for broadcasts): `{"rooms":[…],"except":[…],"flags":{…}}`, flags present
//! only when set, `timeout` in milliseconds. Node's `Room` is a string, but a room joined with a
//! number travels as one, so numbers are read too (written as JavaScript prints them).

use std::fmt;
use std::time::Duration;

use bytestring::ByteString;
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// A room name. Every socket is in the room named by its own id, which is how one socket is
/// addressed (`io.to(socketId)`) or left out (`socket.broadcast`).
pub type Room = ByteString;

/// The target of an operation: sockets in any of `rooms` (every socket of the namespace when
/// empty), minus those in any of `except`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BroadcastOptions {
    /// Sockets in any of these rooms; every socket of the namespace when empty.
    #[serde(serialize_with = "write_rooms", deserialize_with = "read_rooms")]
    pub rooms: Vec<Room>,
    /// Minus the sockets in any of these.
    #[serde(default, serialize_with = "write_rooms", deserialize_with = "read_rooms")]
    pub except: Vec<Room>,
    /// How the packet goes (volatile, local, the acks' timeout, …).
    #[serde(default)]
    pub flags: BroadcastFlags,
}

/// socket.io-adapter's `BroadcastFlags` (plus `expectSingleResponse`, which the broadcast
/// operator of a `RemoteSocket` adds and which travels with the others).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BroadcastFlags {
    /// Drop the packet for a recipient whose transport is not writable right now.
    #[serde(default, skip_serializing_if = "is_false")]
    pub volatile: bool,
    /// `None`: not set, which Node treats as `true` (compress when the transport can). Carried
    /// so that a cluster message round-trips; no operator of ours sets it and no transport
    /// reads it (our emits have no `compress(false)`: every packet may be compressed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compress: Option<bool>,
    /// This server only: never forwarded to other servers of a cluster.
    #[serde(default, skip_serializing_if = "is_false")]
    pub local: bool,
    /// A socket.io 2.x flag, kept so it round-trips; 4.x never sets it.
    #[serde(default, skip_serializing_if = "is_false")]
    pub broadcast: bool,
    /// A socket.io 2.x flag (`socket.binary(false)`), kept so it round-trips.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binary: Option<bool>,
    /// How long to wait for acknowledgements, written in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "timeout_ms")]
    pub timeout: Option<Duration>,
    /// The acks of this broadcast come from one socket: hand back its response, not a list.
    #[serde(default, skip_serializing_if = "is_false")]
    pub expect_single_response: bool,
}

impl BroadcastOptions {
    /// Every socket of the namespace (`io.emit`).
    pub fn new() -> Self {
        Self::default()
    }

    /// Every socket but `socket_id` (`socket.broadcast`).
    pub fn from_socket(socket_id: impl Into<Room>) -> Self {
        Self::new().except(socket_id)
    }

    /// Adds a target room (`to`, `in`); a room already there is not added twice.
    pub fn to(mut self, room: impl Into<Room>) -> Self {
        add_unique(&mut self.rooms, room.into());
        self
    }

    /// Adds a room whose sockets are left out.
    pub fn except(mut self, room: impl Into<Room>) -> Self {
        add_unique(&mut self.except, room.into());
        self
    }

    /// Sets [`BroadcastFlags::volatile`].
    pub fn volatile(mut self) -> Self {
        self.flags.volatile = true;
        self
    }

    /// Sets [`BroadcastFlags::local`].
    pub fn local(mut self) -> Self {
        self.flags.local = true;
        self
    }

    /// Sets [`BroadcastFlags::compress`].
    pub fn compress(mut self, compress: bool) -> Self {
        self.flags.compress = Some(compress);
        self
    }

    /// Sets [`BroadcastFlags::timeout`].
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.flags.timeout = Some(timeout);
        self
    }

    /// Whether the packet is compressed where the transport can (Node: `compress !== false`).
    pub fn wants_compression(&self) -> bool {
        self.flags.compress != Some(false)
    }
}

fn add_unique(rooms: &mut Vec<Room>, room: Room) {
    if !rooms.contains(&room) {
        rooms.push(room);
    }
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn write_rooms<S: Serializer>(rooms: &[Room], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(rooms.iter().map(|r| &**r))
}

fn read_rooms<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Room>, D::Error> {
    d.deserialize_seq(RoomsVisitor)
}

struct RoomsVisitor;

impl<'de> Visitor<'de> for RoomsVisitor {
    type Value = Vec<Room>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of room names")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<Room>, A::Error> {
        // The size hint comes from the peer: cap what it can make us reserve.
        let mut rooms = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(RoomName(room)) = seq.next_element()? {
            rooms.push(room);
        }
        Ok(rooms)
    }
}

/// One room name as sent: a string, or a number JavaScript would turn into one.
struct RoomName(Room);

impl<'de> Deserialize<'de> for RoomName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(RoomNameVisitor).map(RoomName)
    }
}

struct RoomNameVisitor;

impl Visitor<'_> for RoomNameVisitor {
    type Value = Room;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a room name")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Room, E> {
        Ok(Room::from(v))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Room, E> {
        Ok(Room::from(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Room, E> {
        Ok(Room::from(itoa::Buffer::new().format(v)))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Room, E> {
        Ok(Room::from(itoa::Buffer::new().format(v)))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Room, E> {
        let mut out = String::new();
        crate::protocol::value::number::write(v, &mut out);
        Ok(Room::from(out))
    }
}

/// `Option<Duration>` as a number of milliseconds, as `setTimeout` takes it.
mod timeout_ms {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(t: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => s.serialize_u64(u64::try_from(t.as_millis()).unwrap_or(u64::MAX)),
            None => s.serialize_none(),
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        d.deserialize_any(MillisVisitor)
    }

    struct MillisVisitor;

    impl Visitor<'_> for MillisVisitor {
        type Value = Option<Duration>;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a timeout in milliseconds")
        }

        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Some(Duration::from_millis(v)))
        }

        /// `setTimeout` runs a negative delay at once.
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(Some(Duration::from_millis(u64::try_from(v).unwrap_or(0))))
        }

        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
            let secs = if v.is_finite() && v > 0.0 { v / 1000.0 } else { 0.0 };
            Ok(Some(Duration::try_from_secs_f64(secs).unwrap_or(Duration::MAX)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn json(opts: &BroadcastOptions) -> String {
        serde_json::to_string(opts).unwrap()
    }

    fn parse(s: &str) -> BroadcastOptions {
        serde_json::from_str(s).unwrap()
    }

    #[test]
    fn serializes_as_the_redis_adapter_does() {
        // `io.to("a").emit(…)`: Node's flags object is `{}`.
        assert_eq!(json(&BroadcastOptions::new().to("a")), r#"{"rooms":["a"],"except":[],"flags":{}}"#);
        // `socket.broadcast.emit(…)`.
        assert_eq!(
            json(&BroadcastOptions::from_socket("sid1")),
            r#"{"rooms":[],"except":["sid1"],"flags":{}}"#
        );
        let all = BroadcastOptions::new()
            .to("a")
            .to("b")
            .to("a")
            .except("c")
            .volatile()
            .compress(false)
            .local()
            .timeout(Duration::from_millis(5000));
        assert_eq!(
            json(&all),
            r#"{"rooms":["a","b"],"except":["c"],"flags":{"volatile":true,"compress":false,"local":true,"timeout":5000}}"#
        );
        let legacy = BroadcastFlags {
            broadcast: true,
            binary: Some(false),
            expect_single_response: true,
            ..Default::default()
        };
        assert_eq!(
            serde_json::to_string(&legacy).unwrap(),
            r#"{"broadcast":true,"binary":false,"expectSingleResponse":true}"#
        );
    }

    #[test]
    fn reads_what_node_sends() {
        // REMOTE_FETCH / REMOTE_JOIN carry no flags; `except` is optional in the type.
        assert_eq!(parse(r#"{"rooms":["a"],"except":[]}"#), BroadcastOptions::new().to("a"));
        assert_eq!(parse(r#"{"rooms":[]}"#), BroadcastOptions::new());
        let opts = parse(
            r#"{"rooms":[1,-2,1.5],"except":["x"],"flags":{"volatile":true,"timeout":250.5,"extra":[1]}}"#,
        );
        assert_eq!(opts.rooms, ["1", "-2", "1.5"]);
        assert_eq!(opts.except, ["x"]);
        assert!(opts.flags.volatile);
        assert_eq!(opts.flags.timeout, Some(Duration::from_micros(250_500)));
        assert_eq!(parse(r#"{"rooms":[],"flags":{"timeout":-5}}"#).flags.timeout, Some(Duration::ZERO));
        assert_eq!(parse(r#"{"rooms":[],"flags":{"timeout":null}}"#).flags.timeout, None);
        assert_eq!(parse(r#"{"rooms":[],"flags":{"compress":null}}"#).flags.compress, None);
        assert!(BroadcastOptions::new().wants_compression());
        assert!(!BroadcastOptions::new().compress(false).wants_compression());
    }

    #[test]
    fn refuses_malformed_options() {
        for bad in
            [r#"{}"#, r#"{"rooms":"a"}"#, r#"{"rooms":[null]}"#, r#"{"rooms":[],"flags":{"volatile":1}}"#]
        {
            assert!(serde_json::from_str::<BroadcastOptions>(bad).is_err(), "{bad}");
        }
    }

    fn room() -> impl Strategy<Value = Room> {
        "[a-z0-9\u{e9}\"\\\\]{0,6}".prop_map(Room::from)
    }

    proptest! {
        #[test]
        fn json_round_trips(
            rooms in proptest::collection::vec(room(), 0..4),
            except in proptest::collection::vec(room(), 0..4),
            volatile in any::<bool>(),
            compress in any::<Option<bool>>(),
            local in any::<bool>(),
            timeout in any::<Option<u32>>(),
        ) {
            let flags = BroadcastFlags {
                volatile,
                compress,
                local,
                timeout: timeout.map(|ms| Duration::from_millis(ms.into())),
                ..Default::default()
            };
            let opts = BroadcastOptions { rooms, except, flags };
            prop_assert_eq!(parse(&json(&opts)), opts);
        }

        #[test]
        fn arbitrary_json_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = serde_json::from_slice::<BroadcastOptions>(&bytes);
        }

        #[test]
        fn arbitrary_timeouts_never_panic(ms in any::<f64>()) {
            let text = format!(r#"{{"rooms":[],"flags":{{"timeout":{ms:e}}}}}"#);
            let _ = serde_json::from_str::<BroadcastOptions>(&text);
        }
    }
}
