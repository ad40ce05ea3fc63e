//! The JSON of `Serialize` emits is byte for byte what Node's `JSON.stringify` writes for the
//! same values: each case is handed to a real `node` (as standard JSON, which `JSON.parse`
//! reads to the exact same values), which answers `JSON.stringify(JSON.parse(line))`; ours must
//! be identical. Floats cover the notation switches (1e21, 1e-7), subnormals, the extremes,
//! negative zero and ten thousand random bit patterns; strings every control character and
//! the characters other encoders escape (`/`, U+2028, DEL); integers past 2^53.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use serde::Serialize;
use tpcio::__private::protocol::value::ser::write_value;

fn ours<T: Serialize + ?Sized>(value: &T) -> String {
    let mut out = Vec::new();
    let mut attachments = Vec::new();
    write_value(value, &mut out, &mut attachments).expect("serializable");
    assert!(attachments.is_empty());
    String::from_utf8(out).expect("UTF-8")
}

/// `JSON.stringify(JSON.parse(line))` for each line, from one node process.
fn node_stringify(lines: &[String]) -> Vec<String> {
    common::node::require_node(&[]);
    let script = "const rl = require('readline').createInterface({ input: process.stdin });\
                  const out = []; rl.on('line', (l) => out.push(JSON.stringify(JSON.parse(l))));\
                  rl.on('close', () => process.stdout.write(out.join('\\n') + '\\n'));";
    let mut child = Command::new("node")
        .args(["-e", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("node starts");
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let input = lines.join("\n") + "\n";
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let answers: Vec<String> = BufReader::new(child.stdout.take().expect("stdout is piped"))
        .lines()
        .map(|l| l.expect("a line"))
        .collect();
    writer.join().expect("writer").expect("write to node");
    assert!(child.wait().expect("node exits").success());
    answers
}

fn check(cases: Vec<(String, String)>) {
    let (inputs, expected): (Vec<String>, Vec<String>) = cases.into_iter().unzip();
    let answers = node_stringify(&inputs);
    assert_eq!(answers.len(), expected.len());
    for ((input, ours), node) in inputs.iter().zip(&expected).zip(&answers) {
        assert_eq!(ours, node, "for {input}");
    }
}

fn case<T: Serialize>(value: &T) -> (String, String) {
    (serde_json::to_string(value).expect("standard JSON"), ours(value))
}

#[test]
fn floats_as_javascript_prints_them() {
    let mut values = vec![
        0.0,
        -0.0,
        1.0,
        -1.0,
        0.1,
        0.2 + 0.1,
        1.5,
        100.0,
        1e20,
        1e21,
        1.5e21,
        123456789012345680000.0,
        1e-6,
        1e-7,
        1.5e-7,
        0.000001234,
        5e-324,
        f64::MIN_POSITIVE,
        f64::MAX,
        f64::MIN,
        4.35,
        2f64.powi(53),
        2f64.powi(53) + 2.0,
        1.0 / 3.0,
        9007199254740993.0,
        1e300,
        1.7976931348623157e308,
    ];
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    while values.len() < 10_000 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let v = f64::from_bits(state);
        if v.is_finite() {
            values.push(v);
        }
    }
    check(values.iter().map(case).collect());
    // Several in one argument list, as an emit writes them.
    check(vec![case(&values[..50].to_vec())]);
}

#[test]
fn integers_past_two_to_the_53_as_the_double_javascript_holds() {
    let values: Vec<u64> =
        vec![0, 1, (1 << 53) - 1, 1 << 53, (1 << 53) + 1, 12345678901234567890, u64::MAX, 1 << 63];
    check(values.iter().map(case).collect());
    let signed: Vec<i64> = vec![-1, -(1 << 53) + 1, -(1 << 53) - 1, i64::MIN, i64::MAX];
    check(signed.iter().map(case).collect());
}

#[test]
fn strings_escaped_as_node_escapes_them() {
    let mut strings: Vec<String> =
        (0u32..0x20).map(|c| char::from_u32(c).expect("ASCII").to_string()).collect();
    strings.extend(
        [
            "\"",
            "\\",
            "/",
            "\u{7f}",
            "\u{2028}",
            "\u{2029}",
            "é🙂",
            "a\"b\\c/d\u{1}e\u{1f}f",
            "\u{feff}",
            "<>&'",
        ]
        .map(str::to_owned),
    );
    strings.push((0u32..0x250).filter_map(char::from_u32).collect());
    check(strings.iter().map(case).collect());
}

#[derive(Serialize)]
struct Nested<'a> {
    text: &'a str,
    n: f64,
    list: Vec<Option<f32>>,
    map: std::collections::BTreeMap<&'a str, (bool, u8)>,
    unit: (),
}

#[test]
fn structures_in_order_with_options_and_f32() {
    let value = Nested {
        text: "x\n\"y\"",
        n: 1e21,
        list: vec![Some(0.1), None, Some(-2.5e-8), Some(3.0)],
        map: [("b", (true, 7)), ("a", (false, 0))].into_iter().collect(),
        unit: (),
    };
    // f32 values are written with their own shortest digits, as the standard JSON is.
    check(vec![case(&value)]);
}
