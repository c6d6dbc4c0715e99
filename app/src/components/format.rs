//! Numbers as people read them.

/// `1.5 MB`, `812 kB`, `42 B` (decimal units, as registries report layer sizes).
pub fn bytes(n: i64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1000.0 && unit < UNITS.len() - 1 {
        v /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

/// A time machine window: `2 weeks`, `1 day`, `none`.
pub fn window(seconds: i64) -> String {
    let plural = |n: i64, unit: &str| if n == 1 { format!("1 {unit}") } else { format!("{n} {unit}s") };
    match seconds {
        0 => "none".into(),
        s if s % (7 * 86_400) == 0 => plural(s / (7 * 86_400), "week"),
        s if s % 86_400 == 0 => plural(s / 86_400, "day"),
        s if s % 3600 == 0 => plural(s / 3600, "hour"),
        s => plural(s, "second"),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn windows() {
        assert_eq!(super::window(0), "none");
        assert_eq!(super::window(86_400), "1 day");
        assert_eq!(super::window(7 * 86_400), "1 week");
        assert_eq!(super::window(14 * 86_400), "2 weeks");
        assert_eq!(super::window(3 * 86_400), "3 days");
    }

    #[test]
    fn sizes() {
        assert_eq!(super::bytes(42), "42 B");
        assert_eq!(super::bytes(17_014_479), "17.0 MB");
        assert_eq!(super::bytes(1_500), "1.5 kB");
    }
}
