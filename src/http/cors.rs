//! CORS headers as the npm `cors` package 2.8 (the middleware Node's engine.io installs when its
//! `cors` option is set) writes them, in its order (Fetch standard, CORS protocol).
//!
//! Engine.IO applies none of this unless configured: the server holds an `Option<Cors>`, and
//! `None` means no `Access-Control-*` header at all. Differences from the package: no RegExp
//! origins and no per-request options callback.

use bytes::BytesMut;

use super::response::header;

/// The package's default `methods`.
pub const DEFAULT_METHODS: &str = "GET,HEAD,PUT,PATCH,POST,DELETE";

/// Which origins are allowed (the package's `origin` option).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Origins {
    /// `origin: "*"` (the default): `Access-Control-Allow-Origin: *`, even with credentials,
    /// which browsers then refuse. Use [`Origins::Reflect`] with credentials.
    #[default]
    Any,
    /// `origin: true`: echo whatever `Origin` the request has, with `Vary: Origin`.
    Reflect,
    /// `origin: "https://example.com"`: always that value, with `Vary: Origin`.
    Fixed(String),
    /// `origin: [..]`: echo the request's `Origin` if it is in the list (exact match), otherwise
    /// leave `Access-Control-Allow-Origin` out; `Vary: Origin` either way.
    List(Vec<String>),
}

/// The `cors` package's options that matter to Engine.IO.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cors {
    /// Which origins are allowed (Node's `cors.origin`).
    pub origins: Origins,
    /// `Access-Control-Allow-Credentials: true`.
    pub credentials: bool,
    /// Preflight `Access-Control-Allow-Methods`; empty sends none.
    pub methods: String,
    /// Preflight `Access-Control-Allow-Headers`. `None` reflects the request's
    /// `Access-Control-Request-Headers` (and adds it to `Vary`); an empty list sends none.
    pub allowed_headers: Option<String>,
    /// `Access-Control-Expose-Headers`, on every response.
    pub exposed_headers: Option<String>,
    /// Preflight `Access-Control-Max-Age`, in seconds.
    pub max_age: Option<u64>,
}

impl Default for Cors {
    fn default() -> Self {
        Cors {
            origins: Origins::Any,
            credentials: false,
            methods: DEFAULT_METHODS.to_owned(),
            allowed_headers: None,
            exposed_headers: None,
            max_age: None,
        }
    }
}

impl Cors {
    /// The headers of an actual (non-preflight) response, given the request's `Origin`.
    pub fn write_headers(&self, out: &mut BytesMut, origin: Option<&[u8]>) {
        self.write_origin(out, origin, false);
        self.write_credentials(out);
        self.write_exposed(out);
    }

    /// The headers of a preflight response, given the request's `Origin` and its
    /// `Access-Control-Request-Headers` fields (several are joined with `, `, as Node does).
    pub fn write_preflight<'a>(
        &self,
        out: &mut BytesMut,
        origin: Option<&[u8]>,
        request_headers: impl Iterator<Item = &'a [u8]>,
    ) {
        let reflect_headers = self.allowed_headers.is_none();
        let vary_written = self.write_origin(out, origin, reflect_headers);
        self.write_credentials(out);
        if !self.methods.is_empty() {
            header(out, b"Access-Control-Allow-Methods", self.methods.as_bytes());
        }
        match &self.allowed_headers {
            None => {
                // The `vary` package merges into the `Vary` already set, in its place.
                if !vary_written {
                    header(out, b"Vary", b"Access-Control-Request-Headers");
                }
                const NAME: &[u8] = b"Access-Control-Allow-Headers: ";
                let mark = out.len();
                out.extend_from_slice(NAME);
                for (i, value) in request_headers.enumerate() {
                    if i > 0 {
                        out.extend_from_slice(b", ");
                    }
                    out.extend_from_slice(value);
                }
                // Absent or empty: the package sends nothing.
                if out.len() == mark + NAME.len() {
                    out.truncate(mark);
                } else {
                    out.extend_from_slice(b"\r\n");
                }
            }
            Some(list) if !list.is_empty() => header(out, b"Access-Control-Allow-Headers", list.as_bytes()),
            Some(_) => {}
        }
        if let Some(max_age) = self.max_age {
            header(out, b"Access-Control-Max-Age", itoa::Buffer::new().format(max_age).as_bytes());
        }
        self.write_exposed(out);
    }

    /// `Access-Control-Allow-Origin` and `Vary: Origin` (plus `Access-Control-Request-Headers`
    /// when `also_vary_request_headers`). Returns whether a `Vary` was written.
    fn write_origin(
        &self,
        out: &mut BytesMut,
        origin: Option<&[u8]>,
        also_vary_request_headers: bool,
    ) -> bool {
        let allowed = match &self.origins {
            Origins::Any => {
                header(out, b"Access-Control-Allow-Origin", b"*");
                return false;
            }
            // The package treats the string "*" as "any".
            Origins::Fixed(fixed) if fixed == "*" => {
                header(out, b"Access-Control-Allow-Origin", b"*");
                return false;
            }
            Origins::Fixed(fixed) => Some(fixed.as_bytes()),
            Origins::Reflect => origin,
            Origins::List(list) => origin.filter(|o| list.iter().any(|allowed| allowed.as_bytes() == *o)),
        };
        // An empty Origin is falsy to the package: no header.
        if let Some(value) = allowed.filter(|v| !v.is_empty()) {
            header(out, b"Access-Control-Allow-Origin", value);
        }
        if also_vary_request_headers {
            header(out, b"Vary", b"Origin, Access-Control-Request-Headers");
        } else {
            header(out, b"Vary", b"Origin");
        }
        true
    }

    fn write_credentials(&self, out: &mut BytesMut) {
        if self.credentials {
            header(out, b"Access-Control-Allow-Credentials", b"true");
        }
    }

    fn write_exposed(&self, out: &mut BytesMut) {
        if let Some(exposed) = self.exposed_headers.as_deref().filter(|e| !e.is_empty()) {
            header(out, b"Access-Control-Expose-Headers", exposed.as_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn actual(cors: &Cors, origin: Option<&str>) -> String {
        let mut out = BytesMut::new();
        cors.write_headers(&mut out, origin.map(str::as_bytes));
        String::from_utf8_lossy(&out).into_owned()
    }

    fn preflight(cors: &Cors, origin: Option<&str>, requested: &[&str]) -> String {
        let mut out = BytesMut::new();
        cors.write_preflight(&mut out, origin.map(str::as_bytes), requested.iter().map(|h| h.as_bytes()));
        String::from_utf8_lossy(&out).into_owned()
    }

    #[test]
    fn origins() {
        let fixed = Cors { origins: Origins::Fixed("https://app.example".into()), ..Cors::default() };
        let star = Cors { origins: Origins::Fixed("*".into()), ..Cors::default() };
        let list =
            Cors { origins: Origins::List(vec!["https://a".into()]), credentials: true, ..Cors::default() };
        let reflect = Cors { origins: Origins::Reflect, ..Cors::default() };
        let any_credentials = Cors { credentials: true, ..Cors::default() };
        let cases: &[(&Cors, Option<&str>, &str)] = &[
            (&Cors::default(), Some("https://x"), "Access-Control-Allow-Origin: *\r\n"),
            (&Cors::default(), None, "Access-Control-Allow-Origin: *\r\n"),
            // As the package does, even though browsers refuse `*` with credentials.
            (
                &any_credentials,
                Some("https://x"),
                "Access-Control-Allow-Origin: *\r\nAccess-Control-Allow-Credentials: true\r\n",
            ),
            (&star, Some("https://x"), "Access-Control-Allow-Origin: *\r\n"),
            (
                &fixed,
                Some("https://x"),
                "Access-Control-Allow-Origin: https://app.example\r\nVary: Origin\r\n",
            ),
            (&fixed, None, "Access-Control-Allow-Origin: https://app.example\r\nVary: Origin\r\n"),
            (&reflect, Some("https://x"), "Access-Control-Allow-Origin: https://x\r\nVary: Origin\r\n"),
            (&reflect, None, "Vary: Origin\r\n"),
            (&reflect, Some(""), "Vary: Origin\r\n"),
            (
                &list,
                Some("https://a"),
                "Access-Control-Allow-Origin: https://a\r\nVary: Origin\r\nAccess-Control-Allow-Credentials: true\r\n",
            ),
            (&list, Some("https://A"), "Vary: Origin\r\nAccess-Control-Allow-Credentials: true\r\n"),
            (&list, None, "Vary: Origin\r\nAccess-Control-Allow-Credentials: true\r\n"),
        ];
        for (cors, origin, expected) in cases {
            assert_eq!(actual(cors, *origin), *expected, "{:?} {origin:?}", cors.origins);
        }
    }

    #[test]
    fn preflight_options() {
        let configured = Cors {
            origins: Origins::Reflect,
            credentials: false,
            methods: "GET,POST".into(),
            allowed_headers: Some("x-token".into()),
            exposed_headers: Some("x-id".into()),
            max_age: Some(0),
        };
        assert_eq!(
            preflight(&configured, Some("https://x"), &["x-ignored"]),
            "Access-Control-Allow-Origin: https://x\r\nVary: Origin\r\nAccess-Control-Allow-Methods: GET,POST\r\n\
             Access-Control-Allow-Headers: x-token\r\nAccess-Control-Max-Age: 0\r\nAccess-Control-Expose-Headers: x-id\r\n"
        );
        assert_eq!(
            actual(&configured, Some("https://x")),
            "Access-Control-Allow-Origin: https://x\r\nVary: Origin\r\nAccess-Control-Expose-Headers: x-id\r\n"
        );
        let bare = Cors { methods: String::new(), allowed_headers: Some(String::new()), ..Cors::default() };
        assert_eq!(preflight(&bare, None, &["x"]), "Access-Control-Allow-Origin: *\r\n");
        let reflect_headers = Cors::default();
        assert_eq!(
            preflight(&reflect_headers, None, &[""]),
            "Access-Control-Allow-Origin: *\r\nAccess-Control-Allow-Methods: GET,HEAD,PUT,PATCH,POST,DELETE\r\n\
             Vary: Access-Control-Request-Headers\r\n"
        );
    }
}
