//! A copy-to-clipboard button. The island ([`super::enhance`]) makes it work: it needs
//! JavaScript and a secure context (HTTPS or localhost), so until then it keeps its room but stays
//! invisible (nothing shifts); where the clipboard is not available it says so, and the text stays
//! selectable next to it.

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
    view! {
        <button type="button" class="copy" data-copy=text aria-label=label.clone() title=label>
            <span aria-live="polite">"Copy"</span>
        </button>
    }
}
