//! The `recovery` scenario (connection state recovery, Node's `connectionStateRecovery`):
//! clients that keep what socket.io-client 4.8 keeps for it and check what they get back.
//!
//! What a client keeps, as socket.io-client does (`lib/socket.ts`): the `pid` of the CONNECT
//! answer `40{"sid":…,"pid":…}`, and, once it has a pid, the last argument of every event it
//! receives when that argument is a string (the offset the server appended; the event name
//! counts, as in the client: it is the first element of the same array). Its CONNECT after a
//! lost transport is `40{"pid":…,"offset":…}` (no `offset` before the first one). The server
//! writes the missed packets before the CONNECT answer, so events may come first.
//!
//! What a client checks: the scenario's sender emits `to(room, room_index, seq)` and `seq`
//! counts from 0 in each room, so each member must see `0, 1, 2, …` of its room, each once and
//! in order, across every cut and recovery ([`SeqCheck`]). [`client`] runs one client,
//! [`sender`] the emitting one.

pub mod client;
pub mod sender;

use serde::Deserialize;
use serde_json::Value;

use crate::error::{LoadError, excerpt};

/// The event name the bench servers re-emit a `to` with.
pub const TO_EVENT: &str = "to";

/// The room of the `index`-th room of the scenario.
pub fn room_name(index: usize) -> String {
    format!("r{index}")
}

/// The answer to a v5 CONNECT: `{"sid":"…"}`, with `"pid":"…"` when the server recovers.
#[derive(Deserialize, Debug, PartialEq, Eq)]
pub struct Connected {
    pub sid: String,
    pub pid: Option<String>,
}

pub fn parse_connected(json: &[u8]) -> Result<Connected, LoadError> {
    serde_json::from_slice(json).map_err(|e| LoadError::UnexpectedPacket(format!("CONNECT answer: {e}")))
}

/// The CONNECT packet socket.io-client sends: `40` without a pid, else
/// `40{"pid":…,"offset":…}` (`offset` left out while there is none, as `JSON.stringify` does
/// with `undefined`).
pub fn connect_packet(pid: Option<&str>, offset: Option<&str>) -> Vec<u8> {
    let Some(pid) = pid else { return b"40".to_vec() };
    // Written by hand so the keys keep socket.io-client's order; the values escaped as JSON.
    let text = |s: &str| Value::from(s).to_string();
    let data = match offset {
        Some(offset) => format!("{{\"pid\":{},\"offset\":{}}}", text(pid), text(offset)),
        None => format!("{{\"pid\":{}}}", text(pid)),
    };
    format!("40{data}").into_bytes()
}

/// One event of the main namespace (the JSON array after `42`), as the scenario reads it.
#[derive(Debug, PartialEq, Eq)]
pub struct Event {
    /// `(room index, seq)` for a `to` event of the scenario, `None` for any other event.
    pub to: Option<(u64, u64)>,
    /// The last element when it is a string: the offset socket.io-client would keep.
    pub last_string: Option<String>,
}

pub fn parse_event(json: &[u8]) -> Result<Event, LoadError> {
    let bad = || LoadError::UnexpectedPacket(excerpt(json));
    let args: Vec<Value> = serde_json::from_slice(json).map_err(|_| bad())?;
    let last_string = args.last().and_then(Value::as_str).map(str::to_owned);
    let to = match args.as_slice() {
        [Value::String(name), room, seq, ..] if name == TO_EVENT => {
            Some((room.as_u64().ok_or_else(bad)?, seq.as_u64().ok_or_else(bad)?))
        }
        [Value::String(_), ..] => None,
        _ => return Err(bad()),
    };
    Ok(Event { to, last_string })
}

/// The `to` event the sender emits: `42["to","r<room>",<room>,<seq>]`.
pub fn to_packet(room: usize, seq: u64) -> Vec<u8> {
    format!("42[\"{TO_EVENT}\",\"{}\",{room},{seq}]", room_name(room)).into_bytes()
}

/// The shard an Engine.IO sid of a tpcio server with `shards` shards belongs to: the first
/// decoded byte modulo the shard count (`src/protocol/sid.rs`). `None` for a sid that is not
/// base64url.
pub fn sid_shard(sid: &str, shards: usize) -> Option<usize> {
    let digit = |c: u8| -> Option<u8> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' => 62,
            b'_' => 63,
            _ => return None,
        })
    };
    let [a, b, ..] = sid.as_bytes() else { return None };
    let byte = (digit(*a)? << 2) | (digit(*b)? >> 4);
    (shards > 0).then(|| usize::from(byte) % shards)
}

/// What went wrong in one client's stream of `to` events.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Violations {
    /// Events whose seq was below the next expected: a duplicate, or one that came late.
    pub repeated: u64,
    /// Events whose seq was above the next expected: some were skipped (lost, or out of order).
    pub skipped: u64,
    /// Events for a room the client is not in.
    pub wrong_room: u64,
    /// The first of them, described.
    pub first: Option<String>,
}

impl Violations {
    pub fn total(&self) -> u64 {
        self.repeated + self.skipped + self.wrong_room
    }

    fn note(&mut self, what: String) {
        if self.first.is_none() {
            self.first = Some(what);
        }
    }
}

/// Exactly once and in order: the seqs of one room must come as `next, next + 1, …`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeqCheck {
    room: u64,
    next: u64,
    pub violations: Violations,
}

impl SeqCheck {
    /// A client of `room` that expects seq 0 next.
    pub fn new(room: usize) -> SeqCheck {
        SeqCheck { room: room as u64, next: 0, violations: Violations::default() }
    }

    /// The seq expected next, i.e. how many of the room's events were seen in order.
    #[cfg(test)]
    pub fn next(&self) -> u64 {
        self.next
    }

    /// Takes one received `to(room, seq)`.
    pub fn receive(&mut self, room: u64, seq: u64) {
        if room != self.room {
            self.violations.wrong_room += 1;
            self.violations.note(format!("seq {seq} of room {room} in room {}", self.room));
            return;
        }
        if seq == self.next {
            self.next += 1;
        } else if seq < self.next {
            self.violations.repeated += 1;
            self.violations.note(format!("seq {seq} again (or late) after {}", self.next - 1));
        } else {
            self.violations.skipped += 1;
            self.violations.note(format!("seq {seq} where {} was expected", self.next));
            self.next = seq + 1;
        }
    }

    /// Whether every one of the room's first `sent` events arrived.
    pub fn complete(&self, sent: u64) -> bool {
        self.next >= sent
    }

    /// A fresh socket (not recovered) lost what it missed: it expects `next` from now on.
    /// Returns how many it lost.
    pub fn restart_at(&mut self, next: u64) -> u64 {
        let lost = next.saturating_sub(self.next);
        self.next = next;
        lost
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_connect_answers() {
        let with = parse_connected(br#"{"sid":"abc","pid":"def"}"#).expect("valid");
        assert_eq!(with, Connected { sid: "abc".into(), pid: Some("def".into()) });
        let without = parse_connected(br#"{"sid":"abc"}"#).expect("valid");
        assert_eq!(without.pid, None);
        assert!(parse_connected(br#"{"pid":"def"}"#).is_err());
        assert!(parse_connected(b"").is_err());
    }

    #[test]
    fn writes_the_connect_packet_as_socket_io_client() {
        assert_eq!(connect_packet(None, Some("x")), b"40");
        assert_eq!(connect_packet(Some("p"), None), br#"40{"pid":"p"}"#);
        let both = connect_packet(Some("p\"q"), Some("Q8yGFH_.1"));
        assert_eq!(both, br#"40{"pid":"p\"q","offset":"Q8yGFH_.1"}"#);
        let back: Value = serde_json::from_slice(&both[2..]).expect("JSON");
        assert_eq!((back["pid"].as_str(), back["offset"].as_str()), (Some("p\"q"), Some("Q8yGFH_.1")));
    }

    #[test]
    fn keeps_the_last_string_argument_as_the_offset() {
        let e = parse_event(br#"["to",3,17,"Q8yGFH_.1.2"]"#).expect("valid");
        assert_eq!(e, Event { to: Some((3, 17)), last_string: Some("Q8yGFH_.1.2".into()) });
        // Without recovery the last argument is the seq: no offset.
        assert_eq!(parse_event(br#"["to",3,17]"#).expect("valid").last_string, None);
        // As socket.io-client: the event name is the array's first element, so an event
        // without arguments "carries" its own name.
        let bare = parse_event(br#"["hello"]"#).expect("valid");
        assert_eq!((bare.to, bare.last_string.as_deref()), (None, Some("hello")));
        let other = parse_event(br#"["q",{"a":1},"zz"]"#).expect("valid");
        assert_eq!((other.to, other.last_string.as_deref()), (None, Some("zz")));
        assert!(parse_event(br#"["to","r3",17]"#).is_err(), "room index must be a number");
        assert!(parse_event(b"[]").is_err());
        assert!(parse_event(b"[1]").is_err());
        assert!(parse_event(b"{").is_err());
    }

    #[test]
    fn writes_to_packets_the_server_reemits() {
        assert_eq!(to_packet(3, 17), br#"42["to","r3",3,17]"#);
        // What a server re-emits (room name dropped, offset appended) parses back.
        let e = parse_event(br#"["to",3,17,"o"]"#).expect("valid");
        assert_eq!(e.to, Some((3, 17)));
    }

    #[test]
    fn finds_the_shard_of_a_sid() {
        // "AA…": byte 0; "_w…": 0xff; "Ag…": 0b000000_10 → 2.
        assert_eq!(sid_shard("AAAAAAAAAAAAAAAAAAAA", 2), Some(0));
        assert_eq!(sid_shard("_w__________________", 2), Some(1));
        assert_eq!(sid_shard("_w__________________", 1), Some(0));
        assert_eq!(sid_shard("AgAAAAAAAAAAAAAAAAAA", 3), Some(2));
        assert_eq!(sid_shard("A", 2), None);
        assert_eq!(sid_shard("**", 2), None);
        assert_eq!(sid_shard("AA", 0), None);
    }

    #[test]
    fn accepts_each_seq_once_in_order() {
        let mut c = SeqCheck::new(2);
        for seq in 0..5 {
            c.receive(2, seq);
        }
        assert_eq!((c.next(), c.violations.total()), (5, 0));
        assert!(c.complete(5) && c.complete(4) && !c.complete(6));
    }

    #[test]
    fn counts_duplicates_gaps_reorders_and_strangers() {
        let mut dup = SeqCheck::new(0);
        for seq in [0, 1, 1, 2] {
            dup.receive(0, seq);
        }
        assert_eq!((dup.next(), dup.violations.repeated, dup.violations.skipped), (3, 1, 0));
        assert_eq!(dup.violations.first.as_deref(), Some("seq 1 again (or late) after 1"));

        let mut gap = SeqCheck::new(0);
        for seq in [0, 2, 3] {
            gap.receive(0, seq);
        }
        assert_eq!((gap.next(), gap.violations.skipped, gap.violations.repeated), (4, 1, 0));
        assert!(gap.complete(4), "complete by count, but the gap is a violation");
        assert_eq!(gap.violations.total(), 1);

        let mut swapped = SeqCheck::new(0);
        for seq in [0, 2, 1, 3] {
            swapped.receive(0, seq);
        }
        assert_eq!((swapped.violations.skipped, swapped.violations.repeated), (1, 1));

        let mut stranger = SeqCheck::new(1);
        stranger.receive(0, 0);
        assert_eq!((stranger.next(), stranger.violations.wrong_room), (0, 1));
        assert_eq!(stranger.violations.first.as_deref(), Some("seq 0 of room 0 in room 1"));
    }

    #[test]
    fn a_fresh_socket_restarts_its_stream() {
        let mut c = SeqCheck::new(0);
        c.receive(0, 0);
        assert_eq!(c.restart_at(7), 6);
        c.receive(0, 7);
        assert_eq!((c.next(), c.violations.total()), (8, 0));
        assert_eq!(c.restart_at(8), 0);
    }
}
