//! "Undo" for a few seconds after a delete or a restore, with JavaScript. Without it the server's
//! redirect message is all there is, and the history's Restore takes a change back.

use std::time::Duration;

use leptos::prelude::*;

use crate::api::{Undo, UndoTags};

/// How long the offer stays.
const OFFER: Duration = Duration::from_secs(10);

/// Offers to take back `offer` (set by the page when a change returns an [`Undo`]) and shows what
/// became of it. A polite live region, so a screen reader hears the offer without losing focus.
#[component]
pub fn UndoBar(offer: RwSignal<Option<Undo>>, action: ServerAction<UndoTags>) -> impl IntoView {
    // Each offer goes away after a while unless a newer one replaced it.
    Effect::new(move |_| {
        if let Some(current) = offer.get() {
            set_timeout(
                move || {
                    // The page may be gone by then (its signals disposed): nothing to hide.
                    if offer.try_get_untracked().flatten().as_ref() == Some(&current) {
                        offer.set(None);
                    }
                },
                OFFER,
            );
        }
    });
    // What became of an undo goes away after as long, unless a newer one replaced it.
    Effect::new(move |_| {
        let version = action.version().get();
        if version > 0 {
            set_timeout(
                move || {
                    if action.version().try_get_untracked() == Some(version) {
                        let _ = action.value().try_set(None);
                    }
                },
                OFFER,
            );
        }
    });
    let outcome = move || match action.value().get() {
        Some(Ok(m)) => Some(view! { <span class="ok">{m}</span> }.into_any()),
        Some(Err(e)) => Some(view! { <span class="error">{e.to_string()}</span> }.into_any()),
        None => None,
    };
    view! {
        <div class="undo" id="undo" aria-live="polite">
            {move || offer.get().map(|u| {
                let done = u.done.clone();
                view! {
                    <span>{done}</span>
                    <button type="button" class="secondary" disabled=move || action.pending().get()
                        on:click=move |_| {
                            action.dispatch(UndoTags { undo: u.clone() });
                            offer.set(None);
                        }>"Undo"</button>
                }
            })}
            {move || offer.get().is_none().then(outcome)}
        </div>
    }
}
