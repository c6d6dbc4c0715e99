//! `/` and `/repository/`: the repositories, with filter and paging in the URL.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Form;
use leptos_router::hooks::use_query_map;

use crate::api::{list_repositories, RepositoryList};
use crate::components::flash::Flash;
use crate::components::pager::Pager;
use crate::components::time::Time;
use crate::components::url;

/// The list URL for a filter and page.
fn list_href(filter: &str, page: u32) -> String {
    url::with_query("/repository/", &[("q", filter.to_owned()), ("page", url::page_param(i64::from(page)))])
}

#[component]
pub fn RepositoriesPage() -> impl IntoView {
    let query = use_query_map();
    let filter = Memo::new(move |_| query.read().get("q").unwrap_or_default());
    let page = Memo::new(move |_| query.read().get("page").and_then(|p| p.parse::<u32>().ok()).unwrap_or(1).max(1));
    let repos = Resource::new(move || (filter.get(), page.get()), |(f, p)| list_repositories(Some(f), Some(p)));

    view! {
        <Title text="Repositories" />
        // The island marks the page interactive (`true`) once it is.
        <section class="page" data-hydrated="false">
            <header class="page-head">
                <h1>"Repositories"</h1>
            </header>
            <Flash ok=query.read_untracked().get("msg") />
            <Form method="GET" action="/repository/" attr:class="filter" attr:role="search">
                <label for="repo-filter" class="visually-hidden">"Filter repositories"</label>
                <input
                    id="repo-filter"
                    type="search"
                    name="q"
                    placeholder="Filter by namespace or name"
                    autocomplete="off"
                    value=move || filter.get()
                    data-as-you-type=""
                />
                <button type="submit">"Filter"</button>
            </Form>
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match repos.await {
                        Ok(list) => view! { <RepositoryTable list filter=filter.get_untracked() /> }.into_any(),
                        Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn RepositoryTable(list: RepositoryList, filter: String) -> impl IntoView {
    let RepositoryList { page, now_ms } = list;
    if page.items.is_empty() {
        let message = if filter.is_empty() {
            "No repositories yet. Push an image, or run `quayside demo` to see some."
        } else {
            "No repository matches this filter."
        };
        return view! { <p class="empty">{message}</p> }.into_any();
    }
    let rows = page
        .items
        .into_iter()
        .map(|r| {
            let visibility = r.visibility.as_str();
            view! {
                <tr>
                    <td class="repo-name">
                        <a href=format!("/repository/{}", r.path)>
                            <span class="ns">{r.path.namespace.to_string()}"/"</span>
                            <strong>{r.path.name.to_string()}</strong>
                        </a>
                    </td>
                    <td><span class=format!("badge {visibility}")>{visibility}</span></td>
                    <td class="num">{r.tag_count}</td>
                    <td><Time ms=r.last_modified_ms now_ms /></td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <table class="grid" id="repositories">
            <thead>
                <tr>
                    <th scope="col">"Repository"</th>
                    <th scope="col">"Visibility"</th>
                    <th scope="col" class="num">"Tags"</th>
                    <th scope="col">"Last modified"</th>
                </tr>
            </thead>
            <tbody>{rows}</tbody>
        </table>
        <Pager page=page.page has_additional=page.has_additional href=move |p| list_href(&filter, p) />
    }
    .into_any()
}
