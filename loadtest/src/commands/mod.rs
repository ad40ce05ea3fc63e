//! The command line of each scenario: its arguments, checked; the run; the report line.

pub mod broadcast;
pub mod cluster;
pub mod connect;
pub mod echo;
pub mod idle;
pub mod recovery;
pub mod soak;

use std::time::Duration;

/// Longest measured window, so a mistyped duration still ends by itself.
const MAX_SECONDS: f64 = 3600.0;

/// `--name` as a duration in (0, one hour].
fn seconds(name: &str, value: f64) -> Result<Duration, String> {
    if value > 0.0 && value <= MAX_SECONDS {
        Ok(Duration::from_secs_f64(value))
    } else {
        Err(format!("--{name} must be in (0, {MAX_SECONDS}] seconds"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_durations() {
        assert_eq!(seconds("duration", 1.5), Ok(Duration::from_millis(1500)));
        assert!(seconds("duration", 0.0).is_err());
        assert!(seconds("duration", f64::NAN).is_err());
        assert!(seconds("duration", 1e9).is_err());
    }
}
