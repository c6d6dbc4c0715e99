//! Quayside's web UI: rendered on the server, hydrated in the browser as islands.
//!
//! Built twice by cargo-leptos: with `ssr` into the server binary and with `hydrate` into wasm.
//! The pages are server components, complete without JavaScript; the browser hydrates one island,
//! [`components::enhance::Enhance`], which makes every page interactive (so the wasm carries none
//! of the pages). Server functions (in [`api`]) are the only way the UI reaches the registry
//! service.

pub mod api;
pub mod components;
pub mod error;
pub mod pages;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{path, SsrMode};

use crate::pages::api_docs::ApiDocsPage;
use crate::pages::namespace::NamespaceActivityPage;
use crate::pages::not_found::NotFound;
use crate::pages::repositories::RepositoriesPage;
use crate::pages::repository::RepositoryPage;
use crate::pages::setup::SetupPage;
use crate::pages::sign_in::SignInPage;

/// The HTML document around the app (server side only).
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <link rel="icon" href="/favicon.svg" type="image/svg+xml" />
                <HydrationScripts options islands=true />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Stylesheet id="quayside" href="/pkg/quayside.css" />
        <Title formatter=|t: String| if t.is_empty() { "Quayside".to_owned() } else { format!("{t} · Quayside") } />
        <Router>
            <header class="topbar">
                <a href="/" class="brand">"Quayside"</a>
                <nav aria-label="Main">
                    <a href="/repository/">"Repositories"</a>
                    <a href="/api/docs">"API"</a>
                </nav>
                <Account />
            </header>
            <main>
                <Routes fallback=|| view! { <NotFound /> }>
                    <Route path=path!("/") view=RepositoriesPage ssr=SsrMode::Async />
                    <Route path=path!("/repository") view=RepositoriesPage ssr=SsrMode::Async />
                    <Route path=path!("/repository/") view=RepositoriesPage ssr=SsrMode::Async />
                    <Route path=path!("/repository/:ns/*rest") view=RepositoryPage ssr=SsrMode::Async />
                    <Route path=path!("/namespace/:ns/logs") view=NamespaceActivityPage ssr=SsrMode::Async />
                    <Route path=path!("/signin") view=SignInPage ssr=SsrMode::Async />
                    <Route path=path!("/setup") view=SetupPage ssr=SsrMode::Async />
                    <Route path=path!("/api/docs") view=ApiDocsPage ssr=SsrMode::Async />
                </Routes>
            </main>
            <components::enhance::Enhance />
        </Router>
    }
}

/// The top bar's account corner: who is signed in and a sign-out button, or a sign-in link.
#[component]
fn Account() -> impl IntoView {
    let sign_out = ServerAction::<api::SignOut>::new();
    // Pages are rendered on the server only: who is signed in is the request's caller.
    #[cfg(feature = "ssr")]
    let viewer = api::Viewer::current();
    #[cfg(not(feature = "ssr"))]
    let viewer = api::Viewer { name: None, superuser: false };
    let corner = match viewer {
        api::Viewer { name: Some(name), superuser } => view! {
            <span class="who">{name}{superuser.then_some(" (superuser)")}</span>
            <leptos::form::ActionForm action=sign_out attr:class="inline" attr:data-navigate="">
                <button type="submit" class="link">"Sign out"</button>
            </leptos::form::ActionForm>
        }
        .into_any(),
        _ => view! { <a href="/signin">"Sign in"</a> }.into_any(),
    };
    view! { <div class="account">{corner}</div> }
}

/// The wasm entry point: hydrates the page's islands.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_islands();
}
