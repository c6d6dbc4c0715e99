//! `/repository/{ns}/{repo}` (active tags), `/repository/{ns}/{repo}/history` (every tag row,
//! alive and ended) and `/repository/{ns}/{repo}/logs` (the audit records). Filters and page live
//! in the URL; every page works without JavaScript.

use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Form;
use leptos_router::hooks::{use_params_map, use_query_map};
use registry::rules::{HistoryEvent, HistoryEventKind};
use registry::{HistoryRow, TagView};

use crate::api::{list_tags, BulkTags, RestoreTag, TagList, BULK_ACTIONS};
use crate::components::audit::{AuditLog, AuditScope};
use crate::components::copy::CopyButton;
use crate::components::flash::Flash;
use crate::components::format;
use crate::components::pager::Pager;
use crate::components::refusal::Refusal;
use crate::components::time::Time;
use crate::components::url;

/// Which view of the repository a path names: `ns/repo[/…]` or `ns/repo[/…]/history`.
fn split_view(path: &str) -> (String, bool) {
    match path.strip_suffix("/history") {
        Some(repo) => (repo.to_owned(), true),
        None => (path.trim_end_matches('/').to_owned(), false),
    }
}

/// The listing's query, kept by the pager's links: name filter, history "as of" instant, sort, and
/// the one tag whose history is shown.
#[derive(Debug, Clone, Default, PartialEq)]
struct TableQuery {
    filter: String,
    at: String,
    sort: String,
    tag: String,
}

/// The sort choices (`sort` in the URL) and their labels.
const SORTS: [(&str, &str); 4] = [("", "Newest first"), ("name", "Name"), ("size", "Size"), ("expiration", "Expires soonest")];

/// The repository's tabs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    Tags,
    History,
    Activity,
    Settings,
    /// One tag's page (under the Tags tab).
    Tag,
}

/// The repository a `/logs` path names, if it is one.
fn activity_repository(path: &str) -> Option<String> {
    path.strip_suffix("/logs").map(str::to_owned)
}

#[component]
pub fn RepositoryPage() -> impl IntoView {
    let params = use_params_map();
    let tab = Memo::new(move |_| {
        let rest = params.read().get("rest").unwrap_or_default();
        if rest.ends_with("/logs") {
            Tab::Activity
        } else if rest.ends_with("/settings") {
            Tab::Settings
        } else if crate::pages::tag::tag_path(&rest).is_some() {
            Tab::Tag
        } else {
            Tab::Tags
        }
    });
    move || match tab.get() {
        Tab::Activity => view! { <ActivityView /> }.into_any(),
        Tab::Settings => view! { <crate::pages::settings::SettingsView /> }.into_any(),
        Tab::Tag => view! { <crate::pages::tag::TagView /> }.into_any(),
        _ => view! { <TagsView /> }.into_any(),
    }
}

/// The breadcrumb, title and tabs every repository page shares.
#[component]
pub fn RepositoryHead(#[prop(into)] repository: Signal<String>, #[prop(into)] tab: Signal<Tab>) -> impl IntoView {
    let base = move || format!("/repository/{}", repository.get());
    let current = move |t: Tab| move || (tab.get() == t || (t == Tab::Tags && tab.get() == Tab::Tag)).then_some("page");
    view! {
        // A plain string: the head is written after the page, when this view may be gone.
        <Title text=repository.get_untracked() />
        <nav class="crumbs" aria-label="Breadcrumb">
            <a href="/repository/">"Repositories"</a>
            " / "
            <span>{move || repository.get()}</span>
        </nav>
        <header class="page-head">
            <h1>{move || repository.get()}</h1>
        </header>
        <nav class="tabs" aria-label="Repository">
            <a href=base aria-current=current(Tab::Tags)>"Tags"</a>
            <a href=move || format!("{}/history", base()) aria-current=current(Tab::History)>"History"</a>
            <a href=move || format!("{}/logs", base()) aria-current=current(Tab::Activity)>"Activity"</a>
            <a href=move || format!("{}/settings", base()) aria-current=current(Tab::Settings)>"Settings"</a>
        </nav>
    }
}

#[component]
fn TagsView() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let target = Memo::new(move |_| {
        let p = params.read();
        split_view(&format!("{}/{}", p.get("ns").unwrap_or_default(), p.get("rest").unwrap_or_default()))
    });
    let filter = Memo::new(move |_| query.read().get("filter").unwrap_or_default());
    let page = Memo::new(move |_| query.read().get("page").and_then(|p| p.parse::<i64>().ok()).unwrap_or(1).max(1));
    // The page next to a row of the one it was linked from (the pager's links carry it).
    let cursor = Memo::new(move |_| {
        let q = query.read();
        let id = |k: &str| q.get(k).and_then(|v| v.parse::<i64>().ok());
        (id("after"), id("before"))
    });
    // History only: the repository as of this instant (`YYYY-MM-DDTHH:MM`, UTC).
    let at = Memo::new(move |_| query.read().get("at").unwrap_or_default());
    let sort = Memo::new(move |_| query.read().get("sort").unwrap_or_default());
    // History only: one tag's history.
    let one_tag = Memo::new(move |_| query.read().get("tag").unwrap_or_default());
    // Without JavaScript a refused post comes back here with its error (read by the actions).
    let restore = ServerAction::<RestoreTag>::new();
    let bulk = ServerAction::<BulkTags>::new();
    let tags = Resource::new(
        move || (target.get(), (filter.get(), sort.get(), one_tag.get()), (page.get(), cursor.get()), at.get()),
        |((repo, history), (f, s, t), (p, (after, before)), at)| {
            list_tags(repo, history, Some(f), Some(p), Some(at), Some(s), Some(t), after, before)
        },
    );
    let message = query.read_untracked().get("msg");
    let error = bulk.value().get_untracked().or_else(|| restore.value().get_untracked()).and_then(Result::err).map(|e| e.to_string());
    let back = url::use_back();

    let base = move || format!("/repository/{}", target.get().0);
    // With JavaScript the page follows the repository's changes (the island swaps it in again).
    let events = move || format!("/events/repository/{}", target.get().0);
    view! {
        <section class="page" data-hydrated="false" data-events=events>
            <RepositoryHead
                repository=Signal::derive(move || target.get().0)
                tab=Signal::derive(move || if target.get().1 { Tab::History } else { Tab::Tags })
            />
            <Flash ok=message error />
            {move || (target.get().1 && !one_tag.get().is_empty()).then(|| view! {
                <p class="scope-link" id="one-tag">
                    "The history of tag " <strong>{one_tag.get()}</strong> ". "
                    <a href=move || format!("{}/history", base())>"Every tag's history"</a>
                </p>
            })}
            <Form method="GET" action=move || format!("{}{}", base(), if target.get().1 { "/history" } else { "" }) attr:class="filter" attr:role="search">
                <label for="tag-filter" class="visually-hidden">"Filter tags"</label>
                <input id="tag-filter" type="search" name="filter" placeholder="Filter tags by name" autocomplete="off" value=move || filter.get() />
                <label for="tag-sort">"Sort"</label>
                <select id="tag-sort" name="sort">
                    {SORTS.iter().map(|(value, label)| view! { <option value=*value selected=move || sort.get() == *value>{*label}</option> }).collect_view()}
                </select>
                {move || (!one_tag.get().is_empty()).then(|| view! { <input type="hidden" name="tag" value=one_tag.get() /> })}
                {move || target.get().1.then(|| view! {
                    <label for="history-at">"As of (UTC)"</label>
                    <input id="history-at" type="datetime-local" name="at" value=move || at.get() />
                })}
                <button type="submit">"Filter"</button>
            </Form>
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    let (_, history) = target.get_untracked();
                    match tags.await {
                        Ok(list) => {
                            let query = TableQuery {
                                filter: filter.get_untracked(),
                                at: at.get_untracked(),
                                sort: sort.get_untracked(),
                                tag: one_tag.get_untracked(),
                            };
                            view! { <TagTable list history query restore bulk back=back.get_untracked() /> }.into_any()
                        }
                        Err(e) => view! { <Refusal error=e back=back.get_untracked() /> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn TagTable(
    list: TagList,
    history: bool,
    query: TableQuery,
    restore: ServerAction<RestoreTag>,
    bulk: ServerAction<BulkTags>,
    back: String,
) -> impl IntoView {
    let TagList { repository, can_write, page, now_ms, time_machine_s, as_of_ms, platforms, cursors } = list;
    if page.items.is_empty() {
        let message = match (history, query.filter.is_empty()) {
            _ if as_of_ms.is_some() => "No tag was alive at that time.",
            (_, false) => "No tag matches this filter.",
            (false, true) => "No active tags. Push an image to this repository, or see its history.",
            (true, true) => "No tag has ever been pushed here.",
        };
        return view! { <p class="empty">{message}</p> }.into_any();
    }
    let base = format!("/repository/{repository}{}", if history { "/history" } else { "" });
    let TableQuery { filter, at, sort, tag } = query;
    // The next page starts after this one's last row, the previous one ends before its first
    // (the first page is the top: no cursor).
    let current = page.page;
    let href = move |p: u32| {
        let (after, before) = match cursors {
            Some((_, last)) if p > current => (last.to_string(), String::new()),
            Some((first, _)) if p > 1 => (String::new(), first.to_string()),
            _ => (String::new(), String::new()),
        };
        let params = [
            ("filter", filter.clone()),
            ("sort", sort.clone()),
            ("at", at.clone()),
            ("tag", tag.clone()),
            ("page", url::page_param(i64::from(p))),
            ("after", after),
            ("before", before),
        ];
        url::with_query(&base, &params)
    };
    // The active tags of a writer can be selected and changed together.
    let selectable = !history && can_write;
    // The history (not "as of") reads as events, one table row each.
    let events = history && as_of_ms.is_none();
    let ctx = EventContext {
        now_ms,
        time_machine_s,
        can_write,
        history: format!("/repository/{repository}/history"),
        repository: repository.clone(),
        back: back.clone(),
        restore,
    };
    let rows = page
        .items
        .into_iter()
        .enumerate()
        .map(|(row, HistoryRow { view: v, events: happened })| {
            if events {
                let size = size_of(&v);
                let locked = v.tag.immutable && v.tag.is_alive(now_ms);
                happened.into_iter().map(|e| event_row(e, locked, &size, &ctx)).collect_view().into_any()
            } else {
                let platforms = platforms.get(&v.tag.manifest_digest.to_string()).cloned().unwrap_or_default();
                view! { <TagRow v platforms row now_ms time_machine_s history can_write selectable repository=repository.clone() restore back=back.clone() /> }
                    .into_any()
            }
        })
        .collect_view();
    let options = BULK_ACTIONS.iter().map(|(value, label)| view! { <option value=*value>{*label}</option> }).collect_view();
    let window = match time_machine_s {
        0 => "Deleted and moved tags of this namespace cannot be restored (its time machine is off).".to_owned(),
        s => format!("Deleted and moved tags stay restorable for {} (the namespace's time machine).", format::window(s)),
    };
    view! {
        {history.then(|| view! { <p class="muted" id="time-machine">{window}</p> })}
        {as_of_ms.map(|ms| view! {
            <p id="as-of" role="status">
                "The tags as they were at " <Time ms now_ms /> ": the rows alive then. Restore brings one back where the time machine still allows it."
            </p>
        })}
        {selectable.then(|| view! {
            <ActionForm action=bulk attr:id="bulk" attr:class="bulk">
                <input type="hidden" name="repository" value=repository.clone() />
                <input type="hidden" name="back" value=back.clone() />
                <label for="bulk-action">"With the selected tags:"</label>
                <select id="bulk-action" name="action">{options}</select>
                <button type="submit">"Apply"</button>
                <span class="muted">"All or nothing: if one tag refuses, none changes."</span>
            </ActionForm>
        })}
        <table class="grid" id="tags">
            <thead>
                {if events {
                    view! {
                        <tr>
                            <th scope="col">"Tag"</th>
                            <th scope="col">"Event"</th>
                            <th scope="col">"Manifest"</th>
                            <th scope="col" class="num">"Size"</th>
                            <th scope="col">"When"</th>
                            <th scope="col"><span class="visually-hidden">"Actions"</span></th>
                        </tr>
                    }
                    .into_any()
                } else {
                    view! {
                        <tr>
                            {selectable.then(|| view! { <th scope="col"><span class="visually-hidden">"Select"</span></th> })}
                            <th scope="col">"Tag"</th>
                            <th scope="col">"Manifest"</th>
                            <th scope="col" class="num">"Size"</th>
                            <th scope="col">{if history { "Started" } else { "Last modified" }}</th>
                            <th scope="col">{if history { "Ended" } else { "Expires" }}</th>
                            {history.then(|| view! { <th scope="col"><span class="visually-hidden">"Actions"</span></th> })}
                        </tr>
                    }
                    .into_any()
                }}
            </thead>
            <tbody>{rows}</tbody>
        </table>
        <Pager page=page.page has_additional=page.has_additional href />
    }
    .into_any()
}

#[component]
fn TagRow(
    v: TagView,
    /// An index's platforms (active tags), shown in a disclosure under the digest.
    platforms: Vec<registry::PlatformEntry>,
    now_ms: i64,
    time_machine_s: i64,
    history: bool,
    can_write: bool,
    /// Has a checkbox for the bulk form (`tags[row]`: the server reads indexed names).
    selectable: bool,
    row: usize,
    repository: String,
    restore: ServerAction<RestoreTag>,
    back: String,
) -> impl IntoView {
    let size = size_of(&v);
    let t = v.tag;
    let alive = t.is_alive(now_ms);
    let until = t.restorable_until(time_machine_s).unwrap_or(now_ms);
    let restorable = until > now_ms;
    let end = match t.lifetime_end_ms {
        Some(ms) => view! { <Time ms now_ms /> }.into_any(),
        None => view! { <span class="muted">{if history { "alive" } else { "never" }}</span> }.into_any(),
    };
    view! {
        <tr class:ended=!alive>
            {selectable.then(|| view! {
                <td class="select">
                    <input type="checkbox" name=format!("tags[{row}]") value=t.name.clone() form="bulk" aria-label=format!("Select {}", t.name) />
                </td>
            })}
            <td class="tag-name">
                {if alive {
                    view! { <a href=format!("/repository/{repository}/tag/{}", t.name)><strong>{t.name.clone()}</strong></a> }.into_any()
                } else {
                    view! { <strong>{t.name.clone()}</strong> }.into_any()
                }}
                {t.immutable.then(|| view! { <span class="badge lock" title="Immutable: cannot be moved, deleted or pushed over">"locked"</span> })}
                {t.reversion.then(|| view! { <span class="badge" title="Created by a restore">"restored"</span> })}
                {(history && !alive).then(|| view! { <span class="badge">"ended"</span> })}
            </td>
            <td>
                <code title=t.manifest_digest.to_string()>{t.manifest_digest.short()}</code>
                <CopyButton text=t.manifest_digest.to_string() label=format!("Copy the manifest digest of {}", t.name) />
                {(!platforms.is_empty()).then(|| {
                    let count = match platforms.len() {
                        1 => "1 platform".to_owned(),
                        n => format!("{n} platforms"),
                    };
                    let items = platforms
                        .into_iter()
                        .map(|p| {
                            let size = p.size.map_or_else(|| "—".to_owned(), format::bytes);
                            view! {
                                <li><span class="platform">{p.platform}</span> " " <code title=p.digest.to_string()>{p.digest.short()}</code> " " <span class="muted">{size}</span></li>
                            }
                        })
                        .collect_view();
                    view! { <details class="platforms"><summary>{count}</summary><ul>{items}</ul></details> }
                })}
            </td>
            <td class="num">{size}</td>
            <td><Time ms=t.lifetime_start_ms now_ms /></td>
            <td>{end}</td>
            {history.then(|| view! {
                <td>
                    // An ended row can be brought back within the time machine window: the tag
                    // then points at this manifest again.
                    {(!alive && !restorable).then(|| view! { <span class="muted" title="Older than the namespace's time machine window">"no longer restorable"</span> })}
                    {(!alive && restorable).then(|| view! { <span class="muted restorable">"restorable until " <Time ms=until now_ms /></span> })}
                    {(!alive && restorable && !can_write).then(|| view! { <span class="muted" title="Restoring needs write permission on this repository">"read only"</span> })}
                    {(!alive && restorable && can_write).then(|| view! {
                        <ActionForm action=restore attr:class="inline">
                            <input type="hidden" name="repository" value=repository.clone() />
                            <input type="hidden" name="tag" value=t.name.clone() />
                            <input type="hidden" name="digest" value=t.manifest_digest.to_string() />
                            <input type="hidden" name="back" value=back.clone() />
                            <button type="submit" class="secondary" title=format!("Point {} at {} again", t.name, t.manifest_digest.short())>"Restore"</button>
                        </ActionForm>
                    })}
                </td>
            })}
        </tr>
    }
    .into_any()
}

/// A manifest's size as the lists show it.
fn size_of(v: &TagView) -> String {
    match (v.is_manifest_list, v.size) {
        (true, _) => "index".to_owned(),
        (false, Some(s)) => format::bytes(s),
        (false, None) => "—".to_owned(),
    }
}

/// What every event row of a history page shares.
struct EventContext {
    now_ms: i64,
    time_machine_s: i64,
    can_write: bool,
    /// The repository's history page.
    history: String,
    repository: String,
    back: String,
    restore: ServerAction<RestoreTag>,
}

/// One event of the history (SPEC §2.6): the tag (a link to its own history), what happened, the
/// manifest, when; and Restore where SPEC allows one (a delete or expire: back to the lost digest;
/// a move or revert: back to the previous one) while the time machine still holds it. A plain
/// function, not a component: a page has a hundred of these.
fn event_row(e: HistoryEvent, locked: bool, size: &str, ctx: &EventContext) -> impl IntoView {
    let EventContext { now_ms, time_machine_s, can_write, .. } = *ctx;
    let until = e.at_ms.saturating_add(time_machine_s.saturating_mul(1000));
    let in_window = until > now_ms;
    let kind = match e.kind {
        HistoryEventKind::Create => "event create",
        HistoryEventKind::Move => "event move",
        HistoryEventKind::Revert => "event revert",
        HistoryEventKind::Delete => "event delete",
        HistoryEventKind::Expire => "event expire",
    };
    let ended = matches!(e.kind, HistoryEventKind::Delete | HistoryEventKind::Expire);
    let action = match (e.restorable_to.clone(), in_window, can_write) {
        (None, _, _) => ().into_any(),
        (Some(_), false, _) => {
            view! { <span class="muted" title="Older than the namespace's time machine window">"no longer restorable"</span> }.into_any()
        }
        (Some(_), true, false) => {
            view! { <span class="muted" title="Restoring needs write permission on this repository">"read only"</span> }.into_any()
        }
        (Some(to), true, true) => {
            let title = format!("Point {} at {} again (restorable until {})", e.tag, to.short(), crate::components::time::absolute(until));
            let (repository, tag, back) = (ctx.repository.clone(), e.tag.clone(), ctx.back.clone());
            view! {
                <ActionForm action=ctx.restore attr:class="inline">
                    <input type="hidden" name="repository" value=repository />
                    <input type="hidden" name="tag" value=tag />
                    <input type="hidden" name="digest" value=to.as_str().to_owned() />
                    <input type="hidden" name="back" value=back />
                    <button type="submit" class="secondary" title=title>"Restore"</button>
                </ActionForm>
            }
            .into_any()
        }
    };
    let digest = e.digest.as_str().to_owned();
    let (href, size) = (url::with_query(&ctx.history, &[("tag", e.tag.clone())]), size.to_owned());
    let copy_label = format!("Copy the manifest digest of {} ({})", e.tag, e.digest.short());
    view! {
        <tr class:ended=ended>
            <td class="tag-name">
                <a href=href title=format!("The history of {}", e.tag)><strong>{e.tag.clone()}</strong></a>
                {(locked && !ended).then(|| view! { <span class="badge lock" title="Immutable: cannot be moved, deleted or pushed over">"locked"</span> })}
            </td>
            <td>
                <span class=kind>{e.kind.label()}</span>
                {e.previous_digest.as_ref().map(|p| view! { " from " <code title=p.as_str().to_owned()>{p.short()}</code> })}
            </td>
            <td>
                <code title=digest.clone()>{e.digest.short()}</code>
                <CopyButton text=digest label=copy_label />
            </td>
            <td class="num">{size}</td>
            <td><Time ms=e.at_ms now_ms /></td>
            <td>{action}</td>
        </tr>
    }
}

/// `/repository/{ns}/{repo}/logs`: the repository's audit records (see [`AuditLog`]), and the way
/// to its whole namespace's.
#[component]
fn ActivityView() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let repository = Memo::new(move |_| {
        let p = params.read();
        activity_repository(&format!("{}/{}", p.get("ns").unwrap_or_default(), p.get("rest").unwrap_or_default())).unwrap_or_default()
    });
    let namespace = move || repository.get().split('/').next().unwrap_or_default().to_owned();
    view! {
        <section class="page" data-hydrated="false">
            <RepositoryHead repository=repository tab=Tab::Activity />
            <Flash ok=query.read_untracked().get("msg") />
            <p class="scope-link">
                <a href=move || format!("/namespace/{}/logs", namespace())>"Activity in every repository of " {namespace}</a>
            </p>
            <AuditLog scope=Signal::derive(move || AuditScope::Repository(repository.get())) />
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::{activity_repository, split_view};

    #[test]
    fn activity_paths() {
        assert_eq!(activity_repository("acme/tools/builder/logs"), Some("acme/tools/builder".into()));
        assert_eq!(activity_repository("acme/web"), None);
    }

    #[test]
    fn views() {
        assert_eq!(split_view("acme/web"), ("acme/web".into(), false));
        assert_eq!(split_view("acme/tools/builder/history"), ("acme/tools/builder".into(), true));
    }
}
