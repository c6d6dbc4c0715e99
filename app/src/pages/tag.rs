//! `/repository/{ns}/{repo}/tag/{tag}`: one tag — its manifest (media type, layers with sizes,
//! config, platforms of an index, the raw JSON), pull commands, labels with an add form and
//! delete for `api` labels, the expiration form (presets, a date and time in UTC, clear), the
//! immutability toggle and delete. Every form posts and comes back with a message or the error in
//! words without JavaScript; with it, the island sends it and the page updates in place.

use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_router::hooks::{use_location, use_params_map, use_query_map};
use registry::{LabelSource, Role};

use crate::api::{tag_details, AddLabel, DeleteLabel, DeleteTag, SetExpiration, SetImmutable, TagPageData};
use crate::components::copy::CopyButton;
use crate::components::flash::Flash;
use crate::components::format;
use crate::components::refusal::Refusal;
use crate::components::time::Time;
use crate::error::AppError;
use crate::pages::repository::{RepositoryHead, Tab};

/// `(repository, tag)` of a `…/tag/{tag}` path.
pub fn tag_path(path: &str) -> Option<(String, String)> {
    let i = path.rfind("/tag/")?;
    let (repo, tag) = (&path[..i], &path[i + 5..]);
    (!repo.is_empty() && !tag.is_empty() && !tag.contains('/')).then(|| (repo.to_owned(), tag.to_owned()))
}

/// Expiration presets: label and seconds from now.
const PRESETS: [(&str, i64); 4] = [("1 hour", 3600), ("1 day", 86_400), ("1 week", 7 * 86_400), ("4 weeks", 28 * 86_400)];

#[component]
pub fn TagView() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let target = Memo::new(move |_| {
        let p = params.read();
        tag_path(&format!("{}/{}", p.get("ns").unwrap_or_default(), p.get("rest").unwrap_or_default())).unwrap_or_default()
    });
    // Without JavaScript a refused post comes back here with its error (read by the actions).
    let add_label = ServerAction::<AddLabel>::new();
    let delete_label = ServerAction::<DeleteLabel>::new();
    let expiration = ServerAction::<SetExpiration>::new();
    let immutable = ServerAction::<SetImmutable>::new();
    let delete_tag = ServerAction::<DeleteTag>::new();
    let details = Resource::new(move || target.get(), |(r, t)| tag_details(r, t));
    let error_of = |e: Option<Result<(), AppError>>| e.and_then(Result::err).map(|e| e.to_string());
    let label_error = error_of(add_label.value().get_untracked());
    let expiration_error = error_of(expiration.value().get_untracked());
    let other_error = [delete_label.value(), immutable.value(), delete_tag.value()].into_iter().find_map(|v| error_of(v.get_untracked()));
    let location = use_location();
    let back = Memo::new(move |_| location.pathname.get());

    view! {
        <section class="page tag-page" data-hydrated="false">
            <RepositoryHead repository=Signal::derive(move || target.get().0) tab=Tab::Tags />
            <h2 class="tag-title">"Tag " <code>{move || target.get().1}</code></h2>
            <p class="scope-link">
                <a href=move || {
                    let (repository, tag) = target.get();
                    crate::components::url::with_query(&format!("/repository/{repository}/history"), &[("tag", tag)])
                }>"The history of this tag"</a>
            </p>
            <Flash ok=query.read_untracked().get("msg") error=other_error />
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || {
                let (label_error, expiration_error) = (label_error.clone(), expiration_error.clone());
                Suspend::new(async move {
                    let d = match details.await {
                        Ok(d) => d,
                        Err(e) => return view! { <Refusal error=e back=back.get_untracked() /> }.into_any(),
                    };
                    let TagPageData { repository, host, view: tv, manifest, raw, labels, layers, platforms, role, now_ms } = d;
                    let t = tv.tag;
                    let can_write = role.is_some_and(|r| r >= Role::Write);
                    let can_admin = role.is_some_and(|r| r >= Role::Admin);
                    let back = back.get_untracked();
                    let digest = t.manifest_digest.to_string();
                    let pull_tag = format!("podman pull {host}/{repository}:{}", t.name);
                    let pull_digest = format!("podman pull {host}/{repository}@{digest}");
                    let label_rows = labels
                        .into_iter()
                        .map(|l| {
                            let deletable = l.source_type == LabelSource::Api && can_write;
                            let (repository, digest, back) = (repository.clone(), digest.clone(), back.clone());
                            view! {
                                <tr>
                                    <td><code>{l.key.clone()}</code></td>
                                    <td class="label-value">{l.value.clone()}</td>
                                    <td class="muted">{l.media_type.clone()}</td>
                                    <td>{l.source_type.as_str()}</td>
                                    <td>
                                        {deletable.then(|| view! {
                                            <ActionForm action=delete_label attr:class="inline">
                                                <input type="hidden" name="repository" value=repository />
                                                <input type="hidden" name="digest" value=digest />
                                                <input type="hidden" name="id" value=l.id.clone() />
                                                <input type="hidden" name="back" value=back />
                                                <button type="submit" class="secondary" title=format!("Delete the label {}", l.key)>"Delete"</button>
                                            </ActionForm>
                                        })}
                                    </td>
                                </tr>
                            }
                        })
                        .collect_view();
                    let layer_rows = layers
                        .into_iter()
                        .map(|(d, size, media_type)| view! {
                            <tr><td><code title=d.clone()>{short(&d)}</code></td><td class="num">{format::bytes(size)}</td><td class="muted">{media_type}</td></tr>
                        })
                        .collect_view();
                    let platform_rows = platforms
                        .into_iter()
                        .map(|p| {
                            let size = p.size.map_or_else(|| "—".to_owned(), format::bytes);
                            view! { <tr><td>{p.platform}</td><td><code title=p.digest.to_string()>{p.digest.short()}</code></td><td class="num">{size}</td></tr> }
                        })
                        .collect_view();
                    let (r1, r2, r3, r4) = (repository.clone(), repository.clone(), repository.clone(), repository.clone());
                    let (b1, b2, b3, b4) = (back.clone(), back.clone(), back.clone(), back.clone());
                    let (tag1, tag2, tag3, tag4) = (t.name.clone(), t.name.clone(), t.name.clone(), t.name.clone());
                    let presets = PRESETS
                        .map(|(label, secs)| view! { <button type="submit" name="preset" value=secs.to_string() class="secondary">{label}</button> });
                    view! {
                        <div class="facts">
                            <dl>
                                <dt>"Manifest"</dt><dd><code>{digest.clone()}</code><CopyButton text=digest.clone() label="Copy the manifest digest" /></dd>
                                <dt>"Media type"</dt><dd>{manifest.media_type.clone()}</dd>
                                <dt>"Size"</dt><dd>{tv.size.map(format::bytes).unwrap_or_else(|| "—".into())}</dd>
                                <dt>"Last modified"</dt><dd><Time ms=t.lifetime_start_ms now_ms /></dd>
                                <dt>"Expires"</dt>
                                <dd>{match t.lifetime_end_ms { Some(ms) => view! { <Time ms now_ms /> }.into_any(), None => view! { <span class="muted">"never"</span> }.into_any() }}</dd>
                                <dt>"Immutable"</dt><dd>{if t.immutable { "yes: cannot be moved, deleted or pushed over" } else { "no" }}</dd>
                            </dl>
                            <div class="pull">
                                <label for="pull-tag">"Pull by tag"</label>
                                <span class="copyable">
                                    <input id="pull-tag" readonly value=pull_tag.clone() />
                                    <CopyButton text=pull_tag label="Copy the pull command by tag" />
                                </span>
                                <label for="pull-digest">"Pull by digest"</label>
                                <span class="copyable">
                                    <input id="pull-digest" readonly value=pull_digest.clone() />
                                    <CopyButton text=pull_digest label="Copy the pull command by digest" />
                                </span>
                            </div>
                        </div>

                        {(!layer_rows.is_empty()).then(|| view! {
                            <h3>"Layers"</h3>
                            <table class="grid" id="layers"><thead><tr><th scope="col">"Digest"</th><th scope="col" class="num">"Size"</th><th scope="col">"Media type"</th></tr></thead><tbody>{layer_rows}</tbody></table>
                        })}
                        {(!platform_rows.is_empty()).then(|| view! {
                            <h3>"Platforms"</h3>
                            <table class="grid" id="platforms"><thead><tr><th scope="col">"Platform"</th><th scope="col">"Manifest"</th><th scope="col" class="num">"Size"</th></tr></thead><tbody>{platform_rows}</tbody></table>
                        })}

                        <h3>"Labels"</h3>
                        <table class="grid" id="labels">
                            <thead><tr><th scope="col">"Key"</th><th scope="col">"Value"</th><th scope="col">"Media type"</th><th scope="col">"Source"</th><th scope="col"><span class="visually-hidden">"Actions"</span></th></tr></thead>
                            <tbody>{label_rows}</tbody>
                        </table>
                        {can_write.then(|| view! {
                            <ActionForm action=add_label attr:class="row" attr:id="add-label" attr:data-error="label-error">
                                <input type="hidden" name="repository" value=r1 />
                                <input type="hidden" name="digest" value=digest.clone() />
                                <input type="hidden" name="back" value=b1 />
                                <label for="label-key">"Key"</label>
                                <input id="label-key" name="key" required autocomplete="off" aria-describedby="label-error" />
                                <label for="label-value">"Value"</label>
                                <input id="label-value" name="value" autocomplete="off" />
                                <label for="label-media">"Media type"</label>
                                <select id="label-media" name="media_type">
                                    <option value="">"infer"</option>
                                    <option value="text/plain">"text/plain"</option>
                                    <option value="application/json">"application/json"</option>
                                </select>
                                <button type="submit">"Add label"</button>
                            </ActionForm>
                            <p id="label-error" class="field-error" role="alert">{label_error}</p>
                        })}

                        {can_write.then(|| view! {
                            <h3>"Expiration"</h3>
                            <ActionForm action=expiration attr:class="row" attr:id="expiration" attr:data-error="expiration-error">
                                <input type="hidden" name="repository" value=r2 />
                                <input type="hidden" name="tag" value=tag1 />
                                <input type="hidden" name="back" value=b2 />
                                "Expire in "
                                {presets}
                                <label for="expires-at">"or at (UTC)"</label>
                                <input id="expires-at" type="datetime-local" name="at" aria-describedby="expiration-error" />
                                <button type="submit" name="apply" value="at">"Set"</button>
                                <button type="submit" name="clear" value="true" class="secondary">"Never expire"</button>
                            </ActionForm>
                            <p id="expiration-error" class="field-error" role="alert">{expiration_error}</p>
                        })}

                        <h3>"Tag actions"</h3>
                        <div class="row">
                            // Locking needs write, unlocking admin (SPEC §2.9); the service decides either way.
                            {((can_write && !t.immutable) || (t.immutable && can_admin)).then(|| view! {
                                <ActionForm action=immutable attr:class="inline">
                                    <input type="hidden" name="repository" value=r3 />
                                    <input type="hidden" name="tag" value=tag2 />
                                    <input type="hidden" name="immutable" value=(!t.immutable).to_string() />
                                    <input type="hidden" name="back" value=b3 />
                                    <button type="submit" class="secondary">{if t.immutable { "Unlock" } else { "Lock (make immutable)" }}</button>
                                </ActionForm>
                            })}
                            {(t.immutable && can_write && !can_admin).then(|| view! { <span class="muted">"Unlocking needs admin permission."</span> })}
                            {can_write.then(|| view! {
                                <ActionForm action=delete_tag attr:class="inline">
                                    <input type="hidden" name="repository" value=r4 />
                                    <input type="hidden" name="tag" value=tag3 />
                                    <input type="hidden" name="back" value=b4 />
                                    <button type="submit" class="danger">"Delete tag"</button>
                                </ActionForm>
                            })}
                            {(!can_write).then(|| view! { <span class="muted">"Changing this tag needs write permission."</span> })}
                        </div>
                        <details class="raw">
                            <summary>"Raw manifest JSON"</summary>
                            <pre><code>{raw}</code></pre>
                        </details>
                        <p><a href=format!("/repository/{repository}/history?filter={}", crate::components::url::encode(&tag4))>"History of this tag"</a></p>
                    }
                    .into_any()
                })}}
            </Suspense>
        </section>
    }
}

fn short(digest: &str) -> String {
    match digest.split_once(':') {
        Some((alg, hex)) => format!("{alg}:{}", &hex[..12.min(hex.len())]),
        None => digest.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::tag_path;

    #[test]
    fn tag_paths() {
        assert_eq!(tag_path("acme/web/tag/v1.0"), Some(("acme/web".into(), "v1.0".into())));
        assert_eq!(tag_path("acme/tools/builder/tag/latest"), Some(("acme/tools/builder".into(), "latest".into())));
        assert_eq!(tag_path("acme/web"), None);
        assert_eq!(tag_path("acme/web/tag/"), None);
    }
}
