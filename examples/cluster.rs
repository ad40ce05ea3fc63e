//! A cluster of processes on Redis: run two (or more) of this example on different ports with
//! the same Redis; a client of either gets the broadcasts of both, and the processes talk to
//! each other with server-side emits (`@socket.io/redis-adapter`'s protocol, which Node
//! servers on the same Redis speak too).
//!
//! ```sh
//! redis-server --port 6379 &
//! cargo run --example cluster -- 3001 --redis redis://127.0.0.1:6379 &
//! cargo run --example cluster -- 3002 --redis redis://127.0.0.1:6379 &
//! ```
//!
//! Events: `shout` `text` → every client of every process gets `shout` `{from, text}` (`from`:
//! the port of the process the sender is on); `servers` with an ack → how many processes
//! answered a server-side `ping` (each answers with its port).

use std::time::Duration;

use tpcio::prelude::{Ack, Io, RedisAdapterConfig, RedisUrl, Router, ServerSideEvent, Socket, SocketIo};

fn router(port: u16) -> Router<()> {
    Router::new()
        .on("shout", async move |socket: Socket<()>, text: String| {
            let _ = socket.namespace_ops().emit("shout", &serde_json::json!({ "from": port, "text": text }));
        })
        .on_ack("servers", async |socket: Socket<()>, (): (), ack: Ack| {
            // Every other process answers; this one counts itself.
            let others = match socket.io().server_side_emit_with_ack("ping", &()).await {
                Ok(answers) => answers.len(),
                Err((answers, _)) => answers.len(),
            };
            let _ = ack.send(&(others + 1));
        })
        .on_server_side_event(async move |_io: Io, event: ServerSideEvent| {
            if let (Some(ack), "ping") = (event.ack, event.name.as_str()) {
                ack.send(u64::from(port).into());
            }
        })
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let port: u16 = args.next().map_or(Ok(3000), |p| p.parse())?;
    let redis = match (args.next().as_deref(), args.next()) {
        (Some("--redis"), Some(url)) => url,
        _ => "redis://127.0.0.1:6379".to_owned(),
    };
    let adapter = RedisAdapterConfig::new(RedisUrl::parse(&redis)?).requests_timeout(Duration::from_secs(2));
    let running = SocketIo::new()
        .serve_client(false)
        .redis_adapter(adapter)
        .namespace("/", move |_shard| router(port))
        .listen(("127.0.0.1", port))?;
    println!("listening on {}", running.local_addr());
    running.wait()?;
    Ok(())
}
