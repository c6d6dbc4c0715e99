//! Times as people read them: relative, with the absolute UTC time on hover and focus.
//!
//! `now_ms` comes from the server with the data, so the server's HTML and the browser's first
//! render agree (no hydration mismatch, no layout shift).

use chrono::{DateTime, Datelike, Timelike};
use leptos::prelude::*;

/// `2026-11-23 05:58:35 UTC`. (Written digit by digit: a history page has a couple of hundred of
/// these, and `format` would parse its pattern at every call.)
pub fn absolute(ms: i64) -> String {
    let Some((mut s, _)) = date_time(ms, ' ') else { return "—".to_owned() };
    s.push_str(" UTC");
    s
}

/// `2026-11-23T05:58:35.120Z`: the machine-readable instant of a `<time>`.
pub fn iso(ms: i64) -> String {
    let Some((mut s, t)) = date_time(ms, 'T') else { return String::new() };
    s.push('.');
    push_digits(&mut s, t.timestamp_subsec_millis(), 3);
    s.push('Z');
    s
}

/// The instant `ms` (if representable) and its date and time written as [`push_date_time`] does,
/// with room for a suffix.
fn date_time(ms: i64, sep: char) -> Option<(String, DateTime<chrono::Utc>)> {
    let t = DateTime::from_timestamp_millis(ms)?;
    let mut s = String::with_capacity(24);
    push_date_time(&mut s, &t, sep);
    Some((s, t))
}

/// `YYYY-MM-DD?HH:MM:SS` with `sep` between the date and the time (years 0–9999).
fn push_date_time(s: &mut String, t: &DateTime<chrono::Utc>, sep: char) {
    let year = t.year().clamp(0, 9999) as u32;
    push_digits(s, year / 100, 2);
    push_digits(s, year % 100, 2);
    for (field, before) in [(t.month(), '-'), (t.day(), '-'), (t.hour(), sep), (t.minute(), ':'), (t.second(), ':')] {
        s.push(before);
        push_digits(s, field, 2);
    }
}

/// `n` (below 10^width) in `width` decimal digits, zero-padded.
fn push_digits(s: &mut String, n: u32, width: u32) {
    for place in (0..width).rev() {
        s.push(char::from(b'0' + (n / 10u32.pow(place) % 10) as u8));
    }
}

/// `3 hours ago`, `in 2 days`, `just now`.
pub fn relative(ms: i64, now_ms: i64) -> String {
    let delta = (now_ms - ms) / 1000;
    let (n, unit) = match delta.abs() {
        s if s < 45 => return "just now".to_owned(),
        s if s < 90 * 60 => ((s + 30) / 60, "minute"),
        s if s < 36 * 3600 => ((s + 1800) / 3600, "hour"),
        s if s < 45 * 86_400 => ((s + 43_200) / 86_400, "day"),
        s if s < 700 * 86_400 => ((s + 15 * 86_400) / (30 * 86_400), "month"),
        s => ((s + 182 * 86_400) / (365 * 86_400), "year"),
    };
    let plural = if n == 1 { "" } else { "s" };
    if delta >= 0 {
        format!("{n} {unit}{plural} ago")
    } else {
        format!("in {n} {unit}{plural}")
    }
}

/// A `<time>` showing the relative time, focusable, with the absolute time as its title.
#[component]
pub fn Time(ms: i64, now_ms: i64) -> impl IntoView {
    view! {
        <time datetime=iso(ms) title=absolute(ms) tabindex="0">{relative(ms, now_ms)}</time>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_times() {
        let now = 1_700_000_000_000;
        assert_eq!(relative(now - 10_000, now), "just now");
        assert_eq!(relative(now - 3 * 3_600_000, now), "3 hours ago");
        assert_eq!(relative(now - 60_000, now), "1 minute ago");
        assert_eq!(relative(now + 2 * 86_400_000, now), "in 2 days");
        assert_eq!(absolute(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(absolute(1_763_877_515_120), "2025-11-23 05:58:35 UTC");
        assert_eq!(iso(1_763_877_515_120), "2025-11-23T05:58:35.120Z");
        assert_eq!(iso(1_763_877_515_007), "2025-11-23T05:58:35.007Z");
        assert_eq!(absolute(-86_400_000), "1969-12-31 00:00:00 UTC");
    }
}
