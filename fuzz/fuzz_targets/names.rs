//! Digests, repository paths, tag names, label keys and policy patterns: any string parses or is
//! refused, never a panic; what parses prints back as given and keeps the SPEC's limits.
#![no_main]

use libfuzzer_sys::fuzz_target;
use registry::rules::{check_user_label, parse_expires_after, TagPattern};
use registry::{Digest, NamespaceName, RepoPath, TagName};

fuzz_target!(|s: &str| {
    if let Ok(d) = Digest::parse(s) {
        assert_eq!(d.as_str(), s);
        assert_eq!(Digest::parse(d.as_str()), Ok(d));
    }
    if let Ok(t) = TagName::parse(s) {
        assert_eq!(t.as_str(), s);
        assert!((1..=128).contains(&s.len()) && !s.starts_with(['.', '-']));
    }
    if let Ok(p) = RepoPath::parse(s) {
        assert_eq!(p.to_string(), s);
        assert!(s.len() <= 255);
    }
    if let Ok(n) = NamespaceName::parse(s) {
        assert_eq!(n.as_str(), s);
    }
    if let Ok((key, _)) = check_user_label(s, "value", None, &[]) {
        assert!(key.as_str().len() <= 255 && !key.as_str().starts_with("io.quay"));
    }
    if let Ok(p) = TagPattern::parse(s) {
        let _ = p.is_match("latest");
    }
    let _ = parse_expires_after(s);
});
