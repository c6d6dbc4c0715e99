use leptos::prelude::*;
use leptos_meta::Title;

/// The fallback page; on the server it also sets the HTTP status to 404.
#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    {
        if let Some(resp) = use_context::<leptos_axum::ResponseOptions>() {
            resp.set_status(http::StatusCode::NOT_FOUND);
        }
    }
    view! {
        <Title text="Page not found" />
        <section class="page">
            <h1>"Page not found"</h1>
            <p>"Nothing lives at this address. " <a href="/repository/">"Back to the repositories"</a></p>
        </section>
    }
}
