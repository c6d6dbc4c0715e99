//! Where a page says what happened: the message a form post returned to the page with (`msg`),
//! the refusal of a post made without JavaScript, and — with JavaScript — the refusal the island
//! ([`super::enhance`]) puts here.

use leptos::prelude::*;

#[component]
pub fn Flash(
    /// What a change did ("Restored latest to sha256:…").
    #[prop(optional_no_strip)]
    ok: Option<String>,
    /// Why a change was refused, in words.
    #[prop(optional_no_strip)]
    error: Option<String>,
) -> impl IntoView {
    view! {
        <div class="flash-slot" data-flash="">
            {ok.map(|m| view! { <p class="flash ok" role="status">{m}</p> })}
            {error.map(|e| view! { <p class="flash error" role="alert">{e}</p> })}
        </div>
    }
}
