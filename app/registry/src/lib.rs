//! Quayside's registry domain: the rules of shared/SPEC.md with no I/O.
//!
//! - [`names`]: names and digests that validate on construction;
//! - [`model`]: the entities;
//! - [`rules`]: pure rules (labels, clamps, policies, history events);
//! - [`store`]: the storage trait the server implements for SQLite and PostgreSQL;
//! - [`service`]: the service layer every surface calls;
//! - [`accounts`]: users, tokens, organizations and permissions (SPEC §4).
//!
//! This crate builds for wasm32 (the UI uses its types) and depends on neither tokio nor sqlx.

pub mod accounts;
pub mod error;
pub mod model;
pub mod names;
pub mod rules;
pub mod service;
pub mod store;

pub use accounts::{Secrets, TOKEN_PREFIX};
pub use error::{Error, Result};
pub use model::*;
pub use names::{Digest, LabelKey, NameError, NamespaceName, RepoPath, RepositoryName, TagName};
pub use service::{
    AuditParams, BatchOutcome, BlobFiles, BlobHealth, Caller, Clock, Config, Expected, FixedClock, FsckReport, GcOptions, GcReport,
    HistoryParams, ManifestRef, NoBlobFiles, Registry, SystemClock, TagChange, TagChangeOutcome, TagChangeRequest, TagListing, MAX_BATCH,
};
pub use store::{Cursor, TagOrder};
