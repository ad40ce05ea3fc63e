use std::collections::{BTreeMap, BTreeSet};

use super::*;
use proptest::prelude::*;

/// Test keys own the room `s<n>`.
impl RoomKey for u32 {
    fn own_room<R>(self, f: impl FnOnce(&str) -> R) -> Option<R> {
        Some(f(&format!("s{self}")))
    }

    fn owner(room: &str) -> Option<u32> {
        let n: u32 = room.strip_prefix('s')?.parse().ok()?;
        (format!("s{n}") == room).then_some(n)
    }
}

fn names(rooms: &Rooms<u32>) -> Vec<String> {
    let mut names: Vec<String> = rooms.room_names().map(|r| r.to_string()).collect();
    names.sort_unstable();
    assert_eq!(names.len(), rooms.room_count());
    names
}

/// Sockets 1..=5, each in its own room `s<n>`; 1, 2, 3 in `a`; 3, 4 in `b`; 5 in none else.
fn fixture() -> Rooms<u32> {
    let mut rooms = Rooms::new();
    for s in 1..=5u32 {
        rooms.add(s, Room::from(format!("s{s}")));
    }
    rooms.add_all(1, ["a".into()]);
    rooms.add_all(2, ["a".into()]);
    rooms.add_all(3, ["a".into(), "b".into(), "a".into()]);
    rooms.add(4, "b".into());
    rooms
}

fn selected(rooms: &mut Rooms<u32>, opts: BroadcastOptions, except: &[u32]) -> Vec<u32> {
    let mut out: Vec<u32> = rooms.select(&opts, except).collect();
    let len = out.len();
    out.sort_unstable();
    out.dedup();
    assert_eq!(out.len(), len, "a socket was selected twice");
    out
}

#[test]
fn selection_table() {
    let o = BroadcastOptions::new;
    let cases: Vec<(BroadcastOptions, &[u32], Vec<u32>)> = vec![
        (o(), &[], vec![1, 2, 3, 4, 5]),
        (o().to("a"), &[], vec![1, 2, 3]),
        (o().to("a").to("b"), &[], vec![1, 2, 3, 4]),
        (o().to("b").to("a").to("nowhere"), &[], vec![1, 2, 3, 4]),
        (o().to("nowhere"), &[], vec![]),
        (o().to("a").except("b"), &[], vec![1, 2]),
        (o().to("a").to("b").except("s3"), &[], vec![1, 2, 4]),
        (o().except("a"), &[], vec![4, 5]),
        (o().except("a").except("b"), &[], vec![5]),
        (o().except("nowhere"), &[], vec![1, 2, 3, 4, 5]),
        (o().to("s4"), &[], vec![4]),
        (BroadcastOptions::from_socket("s1"), &[], vec![2, 3, 4, 5]),
        (BroadcastOptions::from_socket("s1").to("a"), &[], vec![2, 3]),
        (o().to("s2").to("a"), &[], vec![1, 2, 3]),
        (o().to("a"), &[2], vec![1, 3]),
        (o(), &[5, 99], vec![1, 2, 3, 4]),
        (o().to("a").to("b"), &[1], vec![2, 3, 4]),
        (o().to("a").except("a"), &[], vec![]),
    ];
    let mut rooms = fixture();
    for (opts, except, want) in cases {
        assert_eq!(selected(&mut rooms, opts.clone(), except), want, "{opts:?} except {except:?}");
    }
}

#[test]
fn select_into_then_modify() {
    let mut rooms = fixture();
    let mut targets = Vec::new();
    rooms.select_into(&BroadcastOptions::new().to("b"), &[], &mut targets);
    for &s in &targets {
        rooms.add(s, "c".into());
    }
    assert_eq!(selected(&mut rooms, BroadcastOptions::new().to("c"), &[]), [3, 4]);
}

#[test]
fn join_leave_bookkeeping() {
    let mut rooms = fixture();
    assert_eq!(rooms.rooms_of(3), ["s3", "a", "b"]);
    assert_eq!(rooms.room_len("a"), 3);
    assert!(rooms.del(3, "a"));
    assert!(!rooms.del(3, "a"), "not in it any more");
    assert!(!rooms.del(42, "a"), "unknown socket");
    assert_eq!(rooms.rooms_of(3), ["s3", "b"]);
    assert_eq!(rooms.del_all(4), ["s4", "b"]);
    assert!(!rooms.contains(4));
    assert_eq!(rooms.sockets_in("b").collect::<Vec<_>>(), [3]);
    assert!(rooms.del(3, "b"));
    assert!(!rooms.has_room("b"), "an empty room is dropped");
    // A socket that left every room is still known, so `io.emit` reaches it (as in Node).
    assert!(rooms.del(5, "s5"));
    assert!(rooms.contains(5));
    assert!(selected(&mut rooms, BroadcastOptions::new(), &[]).contains(&5));
    assert!(rooms.del_all(42).is_empty());
    assert_eq!(rooms.len(), 4);
    assert_eq!(names(&rooms), ["a", "s1", "s2", "s3"]);
}

#[test]
fn own_rooms_are_rooms() {
    let mut rooms = Rooms::new();
    rooms.add_socket(1u32);
    rooms.add_socket(2);
    rooms.add(1, "a".into());
    assert_eq!(rooms.rooms_of(1), ["s1", "a"]);
    assert_eq!(names(&rooms), ["a", "s1", "s2"]);
    // Another socket in a room named after socket 1: one room, two members.
    rooms.add(2, "s1".into());
    assert_eq!(rooms.room_len("s1"), 2);
    assert_eq!(names(&rooms), ["a", "s1", "s2"]);
    assert_eq!(selected(&mut rooms, BroadcastOptions::new().to("s1"), &[]), [1, 2]);
    assert_eq!(selected(&mut rooms, BroadcastOptions::new().to("s1").to("s2"), &[]), [1, 2]);
    assert_eq!(selected(&mut rooms, BroadcastOptions::from_socket("s1"), &[]), Vec::<u32>::new());
    // Leaving its own room, then joining it again: it comes last in the order, as in Node.
    assert!(rooms.del(1, "s1"));
    assert!(!rooms.del(1, "s1"));
    assert_eq!(rooms.sockets_in("s1").collect::<Vec<_>>(), [2]);
    rooms.add(1, "b".into());
    rooms.add(1, "s1".into());
    rooms.add(1, "s1".into());
    assert_eq!(rooms.rooms_of(1), ["a", "b", "s1"]);
    assert!(rooms.del(1, "a"));
    assert_eq!(rooms.rooms_of(1), ["b", "s1"]);
    assert!(rooms.del(2, "s1"));
    assert_eq!(names(&rooms), ["b", "s1", "s2"]);
    assert_eq!(rooms.del_all(2), ["s2"]);
    assert_eq!(names(&rooms), ["b", "s1"]);
    assert_eq!(rooms.del_all(1), ["b", "s1"]);
    assert_eq!(rooms.room_count(), 0);
    assert!(rooms.is_empty());
}

#[test]
fn sids_own_the_room_of_their_id() {
    let (a, b) = (Sid::generate(0, 1), Sid::generate(0, 1));
    let mut rooms = Rooms::new();
    rooms.add_socket(a);
    rooms.add_socket(b);
    assert_eq!(rooms.rooms_of(a), [a.as_str()]);
    assert_eq!(rooms.sockets_in(b.as_str()).collect::<Vec<_>>(), [b]);
    let opts = BroadcastOptions::new().to(a.as_str());
    assert_eq!(rooms.select(&opts, &[]).collect::<Vec<_>>(), [a]);
    assert_eq!(rooms.room_count(), 2);
    // A name that is not exactly a sid is an ordinary room.
    rooms.add(a, Room::from(format!("{}x", b.as_str())));
    assert_eq!(rooms.room_count(), 3);
}

#[derive(Clone, Debug)]
enum Op {
    AddAll(u32, Vec<u8>),
    Del(u32, u8),
    DelAll(u32),
}

fn op() -> impl Strategy<Value = Op> {
    let socket = 0u32..6;
    let room = 0u8..8;
    prop_oneof![
        (socket.clone(), proptest::collection::vec(room.clone(), 0..4)).prop_map(|(s, r)| Op::AddAll(s, r)),
        (socket.clone(), room).prop_map(|(s, r)| Op::Del(s, r)),
        socket.prop_map(Op::DelAll),
    ]
}

/// Rooms `r0`..`r4`, and the own rooms of sockets 0..=2.
fn name(r: u8) -> Room {
    match r {
        0..5 => Room::from(format!("r{r}")),
        _ => Room::from(format!("s{}", r - 5)),
    }
}

proptest! {
    #[test]
    fn index_matches_a_naive_model(
        ops in proptest::collection::vec(op(), 0..40),
        targets in proptest::collection::vec(0u8..8, 0..3),
        except in proptest::collection::vec(0u8..8, 0..3),
        except_sockets in proptest::collection::vec(0u32..7, 0..2),
    ) {
        let mut rooms = Rooms::new();
        let mut model: BTreeMap<u32, Vec<Room>> = BTreeMap::new();
        for op in ops {
            match op {
                Op::AddAll(s, rs) => {
                    rooms.add_all(s, rs.iter().map(|&r| name(r)));
                    let joined = model.entry(s).or_default();
                    for r in rs {
                        if !joined.contains(&name(r)) {
                            joined.push(name(r));
                        }
                    }
                }
                Op::Del(s, r) => {
                    let was = model.get(&s).is_some_and(|j| j.contains(&name(r)));
                    prop_assert_eq!(rooms.del(s, &name(r)), was);
                    if let Some(joined) = model.get_mut(&s) {
                        joined.retain(|x| *x != name(r));
                    }
                }
                Op::DelAll(s) => {
                    prop_assert_eq!(rooms.del_all(s), model.remove(&s).unwrap_or_default());
                }
            }
        }
        // rooms_of and sockets_in agree with each other and with the model.
        prop_assert_eq!(rooms.len(), model.len());
        for (&s, joined) in &model {
            prop_assert_eq!(rooms.rooms_of(s), joined.as_slice());
            for r in joined {
                prop_assert!(rooms.sockets_in(r).any(|k| k == s));
            }
        }
        let nonempty: BTreeSet<String> = model.values().flatten().map(|r| r.to_string()).collect();
        prop_assert_eq!(names(&rooms), nonempty.into_iter().collect::<Vec<_>>());
        for r in (0..8).map(name) {
            let members: BTreeSet<u32> = rooms.sockets_in(&r).collect();
            let want: BTreeSet<u32> =
                model.iter().filter(|(_, j)| j.contains(&r)).map(|(&s, _)| s).collect();
            prop_assert_eq!(rooms.room_len(&r), members.len());
            prop_assert_eq!(rooms.has_room(&r), !want.is_empty());
            prop_assert_eq!(members, want);
        }
        // Selection is Node's `apply` on the model.
        let mut opts = BroadcastOptions::new();
        for &t in &targets {
            opts = opts.to(name(t));
        }
        for &e in &except {
            opts = opts.except(name(e));
        }
        let excluded = |s: &u32, j: &Vec<Room>| except_sockets.contains(s) || j.iter().any(|r| opts.except.contains(r));
        let want: BTreeSet<u32> = model
            .iter()
            .filter(|(s, j)| !excluded(s, j) && (opts.rooms.is_empty() || j.iter().any(|r| opts.rooms.contains(r))))
            .map(|(&s, _)| s)
            .collect();
        let got: Vec<u32> = rooms.select(&opts, &except_sockets).collect();
        prop_assert_eq!(got.len(), want.len(), "each socket once");
        prop_assert_eq!(got.into_iter().collect::<BTreeSet<u32>>(), want);
    }
}
