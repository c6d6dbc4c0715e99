//! Quayside's web UI: rendered on the server, hydrated in the browser.
//!
//! Built twice by cargo-leptos: with `ssr` into the server binary and with `hydrate` into wasm.
//! Server functions (in [`api`]) are the only way the UI reaches the registry service.

pub mod api;
pub mod components;
pub mod error;
pub mod pages;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{path, SsrMode};

use crate::pages::not_found::NotFound;
use crate::pages::repositories::RepositoriesPage;
use crate::pages::repository::RepositoryPage;

/// The HTML document around the app (server side only).
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <link rel="icon" href="/favicon.svg" type="image/svg+xml" />
                <HydrationScripts options />
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
                </nav>
            </header>
            <main>
                <Routes fallback=|| view! { <NotFound /> }>
                    <Route path=path!("/") view=RepositoriesPage ssr=SsrMode::Async />
                    <Route path=path!("/repository") view=RepositoriesPage ssr=SsrMode::Async />
                    <Route path=path!("/repository/") view=RepositoriesPage ssr=SsrMode::Async />
                    <Route path=path!("/repository/:ns/*rest") view=RepositoryPage ssr=SsrMode::Async />
                </Routes>
            </main>
        </Router>
    }
}

/// The wasm entry point: hydrates the server-rendered page.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(App);
}
