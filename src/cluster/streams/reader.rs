//! A shard's reader of one stream: `XREAD COUNT {readCount} BLOCK {blockTime} STREAMS {stream}
//! {last id}` in a loop on a connection of its own, from `$` (what is added from now on), as
//! Node's `startPolling`. Each entry goes to the shard's adapter with its id, in stream order.
//!
//! While Redis is down the read fails at once; the loop waits for the connection to be back
//! (it reconnects by itself) and goes on from the last id it read, so entries added during a
//! short outage are still read (Node does the same; entries trimmed meanwhile are lost).

use std::rc::Weak;
use std::time::Duration;

use bytes::Bytes;

use crate::cluster::adapter::ClusterShard;
use crate::cluster::redis::{Client, Reply};

/// One entry: its id and its fields, in order.
pub(crate) type Entry = (String, Vec<(Bytes, Bytes)>);

/// Reads `stream` until the adapter is gone, handing each entry to it.
pub(crate) async fn run(
    adapter: Weak<ClusterShard>,
    client: Client,
    stream: String,
    count: u32,
    block: Duration,
) {
    let mut last = "$".to_owned();
    loop {
        if adapter.strong_count() == 0 {
            break;
        }
        let command = vec![
            Bytes::from_static(b"XREAD"),
            Bytes::from_static(b"COUNT"),
            Bytes::from(count.to_string()),
            Bytes::from_static(b"BLOCK"),
            Bytes::from(block.as_millis().to_string()),
            Bytes::from_static(b"STREAMS"),
            Bytes::from(stream.clone()),
            Bytes::from(last.clone()),
        ];
        match client.command(command).await {
            Ok(reply) => {
                let Some(adapter) = adapter.upgrade() else { break };
                for (id, fields) in xread_entries(reply) {
                    adapter.on_stream_entry(&id, &fields);
                    last = id;
                }
            }
            Err(_) => {
                // Counted and logged by the connection; wait until it is back.
                glommio::timer::sleep(Duration::from_millis(100)).await;
                client.connected().await;
            }
        }
    }
    client.close();
}

/// The entries of an `XREAD` reply (RESP2 `[[stream, [entry, …]], …]`, RESP3 `{stream: [entry,
/// …]}`, nil on a timeout); anything else reads as none.
pub(crate) fn xread_entries(reply: Reply) -> Vec<Entry> {
    let per_stream: Vec<Reply> = match reply {
        Reply::Array(streams) => streams
            .into_iter()
            .filter_map(|s| match s {
                Reply::Array(mut pair) if pair.len() == 2 => pair.pop(),
                _ => None,
            })
            .collect(),
        Reply::Map(pairs) => pairs.into_iter().map(|(_, v)| v).collect(),
        _ => Vec::new(),
    };
    per_stream.into_iter().flat_map(xrange_entries).collect()
}

/// The entries of an `XRANGE` reply (`[[id, [field, value, …]], …]`).
pub(crate) fn xrange_entries(reply: Reply) -> Vec<Entry> {
    match reply {
        Reply::Array(items) => items.into_iter().filter_map(entry).collect(),
        _ => Vec::new(),
    }
}

fn entry(r: Reply) -> Option<Entry> {
    let Reply::Array(mut pair) = r else { return None };
    if pair.len() != 2 {
        return None;
    }
    let fields = pair.pop()?;
    let id = String::from_utf8(pair.pop()?.as_bytes()?.to_vec()).ok()?;
    let Reply::Array(flat) = fields else { return Some((id, Vec::new())) };
    let mut out = Vec::with_capacity(flat.len() / 2);
    let mut it = flat.into_iter();
    while let (Some(k), Some(v)) = (it.next(), it.next()) {
        if let (Reply::Bulk(k), Reply::Bulk(v)) = (k, v) {
            out.push((k, v));
        }
    }
    Some((id, out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(s: &str) -> Reply {
        Reply::Bulk(Bytes::from(s.to_owned()))
    }

    fn one(id: &str) -> Reply {
        Reply::Array(vec![bulk(id), Reply::Array(vec![bulk("uid"), bulk("u"), bulk("nsp"), bulk("/")])])
    }

    #[test]
    fn xread_and_xrange_replies() {
        let xread = Reply::Array(vec![Reply::Array(vec![
            bulk("socket.io"),
            Reply::Array(vec![one("1-0"), one("1-1")]),
        ])]);
        let got = xread_entries(xread);
        assert_eq!(got.len(), 2);
        assert_eq!(got[1].0, "1-1");
        assert_eq!(got[0].1[1], (Bytes::from("nsp"), Bytes::from("/")));
        let resp3 = Reply::Map(vec![(bulk("socket.io"), Reply::Array(vec![one("2-0")]))]);
        assert_eq!(xread_entries(resp3)[0].0, "2-0");
        let xrange = Reply::Array(vec![one("3-0"), one("3-1"), one("3-2")]);
        assert_eq!(
            xrange_entries(xrange).iter().map(|e| e.0.as_str()).collect::<Vec<_>>(),
            ["3-0", "3-1", "3-2"]
        );
        assert!(xread_entries(Reply::Nil).is_empty());
        assert!(xrange_entries(Reply::Array(Vec::new())).is_empty());
    }
}
