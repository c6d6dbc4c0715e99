//! Previous / next links under a paged table; `href` builds the URL of a page.

use leptos::prelude::*;

#[component]
pub fn Pager(page: u32, has_additional: bool, href: impl Fn(u32) -> String) -> impl IntoView {
    let prev = (page > 1).then(|| href(page - 1));
    let next = has_additional.then(|| href(page + 1));
    view! {
        <nav class="pager" aria-label="Pages">
            {prev.map(|href| view! { <a href=href rel="prev">"← Previous"</a> })}
            <span class="muted">"Page " {page}</span>
            {next.map(|href| view! { <a href=href rel="next">"Next →"</a> })}
        </nav>
    }
}
