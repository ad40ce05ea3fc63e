//! Authentication with a token and per-socket state: the connect middleware checks the
//! client's `auth.token`, refuses unknown ones with a `CONNECT_ERROR` carrying data, and
//! makes the socket's state from the token's user; handlers read and change that state.
//!
//! ```sh
//! cargo run --example auth [port]
//! ```
//!
//! ```js
//! const socket = io("http://localhost:3000", { auth: { token: "t-ann" } });
//! socket.emit("whoami", (me) => console.log(me));   // { name: "ann", role: "admin", posts: 0 }
//! socket.emit("post", "hello");                       // counted in posts
//! io("http://localhost:3000", { auth: { token: "nope" } })
//!   .on("connect_error", (e) => console.log(e.message, e.data)); // unknown token { code: 401 }
//! ```

use std::collections::HashMap;
use std::rc::Rc;

use tpcio::prelude::{Ack, ConnectError, ConnectInfo, Router, Socket, SocketIo, Value};

/// Each socket's state, made from its token when it connects.
#[derive(Clone, serde::Serialize)]
struct User {
    name: String,
    role: &'static str,
    posts: u32,
}

fn users() -> HashMap<&'static str, (&'static str, &'static str)> {
    HashMap::from([("t-ann", ("ann", "admin")), ("t-bob", ("bob", "member"))])
}

fn router() -> Router<User> {
    let tokens = Rc::new(users());
    Router::with_authorize(async move |connect: &ConnectInfo| {
        let token = connect.auth.get("token").and_then(Value::as_str).unwrap_or_default();
        match tokens.get(token) {
            Some(&(name, role)) => Ok(User { name: name.to_owned(), role, posts: 0 }),
            None => Err(ConnectError::new("unknown token")
                .with_data(Value::Object(vec![("code".to_owned(), Value::from(401u64))]))),
        }
    })
    .on("post", async |socket: Socket<User>, _text: String| {
        socket.with_data_mut(|user| user.posts += 1);
    })
    .on_ack("whoami", async |socket: Socket<User>, (): (), ack: Ack| {
        let me = socket.with_data(User::clone);
        let _ = ack.send(&me);
    })
    // Only admins may kick: the role is in the socket's state, read without an await in between.
    .on_ack("kick-all", async |socket: Socket<User>, (): (), ack: Ack| {
        let admin = socket.with_data(|user| user.role == "admin");
        if admin {
            socket.broadcast().disconnect_sockets(false);
        }
        let _ = ack.send(&admin);
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
