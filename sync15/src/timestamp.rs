//! Server timestamps.
//!
//! The storage server speaks in seconds with two decimals (`1700000000.12`),
//! in headers (`X-Last-Modified`, `X-Weave-Timestamp`), in JSON bodies
//! (`modified`) and in query parameters (`newer`). Comparing those as floats
//! invites off-by-a-hundredth bugs, so [`ServerTimestamp`] keeps integer
//! milliseconds and converts exactly at the edges.

use std::{
    fmt,
    str::FromStr,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A point in time on the server's clock, in whole milliseconds since the
/// Unix epoch. Never negative.
#[derive(Copy, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ServerTimestamp(i64);

/// Why a string is not a server timestamp.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{input:?} is not a server timestamp (expected seconds like `1700000000.12`)")]
pub struct TimestampParseError {
    input: String,
}

impl ServerTimestamp {
    /// The epoch: "never", the timestamp of a collection that does not exist.
    pub const ZERO: ServerTimestamp = ServerTimestamp(0);

    /// From milliseconds; negative values are clamped to zero.
    pub const fn from_millis(ms: i64) -> Self {
        if ms < 0 {
            ServerTimestamp(0)
        } else {
            ServerTimestamp(ms)
        }
    }

    /// Milliseconds since the epoch.
    pub const fn as_millis(self) -> i64 {
        self.0
    }

    /// From seconds as a float, as JSON bodies carry them. Rounds to the
    /// nearest millisecond, which is exact for every two-decimal value a
    /// server sends. Returns `None` for negative, infinite or NaN input.
    pub fn from_seconds_f64(secs: f64) -> Option<Self> {
        if !secs.is_finite() || secs < 0.0 {
            return None;
        }
        let ms = (secs * 1000.0).round();
        if ms > i64::MAX as f64 {
            return None;
        }
        Some(ServerTimestamp(ms as i64))
    }

    /// Seconds as a float, for JSON output. Prints as the exact decimal.
    pub fn as_seconds_f64(self) -> f64 {
        self.0 as f64 / 1000.0
    }

    /// The local clock's current time as a server timestamp (used where a
    /// client must stamp something itself, and by tests).
    pub fn now() -> Self {
        Self::from_system_time(SystemTime::now())
    }

    /// Converts a `SystemTime`; times before the epoch become [`ServerTimestamp::ZERO`].
    pub fn from_system_time(t: SystemTime) -> Self {
        match t.duration_since(UNIX_EPOCH) {
            Ok(d) => ServerTimestamp(i64::try_from(d.as_millis()).unwrap_or(i64::MAX)),
            Err(_) => ServerTimestamp::ZERO,
        }
    }

    /// As a `SystemTime`.
    pub fn as_system_time(self) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(self.0 as u64)
    }

    /// How long after `earlier` this is, or `None` if it is not later.
    pub fn duration_since(self, earlier: ServerTimestamp) -> Option<Duration> {
        (self.0 >= earlier.0).then(|| Duration::from_millis((self.0 - earlier.0) as u64))
    }

    /// Parses the server's decimal-seconds form exactly: digits, optionally a
    /// point and more digits. Fractions finer than a millisecond are dropped.
    pub fn parse(input: &str) -> Result<Self, TimestampParseError> {
        let err = || TimestampParseError {
            input: input.chars().take(64).collect(),
        };
        let s = input.trim();
        let (whole, frac) = match s.split_once('.') {
            Some((w, f)) => (w, f),
            None => (s, ""),
        };
        if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) {
            return Err(err());
        }
        if !frac.bytes().all(|b| b.is_ascii_digit()) {
            return Err(err());
        }
        let secs: i64 = whole.parse().map_err(|_| err())?;
        let mut ms: i64 = 0;
        for (i, digit) in frac.bytes().take(3).enumerate() {
            ms += i64::from(digit - b'0') * 10_i64.pow(2 - i as u32);
        }
        secs.checked_mul(1000)
            .and_then(|v| v.checked_add(ms))
            .map(ServerTimestamp)
            .ok_or_else(err)
    }
}

impl FromStr for ServerTimestamp {
    type Err = TimestampParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// Prints the server's form: seconds with exactly two decimals. Milliseconds
/// finer than a hundredth are truncated, which only ever asks the server for
/// *more* (`newer=`) or a stricter precondition, never less.
impl fmt::Display for ServerTimestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:02}", self.0 / 1000, (self.0 % 1000) / 10)
    }
}

impl fmt::Debug for ServerTimestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ServerTimestamp({self})")
    }
}

impl Serialize for ServerTimestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_f64(self.as_seconds_f64())
    }
}

/// Accepts a JSON number (integer or float seconds) or a string of seconds.
impl<'de> Deserialize<'de> for ServerTimestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = ServerTimestamp;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a non-negative timestamp in seconds")
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<ServerTimestamp, E> {
                ServerTimestamp::from_seconds_f64(v)
                    .ok_or_else(|| E::custom(format!("invalid timestamp {v}")))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<ServerTimestamp, E> {
                i64::try_from(v)
                    .ok()
                    .and_then(|s| s.checked_mul(1000))
                    .map(ServerTimestamp)
                    .ok_or_else(|| E::custom(format!("timestamp {v} out of range")))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<ServerTimestamp, E> {
                u64::try_from(v)
                    .map_err(|_| E::custom(format!("negative timestamp {v}")))
                    .and_then(|v| self.visit_u64(v))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<ServerTimestamp, E> {
                ServerTimestamp::parse(v).map_err(E::custom)
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_the_server_form_exactly() {
        let ts = ServerTimestamp::parse("1700000000.12").unwrap();
        assert_eq!(ts.as_millis(), 1_700_000_000_120);
        assert_eq!(ts.to_string(), "1700000000.12");
        assert_eq!(
            ServerTimestamp::parse("1700000000").unwrap().as_millis(),
            1_700_000_000_000
        );
        assert_eq!(
            ServerTimestamp::parse("1700000000.").unwrap().as_millis(),
            1_700_000_000_000
        );
        assert_eq!(ServerTimestamp::parse("0.05").unwrap().as_millis(), 50);
        assert_eq!(ServerTimestamp::parse(" 12.3 ").unwrap().as_millis(), 12_300);
        assert_eq!(ServerTimestamp::parse("1.23456").unwrap().as_millis(), 1_234);
    }

    #[test]
    fn rejects_what_is_not_a_timestamp() {
        for bad in [
            "",
            ".5",
            "-1.00",
            "+1",
            "1e9",
            "abc",
            "1.2.3",
            "1,5",
            "99999999999999999999",
        ] {
            assert!(ServerTimestamp::parse(bad).is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn prints_two_decimals() {
        assert_eq!(ServerTimestamp::from_millis(1_000).to_string(), "1.00");
        assert_eq!(ServerTimestamp::from_millis(1_010).to_string(), "1.01");
        assert_eq!(ServerTimestamp::from_millis(1_019).to_string(), "1.01");
        assert_eq!(ServerTimestamp::ZERO.to_string(), "0.00");
        assert_eq!(ServerTimestamp::from_millis(-5), ServerTimestamp::ZERO);
    }

    #[test]
    fn json_numbers_and_strings() {
        let from_float: ServerTimestamp = serde_json::from_str("1388635807.41").unwrap();
        assert_eq!(from_float.as_millis(), 1_388_635_807_410);
        let from_int: ServerTimestamp = serde_json::from_str("1388635807").unwrap();
        assert_eq!(from_int.as_millis(), 1_388_635_807_000);
        let from_str: ServerTimestamp = serde_json::from_str("\"1388635807.41\"").unwrap();
        assert_eq!(from_str, from_float);
        assert_eq!(serde_json::to_string(&from_float).unwrap(), "1388635807.41");
        assert!(serde_json::from_str::<ServerTimestamp>("-1").is_err());
        assert!(serde_json::from_str::<ServerTimestamp>("-1.5").is_err());
        assert!(serde_json::from_str::<ServerTimestamp>("null").is_err());
    }

    #[test]
    fn ordering_and_durations() {
        let a = ServerTimestamp::from_millis(1_000);
        let b = ServerTimestamp::from_millis(2_500);
        assert!(a < b);
        assert_eq!(b.duration_since(a), Some(Duration::from_millis(1_500)));
        assert_eq!(a.duration_since(b), None);
        let now = ServerTimestamp::now();
        assert!(now.as_millis() > 1_600_000_000_000);
        assert_eq!(ServerTimestamp::from_system_time(now.as_system_time()), now);
    }

    proptest! {
        #[test]
        fn every_hundredth_round_trips_through_text_and_json(centis in 0i64..100_000_000_000_000) {
            let ts = ServerTimestamp::from_millis(centis * 10);
            prop_assert_eq!(ServerTimestamp::parse(&ts.to_string()).unwrap(), ts);
            let json = serde_json::to_string(&ts).unwrap();
            prop_assert_eq!(serde_json::from_str::<ServerTimestamp>(&json).unwrap(), ts);
        }

        #[test]
        fn parse_never_panics(s in "\\PC{0,24}") {
            let _ = ServerTimestamp::parse(&s);
        }
    }
}
