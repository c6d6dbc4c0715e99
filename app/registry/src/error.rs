//! The domain's one error type. No HTTP, no sqlx: adapters map it at the edge.

use serde::{Deserialize, Serialize};

use crate::names::NameError;

/// Everything a registry operation can refuse or fail with. `Display` is the user-facing message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum Error {
    /// Input that breaks a rule (HTTP 400).
    #[error("{0}")]
    Invalid(String),
    /// The repository does not exist, or is not visible to the caller (HTTP 404).
    #[error("{0}")]
    RepositoryNotFound(String),
    /// The thing named does not exist, or is not visible to the caller (HTTP 404).
    #[error("{0}")]
    NotFound(String),
    /// A manifest names a blob or child manifest the repository does not have.
    #[error("{0}")]
    BlobUnknown(String),
    /// An immutable tag stands in the way (HTTP 409, error type `tag_immutable`).
    #[error("{0}")]
    TagImmutable(String),
    /// Anonymous caller where a signed-in one is needed (HTTP 401).
    #[error("Authentication required")]
    Unauthorized,
    /// Credentials were given and are wrong, expired or unknown (HTTP 401). One message for all,
    /// so a caller learns nothing about which part was wrong.
    #[error("Invalid username, password or token")]
    BadCredentials,
    /// Too many failed sign-ins for the account or the address (HTTP 429).
    #[error("Too many failed sign-in attempts; try again in {0} seconds")]
    Throttled(u64),
    /// Signed in without the needed role (HTTP 403).
    #[error("{0}")]
    Forbidden(String),
    /// The repository is read-only or a mirror (HTTP 503).
    #[error("Repository is in read only or mirror mode")]
    ReadOnly,
    /// A concurrent change won; the caller may retry (HTTP 409).
    #[error("{0}")]
    Conflict(String),
    /// Storage failed. The details are logged where they happen; this text is all a client sees.
    #[error("Internal storage error")]
    Storage,
}

impl From<NameError> for Error {
    fn from(e: NameError) -> Self {
        Self::Invalid(e.to_string())
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn not_found(what: impl Into<String>) -> Self {
        Self::NotFound(what.into())
    }
    pub fn invalid(what: impl Into<String>) -> Self {
        Self::Invalid(what.into())
    }
}
