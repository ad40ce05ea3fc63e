//! MessagePack as notepack.io 3 writes it (stub: to be written).

use crate::protocol::value::Value;

#[derive(Debug, thiserror::Error)]
pub enum MsgpackError {
    #[error("invalid msgpack: {0}")]
    Invalid(String),
}

pub fn encode(_value: &Value, _out: &mut Vec<u8>) {
    todo!()
}

pub fn encode_to_vec(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    encode(value, &mut out);
    out
}

pub fn decode(_bytes: &[u8]) -> Result<Value, MsgpackError> {
    todo!()
}
