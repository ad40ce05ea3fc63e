//! UTC dates for the results folder and report, from the system clock (no date crate for two
//! strings): days since the epoch to a civil date by Howard Hinnant's `civil_from_days`.

use std::time::{SystemTime, UNIX_EPOCH};

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
        let days = i64::try_from(secs / 86_400).unwrap_or(0);
        let (year, month, day) = civil_from_days(days);
        Utc { year, month, day, secs_of_day: secs % 86_400 }
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

/// (year, month, day) of the proleptic Gregorian calendar for days since 1970-01-01.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
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
