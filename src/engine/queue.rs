//! A session's outgoing queue (Node's `writeBuffer`) with the two bounds Node does not have:
//! a number of packets ([`EngineConfig::max_buffered_packets`]) and a number of bytes
//! ([`EngineConfig::max_buffered_bytes`]).
//!
//! The bytes are counted as the client will receive them, one type digit plus the data, so a
//! broadcast shared by many sessions counts in full for each: the bound is about what one
//! client owes, not about the memory it pins. The count is kept as packets come and go, so
//! checking the bound costs nothing whatever the queue's length.

use std::ops::{Deref, RangeFull};

use super::EngineConfig;
use crate::protocol::Packet;

/// The packets not yet handed to a transport, and their size.
#[derive(Debug, Default)]
pub(crate) struct OutQueue {
    packets: Vec<Packet>,
    bytes: usize,
    /// How many packets [`OutQueue::take_all`] took last: the storage a refill starts with,
    /// so a session that gets bursts (a busy broadcast) does not grow it packet by packet
    /// each time, while an idle one keeps none.
    last_taken: u32,
}

/// The least storage a refill starts with (what `Vec` would grow to on its first push).
const MIN_REFILL: usize = 4;
/// The most: a longer burst grows from there.
const MAX_REFILL: usize = 256;

/// What one packet counts against the byte bound.
fn size(packet: &Packet) -> usize {
    1 + packet.data.len()
}

impl OutQueue {
    /// Whether `packet` must be refused. A packet is always taken by an empty queue, so a
    /// single message larger than the byte bound is still sent rather than never.
    pub(crate) fn is_full_for(&self, packet: &Packet, config: &EngineConfig) -> bool {
        if self.packets.len() >= config.max_buffered_packets {
            return true;
        }
        !self.packets.is_empty() && self.bytes + size(packet) > config.max_buffered_bytes
    }

    pub(crate) fn push(&mut self, packet: Packet) {
        self.bytes += size(&packet);
        if self.packets.capacity() == 0 {
            self.packets.reserve_exact((self.last_taken as usize).clamp(MIN_REFILL, MAX_REFILL));
        }
        self.packets.push(packet);
    }

    /// Takes every packet out with its storage: an emptied queue holds no memory.
    pub(crate) fn take_all(&mut self) -> Vec<Packet> {
        self.bytes = 0;
        self.last_taken = u32::try_from(self.packets.len()).unwrap_or(u32::MAX);
        std::mem::take(&mut self.packets)
    }

    /// The bytes queued, as counted against [`EngineConfig::max_buffered_bytes`].
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    pub(crate) fn clear(&mut self) {
        self.packets.clear();
        self.bytes = 0;
    }

    /// Takes every packet out (`Vec::drain(..)`), keeping the storage.
    pub(crate) fn drain(&mut self, all: RangeFull) -> std::vec::Drain<'_, Packet> {
        self.bytes = 0;
        self.packets.drain(all)
    }

    /// Takes the first `n` packets out (at most all of them), in order.
    pub(crate) fn drain_front(&mut self, n: usize) -> std::vec::Drain<'_, Packet> {
        let n = n.min(self.packets.len());
        self.bytes -= self.packets[..n].iter().map(size).sum::<usize>();
        self.packets.drain(..n)
    }
}

impl Deref for OutQueue {
    type Target = [Packet];

    fn deref(&self) -> &[Packet] {
        &self.packets
    }
}

impl IntoIterator for OutQueue {
    type Item = Packet;
    type IntoIter = std::vec::IntoIter<Packet>;

    fn into_iter(self) -> Self::IntoIter {
        self.packets.into_iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(packets: usize, bytes: usize) -> EngineConfig {
        EngineConfig { max_buffered_packets: packets, max_buffered_bytes: bytes, ..EngineConfig::default() }
    }

    #[test]
    fn both_bounds_refuse_and_taking_the_packets_resets_the_bytes() {
        let by_bytes = config(100, 10);
        let mut queue = OutQueue::default();
        let big = Packet::message("x".repeat(50));
        assert!(!queue.is_full_for(&big, &by_bytes), "an empty queue takes even a packet over the bound");
        queue.push(big);
        assert_eq!(queue.bytes(), 51);
        assert!(queue.is_full_for(&Packet::message(""), &by_bytes));
        assert_eq!(queue.drain(..).count(), 1);
        assert_eq!(queue.bytes(), 0);
        queue.push(Packet::message("1234")); // 5 bytes
        assert!(!queue.is_full_for(&Packet::message("123"), &by_bytes), "5 + 4 fits in 10");
        assert!(queue.is_full_for(&Packet::message("12345"), &by_bytes), "5 + 6 does not");
        let taken = std::mem::take(&mut queue);
        assert_eq!((taken.len(), queue.bytes()), (1, 0));

        queue.push(Packet::message("12")); // 3 bytes
        queue.push(Packet::message("123")); // 4 bytes
        assert_eq!(queue.drain_front(1).count(), 1);
        assert_eq!((queue.len(), queue.bytes()), (1, 4));
        assert_eq!(queue.drain_front(5).count(), 1);
        assert_eq!((queue.len(), queue.bytes()), (0, 0));

        let by_count = config(2, usize::MAX);
        queue.push(Packet::message("a"));
        queue.push(Packet::message("b"));
        assert!(queue.is_full_for(&Packet::message("c"), &by_count));
        queue.clear();
        assert_eq!((queue.len(), queue.bytes()), (0, 0));
    }

    #[test]
    fn a_refill_starts_with_the_last_burst_storage_and_an_emptied_queue_holds_none() {
        let mut queue = OutQueue::default();
        for i in 0..20 {
            queue.push(Packet::message(i.to_string()));
        }
        let taken = queue.take_all();
        assert_eq!((taken.len(), queue.len(), queue.bytes(), queue.packets.capacity()), (20, 0, 0, 0));
        queue.push(Packet::message("again"));
        assert_eq!(queue.packets.capacity(), 20, "room for the burst the last take saw");
        assert_eq!(queue.take_all().len(), 1);
        queue.push(Packet::message("once"));
        assert_eq!(queue.packets.capacity(), MIN_REFILL);
    }
}
