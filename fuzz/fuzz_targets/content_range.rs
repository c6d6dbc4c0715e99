//! `Content-Range` values of chunked uploads: parsed to `start <= end` or refused, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use quayside::v2::parse_content_range;

fuzz_target!(|s: &str| {
    if let Some((start, end)) = parse_content_range(s) {
        assert!(start <= end);
        assert_eq!(parse_content_range(&format!("{start}-{end}")), Some((start, end)));
    }
});
