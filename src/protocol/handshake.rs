//! The Engine.IO open packet's JSON (engine.io-protocol, "Handshake"): exactly
//! the keys and order Node's `engine.io` 6.6 sends, for both protocol revisions:
//! `{"sid":…,"upgrades":[…],"pingInterval":…,"pingTimeout":…,"maxPayload":…}`.

use bytes::{BufMut, BytesMut};
use bytestring::ByteString;

use super::sid::Sid;

/// What the server announces when a session opens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Handshake {
    pub sid: Sid,
    /// Whether `websocket` is offered as an upgrade (polling sessions with upgrades allowed).
    pub upgrade_to_websocket: bool,
    pub ping_interval_ms: u64,
    pub ping_timeout_ms: u64,
    pub max_payload: u64,
}

impl Handshake {
    /// The JSON text carried by the open packet.
    pub fn to_json(&self) -> ByteString {
        let mut out = BytesMut::with_capacity(128);
        let mut num = itoa::Buffer::new();
        out.put_slice(b"{\"sid\":\"");
        out.put_slice(self.sid.as_bytes());
        out.put_slice(if self.upgrade_to_websocket {
            b"\",\"upgrades\":[\"websocket\"],\"pingInterval\":"
        } else {
            b"\",\"upgrades\":[],\"pingInterval\":"
        });
        out.put_slice(num.format(self.ping_interval_ms).as_bytes());
        out.put_slice(b",\"pingTimeout\":");
        out.put_slice(num.format(self.ping_timeout_ms).as_bytes());
        out.put_slice(b",\"maxPayload\":");
        out.put_slice(num.format(self.max_payload).as_bytes());
        out.put_u8(b'}');
        ByteString::try_from(out.freeze()).expect("ASCII JSON")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_node_bytes() {
        let sid = Sid::parse(b"hLOEJXN07AE0GQCNAAAB").unwrap();
        let polling = Handshake {
            sid,
            upgrade_to_websocket: true,
            ping_interval_ms: 25000,
            ping_timeout_ms: 20000,
            max_payload: 1_000_000,
        };
        assert_eq!(
            &polling.to_json()[..],
            r#"{"sid":"hLOEJXN07AE0GQCNAAAB","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#
        );
        let ws =
            Handshake { upgrade_to_websocket: false, ping_interval_ms: 300, ping_timeout_ms: 200, ..polling };
        assert_eq!(
            &ws.to_json()[..],
            r#"{"sid":"hLOEJXN07AE0GQCNAAAB","upgrades":[],"pingInterval":300,"pingTimeout":200,"maxPayload":1000000}"#
        );
        // The JSON must parse as the client does.
        let v: serde_json::Value = serde_json::from_str(&ws.to_json()).unwrap();
        assert_eq!(v["sid"], "hLOEJXN07AE0GQCNAAAB");
    }
}
