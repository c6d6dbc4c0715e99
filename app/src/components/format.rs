//! Numbers as people read them.

/// `1.5 MB`, `812.0 kB`, `42 B` (decimal units, as registries report layer sizes), in integer
/// arithmetic (exact for every size, rounded half up).
pub fn bytes(n: i64) -> String {
    const UNITS: [&str; 4] = ["kB", "MB", "GB", "TB"];
    if n < 1000 {
        return format!("{n} B");
    }
    let (mut scale, mut unit) = (1000_i128, 0);
    while unit < UNITS.len() - 1 && i128::from(n) >= scale * 1000 {
        scale *= 1000;
        unit += 1;
    }
    let tenths = (i128::from(n) * 10 + scale / 2) / scale;
    format!("{}.{} {}", tenths / 10, tenths % 10, UNITS[unit])
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
        assert_eq!(super::bytes(999), "999 B");
        assert_eq!(super::bytes(1_000), "1.0 kB");
        assert_eq!(super::bytes(812_049), "812.0 kB");
        assert_eq!(super::bytes(1_250_000_000), "1.3 GB");
        assert_eq!(super::bytes(7_000_000_000_000_000), "7000.0 TB");
    }
}
