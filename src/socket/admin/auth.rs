//! The admin namespace's login, as `@socket.io/admin-ui`'s middleware: a `sessionId` the server
//! gave before, else a username and a password checked against the bcrypt hash of the options.
//!
//! A bcrypt check costs tens of milliseconds of CPU by design: it runs on a thread of its own,
//! never on the shard (whose other connections would wait), and at most [`MAX_CHECKS`] at once;
//! a login over that bound is refused as invalid. Sessions are this process's (Node's
//! `InMemoryStore` is its process's too), the oldest forgotten past [`MAX_SESSIONS`].

use std::collections::{HashSet, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::AdminUiError;
use crate::protocol::value::Value;

/// bcryptjs's default cost (`genSaltSync()`).
const COST: u32 = 10;
/// bcrypt checks running at once, over every shard.
const MAX_CHECKS: usize = 4;
/// Login sessions kept.
const MAX_SESSIONS: usize = 1024;

static CHECKS: AtomicUsize = AtomicUsize::new(0);

pub(crate) fn hash(password: &str) -> Result<String, AdminUiError> {
    bcrypt::hash(password, COST).map_err(|e| AdminUiError::Hash(e.to_string()))
}

/// Whether `hash` is a bcrypt hash (bcryptjs's `getRounds` accepts it).
pub(crate) fn is_hash(hash: &str) -> bool {
    hash.parse::<bcrypt::HashParts>().is_ok()
}

/// The login sessions of this process: ids handed out by `session` events.
#[derive(Default)]
pub(crate) struct Sessions {
    ids: Mutex<(HashSet<String>, VecDeque<String>)>,
}

impl Sessions {
    pub(crate) fn contains(&self, id: &str) -> bool {
        self.ids.lock().unwrap_or_else(|e| e.into_inner()).0.contains(id)
    }

    /// A new session id: 8 random bytes in hex, as Node's `randomBytes(8).toString("hex")`.
    pub(crate) fn open(&self) -> String {
        let id: String = rand::random::<[u8; 8]>().iter().map(|b| format!("{b:02x}")).collect();
        let mut guard = self.ids.lock().unwrap_or_else(|e| e.into_inner());
        let (set, order) = &mut *guard;
        if order.len() >= MAX_SESSIONS
            && let Some(old) = order.pop_front()
        {
            set.remove(&old);
        }
        set.insert(id.clone());
        order.push_back(id.clone());
        id
    }
}

/// The verdict on a CONNECT's `auth`: `Ok(None)` for a known session, `Ok(Some(id))` for a
/// login (its new session), `Err(())` for anything else ("invalid credentials").
pub(crate) async fn check(
    auth: &Value,
    username: &str,
    hash: &str,
    sessions: &Sessions,
) -> Result<Option<String>, ()> {
    if let Some(Value::String(id)) = auth.get("sessionId")
        && sessions.contains(id)
    {
        return Ok(None);
    }
    let (Some(Value::String(user)), Some(Value::String(password))) =
        (auth.get("username"), auth.get("password"))
    else {
        return Err(());
    };
    if user != username || !verify(password.clone(), hash.to_owned()).await {
        return Err(());
    }
    Ok(Some(sessions.open()))
}

/// bcrypt's check on a thread of its own; `false` when [`MAX_CHECKS`] run already.
async fn verify(password: String, hash: String) -> bool {
    if CHECKS.fetch_add(1, Ordering::AcqRel) >= MAX_CHECKS {
        CHECKS.fetch_sub(1, Ordering::AcqRel);
        return false;
    }
    let (tx, rx) = futures_channel::oneshot::channel();
    let spawned = std::thread::Builder::new().name("tpcio-admin-bcrypt".into()).spawn(move || {
        let ok = bcrypt::verify(password, &hash).unwrap_or(false);
        CHECKS.fetch_sub(1, Ordering::AcqRel);
        let _ = tx.send(ok);
    });
    if spawned.is_err() {
        CHECKS.fetch_sub(1, Ordering::AcqRel);
        return false;
    }
    rx.await.unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_of_bcryptjs_are_accepted() {
        // Made by bcryptjs 2.4.3 (`hashSync("changeit", 4)`), as `@socket.io/admin-ui` users make theirs.
        let hash = "$2a$04$Fz/RCA0WXcXLRGBSsJHtUOlmvuHDir1hdLo/5LYUVPxKL2sWGCgsO";
        assert!(is_hash(hash));
        assert!(bcrypt::verify("changeit", hash).unwrap());
        assert!(!is_hash("changeit"));
        assert!(is_hash(&hash_cheap("x")));
    }

    fn hash_cheap(password: &str) -> String {
        bcrypt::hash(password, 4).unwrap()
    }

    #[test]
    fn a_check_takes_a_session_or_the_password() {
        let sessions = Sessions::default();
        let hash = hash_cheap("pw");
        let auth = |pairs: &[(&str, &str)]| {
            Value::Object(pairs.iter().map(|(k, v)| (k.to_string(), Value::from(*v))).collect())
        };
        let run = |auth: Value| futures_lite::future::block_on(check(&auth, "admin", &hash, &sessions));
        let session = run(auth(&[("username", "admin"), ("password", "pw")])).unwrap().unwrap();
        assert_eq!(session.len(), 16);
        assert_eq!(run(auth(&[("sessionId", &session)])), Ok(None));
        assert_eq!(run(auth(&[("sessionId", "0123456789abcdef")])), Err(()));
        assert_eq!(run(auth(&[("username", "admin"), ("password", "nope")])), Err(()));
        assert_eq!(run(auth(&[("username", "root"), ("password", "pw")])), Err(()));
        assert_eq!(run(Value::Object(Vec::new())), Err(()));
    }
}
