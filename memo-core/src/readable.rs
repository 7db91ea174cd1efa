//! Durations and times for people (`3.2 s`, `5 min ago`,
//! `2024-05-01 12:30:00 UTC`): shared by the call path's miss reasons and
//! administration's reports, so neither imports the other for them.

use std::time::{Duration, SystemTime};

/// A duration for people: `850 µs`, `12 ms`, `3.2 s`, `4m 05s`, `2h 10m`,
/// `3d 4h`.
///
/// ```
/// use std::time::Duration;
/// use memory::manage::format_duration;
///
/// assert_eq!(format_duration(Duration::from_millis(3200)), "3.2 s");
/// assert_eq!(format_duration(Duration::from_secs(7800)), "2h 10m");
/// ```
pub fn format_duration(duration: Duration) -> String {
    let secs = duration.as_secs();
    if duration < Duration::from_millis(1) {
        format!("{} µs", duration.as_micros())
    } else if duration < Duration::from_secs(1) {
        format!("{} ms", duration.as_millis())
    } else if secs < 60 {
        format!("{:.1} s", duration.as_secs_f64())
    } else if secs < 3600 {
        format!("{}m {:02}s", secs / 60, secs % 60)
    } else if secs < 86_400 {
        format!("{}h {:02}m", secs / 3600, secs % 3600 / 60)
    } else {
        format!("{}d {}h", secs / 86_400, secs % 86_400 / 3600)
    }
}

/// How long ago `time` was, seen from `now`: `just now`, `40 s ago`,
/// `5 min ago`, `3 h ago`, `2 days ago`, `7 weeks ago`.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use memory::manage::format_ago;
///
/// let now = SystemTime::now();
/// assert_eq!(format_ago(now - Duration::from_secs(3 * 3600), now), "3 h ago");
/// ```
pub fn format_ago(time: SystemTime, now: SystemTime) -> String {
    let Ok(ago) = now.duration_since(time) else {
        return "in the future".to_owned();
    };
    let secs = ago.as_secs();
    match secs {
        0..5 => "just now".to_owned(),
        5..60 => format!("{secs} s ago"),
        60..3600 => format!("{} min ago", secs / 60),
        3600..86_400 => format!("{} h ago", secs / 3600),
        86_400..172_800 => "1 day ago".to_owned(),
        172_800..1_209_600 => format!("{} days ago", secs / 86_400),
        1_209_600..63_072_000 => format!("{} weeks ago", secs / 604_800),
        _ => format!("{} years ago", secs / 31_536_000),
    }
}

/// A time as `2024-05-01 12:30:00 UTC`.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use memory::manage::format_utc;
///
/// assert_eq!(format_utc(UNIX_EPOCH + Duration::from_secs(1_714_566_600)), "2024-05-01 12:30:00 UTC");
/// ```
pub fn format_utc(time: SystemTime) -> String {
    let secs = time
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, of_day) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(days as i64);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        of_day / 3600,
        of_day % 3600 / 60,
        of_day % 60
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's
/// `civil_from_days`).
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
    fn durations_and_times_read_well() {
        let d = Duration::from_secs;
        assert_eq!(format_duration(Duration::from_micros(850)), "850 µs");
        assert_eq!(format_duration(Duration::from_millis(12)), "12 ms");
        assert_eq!(format_duration(d(245)), "4m 05s");
        assert_eq!(format_duration(d(3 * 86_400 + 4 * 3600)), "3d 4h");
        let now = SystemTime::UNIX_EPOCH + d(1_000_000_000);
        assert_eq!(format_ago(now, now), "just now");
        assert_eq!(format_ago(now - d(40), now), "40 s ago");
        assert_eq!(format_ago(now - d(300), now), "5 min ago");
        assert_eq!(format_ago(now - d(86_400), now), "1 day ago");
        assert_eq!(format_ago(now - d(3 * 86_400), now), "3 days ago");
        assert_eq!(format_ago(now - d(49 * 86_400), now), "7 weeks ago");
        assert_eq!(format_ago(now + d(10), now), "in the future");
        assert_eq!(
            format_utc(SystemTime::UNIX_EPOCH),
            "1970-01-01 00:00:00 UTC"
        );
        assert_eq!(format_utc(now), "2001-09-09 01:46:40 UTC");
        assert_eq!(
            format_utc(SystemTime::UNIX_EPOCH + d(951_782_400)),
            "2000-02-29 00:00:00 UTC"
        );
    }
}
