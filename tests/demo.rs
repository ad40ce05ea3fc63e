//! The demo's own rules, without a server: nick and message cleaning, the user count shared by
//! the shards (`src/cli/demo/chat.rs`), and the page's assets and ETags
//! (`src/cli/demo/assets.rs`). The binary's modes are not part of the library; this test
//! compiles them through `tests/common/mod.rs` (`tests/browser.rs` drives the demo itself).

mod common;

use std::sync::Arc;

use proptest::prelude::*;

use common::cli::demo::chat::*;
use tpcio::prelude::Value;

#[test]
fn names_are_trimmed_cleaned_and_clipped() {
    let cases: &[(&str, Option<&str>)] = &[
        ("alice", Some("alice")),
        ("  bob \t", Some("bob")),
        ("", None),
        ("   ", None),
        ("\u{0}\u{7}\n", None),
        ("a\u{0}l\ni\rce", Some("alice")),
        ("rust 🦀 room", Some("rust 🦀 room")),
        ("abcdefghijklmnopqrstuvwxyz", Some("abcdefghijklmnopqrstuvwx")),
        // Clipping does not leave a trailing space.
        ("abcdefghijklmnopqrstuvw xyz", Some("abcdefghijklmnopqrstuvw")),
    ];
    for (raw, want) in cases {
        assert_eq!(clean_name(raw).as_deref(), *want, "{raw:?}");
    }
}

#[test]
fn texts_keep_up_to_500_characters() {
    assert_eq!(clean_text(" hello world ").as_deref(), Some("hello world"));
    assert_eq!(clean_text("é".repeat(600).as_str()).map(|t| t.chars().count()), Some(MAX_TEXT_CHARS));
    assert_eq!(clean_text("\n\n"), None);
}

#[test]
fn guests_are_named_after_their_id() {
    assert_eq!(guest_name("AbCdEfGhIjKlMnOpQrSt"), "guest-AbCd");
    assert_eq!(guest_name("xy"), "guest-xy");
}

#[test]
fn every_change_makes_a_newer_generation() {
    let users = UserCount::default();
    assert_eq!(users.change(1), Tally { generation: 1, count: 1 });
    assert_eq!(users.change(1), Tally { generation: 2, count: 2 });
    assert_eq!(users.change(-1), Tally { generation: 3, count: 1 });
    assert_eq!(users.change(-1), Tally { generation: 4, count: 0 });
    // Never below zero, even if a disconnect were counted twice.
    assert_eq!(users.change(-1), Tally { generation: 5, count: 0 });
}

#[test]
fn the_count_is_sent_as_an_object() {
    let value = Tally { generation: 7, count: 2 }.to_value();
    assert_eq!(value.get("count"), Some(&Value::from(2u32)));
    assert_eq!(value.get("generation"), Some(&Value::from(7u32)));
}

#[test]
fn concurrent_changes_all_count_and_the_newest_snapshot_is_right() {
    let users = Arc::new(UserCount::default());
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let users = users.clone();
            std::thread::spawn(move || {
                (0..1000).map(|i| users.change(if i % 3 == 2 { -1 } else { 1 })).collect()
            })
        })
        .collect();
    let snapshots: Vec<Tally> =
        threads.into_iter().flat_map(|t| t.join().unwrap_or_else(|_| Vec::new())).collect();
    assert_eq!(snapshots.len(), 4000);
    let newest = snapshots.iter().max_by_key(|t| t.generation).copied().unwrap_or_default();
    // 4 threads × (667 joins − 333 leaves); never negative on the way, as each thread
    // joins twice before it leaves once.
    assert_eq!(newest, Tally { generation: 4000, count: 4 * 334 });
    let mut generations: Vec<u32> = snapshots.iter().map(|t| t.generation).collect();
    generations.sort_unstable();
    generations.dedup();
    assert_eq!(generations.len(), 4000, "each change has its own generation");
}

proptest! {
    #[test]
    fn cleaning_never_panics_and_stays_in_bounds(raw in any::<String>()) {
        if let Some(name) = clean_name(&raw) {
            prop_assert!(!name.is_empty() && name.chars().count() <= MAX_NAME_CHARS);
            prop_assert!(!name.chars().any(char::is_control));
            prop_assert_eq!(name.trim(), name.as_str());
        }
        if let Some(text) = clean_text(&raw) {
            prop_assert!(!text.is_empty() && text.chars().count() <= MAX_TEXT_CHARS);
        }
    }

    #[test]
    fn tallies_pack_losslessly(generation in any::<u32>(), count in any::<u32>()) {
        let tally = Tally { generation, count };
        prop_assert_eq!(Tally::unpack(tally.pack()), tally);
    }
}

mod assets {
    use super::common::cli::demo::assets::*;

    #[test]
    fn fnv1a_matches_its_published_vectors() {
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn tags_are_quoted_hex() {
        assert_eq!(&etag_of(b"a"), b"\"af63dc4c8601ec8c\"");
        for asset in &ASSETS {
            assert_eq!(asset.etag, etag_of(asset.body), "{}", asset.path);
        }
    }

    #[test]
    fn if_none_match_lists() {
        let tag = b"\"af63dc4c8601ec8c\"";
        let cases: &[(&[u8], bool)] = &[
            (b"\"af63dc4c8601ec8c\"", true),
            (b"W/\"af63dc4c8601ec8c\"", true),
            (b"\"x\", \"af63dc4c8601ec8c\"", true),
            (b" * ", true),
            (b"\"x\"", false),
            (b"af63dc4c8601ec8c", false),
            (b"", false),
            (b",,", false),
        ];
        for (header, want) in cases {
            assert_eq!(etag_matches(header, tag), *want, "{:?}", String::from_utf8_lossy(header));
        }
    }

    #[test]
    fn the_msgpack_page_loads_the_msgpack_client() {
        let page = std::str::from_utf8(msgpack_page().body).unwrap_or_default();
        assert!(page.contains("<script src=\"/socket.io/socket.io.msgpack.min.js\"></script>"));
        assert!(!page.contains("socket.io.js"));
        assert_eq!(msgpack_page().etag, etag_of(msgpack_page().body));
        assert_ne!(msgpack_page().etag, ASSETS[0].etag);
    }

    #[test]
    fn the_page_loads_the_client_and_its_files() {
        let page = std::str::from_utf8(ASSETS[0].body).unwrap_or_default();
        for needle in ["/socket.io/socket.io.js", "/chat.js", "/chat.css", "id=\"messages\""] {
            assert!(page.contains(needle), "index.html lacks {needle}");
        }
    }
}
