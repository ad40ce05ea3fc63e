//! A chat on the typed API: a nick checked when the socket connects (and kept as its data),
//! rooms, messages with the sender's nick, typing notices relayed without re-encoding, and
//! the number of members online answered through an ack.
//!
//! ```sh
//! cargo run --release --example chat [port]     # then connect socket.io-client to :3000
//! ```
//!
//! Events: `join` `room`; `say` `{room, text}` → everyone else in `room` gets `said` `nick,
//! text`; `typing` `…` → relayed to everyone else as is; `online` with an ack → the count
//! of this shard's members. On connect, everyone else gets `joined` `nick`; on disconnect,
//! `left` `nick`.

use std::cell::Cell;
use std::rc::Rc;

use tpcio::prelude::{Ack, ConnectError, ConnectInfo, DisconnectReason, Event, Router, Socket, SocketIo};

/// What each socket carries: made by the connect middleware, so nothing is parsed twice.
struct Member {
    nick: String,
}

#[derive(serde::Deserialize)]
struct Say {
    room: String,
    text: String,
}

/// One router per shard: it may keep `Rc` state, here the count of this shard's members.
fn chat() -> Router<Member> {
    let online = Rc::new(Cell::new(0usize));
    let (on_connect, on_disconnect) = (online.clone(), online.clone());
    Router::with_authorize(async |connect: &ConnectInfo| {
        match connect.auth.get("nick").and_then(|nick| nick.as_str()) {
            Some(nick) if !nick.is_empty() => Ok(Member { nick: nick.to_owned() }),
            _ => Err(ConnectError::new("a nick name is required")),
        }
    })
    .on_connect(async move |socket: Socket<Member>| {
        on_connect.set(on_connect.get() + 1);
        let nick = socket.with_data(|member| member.nick.clone());
        let _ = socket.broadcast().emit("joined", &nick);
    })
    // One argument, a room name.
    .on("join", async |socket: Socket<Member>, room: String| socket.join(room))
    // One argument, an object: `{room, text}`.
    .on("say", async |socket: Socket<Member>, say: Say| {
        let nick = socket.with_data(|member| member.nick.clone());
        let _ = socket.to(say.room).emit("said", &(nick, say.text));
    })
    .on_ack("online", async move |_socket: Socket<Member>, (): (), ack: Ack| {
        let _ = ack.send(&online.get());
    })
    // Every other event, raw: `typing` goes to everyone else as received, binary and all,
    // encoded once, never parsed.
    .fallback(async |socket: Socket<Member>, event: Event| {
        if event.name() == "typing" {
            let _ = socket.broadcast().volatile().emit_raw("typing", &event.raw_args());
        }
    })
    .on_disconnect(async move |socket: Socket<Member>, _reason: DisconnectReason| {
        on_disconnect.set(on_disconnect.get() - 1);
        let nick = socket.with_data(|member| member.nick.clone());
        let _ = socket.broadcast().emit("left", &nick);
    })
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port: u16 = std::env::args().nth(1).map_or(Ok(3000), |p| p.parse())?;
    let running =
        SocketIo::new().serve_client(false).namespace("/", |_shard| chat()).listen(("127.0.0.1", port))?;
    println!("listening on {}", running.local_addr());
    running.wait()?;
    Ok(())
}
