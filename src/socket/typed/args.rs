//! Reading an event's arguments into the type its handler asks for.
//!
//! The type says how it wants to be read, and that decides what it is read from:
//!
//! - a tuple, a `Vec`, `serde_json::Value`, anything that deserializes from a sequence or
//!   from "any" value: **all the arguments**, as one array (`(String, u32)` for
//!   `socket.emit("ev", "a", 1)`);
//! - `()`: **none**, whatever was sent;
//! - anything else (a struct, a map, a `String`, a number, an `Option`, an enum): **the first
//!   argument** (`Msg` for `socket.emit("ev", {text: "hi"})`); `null` when there is none.
//!
//! What it asks for is found once, when the handler is registered ([`Shape::of`]), by letting
//! the type's `Deserialize` make its first call on a probe that answers nothing.
//!
//! Events without binary are read from their JSON text with simd-json (no tree); events with
//! attachments are read from [`Value`]s, each buffer where its placeholder was (as `Bytes`,
//! `Vec<u8>` or `serde_bytes`).

use std::fmt;

use serde::de::{self, DeserializeOwned, Deserializer, Visitor};

use crate::protocol::value::{self, Value};
use crate::socket::api::Event;

/// What a handler's argument type is read from.
#[doc(hidden)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// Every argument, as one array.
    All,
    /// The first argument.
    First,
    /// None: `()` takes no argument and ignores those sent.
    Nothing,
}

impl Shape {
    /// How `T` wants to be read.
    pub fn of<T: DeserializeOwned>() -> Shape {
        match T::deserialize(Probe) {
            Err(Found(shape)) => shape,
            // The probe answers every call with an error: not reached.
            Ok(_) => Shape::All,
        }
    }
}

/// Why an event's arguments did not fit its handler's type.
#[derive(Debug, thiserror::Error)]
pub enum ArgsError {
    /// An argument's JSON did not parse, or did not fit the type.
    #[error(transparent)]
    Json(#[from] value::JsonError),
    /// The binary attachments do not match their placeholders.
    #[error("invalid binary attachments")]
    Attachments,
    /// An argument with attachments did not fit the type.
    #[error(transparent)]
    Value(#[from] value::ValueError),
}

/// Reads `event`'s arguments as `T`, from what `shape` says.
#[doc(hidden)]
pub fn decode<T: DeserializeOwned>(event: &Event, shape: Shape) -> Result<T, ArgsError> {
    if shape == Shape::Nothing {
        return Ok(value::from_json("null")?);
    }
    if event.attachments.is_empty() {
        return Ok(match shape {
            Shape::All => value::from_json_args(&event.args)?,
            Shape::First | Shape::Nothing => value::from_json(event.args.first().map_or("null", |a| &**a))?,
        });
    }
    let mut values = event.values().map_err(|_| ArgsError::Attachments)?;
    let value = match shape {
        Shape::All => Value::Array(values),
        Shape::First | Shape::Nothing if values.is_empty() => Value::Null,
        Shape::First | Shape::Nothing => values.swap_remove(0),
    };
    Ok(value::from_value(value)?)
}

#[derive(Debug)]
struct Found(Shape);

impl fmt::Display for Found {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self:?}")
    }
}

impl std::error::Error for Found {}

impl de::Error for Found {
    fn custom<M: fmt::Display>(_msg: M) -> Self {
        Found(Shape::All)
    }
}

/// Answers the first call a `Deserialize` makes with the [`Shape`] it implies.
struct Probe;

macro_rules! first {
    ($($method:ident),*) => {$(
        fn $method<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Found> {
            Err(Found(Shape::First))
        }
    )*};
}

impl<'de> Deserializer<'de> for Probe {
    type Error = Found;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Found> {
        Err(Found(Shape::All))
    }

    fn deserialize_seq<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Found> {
        Err(Found(Shape::All))
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, _: usize, _: V) -> Result<V::Value, Found> {
        Err(Found(Shape::All))
    }

    fn deserialize_unit<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Found> {
        Err(Found(Shape::Nothing))
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Found> {
        Err(Found(Shape::All))
    }

    first!(
        deserialize_bool,
        deserialize_i8,
        deserialize_i16,
        deserialize_i32,
        deserialize_i64,
        deserialize_i128,
        deserialize_u8,
        deserialize_u16,
        deserialize_u32,
        deserialize_u64,
        deserialize_u128,
        deserialize_f32,
        deserialize_f64,
        deserialize_char,
        deserialize_str,
        deserialize_string,
        deserialize_bytes,
        deserialize_byte_buf,
        deserialize_option,
        deserialize_map,
        deserialize_identifier
    );

    fn deserialize_unit_struct<V: Visitor<'de>>(self, _: &'static str, _: V) -> Result<V::Value, Found> {
        Err(Found(Shape::First))
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(self, _: &'static str, _: V) -> Result<V::Value, Found> {
        Err(Found(Shape::First))
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: usize,
        _: V,
    ) -> Result<V::Value, Found> {
        Err(Found(Shape::All))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, Found> {
        Err(Found(Shape::First))
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, Found> {
        Err(Found(Shape::First))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize)]
    #[allow(dead_code)]
    struct Msg {
        text: String,
    }

    #[derive(serde::Deserialize)]
    #[allow(dead_code)]
    struct Pair(String, u32);

    #[test]
    fn shapes_follow_what_the_type_asks_for() {
        assert_eq!(Shape::of::<(String, u32)>(), Shape::All);
        assert_eq!(Shape::of::<(String,)>(), Shape::All);
        assert_eq!(Shape::of::<()>(), Shape::Nothing);
        assert_eq!(Shape::of::<Vec<u32>>(), Shape::All);
        assert_eq!(Shape::of::<serde_json::Value>(), Shape::All);
        assert_eq!(Shape::of::<Value>(), Shape::All);
        assert_eq!(Shape::of::<Pair>(), Shape::All);
        assert_eq!(Shape::of::<Msg>(), Shape::First);
        assert_eq!(Shape::of::<String>(), Shape::First);
        assert_eq!(Shape::of::<u64>(), Shape::First);
        assert_eq!(Shape::of::<Option<String>>(), Shape::First);
        assert_eq!(Shape::of::<std::collections::HashMap<String, u32>>(), Shape::First);
        assert_eq!(Shape::of::<bytes::Bytes>(), Shape::First);
    }
}
