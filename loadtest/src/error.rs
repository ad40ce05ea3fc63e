//! Why one client of a scenario stopped: every failure the load generator counts in
//! `errors`, typed so the first few can be printed with their cause.

use std::time::Duration;

use tokio_tungstenite::tungstenite;

/// A failure of one client; the run goes on with the others.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    // Boxed: tungstenite's error is large and would bloat every `Result` on the hot path.
    #[error("websocket: {0}")]
    WebSocket(#[from] Box<tungstenite::Error>),
    #[error("malformed HTTP response: {0}")]
    Http(#[from] httparse::Error),
    #[error("HTTP response too large ({0} bytes)")]
    ResponseTooLarge(usize),
    #[error("HTTP response without Content-Length or chunked framing")]
    UnframedResponse,
    #[error("HTTP status {0}")]
    Status(u16),
    #[error("bad open packet: {0}")]
    OpenPacket(String),
    #[error("namespace connection refused: {0:?}")]
    ConnectRefused(String),
    #[error("unexpected packet {0:?}")]
    UnexpectedPacket(String),
    #[error("echo does not match the message sent")]
    EchoMismatch,
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("could not keep to the schedule: more than {0:?} behind")]
    Behind(Duration),
    #[error("close frame from the server, status {0} {1:?}")]
    CloseFrame(u16, String),
    #[error("connection closed by the server ({0})")]
    Closed(&'static str),
}

impl From<tungstenite::Error> for LoadError {
    fn from(e: tungstenite::Error) -> Self {
        LoadError::WebSocket(Box::new(e))
    }
}

/// Shows the first bytes of a packet we did not expect, without dumping a whole payload.
pub fn excerpt(bytes: &[u8]) -> String {
    let end = bytes.len().min(64);
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}
