//! UTC dates for the results folder and report, from the system clock; the calendar is the
//! `time` crate's.

use std::time::{SystemTime, UNIX_EPOCH};

use time::OffsetDateTime;

/// A moment in UTC, to the second.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Utc {
    year: i64,
    month: u32,
    day: u32,
    secs_of_day: u64,
}

impl Utc {
    pub fn now() -> Utc {
        let secs = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        Utc::from_unix(secs)
    }

    pub fn from_unix(secs: u64) -> Utc {
        let at = i64::try_from(secs)
            .ok()
            .and_then(|secs| OffsetDateTime::from_unix_timestamp(secs).ok())
            .unwrap_or(OffsetDateTime::UNIX_EPOCH);
        let secs_of_day = u64::from(at.hour()) * 3600 + u64::from(at.minute()) * 60 + u64::from(at.second());
        Utc { year: at.year().into(), month: u8::from(at.month()).into(), day: at.day().into(), secs_of_day }
    }

    fn hms(&self) -> (u64, u64, u64) {
        (self.secs_of_day / 3600, self.secs_of_day / 60 % 60, self.secs_of_day % 60)
    }

    /// `2026-11-22 05:20:07 UTC`, for people.
    pub fn readable(&self) -> String {
        let (h, m, s) = self.hms();
        format!("{:04}-{:02}-{:02} {h:02}:{m:02}:{s:02} UTC", self.year, self.month, self.day)
    }

    /// `20261122T052007Z`, for a folder name that sorts by time.
    pub fn compact(&self) -> String {
        let (h, m, s) = self.hms();
        format!("{:04}{:02}{:02}T{h:02}{m:02}{s:02}Z", self.year, self.month, self.day)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_moments() {
        assert_eq!(Utc::from_unix(0).readable(), "1970-01-01 00:00:00 UTC");
        // 2000-02-29 12:34:56, a leap day of a century leap year.
        assert_eq!(Utc::from_unix(951_827_696).readable(), "2000-02-29 12:34:56 UTC");
        assert_eq!(Utc::from_unix(1_767_225_599).compact(), "20251231T235959Z");
        assert_eq!(Utc::from_unix(1_767_225_600).compact(), "20260101T000000Z");
    }
}
