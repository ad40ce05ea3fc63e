//! Event arguments from any `serde::Serialize` value, written as `JSON.stringify` writes them,
//! each binary leaf (`Bytes`, `serde_bytes`, anything serialized with `serialize_bytes`) taken
//! out as an attachment placeholder.
//!
//! serde_json does the walking and the string escaping (which is already `JSON.stringify`'s:
//! `"`, `\`, `\b \t \n \f \r` short, other controls as lowercase `\u00xx`, the rest verbatim);
//! [`JsFormatter`] changes what differs:
//!
//! - floats are written as JavaScript's `Number#toString` writes them (`ryu-js`): `1` not `1.0`,
//!   `1e+21` not `1e21`, `1.5e-7`; NaN and ±Infinity are `null` (serde_json already, and as
//!   `JSON.stringify`); `-0` is `0`. An `f32` is written with its own shortest digits (`0.1`,
//!   not the `0.10000000149011612` of the double it widens to).
//! - integers beyond `Number.MAX_SAFE_INTEGER` are written as the double JavaScript would hold
//!   (`2**64` → `18446744073709552000`), so a client reads what it prints.
//! - bytes become `{"_placeholder":true,"num":N}` and an attachment (copied: serde hands a
//!   serializer a `&[u8]`).
//!
//! The argument list: the value given to an emit *is* the list of arguments, as Node's
//! `emit(ev, ...args)` spreads its rest parameter. A tuple, an array, a slice or a `Vec` spreads
//! into one argument per element (`&("room", 3)` is two arguments, `&[Value::from(1)]` one);
//! `()` is none; anything else (a struct, a map, a string, a number, an `Option`) is one
//! argument. To send a list as a single argument, wrap it: `&(names,)`.

use std::io;

use bytes::Bytes;
use serde::Serialize;
use serde::ser::{self, Impossible, SerializeSeq, SerializeTuple};

/// Why arguments could not be written: a map whose keys are not strings, or a `Serialize`
/// impl that failed.
#[derive(Debug, thiserror::Error)]
#[error("arguments not serializable: {0}")]
pub struct SerError(#[from] serde_json::Error);

/// A serde_json formatter that writes what `JSON.stringify` writes (see the module docs).
pub struct JsFormatter<'a> {
    attachments: &'a mut Vec<Bytes>,
}

const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

fn write_double<W: ?Sized + io::Write>(writer: &mut W, value: f64) -> io::Result<()> {
    writer.write_all(ryu_js::Buffer::new().format(value).as_bytes())
}

impl serde_json::ser::Formatter for JsFormatter<'_> {
    fn write_i64<W: ?Sized + io::Write>(&mut self, writer: &mut W, value: i64) -> io::Result<()> {
        match value.unsigned_abs() > MAX_SAFE_INTEGER {
            true => write_double(writer, value as f64),
            false => writer.write_all(itoa::Buffer::new().format(value).as_bytes()),
        }
    }

    fn write_i128<W: ?Sized + io::Write>(&mut self, writer: &mut W, value: i128) -> io::Result<()> {
        match value.unsigned_abs() > u128::from(MAX_SAFE_INTEGER) {
            true => write_double(writer, value as f64),
            false => writer.write_all(itoa::Buffer::new().format(value).as_bytes()),
        }
    }

    fn write_u64<W: ?Sized + io::Write>(&mut self, writer: &mut W, value: u64) -> io::Result<()> {
        match value > MAX_SAFE_INTEGER {
            true => write_double(writer, value as f64),
            false => writer.write_all(itoa::Buffer::new().format(value).as_bytes()),
        }
    }

    fn write_u128<W: ?Sized + io::Write>(&mut self, writer: &mut W, value: u128) -> io::Result<()> {
        match value > u128::from(MAX_SAFE_INTEGER) {
            true => write_double(writer, value as f64),
            false => writer.write_all(itoa::Buffer::new().format(value).as_bytes()),
        }
    }

    fn write_f32<W: ?Sized + io::Write>(&mut self, writer: &mut W, value: f32) -> io::Result<()> {
        writer.write_all(ryu_js::Buffer::new().format(value).as_bytes())
    }

    fn write_f64<W: ?Sized + io::Write>(&mut self, writer: &mut W, value: f64) -> io::Result<()> {
        write_double(writer, value)
    }

    fn write_byte_array<W: ?Sized + io::Write>(&mut self, writer: &mut W, value: &[u8]) -> io::Result<()> {
        writer.write_all(b"{\"_placeholder\":true,\"num\":")?;
        writer.write_all(itoa::Buffer::new().format(self.attachments.len()).as_bytes())?;
        writer.write_all(b"}")?;
        self.attachments.push(Bytes::copy_from_slice(value));
        Ok(())
    }
}

/// Writes one value as `JSON.stringify` would, bytes as placeholders pushed onto
/// `attachments` (numbering continues after those already there).
pub fn write_value<T: Serialize + ?Sized>(
    value: &T,
    out: &mut Vec<u8>,
    attachments: &mut Vec<Bytes>,
) -> Result<(), SerError> {
    let mut ser = serde_json::Serializer::with_formatter(out, JsFormatter { attachments });
    Ok(value.serialize(&mut ser)?)
}

/// Writes the arguments `args` stands for (see the module docs), each preceded by `,` but
/// the first when `lead` is false, bytes as placeholders. Returns the number of arguments.
/// When `bounds` is given, each argument's byte range in `out` is pushed onto it.
pub fn write_args<T: Serialize + ?Sized>(
    args: &T,
    out: &mut Vec<u8>,
    attachments: &mut Vec<Bytes>,
    lead: bool,
    bounds: Option<&mut Vec<(usize, usize)>>,
) -> Result<usize, SerError> {
    let mut writer = ArgsWriter { out, attachments, lead, count: 0, bounds };
    match args.serialize(ShapeProbe) {
        Err(Probed::Shape(Shape::None)) => {}
        Err(Probed::Shape(Shape::Spread)) => args.serialize(&mut writer)?,
        _ => writer.arg(args)?,
    }
    Ok(writer.count)
}

/// What the top of an argument list is.
#[derive(Debug)]
enum Shape {
    /// `()`: no argument.
    None,
    /// A sequence or tuple: one argument per element.
    Spread,
    /// Anything else: one argument.
    One,
}

/// The probe's answer travels as its error, so it stops at the first call.
#[derive(Debug)]
enum Probed {
    Shape(Shape),
    Custom,
}

impl std::fmt::Display for Probed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self:?}")
    }
}

impl std::error::Error for Probed {}

impl ser::Error for Probed {
    fn custom<M: std::fmt::Display>(_msg: M) -> Self {
        Probed::Custom
    }
}

/// Finds the [`Shape`] of a value: the first serializer call its `Serialize` makes (through
/// `Option` and newtype wrappers, which serde_json writes transparently).
struct ShapeProbe;

macro_rules! probe_one {
    ($($method:ident($($ty:ty),*);)*) => {$(
        fn $method(self, $(_: $ty),*) -> Result<(), Probed> {
            Err(Probed::Shape(Shape::One))
        }
    )*};
}

impl ser::Serializer for ShapeProbe {
    type Ok = ();
    type Error = Probed;
    type SerializeSeq = Impossible<(), Probed>;
    type SerializeTuple = Impossible<(), Probed>;
    type SerializeTupleStruct = Impossible<(), Probed>;
    type SerializeTupleVariant = Impossible<(), Probed>;
    type SerializeMap = Impossible<(), Probed>;
    type SerializeStruct = Impossible<(), Probed>;
    type SerializeStructVariant = Impossible<(), Probed>;

    probe_one! {
        serialize_bool(bool);
        serialize_i8(i8);
        serialize_i16(i16);
        serialize_i32(i32);
        serialize_i64(i64);
        serialize_i128(i128);
        serialize_u8(u8);
        serialize_u16(u16);
        serialize_u32(u32);
        serialize_u64(u64);
        serialize_u128(u128);
        serialize_f32(f32);
        serialize_f64(f64);
        serialize_char(char);
        serialize_str(&str);
        serialize_bytes(&[u8]);
        serialize_none();
        serialize_unit_struct(&'static str);
        serialize_unit_variant(&'static str, u32, &'static str);
    }

    fn serialize_unit(self) -> Result<(), Probed> {
        Err(Probed::Shape(Shape::None))
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Probed> {
        value.serialize(self)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<(), Probed> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<(), Probed> {
        Err(Probed::Shape(Shape::One))
    }

    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, Probed> {
        Err(Probed::Shape(Shape::Spread))
    }

    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, Probed> {
        Err(Probed::Shape(Shape::Spread))
    }

    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeTupleStruct, Probed> {
        Err(Probed::Shape(Shape::One))
    }

    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, Probed> {
        Err(Probed::Shape(Shape::One))
    }

    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, Probed> {
        Err(Probed::Shape(Shape::One))
    }

    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeStruct, Probed> {
        Err(Probed::Shape(Shape::One))
    }

    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, Probed> {
        Err(Probed::Shape(Shape::One))
    }
}

/// Writes a spread argument list, one argument per element; [`ShapeProbe`] said it is one.
struct ArgsWriter<'a, 'b> {
    out: &'a mut Vec<u8>,
    attachments: &'a mut Vec<Bytes>,
    lead: bool,
    count: usize,
    bounds: Option<&'b mut Vec<(usize, usize)>>,
}

impl ArgsWriter<'_, '_> {
    fn arg<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), serde_json::Error> {
        if self.lead || self.count > 0 {
            self.out.push(b',');
        }
        let start = self.out.len();
        let mut ser = serde_json::Serializer::with_formatter(
            &mut *self.out,
            JsFormatter { attachments: &mut *self.attachments },
        );
        value.serialize(&mut ser)?;
        if let Some(bounds) = self.bounds.as_deref_mut() {
            bounds.push((start, self.out.len()));
        }
        self.count += 1;
        Ok(())
    }
}

fn changed_shape() -> serde_json::Error {
    ser::Error::custom("a Serialize impl changed its shape between two calls")
}

macro_rules! not_spread {
    ($($method:ident($($ty:ty),*);)*) => {$(
        fn $method(self, $(_: $ty),*) -> Result<(), serde_json::Error> {
            Err(changed_shape())
        }
    )*};
}

impl ser::Serializer for &mut ArgsWriter<'_, '_> {
    type Ok = ();
    type Error = serde_json::Error;
    type SerializeSeq = Self;
    type SerializeTuple = Self;
    type SerializeTupleStruct = Impossible<(), serde_json::Error>;
    type SerializeTupleVariant = Impossible<(), serde_json::Error>;
    type SerializeMap = Impossible<(), serde_json::Error>;
    type SerializeStruct = Impossible<(), serde_json::Error>;
    type SerializeStructVariant = Impossible<(), serde_json::Error>;

    not_spread! {
        serialize_bool(bool);
        serialize_i8(i8);
        serialize_i16(i16);
        serialize_i32(i32);
        serialize_i64(i64);
        serialize_i128(i128);
        serialize_u8(u8);
        serialize_u16(u16);
        serialize_u32(u32);
        serialize_u64(u64);
        serialize_u128(u128);
        serialize_f32(f32);
        serialize_f64(f64);
        serialize_char(char);
        serialize_str(&str);
        serialize_bytes(&[u8]);
        serialize_none();
        serialize_unit();
        serialize_unit_struct(&'static str);
        serialize_unit_variant(&'static str, u32, &'static str);
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), serde_json::Error> {
        value.serialize(self)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<(), serde_json::Error> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<(), serde_json::Error> {
        Err(changed_shape())
    }

    fn serialize_seq(self, _len: Option<usize>) -> Result<Self, serde_json::Error> {
        Ok(self)
    }

    fn serialize_tuple(self, _len: usize) -> Result<Self, serde_json::Error> {
        Ok(self)
    }

    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, serde_json::Error> {
        Err(changed_shape())
    }

    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, serde_json::Error> {
        Err(changed_shape())
    }

    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, serde_json::Error> {
        Err(changed_shape())
    }

    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeStruct, serde_json::Error> {
        Err(changed_shape())
    }

    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, serde_json::Error> {
        Err(changed_shape())
    }
}

impl SerializeSeq for &mut ArgsWriter<'_, '_> {
    type Ok = ();
    type Error = serde_json::Error;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), serde_json::Error> {
        self.arg(value)
    }

    fn end(self) -> Result<(), serde_json::Error> {
        Ok(())
    }
}

impl SerializeTuple for &mut ArgsWriter<'_, '_> {
    type Ok = ();
    type Error = serde_json::Error;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), serde_json::Error> {
        self.arg(value)
    }

    fn end(self) -> Result<(), serde_json::Error> {
        Ok(())
    }
}

/// A value serializes as it is written on the wire (see [`super::write_json`]), its buffers as
/// bytes: through the emits of this module they become attachments again.
impl Serialize for super::Value {
    fn serialize<S: ser::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use super::Value;
        match self {
            // `none`, not `unit`: `null` is one argument, `()` none.
            Value::Null => s.serialize_none(),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::Number(n) => n.serialize(s),
            Value::String(v) => s.serialize_str(v),
            Value::Binary(b) => s.serialize_bytes(b),
            Value::Array(items) => s.collect_seq(items),
            Value::Object(fields) => s.collect_map(fields.iter().map(|(k, v)| (k, v))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::value::Value;

    fn args<T: Serialize + ?Sized>(value: &T) -> (String, usize, Vec<Bytes>) {
        let (mut out, mut attachments) = (Vec::new(), Vec::new());
        let n = write_args(value, &mut out, &mut attachments, false, None).expect("serializable");
        (String::from_utf8(out).expect("UTF-8"), n, attachments)
    }

    #[derive(Serialize)]
    struct Msg<'a> {
        text: &'a str,
        n: f64,
    }

    #[test]
    fn the_value_is_the_argument_list() {
        assert_eq!(args(&()), (String::new(), 0, vec![]));
        assert_eq!(args(&("a", 1)), (r#""a",1"#.into(), 2, vec![]));
        assert_eq!(args(&[1, 2, 3]), ("1,2,3".into(), 3, vec![]));
        assert_eq!(args(&vec!["x"]), (r#""x""#.into(), 1, vec![]));
        assert_eq!(args(&(vec!["x", "y"],)), (r#"["x","y"]"#.into(), 1, vec![]));
        assert_eq!(args("text"), (r#""text""#.into(), 1, vec![]));
        assert_eq!(args(&Msg { text: "hi", n: 2.0 }), (r#"{"text":"hi","n":2}"#.into(), 1, vec![]));
        assert_eq!(args(&Some(("a", 1.5))), (r#""a",1.5"#.into(), 2, vec![]));
        assert_eq!(args(&None::<u8>), ("null".into(), 1, vec![]));
        assert_eq!(args(&Value::Null), ("null".into(), 1, vec![]));
        assert_eq!(args(&[Value::from("a"), Value::from(1e21)]), (r#""a",1e+21"#.into(), 2, vec![]));
        assert_eq!(args(&f64::NAN), ("null".into(), 1, vec![]));
    }

    #[test]
    fn bytes_become_numbered_placeholders() {
        let (json, n, attachments) =
            args(&(Bytes::from_static(b"\x01"), ("x", Bytes::from_static(b"\x02\x03"))));
        assert_eq!(json, r#"{"_placeholder":true,"num":0},["x",{"_placeholder":true,"num":1}]"#);
        assert_eq!(n, 2);
        assert_eq!(attachments, [Bytes::from_static(b"\x01"), Bytes::from_static(b"\x02\x03")]);
        let (json, _, attachments) = args(&[Value::Binary(Bytes::from_static(b"z"))]);
        assert_eq!(json, r#"{"_placeholder":true,"num":0}"#);
        assert_eq!(attachments.len(), 1);
    }

    #[test]
    fn leading_comma_and_bounds() {
        let (mut out, mut attachments, mut bounds) = (b"[\"ev\"".to_vec(), Vec::new(), Vec::new());
        write_args(&("a", [1, 2]), &mut out, &mut attachments, true, Some(&mut bounds)).expect("ok");
        assert_eq!(out, br#"["ev","a",[1,2]"#);
        assert_eq!(bounds, [(6, 9), (10, 15)]);
    }

    #[test]
    fn maps_with_keys_that_are_not_strings_are_refused() {
        let map: std::collections::BTreeMap<Vec<u8>, u8> = [(vec![1], 1)].into_iter().collect();
        assert!(write_args(&(map,), &mut Vec::new(), &mut Vec::new(), false, None).is_err());
    }
}
