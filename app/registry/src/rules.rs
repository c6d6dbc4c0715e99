//! Pure rules of SPEC §2–3 that need no storage: label checks, label-driven behaviour, clamps,
//! policy patterns and history events.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::{Millis, Tag, HOUR_MS, WEEK_MS};
use crate::names::{Digest, LabelKey};

pub const RESERVED_LABEL_PREFIXES: [&str; 12] = [
    "com.docker.",
    "io.docker.",
    "org.dockerproject.",
    "org.opencontainers.",
    "io.cncf.",
    "io.kubernetes.",
    "io.k8s.",
    "io.quay",
    "com.coreos",
    "com.tectonic",
    "internal",
    "quay",
];

pub const MEDIA_TEXT: &str = "text/plain";
pub const MEDIA_JSON: &str = "application/json";

pub const LABEL_EXPIRES_AFTER: &str = "quay.expires-after";
pub const LABEL_IMMUTABLE: &str = "quay.immutable";

/// Checks a user-added label and settles its media type (SPEC §3.1–3.3).
/// `extra_reserved` are the operator's additional reserved prefixes.
pub fn check_user_label(key: &str, value: &str, media_type: Option<&str>, extra_reserved: &[String]) -> Result<(LabelKey, String)> {
    let key = LabelKey::parse(key)?;
    let reserved = RESERVED_LABEL_PREFIXES.iter().copied().chain(extra_reserved.iter().map(String::as_str));
    if reserved.into_iter().any(|p| key.as_str().starts_with(p)) {
        return Err(Error::invalid("Label has a reserved prefix"));
    }
    let media_type = match media_type {
        None | Some("") => infer_media_type(value),
        Some(m @ (MEDIA_TEXT | MEDIA_JSON)) => m,
        Some(other) => return Err(Error::invalid(format!("Unknown media type: {other}"))),
    };
    if media_type == MEDIA_JSON && serde_json::from_str::<serde_json::Value>(value).is_err() {
        return Err(Error::invalid("Label value is not valid JSON for media type application/json"));
    }
    Ok((key, media_type.to_owned()))
}

/// `application/json` when the value is a JSON object or array, else `text/plain`.
pub fn infer_media_type(value: &str) -> &'static str {
    match serde_json::from_str::<serde_json::Value>(value) {
        Ok(serde_json::Value::Object(_) | serde_json::Value::Array(_)) => MEDIA_JSON,
        _ => MEDIA_TEXT,
    }
}

/// Parses `quay.expires-after` values: `<int><s|m|h|d|w>`. Anything else is ignored (`None`).
pub fn parse_expires_after(value: &str) -> Option<Millis> {
    let value = value.trim();
    let unit = value.chars().last()?;
    let n: i64 = value[..value.len() - unit.len_utf8()].parse().ok()?;
    let unit_ms = match unit {
        's' => 1_000,
        'm' => 60_000,
        'h' => HOUR_MS,
        'd' => 24 * HOUR_MS,
        'w' => WEEK_MS,
        _ => return None,
    };
    if n <= 0 {
        return None;
    }
    n.checked_mul(unit_ms)
}

/// `quay.immutable`: true only when the trimmed, lowercased value is `true`.
pub fn parse_immutable_label(value: &str) -> bool {
    value.trim().eq_ignore_ascii_case("true")
}

/// What the labels of a manifest ask of a tag that points at it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LabelEffects {
    pub expires_after_ms: Option<Millis>,
    pub immutable: bool,
}

impl LabelEffects {
    /// Reads the effects from `(key, value)` pairs; the last parsable `quay.expires-after` wins.
    pub fn from_labels<'a>(labels: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let mut fx = Self::default();
        for (k, v) in labels {
            match k {
                LABEL_EXPIRES_AFTER => {
                    if let Some(ms) = parse_expires_after(v) {
                        fx.expires_after_ms = Some(ms);
                    }
                }
                LABEL_IMMUTABLE => fx.immutable |= parse_immutable_label(v),
                _ => {}
            }
        }
        fx
    }

    /// An index takes an effect only when every child has it; the shortest expiry applies.
    pub fn all_of(children: &[Self]) -> Self {
        if children.is_empty() {
            return Self::default();
        }
        let expires = children.iter().map(|c| c.expires_after_ms).collect::<Option<Vec<_>>>();
        Self { expires_after_ms: expires.and_then(|v| v.into_iter().min()), immutable: children.iter().all(|c| c.immutable) }
    }
}

/// SPEC §2.7: `start + clamp(requested - start, 1 hour, 104 weeks)`.
pub fn clamp_expiration(start: Millis, requested: Millis) -> Millis {
    start + (requested - start).clamp(HOUR_MS, 104 * WEEK_MS)
}

/// A compiled immutability policy pattern: at most 256 characters, full match.
#[derive(Debug, Clone)]
pub struct TagPattern(regex::Regex);

impl TagPattern {
    pub fn parse(pattern: &str) -> Result<Self> {
        if pattern.is_empty() || pattern.chars().count() > 256 {
            return Err(Error::invalid("Tag pattern must be 1-256 characters"));
        }
        regex::Regex::new(&format!("^(?:{pattern})$"))
            .map(Self)
            .map_err(|_| Error::invalid(format!("Invalid regular expression: {pattern}")))
    }

    pub fn is_match(&self, name: &str) -> bool {
        self.0.is_match(name)
    }
}

/// Whether a policy marks `name` immutable.
/// Natural order of tag names: runs of digits compare as numbers (`v1.2` < `v1.10`), the rest
/// case-insensitively, then byte order breaks ties.
pub fn natural_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    fn runs(s: &str) -> impl Iterator<Item = (bool, &str)> {
        let mut rest = s;
        std::iter::from_fn(move || {
            let first = rest.chars().next()?;
            let digits = first.is_ascii_digit();
            let end = rest.find(|c: char| c.is_ascii_digit() != digits).unwrap_or(rest.len());
            let (run, tail) = rest.split_at(end);
            rest = tail;
            Some((digits, run))
        })
    }
    let (mut x, mut y) = (runs(a), runs(b));
    loop {
        let ord = match (x.next(), y.next()) {
            (None, None) => return a.cmp(b),
            (None, Some(_)) => return std::cmp::Ordering::Less,
            (Some(_), None) => return std::cmp::Ordering::Greater,
            (Some((true, p)), Some((true, q))) => {
                let (p, q) = (p.trim_start_matches('0'), q.trim_start_matches('0'));
                p.len().cmp(&q.len()).then_with(|| p.cmp(q))
            }
            (Some((_, p)), Some((_, q))) => p.to_ascii_lowercase().cmp(&q.to_ascii_lowercase()),
        };
        if ord != std::cmp::Ordering::Equal {
            return ord;
        }
    }
}

pub fn policy_applies(pattern: &TagPattern, matches_immutable: bool, name: &str) -> bool {
    pattern.is_match(name) == matches_immutable
}

/// The children an image index lists: `os/architecture[/variant]` and digest, in the index's
/// order (entries without a parsable digest are left out). Not an index: none.
pub fn index_children(bytes: &[u8]) -> Vec<(String, Digest)> {
    let parsed: serde_json::Value = serde_json::from_slice(bytes).unwrap_or_default();
    let text = |v: &serde_json::Value| v.as_str().unwrap_or("?").to_owned();
    let Some(manifests) = parsed["manifests"].as_array() else { return Vec::new() };
    manifests
        .iter()
        .filter_map(|m| {
            let digest = Digest::parse(m["digest"].as_str()?).ok()?;
            let p = &m["platform"];
            let mut platform = format!("{}/{}", text(&p["os"]), text(&p["architecture"]));
            if let Some(v) = p["variant"].as_str() {
                platform.push('/');
                platform.push_str(v);
            }
            Some((platform, digest))
        })
        .collect()
}

/// An event of the tag history (SPEC §2.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HistoryEventKind {
    Create,
    Move,
    Revert,
    /// The tag was deleted (its row ended with no successor, by a delete).
    Delete,
    /// The tag's expiration passed (its row ended with no successor, at a set expiration).
    Expire,
}

impl HistoryEventKind {
    /// How the history page names the event.
    pub fn label(self) -> &'static str {
        match self {
            Self::Create => "created",
            Self::Move => "moved",
            Self::Revert => "restored",
            Self::Delete => "deleted",
            Self::Expire => "expired",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEvent {
    pub kind: HistoryEventKind,
    pub tag: String,
    pub at_ms: Millis,
    /// The digest the tag pointed at after the event (for delete/expire: the one it lost).
    pub digest: Digest,
    /// For a move or revert: the digest before.
    pub previous_digest: Option<Digest>,
    /// The digest a restore from this event would bring back, where SPEC allows one (delete: the
    /// lost digest; move and revert: the previous one; create and expire: none).
    pub restorable_to: Option<Digest>,
}

/// Rows of one tag closer than this (an end and the next start) are one change: a move or revert.
pub const CHAIN_MS: Millis = 2_000;

/// What a history row's neighbours say about it (read by the store for a page of rows).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowLinks {
    /// The digest of the same tag's earlier row that ended within [`CHAIN_MS`] of this row's start
    /// (earlier: started before it, or at the same instant with a lower id).
    pub previous_digest: Option<Digest>,
    /// A later row of the same tag started within [`CHAIN_MS`] of this row's end.
    pub followed: bool,
}

/// One history row read as events, newest first: its end when that has passed and no row
/// followed (a delete, or an expire when the end was a set expiration), then its start (a move or
/// revert when it follows a row on another digest — a revert when it has `reversion` — else a
/// create). An end followed by the next row is that row's move, not an event of its own.
pub fn row_events(row: &Tag, links: &RowLinks, now: Millis) -> Vec<HistoryEvent> {
    let mut events = Vec::with_capacity(2);
    if let Some(end) = row.lifetime_end_ms.filter(|&e| e <= now && !links.followed) {
        events.push(HistoryEvent {
            kind: if row.expiring { HistoryEventKind::Expire } else { HistoryEventKind::Delete },
            tag: row.name.clone(),
            at_ms: end,
            digest: row.manifest_digest.clone(),
            previous_digest: None,
            // SPEC §2.6 offers restore on a delete, not on an expiry.
            restorable_to: (!row.expiring).then(|| row.manifest_digest.clone()),
        });
    }
    let kind = match &links.previous_digest {
        _ if row.reversion => HistoryEventKind::Revert,
        Some(p) if *p != row.manifest_digest => HistoryEventKind::Move,
        _ => HistoryEventKind::Create,
    };
    let previous_digest = links.previous_digest.clone().filter(|_| kind != HistoryEventKind::Create);
    events.push(HistoryEvent {
        kind,
        tag: row.name.clone(),
        at_ms: row.lifetime_start_ms,
        digest: row.manifest_digest.clone(),
        restorable_to: previous_digest.clone(),
        previous_digest,
    });
    events
}

/// Every event of a set of rows (any tags, any order), newest first: each row's links found among
/// the rows themselves. The reference for what the store's [`RowLinks`] must say.
pub fn history_events(rows: &[Tag], now: Millis) -> Vec<HistoryEvent> {
    let near = |a: Millis, b: Millis| (a - b).abs() <= CHAIN_MS;
    let visible: Vec<&Tag> = rows.iter().filter(|r| !r.hidden).collect();
    let mut events: Vec<HistoryEvent> = visible
        .iter()
        .flat_map(|row| {
            let order = |t: &Tag| (t.lifetime_start_ms, t.id);
            let same = || visible.iter().filter(|o| o.name == row.name);
            let previous = same()
                .filter(|p| order(p) < order(row) && p.lifetime_end_ms.is_some_and(|e| near(e, row.lifetime_start_ms)))
                .max_by_key(|p| (p.lifetime_end_ms, p.id));
            let links = RowLinks {
                previous_digest: previous.map(|p| p.manifest_digest.clone()),
                followed: row.lifetime_end_ms.is_some_and(|e| same().any(|n| order(n) > order(row) && near(n.lifetime_start_ms, e))),
            };
            row_events(row, &links, now)
        })
        .collect();
    events.sort_by(|a, b| b.at_ms.cmp(&a.at_ms).then_with(|| a.tag.cmp(&b.tag)));
    events
}

#[cfg(test)]
mod tests {
    use super::{history_events, natural_cmp, HistoryEventKind as K};
    use crate::model::Tag;
    use crate::names::Digest;
    use proptest::prelude::*;

    fn digest(c: char) -> Digest {
        Digest::parse(&format!("sha256:{}", c.to_string().repeat(64))).unwrap()
    }

    fn row(id: i64, name: &str, d: char, start: i64, end: Option<i64>) -> Tag {
        Tag {
            id,
            repository_id: 1,
            name: name.into(),
            manifest_id: 1,
            manifest_digest: digest(d),
            lifetime_start_ms: start,
            lifetime_end_ms: end,
            reversion: false,
            immutable: false,
            hidden: false,
            expiring: false,
        }
    }

    #[test]
    fn children_of_an_index() {
        let (a, b) = (digest('a'), digest('b'));
        let index = format!(
            r#"{{"manifests":[{{"digest":"{a}","platform":{{"os":"linux","architecture":"arm64","variant":"v8"}}}},
               {{"digest":"not a digest"}},{{"digest":"{b}","platform":{{"os":"linux","architecture":"amd64"}}}}]}}"#
        );
        assert_eq!(super::index_children(index.as_bytes()), [("linux/arm64/v8".to_owned(), a), ("linux/amd64".to_owned(), b)]);
        assert!(super::index_children(br#"{"layers":[]}"#).is_empty());
        assert!(super::index_children(b"not json").is_empty());
    }

    /// create a → move to b → restore a → delete; another tag created and expired; a hidden row and
    /// an end still in the future are no events.
    #[test]
    fn rows_read_as_events() {
        let now = 100_000;
        let rows = [
            row(1, "latest", 'a', 1_000, Some(10_000)),
            row(2, "latest", 'b', 10_000, Some(20_500)),
            Tag { reversion: true, ..row(3, "latest", 'a', 20_000, Some(30_000)) },
            Tag { expiring: true, ..row(4, "beta", 'c', 5_000, Some(50_000)) },
            Tag { hidden: true, ..row(5, "beta", 'd', 60_000, None) },
            Tag { expiring: true, ..row(6, "rc", 'c', 70_000, Some(200_000)) },
        ];
        let got: Vec<_> = history_events(&rows, now)
            .into_iter()
            .map(|e| (e.kind, e.tag, e.at_ms, e.restorable_to.map(|d| d.to_string().chars().nth(7).unwrap())))
            .collect();
        let want = [
            (K::Create, "rc", 70_000, None),
            (K::Expire, "beta", 50_000, None),
            (K::Delete, "latest", 30_000, Some('a')),
            (K::Revert, "latest", 20_000, Some('b')),
            (K::Move, "latest", 10_000, Some('a')),
            (K::Create, "beta", 5_000, None),
            (K::Create, "latest", 1_000, None),
        ];
        assert_eq!(got, want.map(|(k, t, at, d)| (k, t.to_owned(), at, d)));
    }

    /// A row on the same digest as the one it follows (a re-push of the same manifest) is a create;
    /// a restore of a deleted tag (nothing right before it) is a revert with nothing to go back to.
    #[test]
    fn same_digest_and_lone_restore() {
        let rows = [
            row(1, "x", 'a', 0, Some(1_000)),
            row(2, "x", 'a', 1_500, Some(5_000)),
            Tag { reversion: true, ..row(3, "x", 'a', 9_000, None) },
        ];
        let got: Vec<_> = history_events(&rows, 10_000).into_iter().map(|e| (e.kind, e.at_ms, e.restorable_to.is_some())).collect();
        assert_eq!(got, [(K::Revert, 9_000, false), (K::Delete, 5_000, true), (K::Create, 1_500, false), (K::Create, 0, false)]);
    }

    #[test]
    fn natural_order_of_tag_names() {
        let mut names = ["v1.10.0", "latest", "v1.2.0", "V1.9", "v1.2.0-rc1", "v01.2.1", "10", "9", "beta"];
        names.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(names, ["9", "10", "beta", "latest", "v1.2.0", "v1.2.0-rc1", "v01.2.1", "V1.9", "v1.10.0"]);
    }

    proptest! {
        /// A total order: antisymmetric, and equal only for equal names.
        #[test]
        fn natural_order_is_total(a in "[a-zA-Z0-9._-]{0,12}", b in "[a-zA-Z0-9._-]{0,12}") {
            prop_assert_eq!(natural_cmp(&a, &b), natural_cmp(&b, &a).reverse());
            prop_assert_eq!(natural_cmp(&a, &b) == std::cmp::Ordering::Equal, a == b);
        }
    }
}
