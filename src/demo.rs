//! `quayside demo`: fills an empty registry with repositories, tags with real history (pushes,
//! moves, deletes, restores), labels and an immutable tag, all through the service layer.

use std::sync::Arc;

use anyhow::{bail, Context as _};
use registry::store::RepositoryQuery;
use registry::{Caller, FixedClock, Manifest, NewManifest, Registry, RepoPath, TagName, Visibility, DAY_MS, HOUR_MS};
use serde_json::json;

use crate::v2::manifest::sha256_digest as sha256;

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
const OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

/// A synthetic image manifest (used by the demo and the tests) whose config carries `labels`, with layers of the given sizes.
pub fn image(arch: &str, seed: &str, layer_sizes: &[i64], labels: &[(&str, &str)]) -> NewManifest {
    let config = json!({
        "architecture": arch, "os": "linux",
        "config": { "Labels": labels.iter().map(|(k, v)| (k.to_string(), json!(v))).collect::<serde_json::Map<_, _>>() },
        "rootfs": { "type": "layers", "diff_ids": [] },
        "history": [{ "created_by": format!("demo {seed}") }],
    })
    .to_string();
    let layers: Vec<_> = layer_sizes
        .iter()
        .enumerate()
        .map(|(i, size)| json!({ "mediaType": OCI_LAYER, "size": size, "digest": sha256(format!("{seed}-layer-{i}").as_bytes()) }))
        .collect();
    let manifest = json!({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": { "mediaType": OCI_CONFIG, "size": config.len(), "digest": sha256(config.as_bytes()) },
        "layers": layers,
    });
    let bytes = serde_json::to_vec_pretty(&manifest).expect("JSON values serialize");
    NewManifest {
        digest: sha256(&bytes),
        media_type: OCI_MANIFEST.into(),
        config_media_type: Some(OCI_CONFIG.into()),
        layers_compressed_size: Some(layer_sizes.iter().sum()),
        children: vec![],
        // The demo has no blob store behind it: its layers are descriptions, not content.
        blobs: vec![],
        subject: None,
        artifact_type: None,
        config_labels: labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        bytes,
    }
}

pub fn index(children: &[(&Manifest, &str)]) -> NewManifest {
    let manifests: Vec<_> = children
        .iter()
        .map(|(m, arch)| json!({ "mediaType": m.media_type, "digest": m.digest, "size": 0, "platform": { "architecture": arch, "os": "linux" } }))
        .collect();
    let bytes = serde_json::to_vec_pretty(&json!({ "schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests }))
        .expect("JSON values serialize");
    NewManifest {
        digest: sha256(&bytes),
        media_type: OCI_INDEX.into(),
        config_media_type: None,
        layers_compressed_size: None,
        children: children.iter().map(|(m, _)| m.digest.clone()).collect(),
        blobs: vec![],
        subject: None,
        artifact_type: None,
        config_labels: vec![],
        bytes,
    }
}

fn tag(s: &str) -> TagName {
    TagName::parse(s).expect("demo tag names are valid")
}

fn repo(s: &str) -> RepoPath {
    RepoPath::parse(s).expect("demo repository names are valid")
}

/// Seeds the demo data; refuses when the registry already has repositories.
pub async fn seed(live: &Registry) -> anyhow::Result<()> {
    let admin = Caller::system();
    let existing = live.list_repositories(&admin, RepositoryQuery { page: 1, limit: 1, ..Default::default() }).await?;
    if !existing.items.is_empty() {
        bail!("the registry already has repositories; the demo only fills an empty one");
    }
    // History spread over the last ten days, on a clock the seeding moves forward.
    let clock = Arc::new(FixedClock::new(live.now_ms() - 10 * DAY_MS));
    let reg = Registry::new(live.store(), clock.clone(), live.config().clone());
    let step = |hours: i64| clock.advance(hours * HOUR_MS);

    let web = repo("acme/web");
    reg.create_repository(&admin, &web, Visibility::Public, "The storefront").await?;
    let src = ("org.opencontainers.image.source", "https://git.example.com/acme/web");
    let v1 = reg
        .put_manifest(
            &admin,
            &web,
            image("amd64", "web-1.0", &[2_811_478, 14_203_001], &[src, ("git-sha", "4f2a9c1")]),
            Some(&tag("v1.0.0")),
        )
        .await?;
    reg.set_tag(&admin, &web, &tag("latest"), &v1.digest).await?;
    step(30);
    let v11 = reg
        .put_manifest(
            &admin,
            &web,
            image("amd64", "web-1.1", &[2_811_478, 14_977_310], &[src, ("git-sha", "9b1e077")]),
            Some(&tag("v1.1.0")),
        )
        .await?;
    reg.set_tag(&admin, &web, &tag("latest"), &v11.digest).await?;
    reg.set_immutable(&admin, &web, &tag("v1.0.0"), true).await?;
    step(20);
    let beta = reg
        .put_manifest(
            &admin,
            &web,
            image("amd64", "web-beta", &[2_811_478, 15_100_221], &[src, ("quay.expires-after", "2w")]),
            Some(&tag("beta")),
        )
        .await?;
    step(6);
    reg.delete_tag(&admin, &web, &tag("beta")).await?;
    step(40);
    let v12 = reg
        .put_manifest(
            &admin,
            &web,
            image("amd64", "web-1.2", &[2_811_478, 15_402_007], &[src, ("git-sha", "c0ffee1")]),
            Some(&tag("v1.2.0")),
        )
        .await?;
    reg.set_tag(&admin, &web, &tag("latest"), &v12.digest).await?;
    step(3);
    // A bad release: roll latest back, then bring the beta back for testers.
    reg.restore_tag(&admin, &web, &tag("latest"), &v11.digest).await?;
    step(1);
    reg.restore_tag(&admin, &web, &tag("beta"), &beta.digest).await?;
    reg.add_label(&admin, &web, &v11.digest, "release-notes", "https://example.com/acme/web/1.1", None).await?;
    reg.add_label(&admin, &web, &v11.digest, "build-info", r#"{"ci":"pipeline-812","tests":"passed"}"#, None).await?;
    // Three days from the real now, so the demo shows a tag that is about to expire.
    reg.set_expiration(&admin, &web, &tag("beta"), Some((live.now_ms() + 3 * DAY_MS) / 1000)).await?;

    step(12);
    let api = repo("acme/api");
    reg.create_repository(&admin, &api, Visibility::Private, "Internal API").await?;
    let amd =
        reg.put_manifest(&admin, &api, image("amd64", "api-2.3-amd64", &[3_121_004, 22_003_117], &[("git-sha", "77aa0d3")]), None).await?;
    let arm =
        reg.put_manifest(&admin, &api, image("arm64", "api-2.3-arm64", &[3_010_871, 21_800_560], &[("git-sha", "77aa0d3")]), None).await?;
    let multi = reg.put_manifest(&admin, &api, index(&[(&amd, "amd64"), (&arm, "arm64")]), Some(&tag("2.3"))).await?;
    reg.set_tag(&admin, &api, &tag("stable"), &multi.digest).await?;
    reg.add_repository_policy(&admin, &api, r"v?[0-9]+\.[0-9]+(\.[0-9]+)?", true).await?;

    for (i, name) in ["pr-101", "pr-102", "pr-103"].iter().enumerate() {
        step(2);
        let seed = format!("api-{name}");
        reg.put_manifest(
            &admin,
            &api,
            image("amd64", &seed, &[3_121_004, 22_100_000 + i as i64 * 1000], &[("quay.expires-after", "1w")]),
            Some(&tag(name)),
        )
        .await?;
    }

    step(5);
    let tools = repo("acme/tools/builder");
    reg.create_repository(&admin, &tools, Visibility::Public, "CI build image").await?;
    reg.put_manifest(&admin, &tools, image("amd64", "builder", &[48_112_007], &[]), Some(&tag("latest"))).await?;

    let alpine = repo("library/alpine");
    reg.create_repository(&admin, &alpine, Visibility::Public, "A minimal image").await?;
    for (i, version) in ["3.18", "3.19", "3.20"].iter().enumerate() {
        step(1);
        let m = reg
            .put_manifest(
                &admin,
                &alpine,
                image("amd64", &format!("alpine-{version}"), &[3_400_000 + i as i64 * 10_000], &[]),
                Some(&tag(version)),
            )
            .await?;
        reg.set_tag(&admin, &alpine, &tag("latest"), &m.digest).await.context("moving latest")?;
    }
    println!("demo data: acme/web, acme/api, acme/tools/builder, library/alpine");
    Ok(())
}
