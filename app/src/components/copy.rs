//! A copy-to-clipboard button. It needs JavaScript and a secure context (HTTPS or localhost):
//! until the page is hydrated it keeps its room but stays invisible, so nothing shifts; where
//! the clipboard is not available it says so, and the text stays selectable next to it.

use leptos::prelude::*;

#[component]
pub fn CopyButton(
    /// What lands on the clipboard.
    #[prop(into)]
    text: String,
    /// What is copied, for screen readers and the tooltip ("Copy the digest").
    #[prop(into)]
    label: String,
) -> impl IntoView {
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    let said = RwSignal::new("Copy");
    let copy = move |_| {
        #[cfg(feature = "hydrate")]
        {
            let window = window();
            if !window.is_secure_context() {
                said.set("Needs HTTPS");
                return;
            }
            let _ = window.navigator().clipboard().write_text(&text);
            said.set("Copied");
            set_timeout(move || said.set("Copy"), std::time::Duration::from_secs(2));
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = &text;
    };
    view! {
        <button type="button" class="copy" class:ready=move || hydrated.get() aria-label=label.clone() title=label on:click=copy>
            <span aria-live="polite">{move || said.get()}</span>
        </button>
    }
    .into_any()
}
