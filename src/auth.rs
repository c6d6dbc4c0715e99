//! Who calls: credentials from the `Authorization` header (HTTP Basic with a password or an API
//! token, a bearer API token, a registry token) or the UI's session, turned into the [`Caller`]
//! every service call takes. What a caller may do is decided by the service, not here.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use axum::http::HeaderMap;
use base64::Engine as _;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore as _;
use registry::{Account, Caller, Error, Principal, Registry, RepoPath, Result, Secrets, TOKEN_PREFIX};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// The session key holding the signed-in user's id.
pub const SESSION_USER: &str = "uid";
/// The `service` of registry tokens.
pub const SERVICE: &str = "quayside";
/// How long a registry token lasts.
pub const REGISTRY_TOKEN_TTL_S: i64 = 300;

/// argon2id (the crate's defaults, OWASP's minimum: 19 MiB, 2 passes) and SHA-256 for tokens.
pub struct ServerSecrets {
    /// A hash of a random password, checked when a user does not exist (same cost either way).
    dummy_hash: String,
}

impl ServerSecrets {
    pub fn new() -> anyhow::Result<Self> {
        let mut random = [0u8; 32];
        OsRng.fill_bytes(&mut random);
        let dummy_hash = hash(&hex::encode(random)).map_err(|_| anyhow::anyhow!("cannot hash a password"))?;
        Ok(Self { dummy_hash })
    }
}

fn hash(password: &str) -> Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default().hash_password(password.as_bytes(), &salt).map(|h| h.to_string()).map_err(|e| {
        tracing::error!(error = %e, "password hashing failed");
        Error::Storage
    })
}

impl Secrets for ServerSecrets {
    fn hash_password(&self, password: &str) -> Result<String> {
        hash(password)
    }

    fn verify_password(&self, password: &str, stored: Option<&str>) -> bool {
        let real = stored.is_some();
        let Ok(parsed) = PasswordHash::new(stored.unwrap_or(&self.dummy_hash)) else { return false };
        Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok() && real
    }

    fn new_token(&self) -> String {
        let mut bytes = [0u8; 30];
        OsRng.fill_bytes(&mut bytes);
        format!("{TOKEN_PREFIX}{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
    }

    fn token_digest(&self, token: &str) -> String {
        hex::encode(Sha256::digest(token.as_bytes()))
    }
}

/// What the `Authorization` header carries.
#[derive(Debug, PartialEq, Eq)]
pub enum Credentials {
    None,
    Basic { user: String, secret: String },
    Bearer(String),
}

/// Reads the `Authorization` header; a header that is there but unreadable is an error.
pub fn credentials(headers: &HeaderMap) -> Result<Credentials> {
    let Some(value) = headers.get(axum::http::header::AUTHORIZATION) else { return Ok(Credentials::None) };
    let value = value.to_str().map_err(|_| Error::BadCredentials)?.trim();
    let (scheme, rest) = value.split_once(' ').ok_or(Error::BadCredentials)?;
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD.decode(rest).map_err(|_| Error::BadCredentials)?;
        let decoded = String::from_utf8(decoded).map_err(|_| Error::BadCredentials)?;
        let (user, secret) = decoded.split_once(':').ok_or(Error::BadCredentials)?;
        if user.is_empty() || secret.is_empty() {
            return Err(Error::BadCredentials);
        }
        Ok(Credentials::Basic { user: user.to_owned(), secret: secret.to_owned() })
    } else if scheme.eq_ignore_ascii_case("bearer") && !rest.is_empty() {
        Ok(Credentials::Bearer(rest.to_owned()))
    } else {
        Err(Error::BadCredentials)
    }
}

/// One `access` entry of a registry token (the Docker token format).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Access {
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    pub actions: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    iss: String,
    aud: String,
    /// The user name; empty for an anonymous token.
    sub: String,
    iat: i64,
    nbf: i64,
    exp: i64,
    access: Vec<Access>,
    /// The account behind `sub` (not in Docker's format; saves a lookup per request).
    #[serde(default)]
    uid: Option<i64>,
    #[serde(default)]
    su: bool,
}

/// A verified registry token: who, and what it allows.
#[derive(Debug, Clone)]
pub struct RegistryGrant {
    pub caller: Caller,
    pub access: Vec<Access>,
}

impl RegistryGrant {
    pub fn allows(&self, repository: &str, action: &str) -> bool {
        self.access.iter().any(|a| a.kind == "repository" && a.name == repository && a.actions.iter().any(|x| x == action || x == "*"))
    }
}

/// Resolves credentials; built once at start-up.
#[derive(Clone)]
pub struct Auth {
    registry: Registry,
    encoding: Arc<EncodingKey>,
    decoding: Arc<DecodingKey>,
    /// Recently verified `user:password` pairs (by digest), so Basic auth does not pay argon2 on
    /// every request.
    basic_cache: Arc<Mutex<BasicCache>>,
}

/// Digest of `user\0secret` → the account and when it was verified.
type BasicCache = HashMap<[u8; 32], (Account, Instant)>;

const BASIC_CACHE_TTL: Duration = Duration::from_secs(60);

impl Auth {
    /// Loads (or creates) the token signing key shared by every instance on the database.
    pub async fn new(registry: Registry) -> anyhow::Result<Self> {
        let mut fresh = [0u8; 32];
        OsRng.fill_bytes(&mut fresh);
        let key = registry.server_secret("registry_token_key", &hex::encode(fresh)).await.map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(Self {
            registry,
            encoding: Arc::new(EncodingKey::from_secret(key.as_bytes())),
            decoding: Arc::new(DecodingKey::from_secret(key.as_bytes())),
            basic_cache: Default::default(),
        })
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    async fn basic(&self, user: &str, secret: &str, address: Option<&str>) -> Result<Account> {
        let key: [u8; 32] = Sha256::digest(format!("{user}\0{secret}").as_bytes()).into();
        if let Some((account, at)) = self.basic_cache.lock().ok().and_then(|m| m.get(&key).cloned()) {
            if at.elapsed() < BASIC_CACHE_TTL {
                return Ok(account);
            }
        }
        let account = self.registry.authenticate_basic(user, secret, address).await?;
        if let Ok(mut m) = self.basic_cache.lock() {
            if m.len() > 10_000 {
                m.clear();
            }
            m.insert(key, (account.clone(), Instant::now()));
        }
        Ok(account)
    }

    /// The caller of an `/api/v1` request or a UI server function: the `Authorization` header
    /// when there is one (wrong credentials are refused, never downgraded to anonymous), else the
    /// session's user, else anonymous.
    pub async fn caller(&self, headers: &HeaderMap, session_user: Option<i64>, address: Option<String>) -> Result<Caller> {
        let principal = match credentials(headers)? {
            Credentials::Basic { user, secret } => Principal::User(self.basic(&user, &secret, address.as_deref()).await?),
            Credentials::Bearer(token) => Principal::User(self.registry.authenticate_token(&token).await?),
            Credentials::None => match session_user {
                Some(id) => self.registry.account(id).await?.map_or(Principal::Anonymous, Principal::User),
                None => Principal::Anonymous,
            },
        };
        Ok(Caller { principal, address })
    }

    /// The caller of a `/v2` request: a registry token (with what it grants), HTTP Basic or an API
    /// token; `None` grant means no registry token (the service's roles alone decide).
    pub async fn registry_caller(&self, headers: &HeaderMap, address: Option<String>) -> Result<(Caller, Option<RegistryGrant>)> {
        match credentials(headers)? {
            Credentials::Bearer(token) if !token.starts_with(TOKEN_PREFIX) => {
                let mut grant = self.verify(&token)?;
                grant.caller.address = address;
                Ok((grant.caller.clone(), Some(grant)))
            }
            _ => Ok((self.caller(headers, None, address).await?, None)),
        }
    }

    fn verify(&self, token: &str) -> Result<RegistryGrant> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_audience(&[SERVICE]);
        validation.set_issuer(&[SERVICE]);
        validation.leeway = 5;
        let claims = jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation).map_err(|_| Error::BadCredentials)?.claims;
        let principal = match claims.uid {
            Some(id) if !claims.sub.is_empty() => Principal::User(Account { id, name: claims.sub, superuser: claims.su }),
            _ => Principal::Anonymous,
        };
        Ok(RegistryGrant { caller: Caller { principal, address: None }, access: claims.access })
    }

    /// Issues a registry token for the requested scopes (`repository:NAME:ACTIONS`), granting the
    /// actions the service allows. Unknown or malformed scopes grant nothing.
    pub async fn issue(&self, caller: &Caller, scopes: &[String]) -> Result<(String, i64)> {
        let mut access = Vec::new();
        for scope in scopes.iter().flat_map(|s| s.split(' ')) {
            let mut parts = scope.splitn(3, ':');
            let (Some(kind), Some(name), Some(actions)) = (parts.next(), parts.next(), parts.next()) else { continue };
            // The name may carry a port-less host part in other registries; ours never does.
            let wanted: Vec<String> = actions.split(',').filter(|a| !a.is_empty()).map(str::to_owned).collect();
            let actions = match kind {
                "repository" => match RepoPath::parse(name) {
                    Ok(path) => self.registry.registry_access(caller, &path, &wanted).await?,
                    Err(_) => Vec::new(),
                },
                // The catalog lists only what the caller may read anyway.
                "registry" if name == "catalog" => wanted.into_iter().filter(|a| a == "*").collect(),
                _ => Vec::new(),
            };
            access.push(Access { kind: kind.to_owned(), name: name.to_owned(), actions });
        }
        let now = self.registry.now_ms() / 1000;
        let account = caller.principal.account();
        let claims = Claims {
            iss: SERVICE.into(),
            aud: SERVICE.into(),
            sub: account.map(|a| a.name.clone()).unwrap_or_default(),
            iat: now,
            nbf: now - 5,
            exp: now + REGISTRY_TOKEN_TTL_S,
            access,
            uid: account.map(|a| a.id),
            su: account.is_some_and(|a| a.superuser),
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding).map_err(|e| {
            tracing::error!(error = %e, "cannot sign a registry token");
            Error::Storage
        })?;
        Ok((token, REGISTRY_TOKEN_TTL_S))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(axum::http::header::AUTHORIZATION, HeaderValue::from_str(v).unwrap());
        h
    }

    #[test]
    fn reads_authorization_headers() {
        assert_eq!(credentials(&HeaderMap::new()), Ok(Credentials::None));
        assert_eq!(
            credentials(&headers("Basic YWxpY2U6czNjcmV0OndpdGg6Y29sb25z")),
            Ok(Credentials::Basic { user: "alice".into(), secret: "s3cret:with:colons".into() })
        );
        assert_eq!(credentials(&headers("bearer abc")), Ok(Credentials::Bearer("abc".into())));
        for bad in ["Basic", "Basic !!!", "Basic YWxpY2U=", "Basic OnB3", "Digest x", "Bearer ", "Token abc"] {
            assert_eq!(credentials(&headers(bad)), Err(Error::BadCredentials), "{bad}");
        }
    }

    #[test]
    fn passwords_hash_and_verify() {
        let s = ServerSecrets::new().unwrap();
        let h = s.hash_password("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(s.verify_password("correct horse", Some(&h)));
        assert!(!s.verify_password("wrong horse", Some(&h)));
        assert!(!s.verify_password("correct horse", None));
        assert!(!s.verify_password("x", Some("not a hash")));
        let t = s.new_token();
        assert!(t.starts_with(TOKEN_PREFIX) && t.len() > 40);
        assert_ne!(t, s.new_token());
        assert_eq!(s.token_digest(&t).len(), 64);
    }
}
