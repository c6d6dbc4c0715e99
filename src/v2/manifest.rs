//! Decoding pushed manifests into what the service stores: OCI image manifest and index, Docker
//! schema 2 manifest and manifest list. Schema 1 is refused.

use std::collections::BTreeMap;

use registry::names::DigestAlgorithm;
use registry::{Digest, NewManifest};
use serde::Deserialize;
use sha2::{Digest as _, Sha256, Sha512};

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
const DOCKER_SCHEMA1: [&str; 2] =
    ["application/vnd.docker.distribution.manifest.v1+json", "application/vnd.docker.distribution.manifest.v1+prettyjws"];

/// Manifests above this size are refused.
pub const MAX_MANIFEST_BYTES: usize = 4 * 1024 * 1024;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ManifestError {
    #[error("{0}")]
    Invalid(String),
    #[error("manifest references an invalid digest: {0}")]
    Digest(String),
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Descriptor {
    #[serde(default)]
    media_type: Option<String>,
    digest: String,
    #[serde(default)]
    size: i64,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Raw {
    schema_version: Option<i64>,
    #[serde(default)]
    media_type: Option<String>,
    #[serde(default)]
    artifact_type: Option<String>,
    #[serde(default)]
    config: Option<Descriptor>,
    #[serde(default)]
    layers: Option<Vec<Descriptor>>,
    #[serde(default)]
    manifests: Option<Vec<Descriptor>>,
    #[serde(default)]
    subject: Option<Descriptor>,
}

/// A decoded manifest: what to store, and the config blob whose labels to read.
#[derive(Debug)]
pub struct Parsed {
    pub manifest: NewManifest,
    pub config_digest: Option<Digest>,
}

fn digest_of(d: &Descriptor) -> Result<Digest, ManifestError> {
    Digest::parse(&d.digest).map_err(|_| ManifestError::Digest(d.digest.clone()))
}

pub fn sha256_digest(bytes: &[u8]) -> Digest {
    // A sha256 hash always makes a valid digest.
    Digest::from_hash(DigestAlgorithm::Sha256, &Sha256::digest(bytes)).unwrap_or_else(|_| unreachable!("sha256 digests parse"))
}

/// Whether `bytes` hash to `digest`, with the digest's own algorithm.
pub fn digest_matches(bytes: &[u8], digest: &Digest) -> bool {
    let computed = match digest.algorithm() {
        DigestAlgorithm::Sha256 => Some(sha256_digest(bytes)),
        DigestAlgorithm::Sha512 => Digest::from_hash(DigestAlgorithm::Sha512, &Sha512::digest(bytes)).ok(),
    };
    computed.as_ref() == Some(digest)
}

/// Decodes `bytes`, sent with `content_type` (the `Content-Type` header, if any).
pub fn parse(bytes: Vec<u8>, content_type: Option<&str>) -> Result<Parsed, ManifestError> {
    if bytes.len() > MAX_MANIFEST_BYTES {
        return Err(ManifestError::Invalid(format!("manifest is larger than {MAX_MANIFEST_BYTES} bytes")));
    }
    let raw: Raw = serde_json::from_slice(&bytes).map_err(|e| ManifestError::Invalid(format!("manifest is not valid JSON: {e}")))?;
    let header = content_type
        .map(|c| c.split(';').next().unwrap_or(c).trim())
        .filter(|c| !c.is_empty() && *c != "application/json" && *c != "application/octet-stream");
    if raw.schema_version == Some(1) || header.is_some_and(|h| DOCKER_SCHEMA1.contains(&h)) {
        return Err(ManifestError::Invalid("Docker schema 1 manifests are not supported; push schema 2 or OCI".into()));
    }
    if raw.schema_version != Some(2) {
        return Err(ManifestError::Invalid("manifest schemaVersion must be 2".into()));
    }
    let media_type = match (header, raw.media_type.as_deref()) {
        (Some(h), Some(m)) if h != m => {
            return Err(ManifestError::Invalid(format!("Content-Type {h} does not match the manifest's mediaType {m}")))
        }
        (_, Some(m)) => m.to_owned(),
        (Some(h), None) => h.to_owned(),
        (None, None) if raw.manifests.is_some() => OCI_INDEX.to_owned(),
        (None, None) => OCI_MANIFEST.to_owned(),
    };
    let digest = sha256_digest(&bytes);
    let subject = raw.subject.as_ref().map(digest_of).transpose()?;
    match media_type.as_str() {
        OCI_MANIFEST | DOCKER_MANIFEST => {
            let config = raw.config.ok_or_else(|| ManifestError::Invalid("image manifest has no config".into()))?;
            let layers = raw.layers.ok_or_else(|| ManifestError::Invalid("image manifest has no layers".into()))?;
            let config_digest = digest_of(&config)?;
            let mut blobs = vec![config_digest.clone()];
            let mut size = 0i64;
            for l in &layers {
                blobs.push(digest_of(l)?);
                size = size.saturating_add(l.size.max(0));
            }
            blobs.sort();
            blobs.dedup();
            let artifact_type = raw.artifact_type.or_else(|| config.media_type.clone());
            Ok(Parsed {
                config_digest: Some(config_digest),
                manifest: NewManifest {
                    digest,
                    media_type,
                    bytes,
                    config_media_type: config.media_type,
                    layers_compressed_size: Some(size),
                    children: vec![],
                    blobs,
                    subject,
                    artifact_type,
                    config_labels: vec![],
                },
            })
        }
        OCI_INDEX | DOCKER_LIST => {
            let manifests = raw.manifests.ok_or_else(|| ManifestError::Invalid("index has no manifests".into()))?;
            let mut children = manifests.iter().map(digest_of).collect::<Result<Vec<_>, _>>()?;
            children.dedup();
            Ok(Parsed {
                config_digest: None,
                manifest: NewManifest {
                    digest,
                    media_type,
                    bytes,
                    config_media_type: None,
                    layers_compressed_size: None,
                    children,
                    blobs: vec![],
                    subject,
                    artifact_type: raw.artifact_type,
                    config_labels: vec![],
                },
            })
        }
        other => Err(ManifestError::Invalid(format!("unsupported manifest media type: {other}"))),
    }
}

/// The `Labels` of an image config (`config.Labels`); anything else yields none.
pub fn config_labels(config: &[u8]) -> Vec<(String, String)> {
    #[derive(Deserialize)]
    struct Config {
        config: Option<Inner>,
    }
    #[derive(Deserialize)]
    struct Inner {
        #[serde(rename = "Labels")]
        labels: Option<BTreeMap<String, String>>,
    }
    serde_json::from_slice::<Config>(config)
        .ok()
        .and_then(|c| c.config)
        .and_then(|c| c.labels)
        .map(|l| l.into_iter().collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(c: char) -> String {
        format!("sha256:{}", c.to_string().repeat(64))
    }

    #[test]
    fn image_manifest() {
        let body = format!(
            r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{}","size":10}},"layers":[{{"digest":"{}","size":100}},{{"digest":"{}","size":23}}]}}"#,
            d('a'),
            d('b'),
            d('c')
        );
        let p = parse(body.clone().into_bytes(), Some(OCI_MANIFEST)).unwrap();
        assert_eq!(p.manifest.layers_compressed_size, Some(123));
        assert_eq!(p.manifest.blobs.len(), 3);
        assert_eq!(p.manifest.digest, sha256_digest(body.as_bytes()));
        assert_eq!(p.config_digest.unwrap().as_str(), d('a'));
    }

    #[test]
    fn refusals() {
        assert!(matches!(parse(b"{not json".to_vec(), None), Err(ManifestError::Invalid(_))));
        assert!(
            matches!(parse(br#"{"schemaVersion":1,"name":"x"}"#.to_vec(), None), Err(ManifestError::Invalid(m)) if m.contains("schema 1"))
        );
        let unknown = br#"{"schemaVersion":2,"mediaType":"application/x-made-up","layers":[]}"#.to_vec();
        assert!(matches!(parse(unknown, None), Err(ManifestError::Invalid(m)) if m.contains("unsupported")));
        let mismatch = format!(r#"{{"schemaVersion":2,"mediaType":"{OCI_INDEX}","manifests":[]}}"#);
        assert!(matches!(parse(mismatch.into_bytes(), Some(OCI_MANIFEST)), Err(ManifestError::Invalid(_))));
        let bad_digest = format!(r#"{{"schemaVersion":2,"mediaType":"{OCI_INDEX}","manifests":[{{"digest":"sha256:nothex","size":1}}]}}"#);
        assert!(matches!(parse(bad_digest.into_bytes(), None), Err(ManifestError::Digest(_))));
        assert!(matches!(parse(vec![b' '; MAX_MANIFEST_BYTES + 1], None), Err(ManifestError::Invalid(_))));
    }

    #[test]
    fn labels_from_config() {
        let cfg = br#"{"architecture":"amd64","config":{"Labels":{"quay.expires-after":"2h","a":"b"}}}"#;
        assert_eq!(config_labels(cfg), vec![("a".into(), "b".into()), ("quay.expires-after".into(), "2h".into())]);
        assert!(config_labels(b"not json").is_empty());
        assert!(config_labels(br#"{"config":{}}"#).is_empty());
    }
}
