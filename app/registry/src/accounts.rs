//! Accounts, sign-in, API tokens, organizations and repository permissions (SPEC §4).
//!
//! The rules live here; the cryptography is injected ([`Secrets`]) so this crate keeps building
//! for wasm32 without a random number source. The server supplies argon2 and SHA-256.

use std::collections::HashMap;
use std::sync::Mutex;

use serde_json::json;

use crate::error::{Error, Result};
use crate::model::*;
use crate::names::{NamespaceName, RepoPath};
use crate::service::{Caller, Registry};
use crate::store::Viewer;

/// Password hashing and token generation, supplied by the server.
pub trait Secrets: Send + Sync + 'static {
    /// A salted, slow hash of the password (PHC string).
    fn hash_password(&self, password: &str) -> Result<String>;
    /// Whether the password matches the stored hash. With no hash (unknown user) it must take as
    /// long as a real check and answer `false`, so timing does not tell whether a user exists.
    fn verify_password(&self, password: &str, hash: Option<&str>) -> bool;
    /// A new random API token (shown once, never stored).
    fn new_token(&self) -> String;
    /// The digest stored for a token (fast: tokens carry enough entropy).
    fn token_digest(&self, token: &str) -> String;
}

/// Used until the server sets real secrets: every account operation fails closed.
pub(crate) struct NoSecrets;

impl Secrets for NoSecrets {
    fn hash_password(&self, _: &str) -> Result<String> {
        Err(Error::Storage)
    }
    fn verify_password(&self, _: &str, _: Option<&str>) -> bool {
        false
    }
    fn new_token(&self) -> String {
        String::new()
    }
    fn token_digest(&self, token: &str) -> String {
        format!("unconfigured:{token}")
    }
}

/// API tokens start with this, so `user:token` can be told from `user:password`.
pub const TOKEN_PREFIX: &str = "qs_";
pub const MIN_PASSWORD_LEN: usize = 8;

/// Failed sign-ins per account and per address: after [`Throttle::MAX_FAILURES`] within
/// [`Throttle::WINDOW_MS`], further attempts are refused until the window has passed.
#[derive(Default)]
pub(crate) struct Throttle(Mutex<HashMap<String, (u32, Millis)>>);

impl Throttle {
    pub const MAX_FAILURES: u32 = 5;
    pub const WINDOW_MS: Millis = 5 * 60 * 1000;
    const MAX_KEYS: usize = 100_000;

    /// Seconds to wait when any of the keys is throttled.
    fn check(&self, keys: &[String], now: Millis) -> Option<u64> {
        let map = self.0.lock().ok()?;
        keys.iter()
            .filter_map(|k| map.get(k))
            .filter(|(n, first)| *n >= Self::MAX_FAILURES && now - first < Self::WINDOW_MS)
            .map(|(_, first)| ((first + Self::WINDOW_MS - now) / 1000).max(1) as u64)
            .max()
    }

    fn fail(&self, keys: &[String], now: Millis) {
        let Ok(mut map) = self.0.lock() else { return };
        if map.len() > Self::MAX_KEYS {
            map.retain(|_, (_, first)| now - *first < Self::WINDOW_MS);
        }
        for k in keys {
            let e = map.entry(k.clone()).or_insert((0, now));
            if now - e.1 >= Self::WINDOW_MS {
                *e = (0, now);
            }
            e.0 += 1;
        }
    }

    fn succeed(&self, account_key: &str) {
        if let Ok(mut map) = self.0.lock() {
            map.remove(account_key);
        }
    }
}

fn validate_password(password: &str) -> Result<()> {
    if password.chars().count() < MIN_PASSWORD_LEN {
        return Err(Error::invalid(format!("Password must be at least {MIN_PASSWORD_LEN} characters")));
    }
    Ok(())
}

fn user_not_found(name: &str) -> Error {
    Error::not_found(format!("User '{name}' not found"))
}

impl Registry {
    fn account_audit(&self, caller: &Caller, namespace_id: Option<i64>, action: &'static str, data: serde_json::Value) -> NewAudit {
        NewAudit {
            namespace_id,
            repository_id: None,
            actor: caller.principal.actor_name(),
            address: caller.address.clone(),
            action,
            data,
            created_ms: self.now_ms(),
        }
    }

    fn require_superuser(&self, caller: &Caller) -> Result<()> {
        match &caller.principal {
            p if p.is_superuser() => Ok(()),
            Principal::Anonymous => Err(Error::Unauthorized),
            _ => Err(Error::Forbidden("Only a superuser may do this".into())),
        }
    }

    pub async fn user_count(&self) -> Result<i64> {
        self.store.user_count().await
    }

    /// Creates a user and their namespace (same name). Superusers (and the system) only.
    pub async fn create_user(&self, caller: &Caller, name: &str, password: &str, superuser: bool) -> Result<Account> {
        self.require_superuser(caller)?;
        let ns_name = NamespaceName::parse(name).map_err(|e| Error::invalid(format!("Invalid username: {e}")))?;
        validate_password(password)?;
        let hash = self.secrets.hash_password(password)?;
        let now = self.now_ms();
        let mut tx = self.store.begin().await?;
        if tx.namespace(&ns_name).await?.is_some() || self.store.user_by_name(name).await?.is_some() {
            return Err(Error::Conflict(format!("The name '{name}' is already taken")));
        }
        let account = tx.insert_user(name, &hash, superuser, now).await?;
        let ns = tx.insert_namespace(&ns_name, DEFAULT_TIME_MACHINE_S, now).await?;
        tx.set_namespace_owner(ns.id, account.id).await?;
        tx.insert_audit(&self.account_audit(caller, Some(ns.id), "user_create", json!({ "username": name, "superuser": superuser })))
            .await?;
        tx.commit().await?;
        Ok(account)
    }

    /// First start: when no user exists, creates the superuser `admin` with this password.
    /// Returns `None` when users exist already.
    pub async fn bootstrap_admin(&self, password: &str) -> Result<Option<Account>> {
        self.bootstrap_superuser("admin", password).await
    }

    /// First start: creates this superuser when no user exists; `None` when users exist.
    pub async fn bootstrap_superuser(&self, name: &str, password: &str) -> Result<Option<Account>> {
        if self.store.user_count().await? > 0 {
            return Ok(None);
        }
        self.create_user(&Caller::system(), name, password, true).await.map(Some)
    }

    /// Checks a username and password, throttling failures per account and per address.
    pub async fn sign_in(&self, name: &str, password: &str, address: Option<&str>) -> Result<Account> {
        let now = self.now_ms();
        let account_key = format!("user:{name}");
        let mut keys = vec![account_key.clone()];
        if let Some(a) = address {
            keys.push(format!("addr:{a}"));
        }
        if let Some(wait) = self.throttle.check(&keys, now) {
            return Err(Error::Throttled(wait));
        }
        let user = self.store.user_by_name(name).await?;
        let ok = self.secrets.verify_password(password, user.as_ref().map(|u| u.password_hash.as_str()));
        match user {
            Some(u) if ok => {
                self.throttle.succeed(&account_key);
                Ok(u.account)
            }
            _ => {
                self.throttle.fail(&keys, now);
                Err(Error::BadCredentials)
            }
        }
    }

    /// The account an API token belongs to.
    pub async fn authenticate_token(&self, token: &str) -> Result<Account> {
        if !token.starts_with(TOKEN_PREFIX) {
            return Err(Error::BadCredentials);
        }
        self.store.token_account(&self.secrets.token_digest(token)).await?.ok_or(Error::BadCredentials)
    }

    /// HTTP Basic: `user:password` or `user:token`.
    pub async fn authenticate_basic(&self, name: &str, secret: &str, address: Option<&str>) -> Result<Account> {
        if secret.starts_with(TOKEN_PREFIX) {
            let account = self.authenticate_token(secret).await?;
            return if account.name == name { Ok(account) } else { Err(Error::BadCredentials) };
        }
        self.sign_in(name, secret, address).await
    }

    /// A signed-in session's account, if it still exists.
    pub async fn account(&self, user_id: i64) -> Result<Option<Account>> {
        self.store.account(user_id).await
    }

    /// Creates an API token for a user (themselves, or any user for a superuser). The token is
    /// returned once; only its digest is stored.
    pub async fn create_token(&self, caller: &Caller, user: &str, label: &str) -> Result<String> {
        let own = caller.principal.account().is_some_and(|a| a.name == user);
        if !own {
            self.require_superuser(caller)?;
        }
        let account = self.store.user_by_name(user).await?.ok_or_else(|| user_not_found(user))?.account;
        let label = label.trim();
        if label.chars().count() > 255 {
            return Err(Error::invalid("Token name must be at most 255 characters"));
        }
        let token = self.secrets.new_token();
        if !token.starts_with(TOKEN_PREFIX) {
            return Err(Error::Storage);
        }
        let mut tx = self.store.begin().await?;
        tx.insert_token(account.id, label, &self.secrets.token_digest(&token), self.now_ms()).await?;
        tx.insert_audit(&self.account_audit(caller, None, "create_token", json!({ "username": user, "token_name": label }))).await?;
        tx.commit().await?;
        Ok(token)
    }

    /// Creates an organization; a signed-in creator becomes its admin.
    pub async fn create_organization(&self, caller: &Caller, name: &str) -> Result<Namespace> {
        if caller.principal == Principal::Anonymous {
            return Err(Error::Unauthorized);
        }
        let ns_name = NamespaceName::parse(name).map_err(|e| Error::invalid(format!("Invalid organization name: {e}")))?;
        let now = self.now_ms();
        let mut tx = self.store.begin().await?;
        if tx.namespace(&ns_name).await?.is_some() || self.store.user_by_name(name).await?.is_some() {
            return Err(Error::Conflict(format!("The name '{name}' is already taken")));
        }
        let ns = tx.insert_namespace(&ns_name, DEFAULT_TIME_MACHINE_S, now).await?;
        if let Some(a) = caller.principal.account() {
            tx.set_org_member(ns.id, a.id, OrgRole::Admin).await?;
        }
        tx.insert_audit(&self.account_audit(caller, Some(ns.id), "org_create", json!({ "namespace": name }))).await?;
        tx.commit().await?;
        Ok(ns)
    }

    /// The organization, locked for a membership change by an organization admin: it must be
    /// an organization (not a user's namespace).
    async fn org_for_change(&self, caller: &Caller, org: &NamespaceName) -> Result<(Box<dyn crate::store::Tx>, Namespace)> {
        let mut tx = self.store.begin().await?;
        let ns = tx.namespace(org).await?;
        self.authorize_namespace(caller, ns.as_ref(), org, Role::Admin).await?;
        let ns = ns.ok_or_else(|| org_not_found(org))?;
        if self.store.user_by_name(org.as_str()).await?.is_some() {
            return Err(Error::invalid(format!("'{org}' is a user's namespace, not an organization")));
        }
        Ok((tx, ns))
    }

    /// The organization's members and their roles (organization admins).
    pub async fn org_members(&self, caller: &Caller, org: &NamespaceName) -> Result<Vec<OrgMember>> {
        let (mut tx, ns) = self.org_for_change(caller, org).await?;
        tx.org_members(ns.id).await
    }

    /// Adds a member to an organization or changes their role (organization admins). The last
    /// admin cannot step down: someone must be able to manage the organization.
    pub async fn set_org_member(&self, caller: &Caller, org: &NamespaceName, user: &str, role: OrgRole) -> Result<()> {
        let (mut tx, ns) = self.org_for_change(caller, org).await?;
        let account = self.store.user_by_name(user).await?.ok_or_else(|| user_not_found(user))?.account;
        if role != OrgRole::Admin {
            last_admin_check(&mut *tx, &ns, user).await?;
        }
        tx.set_org_member(ns.id, account.id, role).await?;
        let data = json!({ "namespace": org.as_str(), "member": user, "role": role.as_str() });
        tx.insert_audit(&self.account_audit(caller, Some(ns.id), "org_set_member", data)).await?;
        tx.commit().await
    }

    /// Removes a member from an organization (organization admins); never its last admin.
    pub async fn remove_org_member(&self, caller: &Caller, org: &NamespaceName, user: &str) -> Result<()> {
        let (mut tx, ns) = self.org_for_change(caller, org).await?;
        let account = self.store.user_by_name(user).await?.ok_or_else(|| user_not_found(user))?.account;
        last_admin_check(&mut *tx, &ns, user).await?;
        if !tx.delete_org_member(ns.id, account.id).await? {
            return Err(Error::not_found(format!("User '{user}' is not a member of organization '{org}'")));
        }
        let data = json!({ "namespace": org.as_str(), "member": user });
        tx.insert_audit(&self.account_audit(caller, Some(ns.id), "org_remove_member", data)).await?;
        tx.commit().await
    }

    /// The users granted a role on the repository directly (repository admins).
    pub async fn permissions(&self, caller: &Caller, path: &RepoPath) -> Result<Vec<Permission>> {
        let repo = self.repository_for(caller, path, Role::Admin).await?;
        self.store.permissions(repo.id).await
    }

    /// Grants a user a role on the repository (repository admins).
    pub async fn set_permission(&self, caller: &Caller, path: &RepoPath, user: &str, role: Role) -> Result<Permission> {
        let repo = self.repository_for(caller, path, Role::Admin).await?;
        let account = self.store.user_by_name(user).await?.ok_or_else(|| user_not_found(user))?.account;
        let mut tx = self.store.begin().await?;
        tx.set_permission(repo.id, account.id, role).await?;
        let data = json!({ "username": user, "role": role.as_str() });
        tx.insert_audit(&self.repo_audit(caller, &repo, "change_repo_permission", data)).await?;
        tx.commit().await?;
        Ok(Permission { user: user.to_owned(), role })
    }

    /// Removes a user's direct grant (repository admins).
    pub async fn delete_permission(&self, caller: &Caller, path: &RepoPath, user: &str) -> Result<()> {
        let repo = self.repository_for(caller, path, Role::Admin).await?;
        let account = self.store.user_by_name(user).await?.ok_or_else(|| user_not_found(user))?.account;
        let mut tx = self.store.begin().await?;
        if !tx.delete_permission(repo.id, account.id).await? {
            return Err(Error::not_found(format!("User '{user}' has no permission on {path}")));
        }
        tx.insert_audit(&self.repo_audit(caller, &repo, "delete_repo_permission", json!({ "username": user }))).await?;
        tx.commit().await
    }

    /// Makes the repository public or private (repository admins).
    pub async fn set_visibility(&self, caller: &Caller, path: &RepoPath, visibility: Visibility) -> Result<()> {
        let repo = self.repository_for(caller, path, Role::Admin).await?;
        let mut tx = self.store.begin().await?;
        tx.set_visibility(repo.id, visibility).await?;
        tx.insert_audit(&self.repo_audit(caller, &repo, "change_repo_visibility", json!({ "visibility": visibility.as_str() }))).await?;
        tx.commit().await
    }

    /// The caller's role on a repository (`None`: may not read it), for surfaces that show or
    /// hide actions. The repository must be readable.
    pub async fn my_role(&self, caller: &Caller, path: &RepoPath) -> Result<Option<Role>> {
        let repo = self.repository(caller, path).await?;
        self.role(caller, &repo).await
    }

    /// Which of the `/v2` actions (`pull`, `push`, `delete`, `*`) the caller may take on a
    /// repository, for a registry token. Pushing to a missing repository needs write on its
    /// namespace (the push creates it). Never an error for "no access": the empty list.
    pub async fn registry_access(&self, caller: &Caller, path: &RepoPath, wanted: &[String]) -> Result<Vec<String>> {
        let role = match self.store.repository(path).await? {
            Some(repo) => self.role(caller, &repo).await?,
            None => {
                let ns = self.store.namespace_by_name(&path.namespace).await?;
                // Nothing to pull yet; a namespace writer may create it by pushing.
                self.namespace_role(caller, ns.as_ref()).await?.filter(|r| *r >= Role::Write).or(
                    // A user's own namespace exists from sign-up; superusers may push anywhere.
                    caller.principal.is_superuser().then_some(Role::Admin),
                )
            }
        };
        let granted = |action: &str| match (action, role) {
            ("pull", Some(_)) => true,
            ("push", Some(r)) => r >= Role::Write,
            ("delete" | "*", Some(r)) => r >= Role::Admin,
            _ => false,
        };
        Ok(wanted.iter().filter(|a| granted(a)).cloned().collect())
    }

    /// A server-wide secret shared by every instance on the database (created when missing).
    pub async fn server_secret(&self, name: &str, value: &str) -> Result<String> {
        self.store.server_secret(name, value).await
    }

    /// What the caller's repository listing includes.
    pub fn viewer_of(&self, caller: &Caller) -> Viewer {
        crate::service::viewer(caller)
    }
}

fn org_not_found(org: &NamespaceName) -> Error {
    Error::not_found(format!("Organization '{org}' not found"))
}

/// Refuses when `user` is the organization's only admin (they would leave it unmanaged).
async fn last_admin_check(tx: &mut dyn crate::store::Tx, ns: &Namespace, user: &str) -> Result<()> {
    let members = tx.org_members(ns.id).await?;
    let admins: Vec<_> = members.iter().filter(|m| m.role == OrgRole::Admin).collect();
    if admins.len() == 1 && admins[0].user == user {
        return Err(Error::Conflict(format!("'{user}' is the last admin of organization '{}'", ns.name)));
    }
    Ok(())
}
