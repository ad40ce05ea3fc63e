//! Rooms and private messages, on every shard: a user joins and leaves rooms, talks to a
//! room, and writes to another user by name — each socket is in the room `user:<name>`, so a
//! private message is a room broadcast that finds the user on whichever shard holds it.
//!
//! ```sh
//! cargo run --example rooms [port]
//! ```
//!
//! Events: `join` `room` / `leave` `room` (acked with the socket's rooms); `to room` `room,
//! text` → the others in `room` get `room message` `{room, from, text}`; `private` `{to,
//! text}` → `to`'s sockets get `private message` `{from, text}` (acked with how many got it).

use std::time::Duration;

use tpcio::prelude::{Ack, ConnectError, ConnectInfo, Router, Socket, SocketIo, Value};

struct Name(String);

#[derive(serde::Deserialize)]
struct Private {
    to: String,
    text: String,
}

#[derive(serde::Serialize)]
struct RoomMessage<'a> {
    room: &'a str,
    from: &'a str,
    text: &'a str,
}

fn room_of(name: &str) -> String {
    format!("user:{name}")
}

fn router() -> Router<Name> {
    Router::with_authorize(async |connect: &ConnectInfo| {
        match connect.auth.get("name").and_then(Value::as_str) {
            Some(name) if !name.is_empty() => Ok(Name(name.to_owned())),
            _ => Err(ConnectError::new("a name is required")),
        }
    })
    .on_connect(async |socket: Socket<Name>| {
        let name = socket.with_data(|n| n.0.clone());
        socket.join(room_of(&name));
    })
    .on_ack("join", async |socket: Socket<Name>, room: String, ack: Ack| {
        socket.join(room);
        let _ = ack.send(&(socket.rooms(),));
    })
    .on_ack("leave", async |socket: Socket<Name>, room: String, ack: Ack| {
        socket.leave(&room);
        let _ = ack.send(&(socket.rooms(),));
    })
    .on("to room", async |socket: Socket<Name>, (room, text): (String, String)| {
        let from = socket.with_data(|n| n.0.clone());
        let message = RoomMessage { room: &room, from: &from, text: &text };
        let _ = socket.to(room.clone()).emit("room message", &message);
    })
    .on_ack("private", async |socket: Socket<Name>, private: Private, ack: Ack| {
        let from = socket.with_data(|n| n.0.clone());
        let to = socket.namespace_ops().to(room_of(&private.to));
        // `fetch_sockets` asks every shard which sockets are in the room.
        let reached = to.clone().timeout(Duration::from_secs(2)).fetch_sockets().await.map_or(0, |s| s.len());
        let _ = to.emit("private message", &serde_json::json!({ "from": from, "text": private.text }));
        let _ = ack.send(&reached);
    })
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port: u16 = std::env::args().nth(1).map_or(Ok(3000), |p| p.parse())?;
    let running =
        SocketIo::new().serve_client(false).namespace("/", |_shard| router()).listen(("127.0.0.1", port))?;
    println!("listening on {}", running.local_addr());
    running.wait()?;
    Ok(())
}
