//! The audit log as a page, for a repository or a whole namespace: filters (action, actor, time
//! range) and paging live in the URL, so the form works without JavaScript; downloads of every
//! matching record go through `/api/v1` (same session).

use leptos::prelude::*;
use leptos_router::components::Form;
use leptos_router::hooks::use_query_map;

use crate::api::{list_audit, list_namespace_audit, AuditList};
use crate::components::pager::Pager;
use crate::components::refusal::Refusal;
use crate::components::time::Time;
use crate::components::url;

/// Whose records a page lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditScope {
    Repository(String),
    Namespace(String),
}

impl AuditScope {
    fn page(&self) -> String {
        match self {
            Self::Repository(r) => format!("/repository/{r}/logs"),
            Self::Namespace(n) => format!("/namespace/{n}/logs"),
        }
    }

    fn api(&self) -> String {
        match self {
            Self::Repository(r) => format!("/api/v1/repository/{r}/logs"),
            Self::Namespace(n) => format!("/api/v1/organization/{n}/logs"),
        }
    }
}

/// The filters as the URL carries them (days as `YYYY-MM-DD`, UTC).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Filter {
    action: String,
    actor: String,
    since: String,
    until: String,
}

impl Filter {
    fn is_empty(&self) -> bool {
        self.action.is_empty() && self.actor.is_empty() && self.since.is_empty() && self.until.is_empty()
    }

    /// The page's query: these filters and a page.
    fn page_query(&self, page: u32) -> Vec<(&'static str, String)> {
        vec![
            ("action", self.action.clone()),
            ("actor", self.actor.clone()),
            ("since", self.since.clone()),
            ("until", self.until.clone()),
            ("page", url::page_param(i64::from(page))),
        ]
    }

    /// The REST API's names for the same filters (Quay's).
    fn api_query(&self, format: &str) -> Vec<(&'static str, String)> {
        vec![
            ("format", format.to_owned()),
            ("action", self.action.clone()),
            ("performer", self.actor.clone()),
            ("starttime", self.since.clone()),
            ("endtime", self.until.clone()),
        ]
    }
}

/// The actions the audit log records, for the filter.
const AUDIT_ACTIONS: &[&str] = &[
    "push_repo",
    "create_tag",
    "move_tag",
    "delete_tag",
    "revert_tag",
    "change_tag_expiration",
    "change_tag_immutability",
    "expire_tag_permanently",
    "manifest_label_add",
    "manifest_label_delete",
    "create_immutability_policy",
    "delete_immutability_policy",
    "change_repo_permission",
    "delete_repo_permission",
    "change_repo_visibility",
    "change_repo_state",
    "create_repo",
    "change_tag_expiration_window",
    "org_create",
    "org_set_member",
    "org_remove_member",
];

#[component]
pub fn AuditLog(#[prop(into)] scope: Signal<AuditScope>) -> impl IntoView {
    let query = use_query_map();
    let filter = Memo::new(move |_| {
        let q = query.read();
        let get = |k: &str| q.get(k).unwrap_or_default().trim().to_owned();
        Filter { action: get("action"), actor: get("actor"), since: get("since"), until: get("until") }
    });
    let page = Memo::new(move |_| query.read().get("page").and_then(|p| p.parse::<u32>().ok()).unwrap_or(1).max(1));
    let records = Resource::new(
        move || (scope.get(), filter.get(), page.get()),
        |(scope, f, p)| async move {
            let Filter { action, actor, since, until } = f;
            match scope {
                AuditScope::Repository(r) => list_audit(r, Some(action), Some(actor), Some(since), Some(until), Some(p)).await,
                AuditScope::Namespace(n) => list_namespace_audit(n, Some(action), Some(actor), Some(since), Some(until), Some(p)).await,
            }
        },
    );
    let back = url::use_back();
    let download = move |format: &str| url::with_query(&scope.get().api(), &filter.get().api_query(format));
    let action = move || filter.get().action;
    view! {
        <Form method="GET" action=move || scope.get().page() attr:class="filter" attr:role="search">
            <label for="audit-action" class="visually-hidden">"Action"</label>
            <select id="audit-action" name="action" prop:value=action>
                <option value="" selected=move || action().is_empty()>"Any action"</option>
                {AUDIT_ACTIONS.iter().map(|a| view! { <option value=*a selected=move || action() == *a>{*a}</option> }).collect_view()}
            </select>
            <label for="audit-actor" class="visually-hidden">"Actor"</label>
            <input
                id="audit-actor"
                type="search"
                name="actor"
                placeholder="Actor (user name)"
                autocomplete="off"
                value=move || filter.get().actor
            />
            <label for="audit-since">"From"</label>
            <input id="audit-since" type="date" name="since" value=move || filter.get().since />
            <label for="audit-until">"to"</label>
            <input id="audit-until" type="date" name="until" value=move || filter.get().until />
            <button type="submit">"Filter"</button>
        </Form>
        <p class="downloads">
            "Download every matching record: "
            <a href=move || download("csv") download="audit-log.csv">"CSV"</a>
            " · "
            <a href=move || download("ndjson") download="audit-log.ndjson">"JSON lines"</a>
        </p>
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match records.await {
                    Ok(list) => view! { <AuditTable list scope=scope.get_untracked() filter=filter.get_untracked() /> }.into_any(),
                    Err(e) => view! { <Refusal error=e back=back.get_untracked() /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn AuditTable(list: AuditList, scope: AuditScope, filter: Filter) -> impl IntoView {
    let AuditList { page, now_ms } = list;
    if page.items.is_empty() {
        let message = if filter.is_empty() { "No activity recorded yet." } else { "No record matches this filter." };
        return view! { <p class="empty">{message}</p> }.into_any();
    }
    let whole_namespace = matches!(scope, AuditScope::Namespace(_));
    let base = scope.page();
    let href = move |p: u32| url::with_query(&base, &filter.page_query(p));
    let rows = page
        .items
        .into_iter()
        .map(|e| {
            let details = audit_details(&e.data);
            let repository = whole_namespace.then(|| {
                let repo = e.data.get("repo").and_then(|r| r.as_str()).map(str::to_owned);
                view! { <td>{repo.unwrap_or_else(|| "—".into())}</td> }
            });
            view! {
                <tr>
                    <td><Time ms=e.created_ms now_ms /></td>
                    <td>{e.actor}</td>
                    <td><code>{e.action}</code></td>
                    {repository}
                    <td class="details">{details}</td>
                    <td class="muted">{e.address.unwrap_or_default()}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <table class="grid" id="audit">
            <thead>
                <tr>
                    <th scope="col">"When"</th>
                    <th scope="col">"Actor"</th>
                    <th scope="col">"Action"</th>
                    {whole_namespace.then(|| view! { <th scope="col">"Repository"</th> })}
                    <th scope="col">"Details"</th>
                    <th scope="col">"Address"</th>
                </tr>
            </thead>
            <tbody>{rows}</tbody>
        </table>
        <Pager page=page.page has_additional=page.has_additional href=href />
    }
    .into_any()
}

/// `key=value` pairs of a record's data, without the repository (the page or a column names it).
fn audit_details(data: &serde_json::Value) -> String {
    let Some(obj) = data.as_object() else { return data.to_string() };
    obj.iter()
        .filter(|(k, _)| !matches!(k.as_str(), "namespace" | "repo"))
        .map(|(k, v)| match v {
            serde_json::Value::String(s) => format!("{k}={s}"),
            v => format!("{k}={v}"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn details_leave_out_the_repository() {
        let data = serde_json::json!({ "namespace": "acme", "repo": "web", "tag": "v1", "immutable": true });
        assert_eq!(audit_details(&data), "immutable=true, tag=v1");
    }

    #[test]
    fn filters_carry_over_to_pages_and_downloads() {
        let f = Filter { action: "move_tag".into(), actor: String::new(), since: "2026-11-01".into(), until: String::new() };
        let scope = AuditScope::Namespace("acme".into());
        assert_eq!(url::with_query(&scope.page(), &f.page_query(2)), "/namespace/acme/logs?action=move_tag&since=2026-11-01&page=2");
        assert_eq!(
            url::with_query(&scope.api(), &f.api_query("csv")),
            "/api/v1/organization/acme/logs?format=csv&action=move_tag&starttime=2026-11-01"
        );
    }
}
