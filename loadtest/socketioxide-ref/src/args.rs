//! An event's arguments taken and given back whole, as the Node reference's `(...args)` does.
//!
//! socketioxide hands a handler the first argument only, unless the extracted type deserializes
//! as a tuple; and it spreads a value into several arguments only when it serializes as a tuple
//! (a `Vec` is one argument). [`Args`] is both, of any length. [`AckIfAsked`] tells whether the
//! client asked for an acknowledgement, which `AckSender` alone does not say.

use std::convert::Infallible;
use std::fmt;
use std::sync::Arc;

use serde::de::{Deserialize, Deserializer, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeTuple, Serializer};
use serde_json::Value;
use socketioxide::adapter::LocalAdapter;
use socketioxide::extract::AckSender;
use socketioxide::handler::{FromMessageParts, Value as Packet};
use socketioxide::socket::Socket;

/// Every argument of an event, in order.
#[derive(Debug, Default, PartialEq)]
pub struct Args(pub Vec<Value>);

impl Serialize for Args {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut tuple = serializer.serialize_tuple(self.0.len())?;
        for value in &self.0 {
            tuple.serialize_element(value)?;
        }
        tuple.end()
    }
}

impl<'de> Deserialize<'de> for Args {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // The length is not known in advance; serde_json reads a tuple as the sequence it is.
        deserializer.deserialize_tuple(usize::MAX, ArgsVisitor)
    }
}

struct ArgsVisitor;

impl<'de> Visitor<'de> for ArgsVisitor {
    type Value = Args;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the arguments of an event")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Args, A::Error> {
        let mut values = Vec::with_capacity(seq.size_hint().unwrap_or(1));
        while let Some(value) = seq.next_element()? {
            values.push(value);
        }
        Ok(Args(values))
    }
}

/// The event's ack sender when the client asked for an acknowledgement.
pub struct AckIfAsked(pub Option<AckSender>);

impl FromMessageParts<LocalAdapter> for AckIfAsked {
    type Error = Infallible;

    fn from_message_parts(
        socket: &Arc<Socket<LocalAdapter>>,
        packet: &mut Packet,
        ack_id: &Option<i64>,
    ) -> Result<Self, Infallible> {
        let sender = AckSender::from_message_parts(socket, packet, ack_id)?;
        Ok(AckIfAsked(ack_id.map(|_| sender)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn takes_and_gives_every_argument() {
        let args: Args = serde_json::from_str(r#"[1,"two",{"three":3}]"#).unwrap();
        assert_eq!(args, Args(vec![json!(1), json!("two"), json!({"three": 3})]));
        assert_eq!(serde_json::to_string(&args).unwrap(), r#"[1,"two",{"three":3}]"#);
        let none: Args = serde_json::from_str("[]").unwrap();
        assert_eq!(none, Args::default());
    }
}
