//! `/namespace/{ns}/logs`: every audit record of a namespace — its repositories' and its own
//! (organization members, policies, the time machine) — for the namespace's admins.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

use crate::components::audit::{AuditLog, AuditScope};
use crate::components::flash::Flash;

#[component]
pub fn NamespaceActivityPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let namespace = Memo::new(move |_| params.read().get("ns").unwrap_or_default());
    view! {
        // A plain string: the head is written after the page, when this view may be gone.
        <Title text=format!("Activity in {}", namespace.get_untracked()) />
        <section class="page" data-hydrated="false">
            <nav class="crumbs" aria-label="Breadcrumb">
                <a href="/repository/">"Repositories"</a>
                " / "
                <a href=move || format!("/repository/?q={}", namespace.get())>{move || namespace.get()}</a>
            </nav>
            <header class="page-head">
                <h1>"Activity in " {move || namespace.get()}</h1>
            </header>
            <Flash ok=query.read_untracked().get("msg") />
            <AuditLog scope=Signal::derive(move || AuditScope::Namespace(namespace.get())) />
        </section>
    }
}
