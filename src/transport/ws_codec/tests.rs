use super::*;
use proptest::prelude::*;

/// A client frame, masked as a browser would.
fn client_frame(first: u8, payload: &[u8], mask: [u8; 4]) -> Vec<u8> {
    let mut out = vec![first];
    match payload.len() {
        n if n < 126 => out.push(0x80 | n as u8),
        n if n < 65536 => {
            out.push(0x80 | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(0x80 | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(&mask);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    out
}

#[test]
fn decodes_text_binary_and_controls() {
    let mut dec = WsDecoder::new(1 << 20);
    let mut buf = BytesMut::new();
    buf.extend_from_slice(&client_frame(0x81, b"2probe", [1, 2, 3, 4]));
    buf.extend_from_slice(&client_frame(0x82, &[4, 1, 2, 3], [9, 9, 9, 9]));
    buf.extend_from_slice(&client_frame(0x89, b"hi", [7, 0, 7, 0]));
    buf.extend_from_slice(&client_frame(0x88, &[0x03, 0xe8], [5, 6, 7, 8]));
    assert_eq!(dec.decode(&mut buf), Ok(Some(WsMessage::Text(ByteString::from_static("2probe")))));
    assert_eq!(dec.decode(&mut buf), Ok(Some(WsMessage::Binary(Bytes::from_static(&[4, 1, 2, 3])))));
    assert_eq!(dec.decode(&mut buf), Ok(Some(WsMessage::Ping(Bytes::from_static(b"hi")))));
    assert_eq!(dec.decode(&mut buf), Ok(Some(WsMessage::Close(Bytes::from_static(&[0x03, 0xe8])))));
    assert_eq!(dec.decode(&mut buf), Ok(None));
}

#[test]
fn reassembles_fragments_around_a_ping() {
    let mut dec = WsDecoder::new(1 << 20);
    let mut buf = BytesMut::new();
    buf.extend_from_slice(&client_frame(0x01, "4hé".as_bytes(), [1, 2, 3, 4]));
    buf.extend_from_slice(&client_frame(0x89, b"", [1, 2, 3, 4]));
    buf.extend_from_slice(&client_frame(0x80, "llo".as_bytes(), [4, 3, 2, 1]));
    assert_eq!(dec.decode(&mut buf), Ok(Some(WsMessage::Ping(Bytes::new()))));
    assert_eq!(dec.decode(&mut buf), Ok(Some(WsMessage::Text(ByteString::from_static("4héllo")))));
}

#[test]
fn waits_for_whole_frames_at_every_split() {
    let frame = client_frame(0x81, &[b'4'; 300], [1, 2, 3, 4]);
    for split in 0..frame.len() {
        let mut dec = WsDecoder::new(1 << 20);
        let mut buf = BytesMut::from(&frame[..split]);
        assert_eq!(dec.decode(&mut buf), Ok(None), "split at {split}");
        buf.extend_from_slice(&frame[split..]);
        assert!(matches!(dec.decode(&mut buf), Ok(Some(WsMessage::Text(t))) if t.len() == 300));
    }
}

#[test]
fn rejects_what_rfc6455_forbids() {
    let cases: [(Vec<u8>, WsError); 8] = [
        (vec![0x81, 0x02, b'h', b'i'], WsError::Protocol), // unmasked
        (client_frame(0x88, &[0x03], [1, 1, 1, 1]), WsError::Protocol), // close with half a code
        (client_frame(0x88, &[0x03, 0xed], [1, 1, 1, 1]), WsError::Protocol), // 1005 is never sent
        (client_frame(0x88, &[0x03, 0xe8, 0xff], [1, 1, 1, 1]), WsError::InvalidUtf8), // bad reason
        (client_frame(0xC1, b"x", [1, 1, 1, 1]), WsError::Protocol), // rsv1 without deflate
        (client_frame(0x80, b"x", [1, 1, 1, 1]), WsError::Protocol), // continuation of nothing
        (client_frame(0x81, &[0xff, 0xfe], [1, 1, 1, 1]), WsError::InvalidUtf8),
        (client_frame(0x82, &[0; 2000], [1, 1, 1, 1]), WsError::TooBig),
    ];
    for (bytes, err) in cases {
        let mut dec = WsDecoder::new(1000);
        assert_eq!(dec.decode(&mut BytesMut::from(&bytes[..])), Err(err));
    }
}

#[test]
fn server_frames_are_unmasked_and_sized() {
    let mut out = BytesMut::new();
    write_text("3probe", &mut out);
    assert_eq!(&out[..], b"\x81\x063probe");
    out.clear();
    write_binary(&[0u8; 200], &mut out);
    assert_eq!(&out[..4], &[0x82, 126, 0, 200]);
    assert_eq!(out.len(), 204);
    out.clear();
    write_close(1000, "", &mut out);
    assert_eq!(&out[..], &[0x88, 2, 0x03, 0xe8]);
}

fn deflate(header: &str) -> crate::transport::deflate::DeflateParams {
    crate::transport::deflate::negotiate([header.as_bytes()]).unwrap().unwrap()
}

fn inflating(max: usize) -> WsDecoder {
    WsDecoder::with_deflate(max, Inflater::new(&deflate("permessage-deflate")))
}

/// A server frame, masked again as the client would have sent it.
fn as_client(frame: &[u8], mask: [u8; 4]) -> Vec<u8> {
    let (head, len) = match frame[1] {
        126 => (4, usize::from(u16::from_be_bytes([frame[2], frame[3]]))),
        127 => (10, usize::try_from(u64::from_be_bytes(frame[2..10].try_into().unwrap())).unwrap()),
        n => (2, usize::from(n)),
    };
    assert_eq!(frame.len(), head + len);
    client_frame(frame[0], &frame[head..], mask)
}

/// RFC 7692 §7.2.3.1 ("Hello" in one frame, then in two) and §7.2.3.2 (the shared window).
#[test]
fn inflates_compressed_messages() {
    let mut dec = inflating(1 << 20);
    let mut buf = BytesMut::new();
    buf.extend_from_slice(&client_frame(0xc1, &[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00], [1, 2, 3, 4]));
    buf.extend_from_slice(&client_frame(0x41, &[0xf2, 0x48, 0xcd], [1, 2, 3, 4]));
    buf.extend_from_slice(&client_frame(0x89, b"", [1, 2, 3, 4]));
    buf.extend_from_slice(&client_frame(0x80, &[0xc9, 0xc9, 0x07, 0x00], [5, 6, 7, 8]));
    buf.extend_from_slice(&client_frame(0xc2, &[0xf2, 0x00, 0x11, 0x00, 0x00], [9, 9, 9, 9]));
    buf.extend_from_slice(&client_frame(0x81, b"4plain", [9, 9, 9, 9]));
    let hello = || WsMessage::Text(ByteString::from_static("Hello"));
    assert_eq!(dec.decode(&mut buf), Ok(Some(hello())));
    assert_eq!(dec.decode(&mut buf), Ok(Some(WsMessage::Ping(Bytes::new()))));
    assert_eq!(dec.decode(&mut buf), Ok(Some(hello())));
    assert_eq!(dec.decode(&mut buf), Ok(Some(WsMessage::Binary(Bytes::from_static(b"Hello")))));
    assert_eq!(dec.decode(&mut buf), Ok(Some(WsMessage::Text(ByteString::from_static("4plain")))));
    assert_eq!(dec.decode(&mut buf), Ok(None));
}

#[test]
fn rsv_bits_where_rfc7692_forbids_them() {
    let hello = [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
    let cases: [(Vec<u8>, WsError); 5] = [
        (client_frame(0xc9, b"", [1, 1, 1, 1]), WsError::Protocol), // RSV1 on a ping
        (client_frame(0xa1, b"x", [1, 1, 1, 1]), WsError::Protocol), // RSV2
        (client_frame(0x91, b"x", [1, 1, 1, 1]), WsError::Protocol), // RSV3
        (client_frame(0xc1, &[0xff, 0xff], [1, 1, 1, 1]), WsError::BadCompression),
        (client_frame(0xc1, &[0x01, 0x02, 0x00, 0xfd, 0xff, 0xff, 0xfe], [1, 1, 1, 1]), WsError::InvalidUtf8),
    ];
    for (bytes, err) in cases {
        assert_eq!(inflating(1000).decode(&mut BytesMut::from(&bytes[..])), Err(err), "{bytes:02x?}");
    }
    // RSV1 on a continuation frame.
    let mut buf = BytesMut::from(&client_frame(0x41, &hello[..3], [1, 1, 1, 1])[..]);
    buf.extend_from_slice(&client_frame(0xc0, &hello[3..], [1, 1, 1, 1]));
    assert_eq!(inflating(1000).decode(&mut buf), Err(WsError::Protocol));
    assert_eq!(WsError::BadCompression.close_code(), 1007);
}

#[test]
fn inflated_size_is_bounded() {
    let agreed = deflate("permessage-deflate");
    let mut writer = WsWriter::new(Some(Deflater::new(&agreed, 1024)));
    let mut out = BytesMut::new();
    writer.binary(&vec![0u8; 4 << 20], &mut out);
    assert!(out.len() < 16 << 10, "{}", out.len());
    let bomb = as_client(&out, [3, 1, 4, 1]);
    assert_eq!(inflating(1 << 20).decode(&mut BytesMut::from(&bomb[..])), Err(WsError::TooBig));
}

#[test]
fn payload_of_server_frames_of_each_header_size() {
    for len in [0, 5, 125, 126, 200, 65535, 65536, 70000] {
        let mut frame = BytesMut::new();
        write_text(&"x".repeat(len), &mut frame);
        assert_eq!(server_frame_payload(&frame).len(), len, "{len}");
    }
    assert_eq!(server_frame_payload(&[]), b"");
}

#[test]
fn prebuilt_frames_are_copied_or_recompressed() {
    for len in [5, 200, 70_000] {
        let text = "x".repeat(len);
        let mut frame = BytesMut::new();
        write_text(&text, &mut frame);
        let plain = |writer: &mut WsWriter| {
            let mut out = BytesMut::new();
            writer.prebuilt_text(&frame, &mut out);
            out
        };
        assert_eq!(plain(&mut WsWriter::new(None)), frame, "{len} bytes, no extension");
        // With permessage-deflate, the same bytes as the writer's own framing of the text.
        let params = deflate("permessage-deflate; server_no_context_takeover");
        let mut want = BytesMut::new();
        WsWriter::new(Some(Deflater::new(&params, 100))).text(&text, &mut want);
        assert_eq!(plain(&mut WsWriter::new(Some(Deflater::new(&params, 100)))), want, "{len} bytes");
    }
}

#[test]
fn a_message_frame_is_the_text_frame_of_4_and_its_text() {
    let no_context = deflate("permessage-deflate; server_no_context_takeover");
    for len in [0, 1, 124, 125, 126, 65534, 65535, 70_000] {
        let text = "x".repeat(len);
        let joined = format!("4{text}");
        for threshold in [None, Some(1024)] {
            let writer = || WsWriter::new(threshold.map(|t| Deflater::new(&no_context, t)));
            let (mut message, mut plain) = (BytesMut::new(), BytesMut::new());
            writer().message(&text, &mut message);
            writer().text(&joined, &mut plain);
            assert_eq!(message, plain, "{len} bytes, threshold {threshold:?}");
        }
    }
    let mut out = BytesMut::new();
    WsWriter::default().message("hi", &mut out);
    assert_eq!(&out[..], b"\x81\x034hi");
}

#[test]
fn writer_compresses_by_ws_rules() {
    // Context kept: every data message is compressed (RFC 7692 §7.2.3.1's bytes).
    let mut writer = WsWriter::new(Some(Deflater::new(&deflate("permessage-deflate"), 1024)));
    let mut out = BytesMut::new();
    writer.text("Hello", &mut out);
    assert_eq!(&out[..], &[0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]);
    // No context: under the threshold goes out plain.
    let forget = deflate("permessage-deflate; server_no_context_takeover");
    let mut writer = WsWriter::new(Some(Deflater::new(&forget, 1024)));
    out.clear();
    writer.text("Hello", &mut out);
    assert_eq!(&out[..], b"\x81\x05Hello");
    out.clear();
    let big = "4".repeat(1024);
    writer.text(&big, &mut out);
    assert_eq!(out[0], 0xc1);
    assert!(out.len() < 100);
    let mut dec = inflating(1 << 20);
    let frame = as_client(&out, [1, 2, 3, 4]);
    assert_eq!(dec.decode(&mut BytesMut::from(&frame[..])), Ok(Some(WsMessage::Text(big.into()))));
    // No extension: the plain writers' bytes.
    out.clear();
    WsWriter::default().binary(&[1, 2, 3], &mut out);
    assert_eq!(&out[..], &[0x82, 3, 1, 2, 3]);
}

proptest! {
    #[test]
    fn compressed_round_trip(
        messages in proptest::collection::vec(proptest::collection::vec(0u8..8, 0..3000), 1..5),
        forget in any::<bool>(),
    ) {
        let header = if forget { "permessage-deflate; server_no_context_takeover" } else { "permessage-deflate" };
        let mut writer = WsWriter::new(Some(Deflater::new(&deflate(header), 100)));
        let mut dec = inflating(1 << 20);
        for message in messages {
            let mut out = BytesMut::new();
            writer.binary(&message, &mut out);
            prop_assert_eq!(out[0] & 0x40 != 0, !forget || message.len() >= 100);
            let mut buf = BytesMut::from(&as_client(&out, [7, 7, 1, 2])[..]);
            prop_assert_eq!(dec.decode(&mut buf), Ok(Some(WsMessage::Binary(Bytes::from(message)))));
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic_inflating(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let mut dec = inflating(128);
        let mut buf = BytesMut::from(&bytes[..]);
        while let Ok(Some(_)) = dec.decode(&mut buf) {}
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let mut dec = WsDecoder::new(128);
        let mut buf = BytesMut::from(&bytes[..]);
        while let Ok(Some(_)) = dec.decode(&mut buf) {}
    }

    #[test]
    fn masked_round_trip(data in proptest::collection::vec(any::<u8>(), 0..70000), mask in any::<[u8; 4]>()) {
        let mut dec = WsDecoder::new(1 << 20);
        let mut buf = BytesMut::from(&client_frame(0x82, &data, mask)[..]);
        prop_assert_eq!(dec.decode(&mut buf), Ok(Some(WsMessage::Binary(Bytes::from(data)))));
    }
}
