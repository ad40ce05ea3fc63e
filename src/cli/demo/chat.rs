//! The demo chat's namespace handler: nick names, rooms, messages to the sender's room,
//! typing notices, and the number of connected users.
//!
//! Events from the page (each answered through its ack when the client asks for one):
//! - `set nick` `[name]` → the nick kept (the old one when `name` is not usable);
//! - `join` `[room]` → the room the socket is now in (it leaves its previous one);
//! - `chat message` `[text]` → `{nick, text, room}`, which everyone else in the room gets as
//!   `chat message`: the sender shows its own message from the ack;
//! - `typing` / `stop typing` → relayed to the room as `{nick}` (volatile).
//!
//! To the page: `welcome` `{nick, room}` on connect, `notice` `"text"` for arrivals,
//! departures and renames in the room, and `users` `{count, generation}` to every socket.
//!
//! The count is global while shards run apart: one atomic word holds the count and a
//! generation bumped by every change, so each change yields a distinct, ordered snapshot.
//! Two shards changing it at once broadcast their snapshots over different paths, which may
//! arrive in either order; the page keeps the highest generation, which is the last change.
//! (Asking every shard with `fetch_sockets` gives counts nothing can order.) The atomic is
//! touched once per connect and disconnect, never per message.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tpcio::prelude::{Ack, ConnectInfo, DisconnectReason, Router, Socket, Value};

/// Where a socket starts when its CONNECT names no room.
pub const DEFAULT_ROOM: &str = "lobby";
/// The longest nick or room name, in characters.
pub const MAX_NAME_CHARS: usize = 24;
/// The longest message, in characters.
pub const MAX_TEXT_CHARS: usize = 500;

/// What each socket carries.
#[derive(Debug, Default)]
pub struct Member {
    pub nick: String,
    pub room: String,
}

/// The chat of one shard, on the typed [`Router`]: every shard's shares the one [`UserCount`].
pub fn chat(users: Arc<UserCount>) -> Router<Member> {
    let left = users.clone();
    // The nick and room the client asked for; a guest name (which needs the socket's id) is
    // given on connect.
    Router::with_authorize(async |connect: &ConnectInfo| {
        let wanted = |key| connect.auth.get(key).and_then(Value::as_str).and_then(clean_name);
        Ok(Member {
            nick: wanted("nick").unwrap_or_default(),
            room: wanted("room").unwrap_or_else(|| DEFAULT_ROOM.to_owned()),
        })
    })
    .on_connect(async move |socket: Socket<Member>| {
        // Counted before anything awaits, so the disconnect of this socket comes after.
        let users = users.change(1);
        let guest = guest_name(socket.id().as_str());
        let (nick, room) = socket.with_data_mut(|member| {
            if member.nick.is_empty() {
                member.nick = guest;
            }
            (member.nick.clone(), member.room.clone())
        });
        socket.join(room.clone());
        let _ = socket.emit("welcome", &object(&[("nick", &nick), ("room", &room)]));
        let _ = socket.to(room).emit("notice", &format!("{nick} joined"));
        let _ = socket.namespace_ops().emit("users", &users.to_value());
    })
    .on("typing", async |socket: Socket<Member>, (): ()| relay_typing(&socket, "typing"))
    .on("stop typing", async |socket: Socket<Member>, (): ()| relay_typing(&socket, "stop typing"))
    .on_ack("set nick", async |socket: Socket<Member>, nick: String, ack: Ack| {
        let _ = ack.send(&set_nick(&socket, &nick));
    })
    .on_ack("join", async |socket: Socket<Member>, room: String, ack: Ack| {
        let _ = ack.send(&join(&socket, &room));
    })
    .on_ack("chat message", async |socket: Socket<Member>, text: String, ack: Ack| {
        if let Some(message) = say(&socket, &text) {
            let _ = ack.send(&message);
        }
    })
    .on_disconnect(async move |socket: Socket<Member>, _reason: DisconnectReason| {
        let users = left.change(-1);
        let _ = socket.namespace_ops().emit("users", &users.to_value());
        let (nick, room) = nick_and_room(&socket);
        let _ = socket.to(room.clone()).emit("stop typing", &object(&[("nick", &nick)]));
        let _ = socket.to(room).emit("notice", &format!("{nick} left"));
    })
}

/// `typing` / `stop typing`: relayed to the rest of the room as `{nick}`, volatile.
fn relay_typing(socket: &Socket<Member>, name: &str) {
    let (nick, room) = nick_and_room(socket);
    let _ = socket.to(room).volatile().emit(name, &object(&[("nick", &nick)]));
}

/// `set nick`: the nick now in use.
fn set_nick(socket: &Socket<Member>, wanted: &str) -> Value {
    let Some(nick) = clean_name(wanted) else { return socket.with_data(|m| Value::from(m.nick.as_str())) };
    let (old, room) = socket
        .with_data_mut(|member| (std::mem::replace(&mut member.nick, nick.clone()), member.room.clone()));
    if old != nick {
        let _ = socket.to(room).emit("notice", &format!("{old} is now {nick}"));
    }
    Value::from(nick)
}

/// `join`: the room now in use.
fn join(socket: &Socket<Member>, wanted: &str) -> Value {
    let Some(room) = clean_name(wanted) else { return socket.with_data(|m| Value::from(m.room.as_str())) };
    let (old, nick) = socket
        .with_data_mut(|member| (std::mem::replace(&mut member.room, room.clone()), member.nick.clone()));
    if old != room {
        socket.leave(&old);
        socket.join(room.clone());
        let _ = socket.to(old.clone()).emit("stop typing", &object(&[("nick", &nick)]));
        let _ = socket.to(old).emit("notice", &format!("{nick} left"));
        let _ = socket.to(room.clone()).emit("notice", &format!("{nick} joined"));
    }
    Value::from(room)
}

/// `chat message`: sent to the rest of the room; `None` for an empty message.
fn say(socket: &Socket<Member>, text: &str) -> Option<Value> {
    let text = clean_text(text)?;
    let (nick, room) = nick_and_room(socket);
    let message = object(&[("nick", &nick), ("text", &text), ("room", &room)]);
    let _ = socket.to(room).emit("chat message", &message);
    Some(message)
}

fn nick_and_room(socket: &Socket<Member>) -> (String, String) {
    socket.with_data(|member| (member.nick.clone(), member.room.clone()))
}

fn object(fields: &[(&str, &str)]) -> Value {
    Value::Object(fields.iter().map(|(k, v)| ((*k).to_owned(), Value::from(*v))).collect())
}

/// A nick or room name as shown: trimmed, control characters dropped, at most
/// [`MAX_NAME_CHARS`]; `None` when nothing is left.
pub fn clean_name(raw: &str) -> Option<String> {
    clip(raw, MAX_NAME_CHARS)
}

/// A message as relayed: trimmed, control characters dropped, at most [`MAX_TEXT_CHARS`].
pub fn clean_text(raw: &str) -> Option<String> {
    clip(raw, MAX_TEXT_CHARS)
}

fn clip(raw: &str, max: usize) -> Option<String> {
    let kept: String = raw.chars().filter(|c| !c.is_control()).collect();
    let clipped: String = kept.trim().chars().take(max).collect();
    let clipped = clipped.trim_end();
    (!clipped.is_empty()).then(|| clipped.to_owned())
}

/// The nick of a socket that did not choose one: `guest-` and the start of its id.
pub fn guest_name(socket_id: &str) -> String {
    let tag: String = socket_id.chars().take(4).collect();
    format!("guest-{tag}")
}

/// The number of connected users over all shards, with the generation of its last change.
#[derive(Debug, Default)]
pub struct UserCount(AtomicU64);

impl UserCount {
    /// Applies `delta` (+1 on connect, -1 on disconnect); returns the snapshot it made.
    pub fn change(&self, delta: i32) -> Tally {
        let step = |word| Some(Tally::unpack(word).step(delta).pack());
        // The closure never refuses, so both arms hold the previous word.
        let previous = self.0.fetch_update(Ordering::AcqRel, Ordering::Acquire, step).unwrap_or_else(|w| w);
        Tally::unpack(previous).step(delta)
    }
}

/// One snapshot of the user count.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// Bumped by every change (wrapping after 2³² changes).
    pub generation: u32,
    pub count: u32,
}

impl Tally {
    pub fn step(self, delta: i32) -> Tally {
        Tally { generation: self.generation.wrapping_add(1), count: self.count.saturating_add_signed(delta) }
    }

    pub(crate) fn pack(self) -> u64 {
        (u64::from(self.generation) << 32) | u64::from(self.count)
    }

    pub(crate) fn unpack(word: u64) -> Tally {
        Tally { generation: (word >> 32) as u32, count: word as u32 }
    }

    /// `{count, generation}`, as the page reads it.
    pub fn to_value(self) -> Value {
        Value::Object(vec![
            ("count".to_owned(), Value::from(self.count)),
            ("generation".to_owned(), Value::from(self.generation)),
        ])
    }
}
