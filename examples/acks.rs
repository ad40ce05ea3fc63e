//! Acknowledgements both ways, with timeouts: the client asks the server (`add` answers the
//! sum), the server asks one client and waits at most a while (`ask` → `question`, the answer
//! read into a Rust type), and the server asks every client at once (`poll` → `vote`, each
//! answer collected until all came or the timeout passed).
//!
//! ```sh
//! cargo run --example acks [port]
//! ```

use std::time::Duration;

use tpcio::prelude::{Ack, AckError, BroadcastAckError, Router, Socket, SocketIo, Value};

#[derive(serde::Serialize)]
struct Outcome {
    answer: Option<String>,
    error: Option<String>,
}

fn router() -> Router<()> {
    Router::new()
        // The client's ack: `socket.emit("add", 2, 3, (sum) => …)`.
        .on_ack("add", async |_socket: Socket<()>, (a, b): (f64, f64), ack: Ack| {
            let _ = ack.send(&(a + b));
        })
        // The server's ack: asks this client, waits at most `ms`.
        .on_ack("ask", async |socket: Socket<()>, ms: u64, ack: Ack| {
            let answer: Result<(String,), AckError> =
                socket.emit_with_ack("question", &"your name?", Duration::from_millis(ms)).await;
            let outcome = match answer {
                Ok((name,)) => Outcome { answer: Some(name), error: None },
                Err(e) => Outcome { answer: None, error: Some(e.to_string()) },
            };
            let _ = ack.send(&outcome);
        })
        // Every client of the namespace, one ack id for all, at most `ms`.
        .on_ack("poll", async |socket: Socket<()>, ms: u64, ack: Ack| {
            let votes = socket
                .namespace_ops()
                .timeout(Duration::from_millis(ms))
                .emit_with_ack::<_, Value>("vote", &"yes or no?")
                .await;
            let (complete, answers) = match votes {
                Ok(answers) => (true, answers),
                Err(BroadcastAckError::Timeout { responses }) => (false, responses),
                Err(_) => (false, Vec::new()),
            };
            let _ = ack.send(&(complete, answers.len()));
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
