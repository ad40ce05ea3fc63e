//! The `Date` header's IMF-fixdate (RFC 9110 §5.6.7), from seconds the caller supplies.
//!
//! Node sends `Date` on every response. The module is clock-free (the runtime reads its clock
//! once a second and caches the 29 bytes); the calendar is the `time` crate's.

use time::{OffsetDateTime, PrimitiveDateTime};

/// Length of an IMF-fixdate: `Sun, 06 Nov 1994 08:49:37 GMT`.
pub const HTTP_DATE_LEN: usize = 29;

const DAYS: [&[u8; 3]; 7] = [b"Mon", b"Tue", b"Wed", b"Thu", b"Fri", b"Sat", b"Sun"];
const MONTHS: [&[u8; 3]; 12] =
    [b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec"];

/// Formats `unix_secs` (seconds since 1970-01-01T00:00:00Z) as an IMF-fixdate. Past what the
/// calendar holds, the last second it holds; years past 9999 keep their last four digits.
pub fn http_date(unix_secs: u64) -> [u8; HTTP_DATE_LEN] {
    let at = i64::try_from(unix_secs)
        .ok()
        .and_then(|secs| OffsetDateTime::from_unix_timestamp(secs).ok())
        .unwrap_or(PrimitiveDateTime::MAX.assume_utc());
    let mut out = *b"Thu, 01 Jan 1970 00:00:00 GMT";
    out[..3].copy_from_slice(DAYS[usize::from(at.weekday().number_days_from_monday())]);
    two_digits(&mut out[5..7], at.day().into());
    out[8..11].copy_from_slice(MONTHS[usize::from(u8::from(at.month()) - 1)]);
    let year = at.year().unsigned_abs();
    two_digits(&mut out[12..14], year / 100 % 100);
    two_digits(&mut out[14..16], year % 100);
    two_digits(&mut out[17..19], at.hour().into());
    two_digits(&mut out[20..22], at.minute().into());
    two_digits(&mut out[23..25], at.second().into());
    out
}

fn two_digits(out: &mut [u8], n: u32) {
    out[0] = b'0' + (n / 10 % 10) as u8;
    out[1] = b'0' + (n % 10) as u8;
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn table() {
        let cases: &[(u64, &[u8])] = &[
            (0, b"Thu, 01 Jan 1970 00:00:00 GMT"),
            (784_111_777, b"Sun, 06 Nov 1994 08:49:37 GMT"),
            (951_782_400, b"Tue, 29 Feb 2000 00:00:00 GMT"),
            (1_709_251_199, b"Thu, 29 Feb 2024 23:59:59 GMT"),
            (1_735_689_600, b"Wed, 01 Jan 2025 00:00:00 GMT"),
            (4_102_444_800, b"Fri, 01 Jan 2100 00:00:00 GMT"),
            (253_402_300_799, b"Fri, 31 Dec 9999 23:59:59 GMT"),
        ];
        for (secs, text) in cases {
            assert_eq!(&http_date(*secs)[..], *text, "{secs}");
        }
    }

    proptest! {
        #[test]
        fn never_panics(secs in any::<u64>()) {
            let date = http_date(secs);
            prop_assert!(date.is_ascii());
        }
    }
}
