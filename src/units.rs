//! Durations and sizes as people write them: `90`, `1.5`, `500ms`, `30s`,
//! `5m`, `2h`, `30d`, `2w`; `4096`, `64K`, `1M`, `1G`; and times as the
//! history keeps them and as reports write them.
//!
//! Used by the command line and by attributes alike, so every place that
//! takes a duration or a size accepts the same spellings.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Parses a duration: a non-negative decimal number with an optional unit
/// (`ms`, `s`, `m`, `h`, `d` for days, `w` for weeks); a bare number is
/// seconds. Days and weeks are for ages (`prune --older-than 30d`); a day
/// is 24 hours, whatever the clock did that day.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let not_a_duration = || {
        format!(
            "`{text}` is not a duration; write a number of seconds or e.g. `500ms`, `30s`, `5m`"
        )
    };
    if number.is_empty() {
        return Err(not_a_duration());
    }
    let scale = match unit.trim() {
        "" | "s" => 1.0,
        "ms" => 0.001,
        "m" => 60.0,
        "h" => 3600.0,
        "d" => 86_400.0,
        "w" => 604_800.0,
        other => {
            return Err(format!(
                "unknown unit `{other}` in `{text}`; use ms, s, m, h, d or w, e.g. `90s`, `1.5m` or `30d`"
            ));
        }
    };
    let value: f64 = number.parse().map_err(|_| not_a_duration())?;
    Duration::try_from_secs_f64(value * scale)
        .map_err(|_| format!("`{text}` is too long a duration"))
}

/// Parses a size in bytes: a whole number with an optional binary unit
/// (`K`, `M`, `G`, optionally followed by `iB` or `B`).
pub(crate) fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let unit = unit.trim();
    let unit = unit
        .strip_suffix("iB")
        .or_else(|| unit.strip_suffix('B'))
        .unwrap_or(unit);
    let shift = match unit {
        "" => 0,
        "K" | "k" => 10,
        "M" => 20,
        "G" => 30,
        _ => {
            return Err(format!(
                "unknown unit in `{text}`; write a number of bytes or e.g. `64K`, `1M`"
            ));
        }
    };
    let value: u64 = number.parse().map_err(|_| {
        format!("`{text}` is not a size; write a number of bytes or e.g. `64K`, `1M`")
    })?;
    value
        .checked_mul(1 << shift)
        .ok_or_else(|| format!("`{text}` is too large"))
}

/// Whole seconds since the Unix epoch, as the history stores times (0
/// for a time before it).
pub(crate) fn unix_seconds(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |since| {
        i64::try_from(since.as_secs()).unwrap_or(i64::MAX)
    })
}

/// A time as ISO 8601 in UTC, to the second (`2026-12-01T14:02:26Z`), as
/// reports for other programs write it: unlike the local times people
/// are shown, it means the same wherever it is read.
pub(crate) fn utc_timestamp(unix_seconds: i64) -> String {
    format!("{}Z", utc_date_time(unix_seconds))
}

/// A time as ISO 8601 in UTC, to the millisecond
/// (`2026-12-01T14:02:26.042Z`), as the logs of `--log-dir` begin each
/// line: lines a few milliseconds apart keep their order when read.
pub(crate) fn utc_timestamp_ms(time: SystemTime) -> String {
    let millis = match time.duration_since(UNIX_EPOCH) {
        Ok(since) => i64::try_from(since.as_millis()).unwrap_or(i64::MAX),
        Err(before) => i64::try_from(before.duration().as_millis()).map_or(i64::MIN, |ms| -ms),
    };
    format!(
        "{}.{:03}Z",
        utc_date_time(millis.div_euclid(1000)),
        millis.rem_euclid(1000)
    )
}

/// `2026-12-01T14:02:26`: the date and time of day in UTC, without a zone.
fn utc_date_time(unix_seconds: i64) -> String {
    let days = unix_seconds.div_euclid(86_400);
    let seconds = unix_seconds.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
        seconds / 3600,
        seconds % 3600 / 60,
        seconds % 60
    )
}

/// The proleptic Gregorian date `days` after 1970-01-01 (Howard Hinnant's
/// `civil_from_days`): pure arithmetic, so it needs no time zone data and
/// no call into the C library.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("60"), Ok(Duration::from_secs(60)));
        assert_eq!(parse_duration("0.5"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("1.5m"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert!(parse_duration("-1").is_err());
        assert!(parse_duration("").is_err());
        assert_eq!(parse_duration("30d"), Ok(Duration::from_secs(30 * 86_400)));
        assert_eq!(parse_duration("1.5d"), Ok(Duration::from_secs(129_600)));
        assert_eq!(parse_duration("2w"), Ok(Duration::from_secs(14 * 86_400)));
        assert_eq!(parse_duration("12h"), Ok(Duration::from_secs(12 * 3600)));
        assert_eq!(parse_duration("90m"), Ok(Duration::from_secs(90 * 60)));
        assert!(
            parse_duration("5y")
                .unwrap_err()
                .contains("unknown unit `y` in `5y`; use ms, s, m, h, d or w")
        );
        assert!(parse_duration("d").is_err());
        assert!(parse_duration("1e400").is_err());
        assert!(
            parse_duration("abc")
                .unwrap_err()
                .contains("`abc` is not a duration")
        );
    }

    #[test]
    fn utc_timestamps() {
        assert_eq!(utc_timestamp(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc_timestamp(1_705_329_022), "2024-01-15T14:30:22Z");
        // A leap day, and the last second of a leap year.
        assert_eq!(utc_timestamp(1_709_164_800), "2024-02-29T00:00:00Z");
        assert_eq!(utc_timestamp(1_735_689_599), "2024-12-31T23:59:59Z");
        assert_eq!(utc_timestamp(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(utc_timestamp(-1), "1969-12-31T23:59:59Z");
    }

    #[test]
    fn utc_timestamps_to_the_millisecond() {
        let at = |millis: u64| UNIX_EPOCH + Duration::from_millis(millis);
        assert_eq!(utc_timestamp_ms(at(0)), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            utc_timestamp_ms(at(1_705_329_022_007)),
            "2024-01-15T14:30:22.007Z"
        );
        assert_eq!(
            utc_timestamp_ms(at(1_735_689_599_999)),
            "2024-12-31T23:59:59.999Z"
        );
        // Before the epoch, the milliseconds still count up within the second.
        let before = UNIX_EPOCH - Duration::from_millis(1);
        assert_eq!(utc_timestamp_ms(before), "1969-12-31T23:59:59.999Z");
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("64K"), Ok(65536));
        assert_eq!(parse_size("1M"), Ok(1 << 20));
        assert_eq!(parse_size("1MiB"), Ok(1 << 20));
        assert_eq!(parse_size("2G"), Ok(2 << 30));
        assert!(parse_size("-1").is_err());
        assert!(parse_size("1T").is_err());
        assert!(parse_size("99999999999999999999G").is_err());
        assert_eq!(parse_size("1GB"), Ok(1 << 30));
        assert!(parse_size("1GBB").is_err(), "one unit suffix");
        assert!(parse_size("1GiBiB").is_err(), "one unit suffix");
    }
}
