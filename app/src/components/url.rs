//! Page URLs with their query strings (filters, sort and paging live in the URL).

use leptos::prelude::*;
use leptos_router::hooks::use_location;

/// Where a form post returns to: this page, with its filters and paging.
pub fn use_back() -> Memo<String> {
    let location = use_location();
    Memo::new(move |_| match location.search.get() {
        q if q.is_empty() => location.pathname.get(),
        q => format!("{}?{q}", location.pathname.get()),
    })
}

/// `base?k=v&…`, leaving out empty values.
pub fn with_query(base: &str, params: &[(&str, String)]) -> String {
    let mut href = base.to_owned();
    let mut sep = '?';
    for (k, v) in params.iter().filter(|(_, v)| !v.is_empty()) {
        href.push(sep);
        href.push_str(k);
        href.push('=');
        push_encoded(&mut href, v);
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
    let mut out = String::with_capacity(s.len());
    push_encoded(&mut out, s);
    out
}

/// [`encode`], onto `out`.
fn push_encoded(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(char::from(b)),
            _ => {
                out.push('%');
                out.push(char::from(HEX[usize::from(b >> 4)]));
                out.push(char::from(HEX[usize::from(b & 15)]));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries() {
        assert_eq!(with_query("/repository/", &[("q", String::new()), ("page", page_param(1))]), "/repository/");
        assert_eq!(with_query("/repository/", &[("q", "acme web".into()), ("page", page_param(2))]), "/repository/?q=acme%20web&page=2");
        assert_eq!(with_query("/r", &[("q", String::new()), ("page", page_param(3))]), "/r?page=3");
        assert_eq!(encode("a/b:ü~"), "a%2Fb%3A%C3%BC~");
    }
}

/// The page to return to after a form post, with `msg` set: only a local path is accepted (no
/// open redirect), and earlier messages and form errors are dropped.
pub fn back_with_message(back: &str, message: &str) -> String {
    let local = back.starts_with('/') && !back.starts_with("//") && !back.contains('\\');
    let back = if local { back } else { "/" };
    let (path, query) = back.split_once('?').unwrap_or((back, ""));
    let mut href = path.to_owned();
    let mut sep = '?';
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let key = pair.split('=').next().unwrap_or("");
        if !matches!(key, "msg" | "__err" | "__path") {
            href.push(sep);
            href.push_str(pair);
            sep = '&';
        }
    }
    href.push(sep);
    href.push_str("msg=");
    push_encoded(&mut href, message);
    href
}

#[cfg(test)]
mod back_tests {
    use super::back_with_message;

    #[test]
    fn messages_replace_old_ones_and_stay_local() {
        assert_eq!(back_with_message("/repository/a/b/history?filter=x&msg=old", "Done"), "/repository/a/b/history?filter=x&msg=Done");
        assert_eq!(back_with_message("/r?__path=%2Frpc&__err=abc", "ok"), "/r?msg=ok");
        assert_eq!(back_with_message("https://evil.example/", "x"), "/?msg=x");
        assert_eq!(back_with_message("//evil.example/", "x"), "/?msg=x");
    }
}
