//! Tag immutability policies of a whole namespace (SPEC §2.9): they cover every repository in
//! it, present and future. Namespace admins manage them; creating one marks the alive tags it
//! covers in every repository, changing one marks what its new pattern covers, deleting one
//! unmarks nothing.

use super::*;

impl Registry {
    async fn namespace_for_admin(&self, caller: &Caller, tx: &mut dyn Tx, name: &NamespaceName) -> Result<Namespace> {
        let ns = tx.namespace(name).await?;
        self.authorize_namespace(caller, ns.as_ref(), name, Role::Admin).await?;
        ns.ok_or_else(|| Error::not_found(format!("Namespace '{name}' not found")))
    }

    fn namespace_audit(&self, caller: &Caller, ns: &Namespace, action: &'static str, data: serde_json::Value) -> NewAudit {
        NewAudit {
            namespace_id: Some(ns.id),
            repository_id: None,
            actor: caller.principal.actor_name(),
            address: caller.address.clone(),
            action,
            data,
            created_ms: self.clock.now_ms(),
        }
    }

    /// The namespace's own policies (namespace admins).
    pub async fn namespace_policies(&self, caller: &Caller, name: &NamespaceName) -> Result<Vec<ImmutabilityPolicy>> {
        let mut tx = self.store.begin().await?;
        let ns = self.namespace_for_admin(caller, &mut *tx, name).await?;
        tx.policies(ns.id, None).await
    }

    /// The alive tags (`repository:tag`, sorted) a new namespace policy would mark immutable.
    pub async fn preview_namespace_policy(
        &self,
        caller: &Caller,
        name: &NamespaceName,
        pattern: &str,
        matches_immutable: bool,
    ) -> Result<Vec<String>> {
        let compiled = TagPattern::parse(pattern)?;
        let mut tx = self.store.begin().await?;
        let ns = self.namespace_for_admin(caller, &mut *tx, name).await?;
        let now = self.clock.now_ms();
        let mut marked = Vec::new();
        for (id, path) in tx.namespace_repositories(ns.id).await? {
            for t in tx.alive_tags(id, now).await? {
                if !t.immutable && rules::policy_applies(&compiled, matches_immutable, &t.name) {
                    marked.push(format!("{path}:{}", t.name));
                }
            }
        }
        marked.sort();
        Ok(marked)
    }

    /// Adds a namespace policy and marks the alive tags it covers in every repository of the
    /// namespace (read-only repositories included: a policy only ever adds protection).
    pub async fn add_namespace_policy(
        &self,
        caller: &Caller,
        name: &NamespaceName,
        pattern: &str,
        matches_immutable: bool,
    ) -> Result<ImmutabilityPolicy> {
        let compiled = TagPattern::parse(pattern)?;
        let mut tx = self.store.begin().await?;
        let ns = self.namespace_for_admin(caller, &mut *tx, name).await?;
        let policy = tx.insert_policy(ns.id, None, pattern, matches_immutable).await?;
        let marked = self.mark_namespace_tags(&mut *tx, ns.id, &compiled, matches_immutable).await?;
        let data = json!({
            "namespace": name.as_str(), "policy_id": policy.id, "tag_pattern": pattern,
            "tag_pattern_matches": matches_immutable, "tags_marked": marked,
        });
        tx.insert_audit(&self.namespace_audit(caller, &ns, "create_immutability_policy", data)).await?;
        tx.commit().await?;
        Ok(policy)
    }

    /// Changes a namespace policy (namespace admins): the alive tags the new pattern covers in
    /// every repository become immutable; tags the old one marked stay marked.
    pub async fn update_namespace_policy(
        &self,
        caller: &Caller,
        name: &NamespaceName,
        policy_id: &str,
        pattern: &str,
        matches_immutable: bool,
    ) -> Result<ImmutabilityPolicy> {
        let compiled = TagPattern::parse(pattern)?;
        let mut tx = self.store.begin().await?;
        let ns = self.namespace_for_admin(caller, &mut *tx, name).await?;
        let Some(mut policy) = tx.policies(ns.id, None).await?.into_iter().find(|p| p.id == policy_id) else {
            return Err(Error::not_found("Immutability policy not found"));
        };
        tx.update_policy(policy_id, pattern, matches_immutable).await?;
        let marked = self.mark_namespace_tags(&mut *tx, ns.id, &compiled, matches_immutable).await?;
        let data = json!({
            "namespace": name.as_str(), "policy_id": policy_id, "tag_pattern": pattern, "tag_pattern_matches": matches_immutable,
            "previous_pattern": policy.pattern, "tags_marked": marked,
        });
        tx.insert_audit(&self.namespace_audit(caller, &ns, "update_immutability_policy", data)).await?;
        tx.commit().await?;
        (policy.pattern, policy.matches_immutable) = (pattern.to_owned(), matches_immutable);
        Ok(policy)
    }

    /// Marks the alive tags a namespace policy covers in every repository of the namespace.
    async fn mark_namespace_tags(&self, tx: &mut dyn Tx, namespace_id: i64, pattern: &TagPattern, matches_immutable: bool) -> Result<u64> {
        let now = self.clock.now_ms();
        let mut marked = 0;
        for (id, _) in tx.namespace_repositories(namespace_id).await? {
            tx.lock_repository(id).await?;
            marked += self.mark_alive_tags(tx, id, pattern, matches_immutable, now).await?;
        }
        Ok(marked)
    }

    /// Deletes a namespace policy; the tags it marked stay immutable.
    pub async fn delete_namespace_policy(&self, caller: &Caller, name: &NamespaceName, policy_id: &str) -> Result<()> {
        let mut tx = self.store.begin().await?;
        let ns = self.namespace_for_admin(caller, &mut *tx, name).await?;
        let owned = tx.policies(ns.id, None).await?.iter().any(|p| p.id == policy_id);
        if !owned || !tx.delete_policy(policy_id).await? {
            return Err(Error::not_found("Immutability policy not found"));
        }
        let data = json!({ "namespace": name.as_str(), "policy_id": policy_id });
        tx.insert_audit(&self.namespace_audit(caller, &ns, "delete_immutability_policy", data)).await?;
        tx.commit().await
    }
}
