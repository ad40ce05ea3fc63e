//! Binary upload: the client sends a file as a buffer (a binary attachment, never base64),
//! the server reads it into `Bytes`, answers its size and checksum, and sends a transformed
//! copy back as a buffer.
//!
//! ```sh
//! cargo run --example upload [port]
//! ```
//!
//! ```js
//! socket.emit("upload", { name: "a.bin", data: Buffer.from([1, 2, 3]) }, (r) => console.log(r));
//! // { name: "a.bin", size: 3, sum: 6 }, then the event `reversed` with a.bin and <Buffer 03 02 01>
//! ```

use bytes::Bytes;
use tpcio::prelude::{Ack, Router, Socket, SocketIo};

#[derive(serde::Deserialize)]
struct Upload {
    name: String,
    data: Bytes,
}

#[derive(serde::Serialize)]
struct Receipt<'a> {
    name: &'a str,
    size: usize,
    sum: u64,
}

/// The largest upload taken, well under the server's `maxHttpBufferSize` (1 MB by default).
const MAX_UPLOAD: usize = 512 * 1024;

fn router() -> Router<()> {
    Router::new().on_ack("upload", async |socket: Socket<()>, upload: Upload, ack: Ack| {
        if upload.data.len() > MAX_UPLOAD {
            let _ = ack.send(&serde_json::json!({ "error": "too large" }));
            return;
        }
        let sum = upload.data.iter().map(|&b| u64::from(b)).sum();
        let _ = ack.send(&Receipt { name: &upload.name, size: upload.data.len(), sum });
        let reversed: Vec<u8> = upload.data.iter().rev().copied().collect();
        // A `Bytes` argument goes as a binary attachment.
        let _ = socket.emit("reversed", &(upload.name, Bytes::from(reversed)));
    })
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port: u16 = std::env::args().nth(1).map_or(Ok(3000), |p| p.parse())?;
    let running = SocketIo::new()
        .serve_client(false)
        .allow_eio3(true) // socket.io-client 2 too
        .namespace("/", |_shard| router())
        .listen(("127.0.0.1", port))?;
    println!("listening on {}", running.local_addr());
    running.wait()?;
    Ok(())
}
