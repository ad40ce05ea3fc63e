//! The Redis client (`tpcio::__private::cluster::redis`) against a real `redis-server` (7.x): every test
//! starts its own server on a free loopback port and kills it at the end.
//!
//! Nothing here sleeps to synchronise where an event can be awaited: tests await replies,
//! messages, `connected()` / `subscribed()` and connection events, or poll a condition with a
//! bounded deadline. The only plain waits let backoff retries happen, to prove that a second
//! `Disconnected` event is *not* reported.

use std::cell::RefCell;
use std::future::Future;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_channel::mpsc;
use futures_lite::StreamExt;
use tpcio::__private::cluster::redis::blocking;
use tpcio::__private::cluster::redis::{
    Client, ConnEvent, EventHook, Message, MessageHook, Options, RedisError, RedisUrl, Reply, SubKind,
    Subscriber,
};

// ---------------------------------------------------------------------------------------------
// A redis-server child process.

const REDIS_SERVER: &str = "/usr/bin/redis-server";
/// Bound on every wait in these tests.
const WAIT: Duration = Duration::from_secs(10);

/// A `redis-server` on 127.0.0.1, killed (and reaped) on drop.
struct RedisServer {
    child: Option<Child>,
    port: u16,
    extra: Vec<String>,
}

impl RedisServer {
    /// Starts a server on a free port, with extra command-line options.
    fn start(extra: &[&str]) -> RedisServer {
        let port = free_port();
        RedisServer::start_on(port, extra.iter().map(|s| s.to_string()).collect())
    }

    fn start_on(port: u16, extra: Vec<String>) -> RedisServer {
        let binary = which_redis_server();
        let child = Command::new(binary)
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .args(["--dir", &std::env::temp_dir().to_string_lossy()])
            .args(&extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {binary}: {e}"));
        let server = RedisServer { child: Some(child), port, extra };
        server.wait_ready();
        server
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn parsed(&self) -> RedisUrl {
        RedisUrl::parse(&self.url()).expect("test URL")
    }

    /// Kills the server (SIGKILL, by its PID) and reaps it.
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port, with the same options.
    fn restart(&mut self) {
        self.kill();
        let again = RedisServer::start_on(self.port, std::mem::take(&mut self.extra));
        *self = again;
    }

    /// Until it answers a `PING` (any reply: `-NOAUTH` counts).
    fn wait_ready(&self) {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)) {
                let _ = s.set_read_timeout(Some(Duration::from_secs(1)));
                let mut buf = [0u8; 64];
                if s.write_all(b"PING\r\n").is_ok() && matches!(s.read(&mut buf), Ok(n) if n > 0) {
                    return;
                }
            }
            assert!(Instant::now() < deadline, "redis-server on port {} did not come up", self.port);
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

fn which_redis_server() -> &'static str {
    if std::path::Path::new(REDIS_SERVER).exists() {
        return REDIS_SERVER;
    }
    panic!(
        "{REDIS_SERVER} is missing: these tests need a real Redis. \
         Install the `redis-server` Debian package (apt-get install redis-server)."
    );
}

/// A port nothing listens on now.
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local addr").port()
}

// ---------------------------------------------------------------------------------------------
// Helpers on the executor.

fn run<F, Fut>(f: F)
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = ()> + 'static,
{
    glommio::LocalExecutorBuilder::default().spawn(f).expect("executor").join().expect("test task");
}

fn opts() -> Options {
    Options {
        connect_timeout: Duration::from_secs(1),
        command_timeout: Duration::from_secs(3),
        backoff_min: Duration::from_millis(20),
        backoff_max: Duration::from_millis(100),
        ..Options::default()
    }
}

/// `fut`, or a panic naming `what` after [`WAIT`].
async fn within<T>(what: &str, fut: impl Future<Output = T>) -> T {
    let timeout = async {
        glommio::timer::sleep(WAIT).await;
        None
    };
    futures_lite::future::or(async { Some(fut.await) }, timeout)
        .await
        .unwrap_or_else(|| panic!("timed out waiting for {what}"))
}

/// Connection events as text, in order, plus a stream of them.
struct Events {
    log: Rc<RefCell<Vec<String>>>,
    rx: mpsc::UnboundedReceiver<String>,
}

fn events() -> (EventHook, Events) {
    let log = Rc::new(RefCell::new(Vec::new()));
    let (tx, rx) = mpsc::unbounded();
    let seen = log.clone();
    let hook: EventHook = Rc::new(move |e: ConnEvent| {
        let text = match e {
            ConnEvent::Connected => "connected".to_string(),
            ConnEvent::Disconnected(err) => format!("disconnected: {err:?}"),
        };
        seen.borrow_mut().push(text.clone());
        let _ = tx.unbounded_send(text);
    });
    (hook, Events { log, rx })
}

impl Events {
    async fn next(&mut self) -> String {
        within("a connection event", self.rx.next()).await.expect("event stream ended")
    }

    fn log(&self) -> Vec<String> {
        self.log.borrow().clone()
    }
}

fn messages() -> (MessageHook, mpsc::UnboundedReceiver<Message>) {
    let (tx, rx) = mpsc::unbounded();
    (Rc::new(move |m| drop(tx.unbounded_send(m))), rx)
}

async fn next_message(rx: &mut mpsc::UnboundedReceiver<Message>) -> Message {
    within("a pub/sub message", rx.next()).await.expect("message stream ended")
}

fn args(parts: &[&[u8]]) -> Vec<Bytes> {
    parts.iter().map(|p| Bytes::copy_from_slice(p)).collect()
}

fn bulk(b: &[u8]) -> Reply {
    Reply::Bulk(Bytes::copy_from_slice(b))
}

// ---------------------------------------------------------------------------------------------

#[test]
fn pipelined_commands_answer_in_order() {
    let server = RedisServer::start(&[]);
    let url = server.parsed();
    run(move || async move {
        let client = Client::connect(url, opts(), None);
        within("connected", client.connected()).await;
        assert!(client.is_connected());
        // 1000 tasks, each with an INCR and an ECHO of its own token in flight at once on the
        // one connection: any reply handed to the wrong caller shows as a wrong echo.
        let tasks: Vec<_> = (0..1000)
            .map(|i| {
                let client = client.clone();
                glommio::spawn_local(async move {
                    let token = format!("token-{i}");
                    let (incr, echo) = futures_lite::future::zip(
                        client.command(args(&[b"INCR", b"counter"])),
                        client.command(args(&[b"ECHO", token.as_bytes()])),
                    )
                    .await;
                    assert_eq!(echo.expect("ECHO"), bulk(token.as_bytes()));
                    match incr.expect("INCR") {
                        Reply::Int(n) => n,
                        other => panic!("INCR gave {other:?}"),
                    }
                })
            })
            .collect();
        let mut seen = Vec::new();
        for t in tasks {
            seen.push(within("an INCR task", t).await);
        }
        seen.sort_unstable();
        assert_eq!(seen, (1..=1000).collect::<Vec<i64>>(), "every INCR result once");
        let reply = client.command(args(&[b"GET", b"counter"])).await.expect("GET");
        assert_eq!(reply, bulk(b"1000"));
        // Error replies are typed; the connection stays usable.
        match client.command(args(&[b"NOSUCHCOMMAND"])).await {
            Err(RedisError::Server(msg)) => assert!(msg.starts_with("ERR"), "{msg}"),
            other => panic!("unknown command gave {other:?}"),
        }
        assert_eq!(client.command(args(&[b"PING"])).await.expect("PING"), Reply::Simple("PONG".into()));
        // A large bulk reply arrives over several reads.
        let big: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        client.command(args(&[b"SET", b"big", &big])).await.expect("SET big");
        assert_eq!(client.command(args(&[b"GET", b"big"])).await.expect("GET big"), bulk(&big));
        client.close();
        assert!(!client.is_connected());
        assert!(matches!(client.command(args(&[b"PING"])).await, Err(RedisError::Disconnected)));
    });
    drop(server);
}

#[test]
fn publish_reaches_the_subscriber_byte_for_byte() {
    let server = RedisServer::start(&[]);
    let url = server.parsed();
    run(move || async move {
        pubsub_round(url, opts()).await;
    });
    drop(server);
}

#[test]
fn resp3_client_and_subscriber() {
    let server = RedisServer::start(&[]);
    let url = server.parsed();
    run(move || async move {
        let opts = Options { resp3: true, ..opts() };
        let client = Client::connect(url.clone(), opts.clone(), None);
        within("connected", client.connected()).await;
        client.command(args(&[b"HSET", b"h", b"f", b"v"])).await.expect("HSET");
        let all = client.command(args(&[b"HGETALL", b"h"])).await.expect("HGETALL");
        assert_eq!(all, Reply::Map(vec![(bulk(b"f"), bulk(b"v"))]), "RESP3 maps");
        let hello = client.command(args(&[b"HELLO"])).await.expect("HELLO");
        let Reply::Map(pairs) = hello else { panic!("HELLO gave {hello:?}") };
        assert!(pairs.contains(&(bulk(b"proto"), Reply::Int(3))), "{pairs:?}");
        client.close();
        pubsub_round(url, opts).await;
    });
    drop(server);
}

/// Subscribes to a channel, a pattern and a shard channel, publishes binary payloads to each,
/// counts subscribers, unsubscribes.
async fn pubsub_round(url: RedisUrl, opts: Options) {
    let client = Client::connect(url.clone(), opts.clone(), None);
    let (on_message, mut rx) = messages();
    let sub = Subscriber::connect(url, opts, on_message, None);
    sub.subscribe(SubKind::Channel, vec![Bytes::from_static(b"chan")]);
    sub.subscribe(SubKind::Pattern, vec![Bytes::from_static(b"pat.*")]);
    sub.subscribe(SubKind::Shard, vec![Bytes::from_static(b"shard")]);
    within("subscribed", sub.subscribed()).await;
    within("client connected", client.connected()).await;
    assert!(sub.is_connected());

    let payload = Bytes::from_static(b"\x00bin\r\nary\r\n\xff*3\r\n$1\r\n");
    let n = client.publish(Bytes::from_static(b"chan"), payload.clone()).await.expect("PUBLISH");
    assert_eq!(n, 1);
    let m = next_message(&mut rx).await;
    assert_eq!(
        (m.kind, m.pattern, &m.channel[..], &m.payload[..]),
        (SubKind::Channel, None, &b"chan"[..], &payload[..])
    );

    let n = client.publish(Bytes::from_static(b"pat.x\r\ny"), payload.clone()).await.expect("PUBLISH");
    assert_eq!(n, 1);
    let m = next_message(&mut rx).await;
    assert_eq!(m.kind, SubKind::Pattern);
    assert_eq!(m.pattern.as_deref(), Some(&b"pat.*"[..]));
    assert_eq!((&m.channel[..], &m.payload[..]), (&b"pat.x\r\ny"[..], &payload[..]));

    let n = client.command(args(&[b"SPUBLISH", b"shard", b"s\r\n"])).await.expect("SPUBLISH");
    assert_eq!(n, Reply::Int(1));
    let m = next_message(&mut rx).await;
    assert_eq!(
        (m.kind, m.pattern, &m.channel[..], &m.payload[..]),
        (SubKind::Shard, None, &b"shard"[..], &b"s\r\n"[..])
    );

    // A large message arrives over several reads.
    let big = Bytes::from(vec![b'z'; 1 << 20]);
    client.publish(Bytes::from_static(b"chan"), big.clone()).await.expect("PUBLISH big");
    assert_eq!(next_message(&mut rx).await.payload, big);

    assert_eq!(client.numsub(Bytes::from_static(b"chan")).await.expect("NUMSUB"), 1);
    assert_eq!(client.numsub(Bytes::from_static(b"nobody")).await.expect("NUMSUB"), 0);

    // Subscribing again to the same name changes nothing; unsubscribing is confirmed.
    sub.subscribe(SubKind::Channel, vec![Bytes::from_static(b"chan"), Bytes::from_static(b"chan2")]);
    within("subscribed", sub.subscribed()).await;
    assert_eq!(client.numsub(Bytes::from_static(b"chan2")).await.expect("NUMSUB"), 1);
    sub.unsubscribe(SubKind::Channel, vec![Bytes::from_static(b"chan"), Bytes::from_static(b"chan2")]);
    sub.unsubscribe(SubKind::Pattern, vec![Bytes::from_static(b"pat.*")]);
    within("unsubscribed", sub.subscribed()).await;
    assert_eq!(client.numsub(Bytes::from_static(b"chan")).await.expect("NUMSUB"), 0);
    assert_eq!(client.publish(Bytes::from_static(b"chan"), payload).await.expect("PUBLISH"), 0);
    // Still subscribed to the shard channel: its message is the next one.
    client.command(args(&[b"SPUBLISH", b"shard", b"last"])).await.expect("SPUBLISH");
    assert_eq!(&next_message(&mut rx).await.payload[..], b"last");
    sub.close();
    client.close();
}

#[test]
fn auth_with_a_password_and_a_wrong_one() {
    let server = RedisServer::start(&["--requirepass", "p@ss w:rd"]);
    let port = server.port;
    run(move || async move {
        let good = RedisUrl::parse(&format!("redis://:p%40ss%20w%3Ard@127.0.0.1:{port}")).expect("url");
        let (hook, mut ev) = events();
        let client = Client::connect(good.clone(), opts(), Some(hook));
        assert_eq!(ev.next().await, "connected");
        assert_eq!(client.command(args(&[b"PING"])).await.expect("PING"), Reply::Simple("PONG".into()));

        // The default user by name works too.
        let named =
            RedisUrl::parse(&format!("redis://default:p%40ss%20w%3Ard@127.0.0.1:{port}/1")).expect("url");
        let by_name = Client::connect(named, opts(), None);
        within("connected", by_name.connected()).await;
        by_name.command(args(&[b"SET", b"k", b"1"])).await.expect("SET");

        let wrong = RedisUrl::parse(&format!("redis://:nope@127.0.0.1:{port}")).expect("url");
        let (hook, mut bad_ev) = events();
        let bad = Client::connect(wrong, opts(), Some(hook));
        let first = bad_ev.next().await;
        assert!(first.starts_with("disconnected: Server(\"WRONGPASS"), "{first}");
        assert!(!bad.is_connected());
        assert!(matches!(bad.command(args(&[b"PING"])).await, Err(RedisError::Disconnected)));
        // It keeps retrying (the server counts the refused AUTHs), and reports that outage once.
        let deadline = Instant::now() + WAIT;
        while refused_auths(&client).await < 4 {
            assert!(Instant::now() < deadline, "the client did not retry");
            glommio::timer::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(bad_ev.log().len(), 1, "{:?}", bad_ev.log());
        bad.close();
        client.close();
        by_name.close();
    });
    drop(server);
}

#[test]
fn select_keeps_databases_apart() {
    let server = RedisServer::start(&[]);
    let base = server.url();
    run(move || async move {
        let db0 = Client::connect(RedisUrl::parse(&base).expect("url"), opts(), None);
        let db5 = Client::connect(RedisUrl::parse(&format!("{base}/5")).expect("url"), opts(), None);
        within("db0", db0.connected()).await;
        within("db5", db5.connected()).await;
        db5.command(args(&[b"SET", b"where", b"five"])).await.expect("SET");
        assert_eq!(db5.command(args(&[b"GET", b"where"])).await.expect("GET"), bulk(b"five"));
        assert_eq!(db0.command(args(&[b"GET", b"where"])).await.expect("GET"), Reply::Nil);
        db0.command(args(&[b"SELECT", b"5"])).await.expect("SELECT");
        assert_eq!(db0.command(args(&[b"GET", b"where"])).await.expect("GET"), bulk(b"five"));
    });
    drop(server);
}

/// How many `AUTH`s the server refused (`ACL LOG`: entries of reason `auth`, each with its
/// count of repeats).
async fn refused_auths(client: &Client) -> i64 {
    let Reply::Array(entries) = client.command(args(&[b"ACL", b"LOG"])).await.expect("ACL LOG") else {
        panic!("ACL LOG is not an array");
    };
    let mut refused = 0;
    for entry in entries {
        let Reply::Array(fields) = entry else { panic!("ACL LOG entry {entry:?}") };
        let field =
            |name: &[u8]| fields.chunks(2).find(|kv| kv[0].as_bytes() == Some(name)).map(|kv| kv[1].clone());
        if field(b"reason").and_then(|r| r.as_bytes().map(<[u8]>::to_vec)).as_deref() == Some(b"auth") {
            refused += field(b"count").and_then(|c| c.as_int()).expect("count");
        }
    }
    refused
}

/// `INFO` field `name` as a number, over `client`.
async fn info_field(client: &Client, section: &[u8], name: &str) -> u64 {
    let reply = client.command(args(&[b"INFO", section])).await.expect("INFO");
    let text = String::from_utf8_lossy(reply.as_bytes().expect("INFO text")).into_owned();
    let prefix = format!("{name}:");
    text.lines()
        .find_map(|l| l.strip_prefix(prefix.as_str()))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in INFO"))
}

#[test]
fn reconnects_and_resubscribes_after_a_restart() {
    let mut server = RedisServer::start(&[]);
    let url = server.parsed();
    run(move || async move {
        let (client_hook, mut client_ev) = events();
        let (sub_hook, mut sub_ev) = events();
        let client = Client::connect(url.clone(), opts(), Some(client_hook));
        let watcher = Client::connect(url.clone(), opts(), None);
        let (on_message, mut rx) = messages();
        let sub = Subscriber::connect(url, opts(), on_message, Some(sub_hook));
        sub.subscribe(SubKind::Channel, vec![Bytes::from_static(b"news")]);
        sub.subscribe(SubKind::Pattern, vec![Bytes::from_static(b"n*")]);
        assert_eq!(client_ev.next().await, "connected");
        assert_eq!(sub_ev.next().await, "connected");
        within("subscribed", sub.subscribed()).await;
        within("watcher", watcher.connected()).await;
        let news = |p: &'static [u8]| (Bytes::from_static(b"news"), Bytes::from_static(p));
        let (ch, p) = news(b"one");
        assert_eq!(client.publish(ch, p).await.expect("PUBLISH"), 2);
        assert_eq!(&next_message(&mut rx).await.payload[..], b"one");
        assert_eq!(&next_message(&mut rx).await.payload[..], b"one");

        // A command in flight when the server dies fails (it does not hang).
        let blocked = glommio::spawn_local({
            let client = client.clone();
            async move { client.command(args(&[b"BLPOP", b"nothing", b"0"])).await }
        });
        let deadline = Instant::now() + WAIT;
        while info_field(&watcher, b"clients", "blocked_clients").await < 1 {
            assert!(Instant::now() < deadline, "the BLPOP never blocked");
            glommio::timer::sleep(Duration::from_millis(5)).await;
        }
        server.kill();

        let err = within("the BLPOP failed", blocked).await.expect_err("BLPOP after kill");
        assert!(matches!(err, RedisError::Io(_) | RedisError::Disconnected), "{err:?}");
        let down = client_ev.next().await;
        assert!(down.starts_with("disconnected: Io("), "{down}");
        assert!(sub_ev.next().await.starts_with("disconnected:"));
        assert!(!client.is_connected());
        // Down: commands fail at once, nothing is queued.
        let t = Instant::now();
        assert!(matches!(client.command(args(&[b"PING"])).await, Err(RedisError::Disconnected)));
        let (ch, p) = news(b"lost");
        assert!(matches!(client.publish(ch, p).await, Err(RedisError::Disconnected)));
        assert!(t.elapsed() < Duration::from_millis(100), "{:?}", t.elapsed());
        // Failed retries (backoff up to 100 ms) report nothing more. Time has to pass to show
        // that no event comes.
        glommio::timer::sleep(Duration::from_millis(500)).await;
        assert_eq!(client_ev.log().len(), 2, "{:?}", client_ev.log());
        assert_eq!(sub_ev.log().len(), 2, "{:?}", sub_ev.log());

        server.restart();
        assert_eq!(client_ev.next().await, "connected");
        within("client connected", client.connected()).await;
        within("resubscribed", sub.subscribed()).await;
        assert_eq!(sub_ev.next().await, "connected");
        assert_eq!(client.numsub(Bytes::from_static(b"news")).await.expect("NUMSUB"), 1);
        let (ch, p) = news(b"two");
        assert_eq!(client.publish(ch, p).await.expect("PUBLISH"), 2);
        let m = next_message(&mut rx).await;
        let m2 = next_message(&mut rx).await;
        assert_eq!((&m.payload[..], &m2.payload[..]), (&b"two"[..], &b"two"[..]));
        let mut kinds = [m.kind as u8, m2.kind as u8];
        kinds.sort_unstable();
        assert_eq!(kinds, [SubKind::Channel as u8, SubKind::Pattern as u8]);
        let log = client_ev.log();
        assert_eq!(log.len(), 3, "{log:?}");
        assert_eq!((log[0].as_str(), log[2].as_str()), ("connected", "connected"));
        sub.close();
        client.close();
        watcher.close();
        // The server dies with this task's end (`server` moved in).
        drop(server);
    });
}

#[test]
fn a_late_reply_times_out_and_the_connection_is_reopened() {
    let server = RedisServer::start(&[]);
    let url = server.parsed();
    run(move || async move {
        let (hook, mut ev) = events();
        let opts = Options { command_timeout: Duration::from_millis(300), ..opts() };
        let client = Client::connect(url, opts, Some(hook));
        assert_eq!(ev.next().await, "connected");
        let t = Instant::now();
        let slow = client.command(args(&[b"BLPOP", b"nothing", b"5"]));
        let behind = client.command(args(&[b"PING"]));
        let (slow, behind) = futures_lite::future::zip(slow, behind).await;
        assert!(matches!(slow, Err(RedisError::Timeout(_))), "{slow:?}");
        assert!(matches!(behind, Err(RedisError::Timeout(_) | RedisError::Disconnected)), "{behind:?}");
        assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
        let down = ev.next().await;
        assert!(down.starts_with("disconnected: Timeout("), "{down}");
        assert_eq!(ev.next().await, "connected");
        assert_eq!(client.command(args(&[b"PING"])).await.expect("PING"), Reply::Simple("PONG".into()));
    });
    drop(server);
}

/// A fake server on a free port that answers every connection with `reply`, then waits for
/// the client to close it; returns the port.
fn hostile_server(reply: Vec<u8>) -> u16 {
    let reply = std::sync::Arc::new(reply);
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let reply = reply.clone();
            std::thread::spawn(move || {
                let _ = stream.write_all(&reply);
                let mut sink = [0u8; 1024];
                while matches!(stream.read(&mut sink), Ok(n) if n > 0) {}
            });
        }
    });
    port
}

#[test]
fn a_broken_server_is_a_protocol_error_not_a_panic() {
    let garbage = hostile_server(b"this is not RESP\r\n".to_vec());
    let oversized = hostile_server([&b"$1000000000\r\n"[..], &[b'x'; 100]].concat());
    let unsolicited = hostile_server(b"+OK\r\n".to_vec());
    // The decoder recurses per level: this would overflow the stack if it were decoded.
    let deep = hostile_server(b"*1\r\n".repeat(100_000));
    run(move || async move {
        for (port, max_frame) in
            [(garbage, 1 << 20), (oversized, 32), (unsolicited, 1 << 20), (deep, 1 << 20)]
        {
            let url = RedisUrl::parse(&format!("redis://127.0.0.1:{port}")).expect("url");
            let (hook, mut ev) = events();
            let client = Client::connect(url.clone(), Options { max_frame, ..opts() }, Some(hook));
            assert_eq!(ev.next().await, "connected");
            let down = ev.next().await;
            assert!(down.starts_with("disconnected: Protocol("), "port {port}: {down}");
            client.close();
            // A subscriber too ("+OK" alone is ignored there, so only the other two).
            if port == unsolicited {
                continue;
            }
            let (hook, mut ev) = events();
            let (on_message, _rx) = messages();
            let sub = Subscriber::connect(url, Options { max_frame, ..opts() }, on_message, Some(hook));
            assert_eq!(ev.next().await, "connected");
            let down = ev.next().await;
            assert!(down.starts_with("disconnected: Protocol("), "port {port}: {down}");
            sub.close();
        }
    });
}

#[test]
fn blocking_connection_publishes_with_auth_and_db() {
    let mut server = RedisServer::start(&["--requirepass", "sekret"]);
    let url = RedisUrl::parse(&format!("redis://:sekret@127.0.0.1:{}/3", server.port)).expect("url");
    let mut conn = blocking::Connection::open(&url, Duration::from_secs(2)).expect("open");
    assert_eq!(conn.command(&[b"SET", b"k", b"v"]).expect("SET"), Reply::Simple("OK".into()));
    let mut db0 = blocking::Connection::open(&RedisUrl { db: 0, ..url.clone() }, Duration::from_secs(2))
        .expect("open db0");
    assert_eq!(db0.command(&[b"GET", b"k"]).expect("GET"), Reply::Nil);
    assert_eq!(conn.command(&[b"GET", b"k"]).expect("GET"), bulk(b"v"));
    assert!(matches!(conn.command(&[b"NOSUCH"]), Err(RedisError::Server(_))));

    let wrong = RedisUrl { password: Some("wrong".into()), ..url.clone() };
    match blocking::Connection::open(&wrong, Duration::from_secs(2)) {
        Err(RedisError::Server(msg)) => assert!(msg.starts_with("WRONGPASS"), "{msg}"),
        Err(e) => panic!("wrong password gave {e:?}"),
        Ok(_) => panic!("wrong password accepted"),
    }

    // A publish reaches a glommio subscriber.
    let sub_url = url.clone();
    run(move || async move {
        let (on_message, mut rx) = messages();
        let sub = Subscriber::connect(sub_url, opts(), on_message, None);
        sub.subscribe(SubKind::Channel, vec![Bytes::from_static(b"emitted")]);
        within("subscribed", sub.subscribed()).await;
        // (blocking on the executor thread is fine here: Redis answers PUBLISH at once)
        assert_eq!(conn.publish(b"emitted", b"from\r\nblocking\x00").expect("PUBLISH"), 1);
        let m = next_message(&mut rx).await;
        assert_eq!((&m.channel[..], &m.payload[..]), (&b"emitted"[..], &b"from\r\nblocking\x00"[..]));

        // After a restart, the next command reconnects once and goes through.
        server.restart();
        assert_eq!(conn.publish(b"emitted", b"again").expect("PUBLISH after restart"), 0);
        assert_eq!(conn.command(&[b"GET", b"k"]).expect("GET"), Reply::Nil, "a fresh server, db 3");
        sub.close();
        drop(server);
    });
}

#[test]
fn an_idle_subscriber_pings_and_a_silent_peer_is_dropped() {
    // A real server answers the keepalive PINGs (RESP2 and RESP3): the connection stays up
    // through several of them and still delivers.
    let server = RedisServer::start(&[]);
    let url = server.parsed();
    let silent = hostile_server(Vec::new());
    run(move || async move {
        for resp3 in [false, true] {
            let opts = Options { resp3, keepalive: Duration::from_millis(50), ..opts() };
            let (hook, mut ev) = events();
            let (on_message, mut rx) = messages();
            let sub = Subscriber::connect(url.clone(), opts.clone(), on_message, Some(hook));
            sub.subscribe(SubKind::Channel, vec![Bytes::from_static(b"alive")]);
            assert_eq!(ev.next().await, "connected");
            let client = Client::connect(url.clone(), opts.clone(), None);
            within("client connected", client.connected()).await;
            // Ten keepalive periods, each PING awaited as a subscription is.
            for _ in 0..10 {
                glommio::timer::sleep(Duration::from_millis(50)).await;
                within("the PING answered", sub.subscribed()).await;
            }
            client
                .publish(Bytes::from_static(b"alive"), Bytes::from_static(b"still"))
                .await
                .expect("publish");
            assert_eq!(&next_message(&mut rx).await.payload[..], b"still");
            assert_eq!(ev.log(), ["connected"], "resp3={resp3}: never dropped");
            sub.close();
            client.close();
        }
        // A peer that accepts and never answers: the PING times out and the connection goes.
        let url = RedisUrl::parse(&format!("redis://127.0.0.1:{silent}")).expect("url");
        let opts = Options {
            keepalive: Duration::from_millis(50),
            command_timeout: Duration::from_millis(200),
            ..opts()
        };
        let (hook, mut ev) = events();
        let (on_message, _rx) = messages();
        let sub = Subscriber::connect(url, opts, on_message, Some(hook));
        assert_eq!(ev.next().await, "connected");
        let down = within("the silent peer dropped", ev.next()).await;
        assert!(down.starts_with("disconnected: Timeout("), "{down}");
        sub.close();
    });
    drop(server);
}
