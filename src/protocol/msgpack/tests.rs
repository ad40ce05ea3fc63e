//! Expected bytes were captured from notepack.io 3.0.1 (`require("notepack.io").encode(v)` in
//! Node 22) and, for the legacy forms, from notepack.io 2.2.0, the versions in
//! @socket.io/redis-adapter 8.3.0 and 7.2.0.

use super::*;
use proptest::prelude::*;

pub(crate) fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

fn enc(v: &Value) -> Vec<u8> {
    encode_to_vec(v)
}

fn obj(fields: &[(&str, Value)]) -> Value {
    Value::Object(fields.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect())
}

/// Encodes as notepack 3.0.1 did, and decodes back to the same value.
fn check(v: Value, want_hex: &str) {
    let want = hex(want_hex);
    assert_eq!(enc(&v), want, "encoding {v:?}");
    assert_eq!(decode(&want).unwrap(), v, "decoding {want_hex}");
}

#[test]
fn integers_at_each_threshold() {
    // captured from notepack.io 3.0.1 with encode(n)
    let unsigned: [(u64, &str); 11] = [
        (0, "00"),
        (127, "7f"),
        (128, "cc80"),
        (255, "ccff"),
        (256, "cd0100"),
        (65535, "cdffff"),
        (65536, "ce00010000"),
        (4294967295, "ceffffffff"),
        (4294967296, "cf0000000100000000"),
        (9007199254740991, "cf001fffffffffffff"),
        // 2^64 − 2048, the largest double below 2^64: read back as that double.
        (18446744073709549568, "cffffffffffffff800"),
    ];
    for (n, want) in unsigned {
        assert_eq!(enc(&Value::from(n)), hex(want), "{n}");
    }
    for (n, want) in &unsigned[..10] {
        check(Value::from(*n), want);
    }
    assert_eq!(decode(&hex("cffffffffffffff800")).unwrap(), Value::from(18446744073709549568.0));
    let signed: [(i64, &str); 11] = [
        (-1, "ff"),
        (-32, "e0"),
        (-33, "d0df"),
        (-128, "d080"),
        (-129, "d1ff7f"),
        (-32768, "d18000"),
        (-32769, "d2ffff7fff"),
        (-2147483648, "d280000000"),
        (-2147483649, "d3ffffffff7fffffff"),
        (-9007199254740991, "d3ffe0000000000001"),
        (i64::MIN, "d38000000000000000"),
    ];
    for (n, want) in signed {
        assert_eq!(enc(&Value::from(n)), hex(want), "{n}");
    }
    for (n, want) in &signed[..10] {
        check(Value::from(*n), want);
    }
    assert_eq!(decode(&hex("d38000000000000000")).unwrap(), Value::from(-9223372036854775808.0));
}

#[test]
fn doubles_as_notepack() {
    // captured from notepack.io 3.0.1 with encode(1.5), encode(-0.5), …
    check(Value::from(1.5), "cb3ff8000000000000");
    check(Value::from(-0.5), "cbbfe0000000000000");
    check(Value::from(0.1), "cb3fb999999999999a");
    check(Value::from(5e-324), "cb0000000000000001");
    // Integral doubles are integers: encode(2.0) and encode(-0) write 02 and 00.
    assert_eq!(enc(&Value::from(2.0)), hex("02"));
    assert_eq!(enc(&Value::from(-0.0)), hex("00"));
    assert_eq!(enc(&Value::from(-2.0)), hex("fe"));
    assert_eq!(enc(&Value::from(4294967296.0)), hex("cf0000000100000000"));
    assert_eq!(enc(&Value::from(-9223372036854775808.0)), hex("d38000000000000000"));
    // notepack writes encode(1e20) as cf6bc75e2d63100000 (the low 64 bits: another number)
    // and encode(1e300) as cf0000000000000000; we write the double.
    for v in [1e20f64, 1e300, -1.7976931348623157e308, 18446744073709551616.0] {
        let mut want = vec![0xcb];
        want.extend_from_slice(&v.to_be_bytes());
        assert_eq!(enc(&Value::from(v)), want, "{v}");
        assert_eq!(decode(&want).unwrap(), Value::from(v));
    }
}

#[test]
fn strings_and_binary_in_each_length_form() {
    // captured from notepack.io 3.0.1 with encode("x".repeat(n)) / encode(Buffer.alloc(n, 7))
    let strs = [
        (0, "a0"),
        (31, "bf"),
        (32, "d920"),
        (255, "d9ff"),
        (256, "da0100"),
        (65535, "daffff"),
        (65536, "db00010000"),
    ];
    for (n, header) in strs {
        let mut want = hex(header);
        want.extend(std::iter::repeat_n(b'x', n));
        assert_eq!(enc(&Value::from("x".repeat(n))), want, "str of {n}");
        assert_eq!(decode(&want).unwrap(), Value::from("x".repeat(n)));
    }
    check(Value::from("é€😀"), "a9c3a9e282acf09f9880");
    let bins = [(0, "c400"), (3, "c403"), (255, "c4ff"), (256, "c50100"), (65536, "c600010000")];
    for (n, header) in bins {
        let mut want = hex(header);
        want.extend(std::iter::repeat_n(7u8, n));
        let v = Value::from(vec![7u8; n]);
        assert_eq!(enc(&v), want, "bin of {n}");
        assert_eq!(decode(&want).unwrap(), v);
    }
}

#[test]
fn arrays_and_maps_in_each_header_form() {
    // captured from notepack.io 3.0.1 with encode([0..15)), encode([0..16)),
    // encode({k0: 0, …, k14: 14}), encode({k0: 0, …, k15: 15})
    let array = |n: u64| Value::Array((0..n).map(Value::from).collect());
    check(array(15), "9f000102030405060708090a0b0c0d0e");
    check(array(16), "dc0010000102030405060708090a0b0c0d0e0f");
    let map = |n: u64| Value::Object((0..n).map(|i| (format!("k{i}"), Value::from(i))).collect());
    check(
        map(15),
        "8fa26b3000a26b3101a26b3202a26b3303a26b3404a26b3505a26b3606a26b3707a26b3808a26b3909\
         a36b31300aa36b31310ba36b31320ca36b31330da36b31340e",
    );
    check(
        map(16),
        "de0010a26b3000a26b3101a26b3202a26b3303a26b3404a26b3505a26b3606a26b3707a26b3808a26b3909\
         a36b31300aa36b31310ba36b31320ca36b31330da36b31340ea36b31350f",
    );
    let mut big = hex("dd00010000");
    big.extend(std::iter::repeat_n(0xc0, 65536));
    assert_eq!(enc(&Value::Array(vec![Value::Null; 65536])), big);
}

#[test]
fn nested_values() {
    // captured from notepack.io 3.0.1 with
    // encode({a: [null, true, false, {b: Buffer.from([1, 2])}], "": {}, "é": [[]]})
    let v = obj(&[
        (
            "a",
            Value::Array(vec![
                Value::Null,
                Value::Bool(true),
                Value::Bool(false),
                obj(&[("b", Value::from(vec![1u8, 2]))]),
            ]),
        ),
        ("", obj(&[])),
        ("é", Value::Array(vec![Value::Array(vec![])])),
    ]);
    check(v, "83a16194c0c3c281a162c4020102a080a2c3a99190");
    // encode({b: 1, 1: 2, a: 3, 0: 4}): JS lists the index keys first.
    check(
        obj(&[("0", 4.into()), ("1", 2.into()), ("b", 1.into()), ("a", 3.into())]),
        "84a13004a13102a16201a16103",
    );
}

#[test]
fn dates_read_as_their_iso_string() {
    // captured from notepack.io 3.0.1 with encode(new Date(…)): timestamp ext −1.
    let table = [
        ("d6ff6553f100", "2023-11-14T22:13:20.000Z"),
        ("d7ffa1a5d60065937d25", "2024-01-02T03:04:05.678Z"),
        ("c70cff3b8b87c0ffffffffffffffff", "1969-12-31T23:59:59.999Z"),
        ("c70cff00000000000007dba8218000", "+275760-09-13T00:00:00.000Z"),
        ("c70cff1dcd6500fffffff185720bc0", "-000001-06-01T12:00:00.500Z"),
        // notepack.io 2.2.0: fixext8 type 0, signed milliseconds.
        ("d7000000018cc820db2e", "2024-01-02T03:04:05.678Z"),
        ("d700fffffffffad9a3ff", "1969-12-30T23:59:59.999Z"),
    ];
    for (bytes, iso) in table {
        assert_eq!(decode(&hex(bytes)).unwrap(), Value::from(iso), "{bytes}");
    }
    // Beyond the Date range: an invalid date, which JSON.stringify writes `null`.
    assert_eq!(decode(&hex("c70cff 00000000 7fffffff 00000000")).unwrap(), Value::Null);
    assert!(decode(&hex("c70bff 0000000000000000000000")).is_err(), "timestamp of 11 bytes");
}

#[test]
fn notepack2_legacy_forms() {
    // captured from notepack.io 2.2.0 with encode([undefined, 1]), encode(ArrayBuffer)
    assert_eq!(decode(&hex("92d4000001")).unwrap(), Value::Array(vec![Value::Null, Value::from(1u64)]));
    assert_eq!(decode(&hex("c70300010203")).unwrap(), Value::from(vec![1u8, 2, 3]));
    let mut ab300 = hex("c8012c00");
    ab300.extend(std::iter::repeat_n(9u8, 300));
    assert_eq!(decode(&ab300).unwrap(), Value::from(vec![9u8; 300]));
    assert_eq!(decode(&hex("c900000001 00 05")).unwrap(), Value::from(vec![5u8]));
}

#[test]
fn reads_other_msgpack_notepack_reads() {
    assert_eq!(decode(&hex("ca3fc00000")).unwrap(), Value::from(1.5));
    assert_eq!(decode(&hex("ca3dcccccd")).unwrap(), Value::from(f64::from(0.1f32)));
    assert_eq!(decode(&hex("cb7ff8000000000000")).unwrap(), Value::Null, "NaN");
    assert_eq!(decode(&hex("d000")).unwrap(), Value::from(0u64));
    assert_eq!(decode(&hex("d37fffffffffffffff")).unwrap(), Value::from(9223372036854775807.0));
    // Other extensions come back as `[type, buffer]`.
    assert_eq!(
        decode(&hex("d40507")).unwrap(),
        Value::Array(vec![Value::from(5i64), Value::from(vec![7u8])])
    );
    assert_eq!(
        decode(&hex("d5fe0102")).unwrap(),
        Value::Array(vec![Value::from(-2i64), Value::from(vec![1u8, 2])])
    );
    assert_eq!(decode(&hex("d60000000000")).unwrap().as_array().map(<[_]>::len), Some(2));
    // Invalid UTF-8 is replaced, as Buffer#toString does.
    assert_eq!(decode(&hex("a2ff61")).unwrap(), Value::from("\u{fffd}a"));
}

#[test]
fn map_keys_as_js_assigns_them() {
    // {1: "a", null: 2, true: 3, 1.5: 4, [1, null, "x"]: 5, {}: 6}
    let bytes = hex("86 01a161 c002 c303 cb3ff800000000000004 9301c0a17805 8006");
    let want = obj(&[
        ("1", "a".into()),
        ("null", 2.into()),
        ("true", 3.into()),
        ("1.5", 4.into()),
        ("1,,x", 5.into()),
        ("[object Object]", 6.into()),
    ]);
    assert_eq!(decode(&bytes).unwrap(), want);
    // A repeated key keeps its first place and its last value; `__proto__` is no own key.
    let bytes = hex("84 a16101 a16202 a16103 a95f5f70726f746f5f5f04");
    assert_eq!(decode(&bytes).unwrap(), obj(&[("a", 3.into()), ("b", 2.into())]));
    // Index keys first, even when hashed (more than 16 keys).
    let mut bytes = hex("de0014");
    for i in (0..20u8).rev() {
        msgpack_str(&format!("{}{i}", if i % 2 == 0 { "" } else { "k" }), &mut bytes);
        bytes.push(i);
    }
    let Value::Object(fields) = decode(&bytes).unwrap() else { panic!() };
    let keys: Vec<&str> = fields.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(&keys[..3], ["0", "2", "4"]);
    assert_eq!(&keys[10..13], ["k19", "k17", "k15"]);
}

fn msgpack_str(s: &str, out: &mut Vec<u8>) {
    write_str(s, out);
}

#[test]
fn refuses_malformed_input() {
    let bad = [
        "",         // nothing
        "c1",       // reserved
        "a561",     // string cut short
        "0102",     // trailing byte
        "92 01",    // array cut short
        "81 a161",  // map without its value
        "cd01",     // uint16 cut short
        "c4",       // bin without length
        "d6ff0000", // timestamp cut short
        "c70cff00", // ext cut short
    ];
    for b in bad {
        assert!(decode(&hex(b)).is_err(), "{b}");
    }
    // Declared lengths reserve nothing they cannot hold.
    for b in ["dd ffffffff", "df ffffffff", "db ffffffff", "c6 ffffffff", "c9 ffffffff 00"] {
        assert!(decode(&hex(b)).is_err(), "{b}");
    }
    let nest = |n: usize| {
        let mut bytes = vec![0x91; n];
        bytes.push(0xc0);
        bytes
    };
    assert!(decode(&nest(MAX_DEPTH)).is_ok());
    assert!(decode(&nest(MAX_DEPTH + 1)).is_err());
    assert!(decode(&nest(100_000)).is_err());
    let mut maps = [0x81u8, 0xa1, b'a'].repeat(MAX_DEPTH + 1);
    maps.push(0xc0);
    assert!(decode(&maps).is_err());
}

/// Values that survive a round trip unchanged: integral numbers as integers, objects with
/// distinct keys that are not array indexes.
fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-(1i64 << 53)..(1i64 << 53)).prop_map(Value::from),
        (-1e15f64..1e15).prop_filter("fraction", |f| f.fract() != 0.0).prop_map(Value::from),
        "\\PC{0,40}".prop_map(Value::from),
        proptest::collection::vec(any::<u8>(), 0..300).prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 64, 20, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..20).prop_map(Value::Array),
            proptest::collection::btree_map("k[a-z0-9]{0,6}", inner, 0..20)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn round_trips(v in value()) {
        prop_assert_eq!(decode(&enc(&v)).unwrap(), v);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = decode(&bytes);
    }

    #[test]
    fn cut_messages_are_refused(v in value(), cut in any::<prop::sample::Index>()) {
        let bytes = enc(&v);
        let at = cut.index(bytes.len());
        prop_assert!(decode(&bytes[..at]).is_err());
    }
}
