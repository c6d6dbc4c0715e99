//! Keyboard shortcuts on every page, with JavaScript: `/` focuses the page's search or filter box;
//! `j` and `k` move the focus to the next and the previous row of the page's table (its first
//! link, button or checkbox, so Enter or Space acts on it). Keys typed into a field are left alone.

use leptos::prelude::*;

/// Installs the shortcuts for as long as the app is mounted.
#[component]
pub fn Shortcuts() -> impl IntoView {
    #[cfg(feature = "hydrate")]
    {
        let handle = window_event_listener(leptos::ev::keydown, on_key);
        on_cleanup(move || handle.remove());
    }
}

#[cfg(feature = "hydrate")]
fn on_key(ev: web_sys::KeyboardEvent) {
    use wasm_bindgen::JsCast;
    if ev.ctrl_key() || ev.meta_key() || ev.alt_key() {
        return;
    }
    let doc = document();
    let active = doc.active_element();
    if let Some(a) = &active {
        let typing = match a.tag_name().as_str() {
            "TEXTAREA" | "SELECT" => true,
            "INPUT" => !matches!(a.get_attribute("type").as_deref(), Some("checkbox" | "radio" | "button" | "submit" | "reset")),
            _ => a.has_attribute("contenteditable"),
        };
        if typing {
            return;
        }
    }
    let focus = |el: Option<web_sys::Element>| el.and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok()).map(|e| e.focus().is_ok());
    let key = ev.key();
    match key.as_str() {
        "/" => {
            let filter = doc.query_selector("main input[type=search]").ok().flatten();
            if focus(filter) == Some(true) {
                ev.prevent_default();
            }
        }
        "j" | "k" => {
            let Ok(rows) = doc.query_selector_all("main table.grid tbody tr") else { return };
            let n = rows.length();
            if n == 0 {
                return;
            }
            let row = |i: u32| rows.item(i).and_then(|r| r.dyn_into::<web_sys::Element>().ok());
            let current = active.as_ref().and_then(|a| (0..n).find(|&i| row(i).is_some_and(|r| r.contains(Some(a)))));
            let next = match (current, key.as_str()) {
                (None, "j") => 0,
                (None, _) => n - 1,
                (Some(i), "j") => (i + 1).min(n - 1),
                (Some(i), _) => i.saturating_sub(1),
            };
            // Its link first (the tag's page), else its first control.
            let target = row(next).and_then(|r| {
                r.query_selector("a[href]").ok().flatten().or_else(|| r.query_selector("button, input:not([type=hidden])").ok().flatten())
            });
            if focus(target) == Some(true) {
                ev.prevent_default();
            }
        }
        _ => {}
    }
}
