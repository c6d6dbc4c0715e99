//! Times as people read them: relative, with the absolute UTC time on hover and focus.
//!
//! `now_ms` comes from the server with the data, so the server's HTML and the browser's first
//! render agree (no hydration mismatch, no layout shift).

use chrono::DateTime;
use leptos::prelude::*;

/// `2026-11-23 05:58:35 UTC`.
pub fn absolute(ms: i64) -> String {
    DateTime::from_timestamp_millis(ms).map_or_else(|| "—".to_owned(), |t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
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
    let iso = DateTime::from_timestamp_millis(ms).map(|t| t.to_rfc3339()).unwrap_or_default();
    view! {
        <time datetime=iso title=absolute(ms) tabindex="0">{relative(ms, now_ms)}</time>
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
    }
}
