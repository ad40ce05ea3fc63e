//! The `Date` header's IMF-fixdate (RFC 9110 §5.6.7), from seconds the caller supplies.
//!
//! Node sends `Date` on every response. Formatting is pure arithmetic so this module stays
//! clock-free: the runtime reads its clock once a second and caches the 29 bytes.

/// Length of an IMF-fixdate: `Sun, 06 Nov 1994 08:49:37 GMT`.
pub const HTTP_DATE_LEN: usize = 29;

const DAYS: [&[u8; 3]; 7] = [b"Thu", b"Fri", b"Sat", b"Sun", b"Mon", b"Tue", b"Wed"];
const MONTHS: [&[u8; 3]; 12] =
    [b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec"];

/// Formats `unix_secs` (seconds since 1970-01-01T00:00:00Z) as an IMF-fixdate.
pub fn http_date(unix_secs: u64) -> [u8; HTTP_DATE_LEN] {
    let days = unix_secs / 86_400;
    let secs = unix_secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    let mut out = *b"Thu, 01 Jan 1970 00:00:00 GMT";
    // 1970-01-01 was a Thursday.
    out[..3].copy_from_slice(DAYS[(days % 7) as usize]);
    two_digits(&mut out[5..7], day);
    out[8..11].copy_from_slice(MONTHS[(month - 1) as usize]);
    // Four digits until year 10000; later years wrap rather than widen the field.
    two_digits(&mut out[12..14], year / 100 % 100);
    two_digits(&mut out[14..16], year % 100);
    two_digits(&mut out[17..19], secs / 3600);
    two_digits(&mut out[20..22], secs / 60 % 60);
    two_digits(&mut out[23..25], secs % 60);
    out
}

fn two_digits(out: &mut [u8], n: u64) {
    out[0] = b'0' + (n / 10 % 10) as u8;
    out[1] = b'0' + (n % 10) as u8;
}

/// Days since the epoch to (year, month 1–12, day 1–31), proleptic Gregorian
/// (H. Hinnant's `civil_from_days`).
pub(crate) fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
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
