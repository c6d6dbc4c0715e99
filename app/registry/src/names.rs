//! Names and identifiers that validate on construction.
//!
//! Each type can only be built through `parse`, so a value of the type is proof that the grammar of
//! shared/SPEC.md holds. The error's `Display` is the message a user sees.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Invalid input with the user-facing message from the spec.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("Invalid tag: must match [A-Za-z0-9_.-], NOT start with \".\" or \"-\", and can contain 1-128 characters")]
    Tag,
    #[error("Invalid repository name: must be lowercase path components of [a-z0-9] separated by '.', '_' or '-', joined by '/', at most 255 characters, with a namespace and a repository")]
    Repository,
    #[error("Invalid namespace name: must be lowercase [a-z0-9] separated by '.', '_' or '-', 1-255 characters")]
    Namespace,
    #[error("Invalid digest: must be sha256:<64 hex> or sha512:<128 hex>, lowercase")]
    Digest,
    #[error("Invalid label key: lowercase letters and digits with single '.' or '-' between them, at most 255 characters")]
    LabelKey,
}

macro_rules! string_newtype {
    ($name:ident) => {
        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
        impl std::str::FromStr for $name {
            type Err = NameError;
            fn from_str(s: &str) -> Result<Self, NameError> {
                Self::parse(s)
            }
        }
        impl TryFrom<String> for $name {
            type Error = NameError;
            fn try_from(s: String) -> Result<Self, NameError> {
                Self::parse(&s)
            }
        }
        impl From<$name> for String {
            fn from(v: $name) -> String {
                v.0
            }
        }
    };
}

/// A tag name: `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}` (SPEC §2.1).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TagName(String);
string_newtype!(TagName);

impl TagName {
    pub fn parse(s: &str) -> Result<Self, NameError> {
        let b = s.as_bytes();
        let ok = (1..=128).contains(&b.len())
            && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
            && b[1..].iter().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'));
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(NameError::Tag)
        }
    }

    /// Hidden tags keep a manifest reachable for a while and are never listed.
    pub fn is_hidden(&self) -> bool {
        self.0.starts_with(HIDDEN_TAG_PREFIX)
    }
}

/// Prefix of hidden tags (they bypass the tag grammar: `$` is not a tag character).
pub const HIDDEN_TAG_PREFIX: &str = "$temp-";

/// `[a-z0-9]+([._-][a-z0-9]+)*`: one component of the OCI distribution name grammar.
fn is_component(s: &str) -> bool {
    let mut prev_sep = true; // the start behaves like a separator: a component cannot begin with one
    for c in s.bytes() {
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            prev_sep = false;
        } else if matches!(c, b'.' | b'_' | b'-') {
            if prev_sep {
                return false;
            }
            prev_sep = true;
        } else {
            return false;
        }
    }
    !prev_sep
}

/// A namespace (user or organization) name: one name component, 2-255 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct NamespaceName(String);
string_newtype!(NamespaceName);

impl NamespaceName {
    pub fn parse(s: &str) -> Result<Self, NameError> {
        if (1..=255).contains(&s.len()) && is_component(s) {
            Ok(Self(s.to_owned()))
        } else {
            Err(NameError::Namespace)
        }
    }
}

/// A repository name inside its namespace: one or more components joined by `/`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RepositoryName(String);
string_newtype!(RepositoryName);

impl RepositoryName {
    pub fn parse(s: &str) -> Result<Self, NameError> {
        if !s.is_empty() && s.len() <= 255 && s.split('/').all(is_component) {
            Ok(Self(s.to_owned()))
        } else {
            Err(NameError::Repository)
        }
    }
}

/// The full path of a repository, `namespace/name[/more]`, as used by `/v2/<name>/`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RepoPath {
    pub namespace: NamespaceName,
    pub name: RepositoryName,
}

impl RepoPath {
    /// Parses `ns/repo[/…]`; the whole path is at most 255 characters.
    pub fn parse(s: &str) -> Result<Self, NameError> {
        if s.len() > 255 {
            return Err(NameError::Repository);
        }
        let (ns, name) = s.split_once('/').ok_or(NameError::Repository)?;
        Ok(Self { namespace: NamespaceName::parse(ns).map_err(|_| NameError::Repository)?, name: RepositoryName::parse(name)? })
    }

    pub fn new(namespace: NamespaceName, name: RepositoryName) -> Result<Self, NameError> {
        Self::parse(&format!("{namespace}/{name}"))
    }
}

impl fmt::Display for RepoPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

/// A content digest, `sha256:<64 hex>` or `sha512:<128 hex>`, lowercase hex.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Digest(String);
string_newtype!(Digest);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DigestAlgorithm {
    Sha256,
    Sha512,
}

impl Digest {
    pub fn parse(s: &str) -> Result<Self, NameError> {
        let (alg, hex) = s.split_once(':').ok_or(NameError::Digest)?;
        let len = match alg {
            "sha256" => 64,
            "sha512" => 128,
            _ => return Err(NameError::Digest),
        };
        if hex.len() == len && hex.bytes().all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c)) {
            Ok(Self(s.to_owned()))
        } else {
            Err(NameError::Digest)
        }
    }

    /// Builds a digest from an algorithm and raw hash bytes.
    pub fn from_hash(alg: DigestAlgorithm, hash: &[u8]) -> Result<Self, NameError> {
        let prefix = match alg {
            DigestAlgorithm::Sha256 => "sha256:",
            DigestAlgorithm::Sha512 => "sha512:",
        };
        let mut s = String::with_capacity(prefix.len() + hash.len() * 2);
        s.push_str(prefix);
        for b in hash {
            s.push_str(&format!("{b:02x}"));
        }
        Self::parse(&s)
    }

    pub fn algorithm(&self) -> DigestAlgorithm {
        if self.0.starts_with("sha512:") {
            DigestAlgorithm::Sha512
        } else {
            DigestAlgorithm::Sha256
        }
    }

    /// The hex part after `algorithm:`.
    pub fn hex(&self) -> &str {
        self.0.split_once(':').map_or("", |(_, h)| h)
    }

    /// `sha256:0123456789ab`: the algorithm and the first 12 hex digits, for display.
    pub fn short(&self) -> String {
        let hex = self.hex();
        // The algorithm and its colon, then at most 12 digits (ASCII: a valid digest's hex part).
        let end = self.0.len() - hex.len() + 12.min(hex.len());
        self.0[..end].to_owned()
    }
}

/// A user-added label key (SPEC §3.1).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct LabelKey(String);
string_newtype!(LabelKey);

impl LabelKey {
    pub fn parse(s: &str) -> Result<Self, NameError> {
        let mut prev_sep = true;
        for c in s.bytes() {
            if c.is_ascii_lowercase() || c.is_ascii_digit() {
                prev_sep = false;
            } else if matches!(c, b'.' | b'-') && !prev_sep {
                prev_sep = true;
            } else {
                return Err(NameError::LabelKey);
            }
        }
        if s.len() <= 255 && !prev_sep {
            Ok(Self(s.to_owned()))
        } else {
            Err(NameError::LabelKey)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn tag_examples() {
        for ok in ["latest", "v1.0.0", "_x", "A-b_c.d", &"a".repeat(128)] {
            assert!(TagName::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["", "-fail", ".x", "a/b", "tag!", "tëst", "$temp-x", &"a".repeat(129)] {
            assert_eq!(TagName::parse(bad), Err(NameError::Tag), "{bad}");
        }
        assert_eq!(
            NameError::Tag.to_string(),
            "Invalid tag: must match [A-Za-z0-9_.-], NOT start with \".\" or \"-\", and can contain 1-128 characters"
        );
    }

    #[test]
    fn repository_examples() {
        for ok in ["ns/app", "my-org/a.b_c", "ns/a/b/c", "n0/x"] {
            assert!(RepoPath::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["app", "ns/", "/app", "NS/app", "ns/App", "ns/../x", "ns/a//b", "ns/a-", "ns/.a", "ns/a__-b"] {
            assert!(RepoPath::parse(bad).is_err(), "{bad}");
        }
        let long = format!("ns/{}", "a".repeat(253));
        assert!(RepoPath::parse(&long).is_err());
        assert!(RepoPath::parse(&long[..255]).is_ok());
    }

    #[test]
    fn digest_examples() {
        let hex = "a".repeat(64);
        assert!(Digest::parse(&format!("sha256:{hex}")).is_ok());
        assert!(Digest::parse(&format!("sha512:{}", "0".repeat(128))).is_ok());
        for bad in [format!("sha256:{}", "A".repeat(64)), format!("md5:{hex}"), hex.clone(), format!("sha256:{}", &hex[1..])] {
            assert!(Digest::parse(&bad).is_err(), "{bad}");
        }
        let d = Digest::parse(&format!("sha256:{hex}")).unwrap();
        assert_eq!(d.short(), "sha256:aaaaaaaaaaaa");
    }

    #[test]
    fn label_key_examples() {
        for ok in ["foo", "1", "git-sha", "io.quay.git-sha"] {
            assert!(LabelKey::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["", "git_sha", "-foo", "foo-", "foo--bar", "foo..bar", "Foo", "a.-b"] {
            assert!(LabelKey::parse(bad).is_err(), "{bad}");
        }
        assert!(LabelKey::parse(&"a".repeat(256)).is_err());
    }

    proptest! {
        #[test]
        fn valid_tags_parse(s in "[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}") {
            let parsed = TagName::parse(&s).unwrap();
            prop_assert_eq!(parsed.as_str(), s.as_str());
        }

        #[test]
        fn tag_parse_agrees_with_grammar(s in "\\PC{0,140}") {
            let re = regex::Regex::new(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$").unwrap();
            prop_assert_eq!(TagName::parse(&s).is_ok(), re.is_match(&s));
        }

        #[test]
        fn repository_parse_agrees_with_grammar(s in "[a-z0-9._/-]{1,40}") {
            let re = regex::Regex::new(r"^[a-z0-9]+([._-][a-z0-9]+)*(/[a-z0-9]+([._-][a-z0-9]+)*)*$").unwrap();
            prop_assert_eq!(RepositoryName::parse(&s).is_ok(), re.is_match(&s));
        }

        #[test]
        fn label_key_parse_agrees_with_grammar(s in "[a-z0-9._-]{0,20}") {
            let re = regex::Regex::new(r"^[a-z0-9]+([.-][a-z0-9]+)*$").unwrap();
            prop_assert_eq!(LabelKey::parse(&s).is_ok(), re.is_match(&s));
        }

        #[test]
        fn digest_roundtrip(bytes in proptest::collection::vec(any::<u8>(), 32)) {
            let d = Digest::from_hash(DigestAlgorithm::Sha256, &bytes).unwrap();
            prop_assert_eq!(Digest::parse(d.as_str()).unwrap(), d);
        }
    }
}
