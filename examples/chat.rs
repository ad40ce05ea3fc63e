//! A chat server on the handler trait: nick names, rooms, and messages relayed
//! without re-encoding.
//!
//! ```sh
//! cargo run --release --example chat        # then connect socket.io-client to :3000
//! ```

use std::cell::RefCell;
use std::rc::Rc;

use tpcio::engine::DisconnectReason;
use tpcio::protocol::value::Value;
use tpcio::server::ServerConfig;
use tpcio::socket::{ConnectError, ConnectInfo, Event, Handler, Socket, SocketIo};

/// What each socket carries.
#[derive(Default)]
struct Member {
    nick: String,
}

/// One handler per shard: it may keep `Rc` state, here a count of this shard's members.
struct Chat {
    online: Rc<RefCell<usize>>,
}

impl Handler for Chat {
    type Data = Member;

    async fn authorize(&self, connect: &ConnectInfo) -> Result<(), ConnectError> {
        match connect.auth.get("nick").and_then(Value::as_str) {
            Some(nick) if !nick.is_empty() => Ok(()),
            _ => Err(ConnectError::new("a nick name is required")),
        }
    }

    async fn on_connect(&self, socket: Socket<Member>) {
        let nick = socket.auth().get("nick").and_then(Value::as_str).unwrap_or_default().to_owned();
        *self.online.borrow_mut() += 1;
        let _ = socket.broadcast().emit("joined", &[Value::from(nick.as_str())]);
        socket.with_data_mut(|member| member.nick = nick);
    }

    async fn on_event(&self, socket: Socket<Member>, mut event: Event) {
        match event.name() {
            // ["room name"]: leave the lobby for a room.
            "join" => {
                if let Ok((room,)) = event.args::<(String,)>() {
                    socket.join(room);
                }
            }
            // ["room", "text"]: everyone else in the room gets it, with the sender's nick.
            "say" => {
                if let Ok((room, text)) = event.args::<(String, String)>() {
                    let nick = socket.with_data(|member| member.nick.clone());
                    let _ = socket
                        .to(room)
                        .emit("said", &[Value::from(nick.as_str()), Value::from(text.as_str())]);
                }
            }
            // Relayed to everyone else as received: binary and all, encoded once.
            "typing" => {
                let _ = socket.broadcast().volatile().emit_raw("typing", &event.raw_args());
            }
            "who" => {
                if let Some(ack) = event.take_ack() {
                    let count = *self.online.borrow();
                    let _ = ack.send(&[Value::from(count as u64)]);
                }
            }
            _ => {}
        }
    }

    async fn on_disconnect(&self, socket: Socket<Member>, _reason: DisconnectReason) {
        *self.online.borrow_mut() -= 1;
        let nick = socket.with_data(|member| member.nick.clone());
        let _ = socket.broadcast().emit("left", &[Value::from(nick.as_str())]);
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let running = SocketIo::new()
        .namespace("/", |_shard| Chat { online: Rc::new(RefCell::new(0)) })
        .start(ServerConfig::default())?;
    println!("chat on http://localhost:{}/", running.local_addr().port());
    running.wait()?;
    Ok(())
}
