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

/// A history row read as an event (SPEC §2.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HistoryEventKind {
    Create,
    Move,
    Revert,
    /// The tag ended with no successor: deleted, or its expiration passed. Rows alone do not say
    /// which (SPEC stores only the end time), so both read as a delete.
    Delete,
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
    /// The digest a restore from this event would bring back, where SPEC allows one.
    pub restorable_to: Option<Digest>,
}

/// Reads one tag's rows (any order) as events, newest first. Rows of other tags are ignored.
///
/// A row whose start lies within 2 s of the previous row's end, on another digest, is a move (or a
/// revert when it has `reversion`); otherwise a create. A row's end that has passed is a delete when the tag was
/// ended (deleted or expired); an end followed within 2 s by the next row is part of that move, not
/// an event of its own.
pub fn history_events(rows: &[Tag], now: Millis) -> Vec<HistoryEvent> {
    const CHAIN_MS: Millis = 2_000;
    let mut by_tag: std::collections::BTreeMap<&str, Vec<&Tag>> = Default::default();
    for r in rows.iter().filter(|r| !r.hidden) {
        by_tag.entry(r.name.as_str()).or_default().push(r);
    }
    let mut events = Vec::new();
    for (_, mut rows) in by_tag {
        rows.sort_by_key(|r| (r.lifetime_start_ms, r.id));
        for (i, row) in rows.iter().enumerate() {
            let prev = i.checked_sub(1).map(|j| rows[j]);
            let chained = prev.filter(|p| p.lifetime_end_ms.is_some_and(|e| (row.lifetime_start_ms - e).abs() <= CHAIN_MS));
            let kind = match chained {
                Some(_) if row.reversion => HistoryEventKind::Revert,
                Some(p) if p.manifest_digest != row.manifest_digest => HistoryEventKind::Move,
                Some(_) => HistoryEventKind::Create,
                None if row.reversion => HistoryEventKind::Revert,
                None => HistoryEventKind::Create,
            };
            let previous_digest = chained.map(|p| p.manifest_digest.clone());
            events.push(HistoryEvent {
                kind,
                tag: row.name.clone(),
                at_ms: row.lifetime_start_ms,
                digest: row.manifest_digest.clone(),
                restorable_to: match kind {
                    HistoryEventKind::Move | HistoryEventKind::Revert => previous_digest.clone(),
                    _ => None,
                },
                previous_digest,
            });
            if let Some(end) = row.lifetime_end_ms.filter(|&e| e <= now) {
                let next_chained = rows.get(i + 1).is_some_and(|n| (n.lifetime_start_ms - end).abs() <= CHAIN_MS);
                if !next_chained {
                    let kind = HistoryEventKind::Delete;
                    events.push(HistoryEvent {
                        kind,
                        tag: row.name.clone(),
                        at_ms: end,
                        digest: row.manifest_digest.clone(),
                        previous_digest: None,
                        restorable_to: Some(row.manifest_digest.clone()),
                    });
                }
            }
        }
    }
    events.sort_by(|a, b| b.at_ms.cmp(&a.at_ms).then_with(|| a.tag.cmp(&b.tag)));
    events
}

#[cfg(test)]
mod tests {
    use super::natural_cmp;
    use proptest::prelude::*;

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
