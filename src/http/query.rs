//! The Engine.IO query string (engine.io-protocol, "Transports" / "Handshake"): `EIO`,
//! `transport`, `sid`, `b64`, `j`, read the way Node's engine.io reads `req._query`, which is
//! `querystring.parse` of the URL's query.
//!
//! Percent-decoding and `+` as space are `form_urlencoded`'s, which borrows from the input when
//! nothing is encoded: the common request allocates nothing. `querystring.parse` turns a key
//! given twice into an array; engine.io then compares that array with strings, which behaves
//! like comparing the values joined with `,` (`String(["a","b"]) == "a,b"`): so do we.

use std::borrow::Cow;

/// `querystring.parse` reads at most this many `&`-separated pieces (`maxKeys`), empty ones
/// included.
const MAX_PAIRS: usize = 1000;

/// The Engine.IO parameters of one request, borrowed from its query.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EngineQuery<'a> {
    raw: &'a [u8],
    eio: Option<Cow<'a, str>>,
    transport: Option<Cow<'a, str>>,
    sid: Option<Cow<'a, str>>,
    b64: Option<Cow<'a, str>>,
    j: Option<Cow<'a, str>>,
    j_repeated: bool,
}

impl<'a> EngineQuery<'a> {
    /// Reads the query (the request-target after `?`, without it).
    pub fn parse(raw: &'a [u8]) -> Self {
        let mut query = EngineQuery { raw, ..EngineQuery::default() };
        for (key, value) in pairs(raw) {
            let slot = match &*key {
                "EIO" => &mut query.eio,
                "transport" => &mut query.transport,
                "sid" => &mut query.sid,
                "b64" => &mut query.b64,
                "j" => {
                    query.j_repeated |= query.j.is_some();
                    &mut query.j
                }
                _ => continue,
            };
            join(slot, value);
        }
        query
    }

    /// The query as received, still encoded: the Socket.IO layer hands it to handlers.
    pub fn raw(&self) -> &'a [u8] {
        self.raw
    }

    /// The raw `EIO` value.
    pub fn eio(&self) -> Option<&str> {
        self.eio.as_deref()
    }

    /// The protocol revision as engine.io decides it: 4 for exactly `EIO=4`, otherwise 3
    /// (which the handshake then refuses unless `allowEIO3`).
    pub fn protocol(&self) -> u8 {
        if self.eio() == Some("4") { 4 } else { 3 }
    }

    /// The requested transport (`polling`, `websocket`), compared as is against the enabled ones.
    pub fn transport(&self) -> Option<&str> {
        self.transport.as_deref()
    }

    /// The session id; `None` for a handshake. An empty `sid=` is a handshake too (`if (sid)`).
    pub fn sid(&self) -> Option<&str> {
        self.sid.as_deref().filter(|sid| !sid.is_empty())
    }

    /// Whether the v3 client can take binary payloads: not when `b64` has a non-empty value.
    pub fn supports_binary(&self) -> bool {
        self.b64.as_deref().is_none_or(str::is_empty)
    }

    /// `Some` for a JSONP poll (`j` given exactly once, as `typeof j === "string"`), holding the
    /// callback index: the digits of `j`, everything else dropped.
    pub fn jsonp_index(&self) -> Option<Cow<'_, str>> {
        let j = self.j.as_deref().filter(|_| !self.j_repeated)?;
        if j.bytes().all(|b| b.is_ascii_digit()) {
            Some(Cow::Borrowed(j))
        } else {
            Some(Cow::Owned(j.chars().filter(char::is_ascii_digit).collect()))
        }
    }

    /// Any parameter, decoded, repeated values joined with `,` as above.
    pub fn get(&self, name: &str) -> Option<Cow<'a, str>> {
        let mut found = None;
        for (key, value) in pairs(self.raw) {
            if key == name {
                join(&mut found, value);
            }
        }
        found
    }
}

fn pairs(raw: &[u8]) -> form_urlencoded::Parse<'_> {
    let end = memchr::memchr_iter(b'&', raw).nth(MAX_PAIRS - 1).unwrap_or(raw.len());
    form_urlencoded::parse(&raw[..end])
}

fn join<'a>(slot: &mut Option<Cow<'a, str>>, value: Cow<'a, str>) {
    match slot {
        None => *slot = Some(value),
        Some(previous) => {
            let joined = previous.to_mut();
            joined.push(',');
            joined.push_str(&value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// (query, EIO, transport, sid as engine.io sees it, protocol, supports_binary, jsonp index),
    /// checked against Node 20's `querystring.parse` and engine.io's reading of it.
    #[allow(clippy::type_complexity)]
    const CASES: &[(&str, Option<&str>, Option<&str>, Option<&str>, u8, bool, Option<&str>)] = &[
        ("EIO=4&transport=polling&t=N8hyd6w", Some("4"), Some("polling"), None, 4, true, None),
        (
            "EIO=4&transport=websocket&sid=abc%2Fdef%3D%3D",
            Some("4"),
            Some("websocket"),
            Some("abc/def=="),
            4,
            true,
            None,
        ),
        ("sid=a+b%20c", None, None, Some("a b c"), 3, true, None),
        ("%45IO=4&transport=p%6Flling", Some("4"), Some("polling"), None, 4, true, None),
        ("EIO=%34", Some("4"), None, None, 4, true, None),
        ("sid=", None, None, None, 3, true, None),
        ("sid=a&sid=b", None, None, Some("a,b"), 3, true, None),
        ("sid=&sid=", None, None, Some(","), 3, true, None),
        ("j=1&j=2", None, None, None, 3, true, None),
        ("j=a1b2", None, None, None, 3, true, Some("12")),
        ("j=", None, None, None, 3, true, Some("")),
        ("b64=1", None, None, None, 3, false, None),
        ("b64=", None, None, None, 3, true, None),
        ("b64=0", None, None, None, 3, false, None),
        ("sid=%zz%2", None, None, Some("%zz%2"), 3, true, None),
        ("sid=%E2%82%AC", None, None, Some("€"), 3, true, None),
        ("sid=%FF%E2%82", None, None, Some("\u{FFFD}\u{FFFD}"), 3, true, None),
        ("&&EIO=4&&", Some("4"), None, None, 4, true, None),
        ("EIO", Some(""), None, None, 3, true, None),
        ("=4&EIO=3&EIO=4", Some("3,4"), None, None, 3, true, None),
        ("", None, None, None, 3, true, None),
    ];

    #[test]
    fn node_table() {
        for &(raw, eio, transport, sid, protocol, binary, jsonp) in CASES {
            let q = EngineQuery::parse(raw.as_bytes());
            assert_eq!(q.eio(), eio, "{raw}");
            assert_eq!(q.transport(), transport, "{raw}");
            assert_eq!(q.sid(), sid, "{raw}");
            assert_eq!(q.protocol(), protocol, "{raw}");
            assert_eq!(q.supports_binary(), binary, "{raw}");
            assert_eq!(q.jsonp_index().as_deref(), jsonp, "{raw}");
            assert_eq!(q.raw(), raw.as_bytes());
        }
    }

    #[test]
    fn plain_values_are_borrowed() {
        let raw = b"EIO=4&transport=polling&sid=AAAAAAAAAAAAAAAAAAAA";
        let q = EngineQuery::parse(raw);
        for value in [&q.eio, &q.transport, &q.sid] {
            assert!(matches!(value, Some(Cow::Borrowed(_))));
        }
        assert!(matches!(q.get("sid"), Some(Cow::Borrowed("AAAAAAAAAAAAAAAAAAAA"))));
    }

    #[test]
    fn other_parameters() {
        let q = EngineQuery::parse(b"EIO=4&token=a%2Fb&x=1&x=2");
        assert_eq!(q.get("token").as_deref(), Some("a/b"));
        assert_eq!(q.get("x").as_deref(), Some("1,2"));
        assert_eq!(q.get("missing"), None);
    }

    #[test]
    fn only_the_first_thousand_pairs_count() {
        let raw = format!("{}EIO=4", "a=1&".repeat(MAX_PAIRS));
        assert_eq!(EngineQuery::parse(raw.as_bytes()).eio(), None);
        let raw = format!("{}EIO=4", "a=1&".repeat(MAX_PAIRS - 1));
        assert_eq!(EngineQuery::parse(raw.as_bytes()).eio(), Some("4"));
        let raw = format!("{}EIO=4", "&".repeat(MAX_PAIRS));
        assert_eq!(EngineQuery::parse(raw.as_bytes()).eio(), None);
        let raw = format!("{}EIO=4", "&".repeat(MAX_PAIRS - 1));
        assert_eq!(EngineQuery::parse(raw.as_bytes()).eio(), Some("4"));
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(raw in proptest::collection::vec(any::<u8>(), 0..256)) {
            let q = EngineQuery::parse(&raw);
            let _ = (q.protocol(), q.sid(), q.supports_binary(), q.jsonp_index(), q.get("x"));
        }

        #[test]
        fn encoded_values_round_trip(sid in "\\PC{0,30}", transport in "[a-z]{1,10}") {
            let raw: String = form_urlencoded::Serializer::new(String::new())
                .append_pair("EIO", "4")
                .append_pair("transport", &transport)
                .append_pair("sid", &sid)
                .finish();
            let q = EngineQuery::parse(raw.as_bytes());
            prop_assert_eq!(q.transport(), Some(transport.as_str()));
            prop_assert_eq!(q.sid(), Some(sid.as_str()).filter(|s| !s.is_empty()));
        }
    }
}
