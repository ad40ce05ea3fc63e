//! Demo mode: a Socket.IO chat and the page that uses it, both served by the same server —
//! the official browser client at `/socket.io/socket.io.js`, the page at `/`, its script and
//! style at `/chat.js` and `/chat.css`.
//!
//! The namespace `/` ([`chat::chat`], a typed `Router`) keeps a nick and a room per socket. Messages, typing
//! notices and room notices go to the sender's room only; the count of connected users goes
//! to everyone. Every broadcast reaches the sockets of every shard (see [`chat`] for how the
//! count stays right when shards change it at once).
//!
//! The page ([`assets`]) shows the nick, the room, the messages, who is typing, the user
//! count and the transport in use (polling, then websocket after the upgrade).
//! `/?transports=polling` makes the client poll only.

pub mod assets;
pub mod chat;

use std::sync::Arc;

use tpcio::prelude::{Parser, Server, ServerConfig, SocketIo};

/// The chat endpoint: the namespace `/`, one [`chat::chat`] per shard sharing one user count.
pub fn socket_io() -> SocketIo {
    let users = Arc::new(chat::UserCount::default());
    SocketIo::new().namespace("/", move |_shard| chat::chat(users.clone()))
}

/// The demo server, ready to start: Socket.IO at `/socket.io/` and the page's routes.
#[allow(dead_code)] // only the tests call it (they compile this module too)
pub fn server(config: ServerConfig) -> Server {
    pages(socket_io().attach(Server::new(config)))
}

/// Adds the page's routes (`/`, its script and style) to `server`. The page loads the client
/// from `/socket.io/socket.io.js` and connects to `/socket.io/`.
#[allow(dead_code)] // only the tests call it (they compile this module too)
pub fn pages(server: Server) -> Server {
    pages_for(server, Parser::Json)
}

/// [`pages`] for a server speaking `parser`: with the msgpack parser the page loads the
/// client's msgpack build (`/socket.io/socket.io.msgpack.min.js`).
pub fn pages_for(server: Server, parser: Parser) -> Server {
    let page = match parser {
        Parser::MsgPack => assets::msgpack_page(),
        _ => &assets::ASSETS[0],
    };
    let server = server.route(page.path, move |_shard, http| assets::serve(page, http));
    assets::ASSETS[1..].iter().fold(server, |server, asset| {
        server.route(asset.path, move |_shard, http| assets::serve(asset, http))
    })
}
