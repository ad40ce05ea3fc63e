//! Session ids: 20 base64url characters from 15 CSPRNG bytes, like Node's
//! `base64id` — and the first byte also names the shard that owns the session.
//!
//! The shard is `byte0 % shards`: routing a request to its owner is arithmetic,
//! not a lookup in a shared table. The byte is still random within its residue
//! class, so ids look uniform to clients and keep ~117 bits of entropy.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;

/// Length of a session id on the wire.
pub const SID_LEN: usize = 20;
const RAW_LEN: usize = 15;
/// The most shards a sid can name (one byte).
pub const MAX_SHARDS: usize = 256;

/// A session id: 20 ASCII characters from the base64url alphabet.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Sid([u8; SID_LEN]);

/// Every table of sessions and sockets is keyed by sids, and every broadcast looks each
/// recipient up: one word is hashed, not twenty bytes. The server draws every sid it stores
/// (a client only names one to look it up), and sixteen of its characters carry 96 random
/// bits, folded into the word.
impl std::hash::Hash for Sid {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        let word = |i: usize| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&self.0[i..i + 8]);
            u64::from_le_bytes(w)
        };
        state.write_u64(word(4) ^ word(12).rotate_left(29));
    }
}

impl Sid {
    /// A fresh id owned by `shard` of `shards` (`shard < shards <= 256`).
    pub fn generate(shard: usize, shards: usize) -> Sid {
        Self::generate_with(&mut rand::rng(), shard, shards)
    }

    /// [`Sid::generate`] with the caller's random source.
    pub fn generate_with<R: RngCore + ?Sized>(rng: &mut R, shard: usize, shards: usize) -> Sid {
        assert!(
            shard < shards && shards <= MAX_SHARDS,
            "shard {shard} of {shards} cannot be encoded in a sid"
        );
        let mut raw = [0u8; RAW_LEN];
        rng.fill_bytes(&mut raw);
        raw[0] = owner_byte(raw[0], shard, shards);
        let mut sid = [0u8; SID_LEN];
        let written = URL_SAFE_NO_PAD.encode_slice(raw, &mut sid).expect("15 bytes encode to 20 characters");
        debug_assert_eq!(written, SID_LEN);
        Sid(sid)
    }

    /// Parses an id sent by a client; `None` unless it is 20 base64url characters.
    pub fn parse(s: &[u8]) -> Option<Sid> {
        let sid: [u8; SID_LEN] = s.try_into().ok()?;
        sid.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-' || *c == b'_').then_some(Sid(sid))
    }

    /// The shard that owns this session when the server runs `shards` shards.
    pub fn shard(&self, shards: usize) -> usize {
        let mut head = [0u8; 3];
        // Four base64url characters always decode to three bytes; `parse` checked the alphabet.
        let byte0 = match URL_SAFE_NO_PAD.decode_slice(&self.0[..4], &mut head) {
            Ok(_) => head[0],
            Err(_) => 0,
        };
        usize::from(byte0) % shards.max(1)
    }

    /// The sid as the client sees it (20 base64url characters).
    pub fn as_str(&self) -> &str {
        // Only base64url characters are ever stored.
        std::str::from_utf8(&self.0).expect("sid is ASCII")
    }

    /// The sid's characters, as bytes.
    pub fn as_bytes(&self) -> &[u8; SID_LEN] {
        &self.0
    }
}

/// Moves `random` into the residue class of `shard` modulo `shards`, staying in `0..=255`.
fn owner_byte(random: u8, shard: usize, shards: usize) -> u8 {
    let r = usize::from(random);
    let mut b = r - r % shards + shard;
    if b >= MAX_SHARDS {
        b -= shards;
    }
    u8::try_from(b).expect("reduced below 256")
}

impl fmt::Debug for Sid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sid({})", self.as_str())
    }
}

impl fmt::Display for Sid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_hashed_word_tells_sids_apart() {
        use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
        let hasher = BuildHasherDefault::<DefaultHasher>::default();
        let sids: Vec<Sid> = (0..20_000).map(|i| Sid::generate(i % 4, 4)).collect();
        let hashes: std::collections::HashSet<u64> = sids.iter().map(|s| hasher.hash_one(s)).collect();
        assert_eq!(hashes.len(), sids.len(), "two of 20 000 random sids hashed alike");
        // Equal sids hash alike, whatever their shard byte says.
        let sid = sids[7];
        assert_eq!(hasher.hash_one(sid), hasher.hash_one(Sid::parse(sid.as_str().as_bytes()).unwrap()));
    }

    #[test]
    fn looks_like_node_base64id() {
        let sid = Sid::generate(0, 1);
        assert_eq!(sid.as_str().len(), 20);
        assert!(sid.as_str().bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
        assert_ne!(Sid::generate(0, 1), sid, "two fresh ids collide");
    }

    #[test]
    fn parse_accepts_node_ids_and_rejects_others() {
        let node = Sid::parse(b"hLOEJXN07AE0GQCNAAAB").unwrap();
        assert_eq!(node.as_str(), "hLOEJXN07AE0GQCNAAAB");
        assert!(Sid::parse(b"hLOEJXN07AE0GQCNAAA").is_none(), "19 chars");
        assert!(Sid::parse(b"hLOEJXN07AE0GQCNAAAB1").is_none(), "21 chars");
        assert!(Sid::parse(b"hLOEJXN07AE0GQCNAA+/").is_none(), "standard base64 alphabet");
        assert!(Sid::parse(b"").is_none());
    }

    proptest! {
        #[test]
        fn owner_shard_round_trips(shards in 1usize..=256, pick in 0usize..256, seed in any::<u64>()) {
            use rand::SeedableRng;
            let shard = pick % shards;
            let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
            let sid = Sid::generate_with(&mut rng, shard, shards);
            prop_assert_eq!(sid.shard(shards), shard);
            prop_assert_eq!(Sid::parse(sid.as_bytes()), Some(sid));
        }

        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..32), shards in 1usize..=256) {
            if let Some(sid) = Sid::parse(&bytes) {
                prop_assert!(sid.shard(shards) < shards);
            }
        }
    }
}
