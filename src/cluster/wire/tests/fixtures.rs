//! Expected messages were captured from the real packages (Node 22): a `socket.io` 4.8.1
//! server with `@socket.io/redis-adapter` 8.3.0 on recording fake Redis clients, a
//! `socket.io-client` 4.8.1 connected to it, `@socket.io/redis-emitter` 5.1.0 on a recording
//! client, and `@socket.io/redis-adapter` 7.2.0 for the legacy requests. The adapter's uid was
//! set to `AbCdEf` and `uid2` replaced to give fixed request ids. Hex strings are msgpack,
//! raw strings JSON.

/// emitter to room1 chat hi bin, published on `socket.io#/#room1#`.
pub(super) const EMITTER_TO_ROOM1_CHAT_HI_BIN: &str = "93a7656d697474657283a47479706502a46461746193a463686174a26869c4020102a36e7370a12f83a5726f6f6d7391a5726f6f6d31a5666c61677380a665786365707490";
/// emitter volatile, published on `socket.io#/#`.
pub(super) const EMITTER_VOLATILE: &str = "93a7656d697474657283a47479706502a46461746192a2657601a36e7370a12f83a5726f6f6d7390a5666c61677381a8766f6c6174696c65c3a665786365707490";
/// emitter compress false except, published on `socket.io#/#`.
pub(super) const EMITTER_COMPRESS_FALSE_EXCEPT: &str = "93a7656d697474657283a47479706502a46461746191a26576a36e7370a12f83a5726f6f6d7392a161a162a5666c61677381a8636f6d7072657373c2a665786365707491a178";
/// emitter of chat socketsJoin, published on `socket.io-request#/chat#`.
pub(super) const EMITTER_OF_CHAT_SOCKETSJOIN: &str =
    r#"{"type":2,"opts":{"rooms":[],"except":[]},"rooms":["r"]}"#;
/// emitter in room socketsLeave, published on `socket.io-request#/#`.
pub(super) const EMITTER_IN_ROOM_SOCKETSLEAVE: &str =
    r#"{"type":3,"opts":{"rooms":["room1"],"except":["sid9"]},"rooms":["r","s"]}"#;
/// emitter disconnectSockets true, published on `socket.io-request#/#`.
pub(super) const EMITTER_DISCONNECTSOCKETS_TRUE: &str =
    r#"{"type":4,"opts":{"rooms":[],"except":[]},"close":true}"#;
/// emitter disconnectSockets default, published on `socket.io-request#/#`.
pub(super) const EMITTER_DISCONNECTSOCKETS_DEFAULT: &str =
    r#"{"type":4,"opts":{"rooms":["a"],"except":[]},"close":false}"#;
/// emitter serverSideEmit, published on `socket.io-request#/#`.
pub(super) const EMITTER_SERVERSIDEEMIT: &str =
    r#"{"uid":"emitter","type":6,"data":["hello",1,{"a":{"type":"Buffer","data":[3]}}]}"#;
/// io.emit, published on `socket.io#/#`.
pub(super) const IO_EMIT: &str = "93a641624364456683a47479706502a46461746192a463686174a26869a36e7370a12f83a5726f6f6d7390a665786365707490a5666c61677380";
/// io.to(room1).emit bin, published on `socket.io#/#room1#`.
pub(super) const IO_TO_ROOM1_EMIT_BIN: &str = "93a641624364456683a47479706502a46461746193a463686174a26869c4020102a36e7370a12f83a5726f6f6d7391a5726f6f6d31a665786365707490a5666c61677380";
/// io.volatile.emit, published on `socket.io#/#`.
pub(super) const IO_VOLATILE_EMIT: &str = "93a641624364456683a47479706502a46461746192a2657601a36e7370a12f83a5726f6f6d7390a665786365707490a5666c61677381a8766f6c6174696c65c3";
/// io.compress(false).emit, published on `socket.io#/#`.
pub(super) const IO_COMPRESS_FALSE_EMIT: &str = "93a641624364456683a47479706502a46461746192a26576c0a36e7370a12f83a5726f6f6d7390a665786365707490a5666c61677381a8636f6d7072657373c2";
/// io.timeout(1000).emit no cb, published on `socket.io#/#`.
pub(super) const IO_TIMEOUT_1000_EMIT_NO_CB: &str = "93a641624364456683a47479706502a46461746192a2657681a1789301cb4004000000000000fda36e7370a12f83a5726f6f6d7390a665786365707490a5666c61677381a774696d656f7574cd03e8";
/// io.except(a).to(b).to(c).emit, published on `socket.io#/#`.
pub(super) const IO_EXCEPT_A_TO_B_TO_C_EMIT: &str = "93a641624364456683a47479706502a46461746192a26576c3a36e7370a12f83a5726f6f6d7392a162a163a665786365707491a161a5666c61677380";
/// socket.broadcast.emit, published on `socket.io#/#`.
pub(super) const SOCKET_BROADCAST_EMIT: &str = "93a641624364456683a47479706502a46461746192a26576a178a36e7370a12f83a5726f6f6d7390a665786365707491b46d564a6d69386f7565735633766e4c7041414141a5666c61677380";
/// chat nsp emit, published on `socket.io#/chat#`.
pub(super) const CHAT_NSP_EMIT: &str = "93a641624364456683a47479706502a46461746191a26576a36e7370a52f6368617483a5726f6f6d7390a665786365707490a5666c61677380";
/// io.timeout(5000).emit with ack, published on `socket.io-request#/#`.
pub(super) const IO_TIMEOUT_5000_EMIT_WITH_ACK: &str = "85a3756964a6416243644566a9726571756573744964a6496f35365061a47479706507a67061636b657483a47479706502a46461746192a3657637a161a36e7370a12fa46f70747383a5726f6f6d7390a665786365707490a5666c61677381a774696d656f7574cd1388";
/// fetchSockets, published on `socket.io-request#/#`.
pub(super) const FETCHSOCKETS: &str =
    r#"{"uid":"AbCdEf","requestId":"Sd78Fg","type":5,"opts":{"rooms":["room1"],"except":["x"]}}"#;
/// allRooms, published on `socket.io-request#/#`.
pub(super) const ALLROOMS: &str = r#"{"uid":"AbCdEf","requestId":"Hj90Kl","type":1}"#;
/// serverSideEmit, published on `socket.io-request#/#`.
pub(super) const SERVERSIDEEMIT: &str =
    r#"{"uid":"AbCdEf","type":6,"data":["hello",1,"two",{"type":"Buffer","data":[3]}]}"#;
/// serverSideEmitWithAck, published on `socket.io-request#/#`.
pub(super) const SERVERSIDEEMITWITHACK: &str =
    r#"{"uid":"AbCdEf","requestId":"Zx12Cv","type":6,"data":["ping",1]}"#;
/// socketsJoin, published on `socket.io-request#/#`.
pub(super) const SOCKETSJOIN: &str =
    r#"{"uid":"AbCdEf","type":2,"opts":{"rooms":["room1"],"except":["x"]},"rooms":["r1","r2"]}"#;
/// socketsLeave, published on `socket.io-request#/#`.
pub(super) const SOCKETSLEAVE: &str =
    r#"{"uid":"AbCdEf","type":3,"opts":{"rooms":[],"except":[]},"rooms":["r1"]}"#;
/// disconnectSockets true, published on `socket.io-request#/#`.
pub(super) const DISCONNECTSOCKETS_TRUE: &str =
    r#"{"uid":"AbCdEf","type":4,"opts":{"rooms":["nobody"],"except":[]},"close":true}"#;
/// disconnectSockets false, published on `socket.io-request#/#`.
pub(super) const DISCONNECTSOCKETS_FALSE: &str =
    r#"{"uid":"AbCdEf","type":4,"opts":{"rooms":["nobody"],"except":[]},"close":false}"#;
/// resp SOCKETS (request in) (built by the capture script, fed to onrequest).
pub(super) const RESP_SOCKETS_REQUEST_IN: &str =
    r#"{"uid":"PeEr01","requestId":"Rq0001","type":0,"rooms":["room1"]}"#;
/// resp SOCKETS, published on `socket.io-response#/#`.
pub(super) const RESP_SOCKETS: &str = r#"{"requestId":"Rq0001","sockets":["mVJmi8ouesV3vnLpAAAA"]}"#;
/// resp ALL_ROOMS (request in) (built by the capture script, fed to onrequest).
pub(super) const RESP_ALL_ROOMS_REQUEST_IN: &str = r#"{"uid":"PeEr01","requestId":"Rq0002","type":1}"#;
/// resp ALL_ROOMS, published on `socket.io-response#/#`.
pub(super) const RESP_ALL_ROOMS: &str = r#"{"requestId":"Rq0002","rooms":["mVJmi8ouesV3vnLpAAAA","room1"]}"#;
/// resp REMOTE_FETCH (request in) (built by the capture script, fed to onrequest).
pub(super) const RESP_REMOTE_FETCH_REQUEST_IN: &str =
    r#"{"uid":"PeEr01","requestId":"Rq0003","type":5,"opts":{"rooms":["room1"],"except":[]}}"#;
/// resp REMOTE_FETCH, published on `socket.io-response#/#`.
pub(super) const RESP_REMOTE_FETCH: &str = r#"{"requestId":"Rq0003","sockets":[{"id":"mVJmi8ouesV3vnLpAAAA","handshake":{"headers":{"sec-websocket-version":"13","sec-websocket-key":"q5N+IpYZACplE6N7e7it4A==","connection":"Upgrade","upgrade":"websocket","sec-websocket-extensions":"permessage-deflate; client_max_window_bits","host":"localhost:43995"},"time":"Thu Dec 03 2026 13:10:15 GMT+0000 (Coordinated Universal Time)","address":"::ffff:127.0.0.1","xdomain":false,"secure":false,"issued":1796303415179,"url":"/socket.io/?q=1&EIO=4&transport=websocket","query":{"q":"1","EIO":"4","transport":"websocket"},"auth":{"token":"t"}},"rooms":["mVJmi8ouesV3vnLpAAAA","room1"],"data":{"user":"u1","n":1.5,"buf":{"type":"Buffer","data":[9,8]}}}]}"#;
/// resp REMOTE_FETCH empty (request in) (built by the capture script, fed to onrequest).
pub(super) const RESP_REMOTE_FETCH_EMPTY_REQUEST_IN: &str =
    r#"{"uid":"PeEr01","requestId":"Rq0004","type":5,"opts":{"rooms":["none"],"except":[]}}"#;
/// resp REMOTE_FETCH empty, published on `socket.io-response#/#`.
pub(super) const RESP_REMOTE_FETCH_EMPTY: &str = r#"{"requestId":"Rq0004","sockets":[]}"#;
/// resp SERVER_SIDE_EMIT ack (request in) (built by the capture script, fed to onrequest).
pub(super) const RESP_SERVER_SIDE_EMIT_ACK_REQUEST_IN: &str =
    r#"{"uid":"PeEr01","requestId":"Rq0005","type":6,"data":["ping"]}"#;
/// resp SERVER_SIDE_EMIT ack, published on `socket.io-response#/#`.
pub(super) const RESP_SERVER_SIDE_EMIT_ACK: &str =
    r#"{"type":6,"requestId":"Rq0005","data":{"pong":{"type":"Buffer","data":[5]}}}"#;
/// resp SERVER_SIDE_EMIT ack undefined (request in) (built by the capture script, fed to onrequest).
pub(super) const RESP_SERVER_SIDE_EMIT_ACK_UNDEFINED_REQUEST_IN: &str =
    r#"{"uid":"PeEr01","requestId":"Rq0006","type":6,"data":["noarg"]}"#;
/// resp SERVER_SIDE_EMIT ack undefined, published on `socket.io-response#/#`.
pub(super) const RESP_SERVER_SIDE_EMIT_ACK_UNDEFINED: &str = r#"{"type":6,"requestId":"Rq0006"}"#;
/// resp BROADCAST (request in) (built by the capture script, fed to onrequest).
pub(super) const RESP_BROADCAST_REQUEST_IN: &str = "85a3756964a6506545723031a9726571756573744964a6527130303037a47479706507a67061636b657483a47479706502a46461746192a3657637a161a36e7370a12fa46f70747383a5726f6f6d7390a665786365707490a5666c61677381a774696d656f7574cd1388";
/// resp BROADCAST, published on `socket.io-response#/#`.
pub(super) const RESP_BROADCAST: &str = r#"{"type":8,"requestId":"Rq0007","clientCount":1}"#;
/// resp BROADCAST, published on `socket.io-response#/#`.
pub(super) const RESP_BROADCAST_2: &str =
    "83a47479706509a9726571756573744964a6527130303037a67061636b657482a26f6b01a162c40104";
/// resp BROADCAST no arg (request in) (built by the capture script, fed to onrequest).
pub(super) const RESP_BROADCAST_NO_ARG_REQUEST_IN: &str = "85a3756964a6506545723031a9726571756573744964a6527130303038a47479706507a67061636b657483a47479706502a46461746191a465763762a36e7370a12fa46f70747383a5726f6f6d7391a5726f6f6d31a665786365707490a5666c61677381a774696d656f7574cd1388";
/// resp BROADCAST no arg, published on `socket.io-response#/#`.
pub(super) const RESP_BROADCAST_NO_ARG: &str = r#"{"type":8,"requestId":"Rq0008","clientCount":1}"#;
/// resp BROADCAST no arg, published on `socket.io-response#/#`.
pub(super) const RESP_BROADCAST_NO_ARG_2: &str = "82a47479706509a9726571756573744964a6527130303038";
/// resp BROADCAST no clients (request in) (built by the capture script, fed to onrequest).
pub(super) const RESP_BROADCAST_NO_CLIENTS_REQUEST_IN: &str = "85a3756964a6506545723031a9726571756573744964a6527130303039a47479706507a67061636b657483a47479706502a46461746191a3657637a36e7370a12fa46f70747383a5726f6f6d7391a46e6f6e65a665786365707490a5666c61677381a774696d656f7574cd1388";
/// resp BROADCAST no clients, published on `socket.io-response#/#`.
pub(super) const RESP_BROADCAST_NO_CLIENTS: &str = r#"{"type":8,"requestId":"Rq0009","clientCount":0}"#;
/// resp legacy REMOTE_JOIN (request in) (built by the capture script, fed to onrequest).
pub(super) const RESP_LEGACY_REMOTE_JOIN_REQUEST_IN: &str =
    r#"{"uid":"PeEr01","requestId":"Rq0010","type":2,"sid":"mVJmi8ouesV3vnLpAAAA","room":"lr"}"#;
/// resp legacy REMOTE_JOIN, published on `socket.io-response#/#`.
pub(super) const RESP_LEGACY_REMOTE_JOIN: &str = r#"{"requestId":"Rq0010"}"#;
/// v7 remoteJoin, published on `socket.io-request#/#`.
pub(super) const V7_REMOTEJOIN: &str =
    r#"{"uid":"OlDv7x","requestId":"Lg0002","type":2,"sid":"SiD0000000000000000x","room":"room9"}"#;
/// v7 remoteLeave, published on `socket.io-request#/#`.
pub(super) const V7_REMOTELEAVE: &str =
    r#"{"uid":"OlDv7x","requestId":"Lg0003","type":3,"sid":"SiD0000000000000000x","room":"room9"}"#;
/// v7 remoteDisconnect, published on `socket.io-request#/#`.
pub(super) const V7_REMOTEDISCONNECT: &str =
    r#"{"uid":"OlDv7x","requestId":"Lg0004","type":4,"sid":"SiD0000000000000000x","close":true}"#;
/// v7 sockets, published on `socket.io-request#/#`.
pub(super) const V7_SOCKETS: &str = r#"{"uid":"OlDv7x","requestId":"ZZZZZZ","type":0,"rooms":["room1"]}"#;

/// The sid of the client connected during the capture.
pub(super) const SID: &str = "mVJmi8ouesV3vnLpAAAA";
