//! Page URLs with their query strings (filters, sort and paging live in the URL).

/// `base?k=v&…`, leaving out empty values.
pub fn with_query(base: &str, params: &[(&str, String)]) -> String {
    let mut href = base.to_owned();
    let mut sep = '?';
    for (k, v) in params.iter().filter(|(_, v)| !v.is_empty()) {
        href.push(sep);
        href.push_str(k);
        href.push('=');
        href.push_str(&encode(v));
        sep = '&';
    }
    href
}

/// The page parameter: empty (left out) for the first page.
pub fn page_param(page: i64) -> String {
    if page > 1 {
        page.to_string()
    } else {
        String::new()
    }
}

/// Percent-encodes everything but unreserved characters.
pub fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries() {
        assert_eq!(with_query("/repository/", &[("q", String::new()), ("page", page_param(1))]), "/repository/");
        assert_eq!(with_query("/repository/", &[("q", "acme web".into()), ("page", page_param(2))]), "/repository/?q=acme%20web&page=2");
        assert_eq!(with_query("/r", &[("q", String::new()), ("page", page_param(3))]), "/r?page=3");
    }
}
