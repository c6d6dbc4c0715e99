//! Pushed manifest bytes with any Content-Type: decoded or refused with an error, never a panic;
//! what is accepted keeps its bytes and their digest.
#![no_main]

use libfuzzer_sys::fuzz_target;
use quayside::v2::manifest::{config_labels, digest_matches, parse};

fuzz_target!(|input: (Option<&str>, &[u8])| {
    let (content_type, bytes) = input;
    if let Ok(parsed) = parse(bytes.to_vec(), content_type) {
        assert_eq!(parsed.manifest.bytes, bytes, "manifests are stored byte-exact");
        assert!(digest_matches(bytes, &parsed.manifest.digest), "the digest is of the bytes");
    }
    let _ = config_labels(bytes);
});
