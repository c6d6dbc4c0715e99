//! `/repository/{ns}/{repo}/settings`: what a repository admin changes — visibility, state,
//! user permissions, tag immutability policies (with the tags a pattern would mark shown before
//! saving) and the namespace's time machine window. Every form posts and comes back with a
//! message without JavaScript; with it, the island sends it and the page updates in place, and the
//! preview follows the pattern as it is typed.

use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_router::components::Form;
use leptos_router::hooks::{use_location, use_params_map, use_query_map};
use registry::{RepoState, Role, Visibility};

use crate::api::{
    policy_preview, repository_settings, AddPolicy, DeletePolicy, Grant, Revoke, SetRepositoryState, SetTimeMachine, SetVisibility,
    SettingsData,
};
use crate::components::flash::Flash;
use crate::components::refusal::Refusal;
use crate::components::url;
use crate::pages::repository::{RepositoryHead, Tab};

/// The repository a `/settings` path names, if it is one.
pub fn settings_repository(path: &str) -> Option<String> {
    path.strip_suffix("/settings").map(str::to_owned)
}

fn window_label(seconds: i64) -> String {
    match seconds {
        0 => "none (deleted tags cannot be restored)".into(),
        s => crate::components::format::window(s),
    }
}

#[component]
pub fn SettingsView() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let repository = Memo::new(move |_| {
        let p = params.read();
        settings_repository(&format!("{}/{}", p.get("ns").unwrap_or_default(), p.get("rest").unwrap_or_default())).unwrap_or_default()
    });
    let pattern = Memo::new(move |_| query.read().get("pattern").unwrap_or_default());
    let inverse = Memo::new(move |_| query.read().get("matches").as_deref() == Some("others"));
    let scope = Memo::new(move |_| query.read().get("scope").unwrap_or_default());
    // The policy being changed (its Edit link), or none: a new one.
    let editing = Memo::new(move |_| query.read().get("edit").unwrap_or_default());

    // Without JavaScript a refused post comes back here with its error (read by the actions).
    let visibility = ServerAction::<SetVisibility>::new();
    let state = ServerAction::<SetRepositoryState>::new();
    let grant = ServerAction::<Grant>::new();
    let revoke = ServerAction::<Revoke>::new();
    let add_policy = ServerAction::<AddPolicy>::new();
    let delete_policy = ServerAction::<DeletePolicy>::new();
    let time_machine = ServerAction::<SetTimeMachine>::new();
    let settings = Resource::new(move || repository.get(), repository_settings);
    let preview = Resource::new(
        move || (repository.get(), pattern.get(), inverse.get(), scope.get()),
        |(r, p, inv, scope)| async move {
            if p.is_empty() {
                Ok(None)
            } else {
                policy_preview(r, p, !inv, Some(scope)).await.map(Some)
            }
        },
    );
    // The error of a refused form, in words.
    let error =
        [visibility.value(), state.value(), grant.value(), revoke.value(), add_policy.value(), delete_policy.value(), time_machine.value()]
            .into_iter()
            .find_map(|v| v.get_untracked().and_then(Result::err))
            .map(|e| e.to_string());
    let location = use_location();
    let back = Memo::new(move |_| location.pathname.get());

    view! {
        <section class="page settings" data-hydrated="false">
            <RepositoryHead repository=repository tab=Tab::Settings />
            <Flash ok=query.read_untracked().get("msg") error />
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match settings.await {
                        Err(e) => view! { <Refusal error=e back=back.get_untracked() /> }.into_any(),
                        Ok(s) => {
                            let SettingsData { repository: repo, permissions, policies, time_machine_s, time_machine_choices, namespace_admin } = s;
                            let name = repo.path.to_string();
                            let namespace = repo.path.namespace.to_string();
                            let back = back.get_untracked();
                            let public = repo.visibility == Visibility::Public;
                            let read_only = repo.state != RepoState::Normal;
                            let grants = permissions
                                .into_iter()
                                .map(|p| {
                                    let (name, back) = (name.clone(), back.clone());
                                    view! {
                                        <tr>
                                            <td>{p.user.clone()}</td>
                                            <td>{p.role.as_str()}</td>
                                            <td>
                                                <ActionForm action=revoke attr:class="inline">
                                                    <input type="hidden" name="repository" value=name />
                                                    <input type="hidden" name="user" value=p.user.clone() />
                                                    <input type="hidden" name="back" value=back />
                                                    <button type="submit" class="secondary" title=format!("Remove {}'s permission", p.user)>"Remove"</button>
                                                </ActionForm>
                                            </td>
                                        </tr>
                                    }
                                })
                                .collect_view();
                            let policy_rows = policies
                                .into_iter()
                                .map(|p| {
                                    let (name, back) = (name.clone(), back.clone());
                                    let own = p.repository_id.is_some();
                                    // Namespace policies are deleted by namespace admins only.
                                    let deletable = own || namespace_admin;
                                    view! {
                                        <tr>
                                            <td><code>{p.pattern.clone()}</code></td>
                                            <td>{if p.matches_immutable { "matching tags" } else { "tags that do not match" }}</td>
                                            <td>{if own { "this repository" } else { "the namespace" }}</td>
                                            <td>
                                                {deletable.then(|| {
                                                    let edit = url::with_query(&back, &[
                                                        ("edit", p.id.clone()),
                                                        ("pattern", p.pattern.clone()),
                                                        ("matches", if p.matches_immutable { String::new() } else { "others".into() }),
                                                        ("scope", if own { String::new() } else { "namespace".into() }),
                                                    ]);
                                                    view! { <a href=edit class="edit-policy" aria-label=format!("Edit the policy {}", p.pattern)>"Edit"</a> " " }
                                                })}
                                                {deletable.then(|| view! {
                                                    <ActionForm action=delete_policy attr:class="inline">
                                                        <input type="hidden" name="repository" value=name />
                                                        <input type="hidden" name="id" value=p.id.clone() />
                                                        <input type="hidden" name="scope" value=if own { "" } else { "namespace" } />
                                                        <input type="hidden" name="back" value=back />
                                                        <button type="submit" class="secondary">"Delete"</button>
                                                    </ActionForm>
                                                })}
                                            </td>
                                        </tr>
                                    }
                                })
                                .collect_view();
                            let choices = time_machine_choices
                                .into_iter()
                                .map(|c| view! { <option value=c.to_string() selected=c == time_machine_s>{window_label(c)}</option> })
                                .collect_view();
                            let name_1 = name.clone();
                            let name_2 = name.clone();
                            let name_3 = name.clone();
                            let back_1 = back.clone();
                            let back_2 = back.clone();
                            let back_3 = back.clone();
                            let back_4 = back.clone();
                            let (namespace_1, namespace_2) = (namespace.clone(), namespace.clone());
                            view! {
                                <div class="settings-grid">
                                    <section aria-labelledby="s-access">
                                        <h2 id="s-access">"Access"</h2>
                                        <p>
                                            {if public { "Public: anyone can pull and browse it." } else { "Private: only users with a role can see it." }}
                                        </p>
                                        <ActionForm action=visibility attr:class="inline">
                                            <input type="hidden" name="repository" value=name_1 />
                                            <input type="hidden" name="visibility" value=if public { "private" } else { "public" } />
                                            <input type="hidden" name="back" value=back_1 />
                                            <button type="submit">{if public { "Make private" } else { "Make public" }}</button>
                                        </ActionForm>
                                        <p>
                                            {if read_only { "Read only: pushes and tag changes are refused." } else { "Normal: pushes and tag changes are allowed." }}
                                        </p>
                                        <ActionForm action=state attr:class="inline">
                                            <input type="hidden" name="repository" value=name_2 />
                                            <input type="hidden" name="state" value=if read_only { "normal" } else { "read_only" } />
                                            <input type="hidden" name="back" value=back_2 />
                                            <button type="submit" class="secondary">{if read_only { "Allow changes again" } else { "Make read only" }}</button>
                                        </ActionForm>
                                    </section>

                                    <section aria-labelledby="s-perms">
                                        <h2 id="s-perms">"User permissions"</h2>
                                        <table class="grid" id="permissions">
                                            <thead><tr><th scope="col">"User"</th><th scope="col">"Role"</th><th scope="col"><span class="visually-hidden">"Actions"</span></th></tr></thead>
                                            <tbody>{grants}</tbody>
                                        </table>
                                        <ActionForm action=grant attr:class="row">
                                            <input type="hidden" name="repository" value=name_3 />
                                            <input type="hidden" name="back" value=back_3 />
                                            <label for="grant-user">"User"</label>
                                            <input id="grant-user" name="user" required autocomplete="off" />
                                            <label for="grant-role">"Role"</label>
                                            <select id="grant-role" name="role">
                                                {[Role::Read, Role::Write, Role::Admin].map(|r| view! { <option value=r.as_str()>{r.as_str()}</option> })}
                                            </select>
                                            <button type="submit">"Grant"</button>
                                        </ActionForm>
                                    </section>

                                    <section aria-labelledby="s-policies">
                                        <h2 id="s-policies">"Tag immutability policies"</h2>
                                        <table class="grid" id="policies">
                                            <thead><tr><th scope="col">"Pattern"</th><th scope="col">"Locks"</th><th scope="col">"From"</th><th scope="col"><span class="visually-hidden">"Actions"</span></th></tr></thead>
                                            <tbody>{policy_rows}</tbody>
                                        </table>
                                        <p class="muted">"A pattern is a regular expression matched against the whole tag name. Saving locks the current tags it covers."</p>
                                    </section>

                                    <section aria-labelledby="s-window">
                                        <h2 id="s-window">"Time machine"</h2>
                                        <p>"Deleted and moved tags of " <strong>{namespace_1}</strong> " stay restorable for " {window_label(time_machine_s)} "."</p>
                                        {namespace_admin.then(|| view! {
                                            <ActionForm action=time_machine attr:class="row">
                                                <input type="hidden" name="namespace" value=namespace_2 />
                                                <input type="hidden" name="back" value=back_4 />
                                                <label for="tm-window">"Window"</label>
                                                <select id="tm-window" name="seconds">{choices}</select>
                                                <button type="submit">"Save"</button>
                                            </ActionForm>
                                        })}
                                    </section>
                                </div>
                            }
                            .into_any()
                        }
                    }
                })}
            </Suspense>
            <section aria-labelledby="s-new-policy" class="new-policy">
                <h2 id="s-new-policy">{move || if editing.get().is_empty() { "New policy" } else { "Edit policy" }}</h2>
                <Form method="GET" action=move || back.get() attr:class="row" attr:id="policy-preview">
                    {move || (!editing.get().is_empty()).then(|| view! { <input type="hidden" name="edit" value=editing.get() /> })}
                    <label for="policy-pattern">"Pattern"</label>
                    <input id="policy-pattern" name="pattern" required autocomplete="off" placeholder="v[0-9]+\\..*" value=move || pattern.get() data-as-you-type="" />
                    <label for="policy-matches">"Lock"</label>
                    <select id="policy-matches" name="matches">
                        <option value="" selected=move || !inverse.get()>"matching tags"</option>
                        <option value="others" selected=move || inverse.get()>"tags that do not match"</option>
                    </select>
                    // Namespace admins may also write a policy for every repository of the namespace.
                    <Suspense fallback=|| ()>
                        {move || Suspend::new(async move {
                            let namespace_admin = settings.await.is_ok_and(|s| s.namespace_admin);
                            namespace_admin.then(|| view! {
                                <label for="policy-scope">"For"</label>
                                <select id="policy-scope" name="scope">
                                    <option value="" selected=move || scope.get() != "namespace">"this repository"</option>
                                    <option value="namespace" selected=move || scope.get() == "namespace">"the whole namespace"</option>
                                </select>
                            })
                        })}
                    </Suspense>
                    <button type="submit" class="secondary">"Preview"</button>
                </Form>
                <Suspense fallback=|| ()>
                    {move || Suspend::new(async move {
                        match preview.await {
                            Ok(None) => view! { <p class="muted">"Preview a pattern to see which current tags it would lock, then save it."</p> }.into_any(),
                            Err(e) => view! { <p class="flash error" role="alert" id="policy-error">{e.to_string()}</p> }.into_any(),
                            Ok(Some(names)) => {
                                let count = names.len();
                                let list = names.into_iter().map(|n| view! { <li><code>{n}</code></li> }).collect_view();
                                view! {
                                    <div id="policy-preview-result">
                                        <p>{match count { 0 => "No current tag would be locked.".to_owned(), 1 => "1 current tag would be locked:".to_owned(), n => format!("{n} current tags would be locked:") }}</p>
                                        <ul class="tag-list">{list}</ul>
                                        <ActionForm action=add_policy attr:class="inline">
                                            <input type="hidden" name="repository" value=repository.get_untracked() />
                                            <input type="hidden" name="pattern" value=pattern.get_untracked() />
                                            <input type="hidden" name="matches_immutable" value=(!inverse.get_untracked()).to_string() />
                                            <input type="hidden" name="scope" value=scope.get_untracked() />
                                            <input type="hidden" name="id" value=editing.get_untracked() />
                                            <input type="hidden" name="back" value=back.get_untracked() />
                                            <button type="submit">{if editing.get_untracked().is_empty() { "Save policy" } else { "Save changes" }}</button>
                                        </ActionForm>
                                    </div>
                                }
                                .into_any()
                            }
                        }
                    })}
                </Suspense>
            </section>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::{settings_repository, window_label};

    #[test]
    fn paths_and_windows() {
        assert_eq!(settings_repository("acme/web/settings"), Some("acme/web".into()));
        assert_eq!(settings_repository("acme/web"), None);
        assert_eq!(window_label(0), "none (deleted tags cannot be restored)");
        assert_eq!(window_label(86_400), "1 day");
        assert_eq!(window_label(14 * 86_400), "2 weeks");
    }
}
