//! Dates as JavaScript writes them: `Date.prototype.toISOString`, which is also what
//! `JSON.stringify` makes of a `Date` (the msgpack parser's timestamps, the Admin UI's events).
//! The calendar is the `time` crate's; only the format is ours.

use std::fmt::Write as _;

use time::OffsetDateTime;

/// `toISOString` of a time value in milliseconds since the epoch: `YYYY-MM-DDTHH:mm:ss.sssZ`,
/// the year as `±YYYYYY` outside 0..=9999. Every valid JS time value (±8.64e15 ms) has one;
/// `None` beyond what the calendar holds (±999 999 years).
pub(crate) fn iso_string(ms: i64) -> Option<String> {
    let at = OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000)).ok()?;
    let year = at.year();
    let mut out = String::with_capacity(27);
    if (0..=9999).contains(&year) {
        let _ = write!(out, "{year:04}");
    } else {
        let sign = if year < 0 { '-' } else { '+' };
        let _ = write!(out, "{sign}{:06}", year.unsigned_abs());
    }
    let _ = write!(
        out,
        "-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second(),
        ms.rem_euclid(1000)
    );
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_calendar_edges() {
        let table = [
            (0, "1970-01-01T00:00:00.000Z"),
            (951_782_400_000, "2000-02-29T00:00:00.000Z"),
            (1_764_781_445_123, "2025-12-03T17:04:05.123Z"),
            (253_402_300_799_999, "9999-12-31T23:59:59.999Z"),
            (253_402_300_800_000, "+010000-01-01T00:00:00.000Z"),
            (-1, "1969-12-31T23:59:59.999Z"),
            (-62_167_219_200_000, "0000-01-01T00:00:00.000Z"),
            (-62_167_219_200_001, "-000001-12-31T23:59:59.999Z"),
            (-8_640_000_000_000_000, "-271821-04-20T00:00:00.000Z"),
            (8_640_000_000_000_000, "+275760-09-13T00:00:00.000Z"),
        ];
        for (ms, want) in table {
            assert_eq!(iso_string(ms).as_deref(), Some(want), "{ms}");
        }
        assert_eq!(iso_string(i64::MAX), None);
    }
}
