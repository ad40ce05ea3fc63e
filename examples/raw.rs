//! The raw `Handler` trait, for maximum speed: one `on_event` for every event, arguments kept
//! as the received JSON text and buffers, relayed without being parsed or re-encoded. This is
//! what the benchmark mode runs; the typed `Router` is built on the same trait.
//!
//! ```sh
//! cargo run --release --example raw [port]
//! ```
//!
//! Events: `echo` … → `echo` with the same arguments to the sender (or its ack when it asked
//! for one); `broadcast` … → `broadcast` to every socket, on every shard.

use tpcio::prelude::{ConnectError, ConnectInfo, Event, Handler, Socket, SocketIo};

struct Relay;

impl Handler for Relay {
    type Data = ();

    async fn authorize(&self, _connect: &ConnectInfo) -> Result<(), ConnectError> {
        Ok(())
    }

    async fn on_event(&self, socket: Socket<()>, mut event: Event) {
        match event.name() {
            "echo" => {
                let args = event.raw_args();
                let _ = match event.take_ack() {
                    Some(ack) => ack.send_raw(&args),
                    None => socket.emit_raw("echo", &args),
                };
            }
            "broadcast" => {
                let _ = socket.namespace_ops().emit_raw("broadcast", &event.raw_args());
            }
            _ => {}
        }
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port: u16 = std::env::args().nth(1).map_or(Ok(3000), |p| p.parse())?;
    let running =
        SocketIo::new().serve_client(false).namespace("/", |_shard| Relay).listen(("127.0.0.1", port))?;
    println!("listening on {}", running.local_addr());
    running.wait()?;
    Ok(())
}
