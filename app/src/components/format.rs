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

#[cfg(test)]
mod tests {
    #[test]
    fn sizes() {
        assert_eq!(super::bytes(42), "42 B");
        assert_eq!(super::bytes(17_014_479), "17.0 MB");
        assert_eq!(super::bytes(1_500), "1.5 kB");
    }
}
