//! The UI's one island: everything JavaScript adds to the server's pages.
//!
//! Every page is rendered on the server only (Leptos islands mode), so the browser downloads
//! this island and nothing of the pages themselves. Without JavaScript the pages are complete:
//! links navigate, forms post to their server function and come back with a message. With it,
//! this island takes over, for every page at once (event delegation, no per-row hydration):
//!
//! - links and GET forms (filters, pagers, tabs) fetch the next page and swap its `<main>` in,
//!   with the address in the history — no full reload;
//! - a form posting to a server function (`/rpc/…`) is sent with `fetch`: its button shows a
//!   pending state, a refusal is shown in words next to the field (`data-error="ID"`) or at the
//!   top of the page, success swaps in the page the function returns to, message included;
//!   `data-navigate` forms (sign-in, sign-out, setup) load that page in full instead;
//! - a delete or restore that reports its inverse offers Undo for ten seconds (a toast);
//! - a page with `data-events` follows that server-sent event stream and swaps in the current
//!   page after every announced change (whatever the user was typing or ticking survives);
//! - a field with `data-as-you-type` submits its GET form as it is typed (debounced);
//! - `/` focuses the page's filter, `j`/`k` move between table rows;
//! - `button.copy[data-copy]` puts its text on the clipboard.

use std::time::Duration;

use leptos::prelude::*;

use crate::api::{Undo, UndoTags};

/// How long an Undo offer, and what became of it, stays.
const OFFER: Duration = Duration::from_secs(10);

#[island]
pub fn Enhance() -> impl IntoView {
    let offer = RwSignal::new(None::<Undo>);
    let undo = ServerAction::<UndoTags>::new();
    #[cfg(feature = "hydrate")]
    client::install(offer);
    // Each offer goes away after a while unless a newer one replaced it.
    Effect::new(move |_| {
        if let Some(current) = offer.get() {
            set_timeout(
                move || {
                    if offer.get_untracked().as_ref() == Some(&current) {
                        offer.set(None);
                    }
                },
                OFFER,
            );
        }
    });
    // An applied undo changed the page: show it as it is now. What became of the undo goes away
    // after as long as the offer stayed, unless a newer one replaced it.
    Effect::new(move |_| {
        let version = undo.version().get();
        if version > 0 {
            #[cfg(feature = "hydrate")]
            client::refresh();
            set_timeout(
                move || {
                    if undo.version().get_untracked() == version {
                        undo.value().set(None);
                    }
                },
                OFFER,
            );
        }
    });
    let outcome = move || match undo.value().get() {
        Some(Ok(m)) => Some(view! { <span class="ok">{m}</span> }.into_any()),
        Some(Err(e)) => Some(view! { <span class="error">{e.to_string()}</span> }.into_any()),
        None => None,
    };
    // A polite live region: a screen reader hears the offer without losing its place.
    view! {
        <div class="undo" id="undo" aria-live="polite">
            {move || offer.get().map(|u| {
                let done = u.done.clone();
                view! {
                    <span>{done}</span>
                    <button type="button" class="secondary" disabled=move || undo.pending().get()
                        on:click=move |_| {
                            undo.dispatch(UndoTags { undo: u.clone() });
                            offer.set(None);
                        }>"Undo"</button>
                }
            })}
            {move || offer.get().is_none().then(outcome)}
        </div>
    }
}

#[cfg(feature = "hydrate")]
mod client {
    use std::cell::{Cell, RefCell};

    use futures::StreamExt;
    use leptos::prelude::*;
    use leptos::task::spawn_local;
    use wasm_bindgen::{JsCast, JsValue};
    use web_sys::{Element, FormData, HtmlElement, HtmlFormElement, HtmlInputElement, HtmlSelectElement, HtmlTextAreaElement};

    use crate::api::Undo;
    use crate::error::AppError;

    /// Server paths that are not pages: never fetched to be swapped in.
    const NOT_PAGES: [&str; 6] = ["/api/v1/", "/v2/", "/rpc/", "/events/", "/pkg/", "/healthz"];

    thread_local! {
        /// Counts navigations; a fetched page is swapped in only if no newer one began meanwhile.
        static GENERATION: Cell<u64> = const { Cell::new(0) };
        /// The followed event stream: its address and what stops it.
        static LIVE: RefCell<Option<(String, futures::channel::oneshot::Sender<()>)>> = const { RefCell::new(None) };
        /// A refresh is under way / another was asked for meanwhile.
        static REFRESHING: Cell<bool> = const { Cell::new(false) };
        static AGAIN: Cell<bool> = const { Cell::new(false) };
        /// The pending as-you-type submission.
        static TYPING: Cell<Option<i32>> = const { Cell::new(None) };
    }

    /// How a fetched page enters the history.
    #[derive(Clone, Copy, PartialEq, Eq)]
    enum Entry {
        /// A new entry (a link, a filter): scrolled to the top.
        Push,
        /// Instead of the current one (after a form post, as-you-type).
        Replace,
        /// The current page again (back/forward, a live change): the history stays.
        Same,
    }

    pub fn install(offer: RwSignal<Option<Undo>>) {
        let doc = document();
        listen(doc.as_ref(), "click", move |ev: web_sys::MouseEvent| on_click(ev));
        listen(doc.as_ref(), "submit", move |ev: web_sys::SubmitEvent| on_submit(ev, offer));
        listen(doc.as_ref(), "input", move |ev: web_sys::Event| on_input(ev));
        listen(window().as_ref(), "keydown", move |ev: web_sys::KeyboardEvent| super::keys::on_key(ev));
        listen(window().as_ref(), "popstate", move |_: web_sys::Event| spawn_local(load(href(), Entry::Same, false)));
        settle();
    }

    fn listen<E: JsCast + 'static>(target: &web_sys::EventTarget, name: &str, f: impl Fn(E) + 'static) {
        let f = wasm_bindgen::closure::Closure::<dyn Fn(web_sys::Event)>::new(move |ev: web_sys::Event| f(ev.unchecked_into()));
        let _ = target.add_event_listener_with_callback(name, f.as_ref().unchecked_ref());
        // Listens for the life of the page.
        f.forget();
    }

    /// What the server answered a request.
    struct Answer {
        ok: bool,
        status: u16,
        /// Where the answer came from, after redirects.
        url: String,
        /// A server function's page to return to (`Location`, without a redirect status).
        location: Option<String>,
        is_page: bool,
        text: String,
    }

    /// `fetch` with an `Accept` and, for a POST, a form-encoded body; `None` when no answer came.
    async fn fetch(url: &str, accept: &str, form: Option<&str>) -> Option<Answer> {
        use wasm_bindgen_futures::JsFuture;
        let init = web_sys::RequestInit::new();
        let headers = web_sys::Headers::new().ok()?;
        headers.set("Accept", accept).ok()?;
        if let Some(body) = form {
            init.set_method("POST");
            headers.set("Content-Type", "application/x-www-form-urlencoded").ok()?;
            init.set_body(&JsValue::from_str(body));
        }
        init.set_headers(&headers);
        let resp: web_sys::Response = JsFuture::from(window().fetch_with_str_and_init(url, &init)).await.ok()?.dyn_into().ok()?;
        let text = JsFuture::from(resp.text().ok()?).await.ok()?.as_string().unwrap_or_default();
        let header = |name: &str| resp.headers().get(name).ok().flatten();
        Some(Answer {
            ok: resp.ok(),
            status: resp.status(),
            url: resp.url(),
            location: header("location"),
            is_page: header("content-type").is_some_and(|c| c.starts_with("text/html")),
            text,
        })
    }

    fn href() -> String {
        window().location().href().unwrap_or_default()
    }

    fn assign(url: &str) {
        let _ = window().location().assign(url);
    }

    /// Fetches the page again and swaps it in, keeping what the user typed or ticked. Changes
    /// announced while one is under way are taken in by one more refresh after it.
    pub fn refresh() {
        if REFRESHING.get() {
            AGAIN.set(true);
            return;
        }
        REFRESHING.set(true);
        spawn_local(async {
            loop {
                AGAIN.set(false);
                load(href(), Entry::Same, true).await;
                if !AGAIN.get() {
                    break;
                }
            }
            REFRESHING.set(false);
        });
    }

    /// Fetches `url` and swaps its `<main>` in. A refresh (`Entry::Same`) gives way to any
    /// navigation begun meanwhile; a navigation supersedes every earlier one. What is not an HTML
    /// page (a download, an error without a page) is loaded by the browser itself.
    async fn load(url: String, entry: Entry, keep_input: bool) {
        let generation = match entry {
            Entry::Same => GENERATION.get(),
            _ => GENERATION.get() + 1,
        };
        GENERATION.set(generation);
        let answer = match fetch(&url, "text/html", None).await {
            Some(a) if a.is_page => a,
            _ => return assign(&url),
        };
        if GENERATION.get() != generation {
            return;
        }
        if !swap(&answer.text, keep_input) {
            return assign(&url);
        }
        let history = window().history().ok();
        let landed = if answer.url.is_empty() { url } else { answer.url };
        match (entry, history) {
            (Entry::Push, Some(h)) => {
                let _ = h.push_state_with_url(&JsValue::NULL, "", Some(&landed));
                window().scroll_to_with_x_and_y(0.0, 0.0);
            }
            (Entry::Replace, Some(h)) => {
                let _ = h.replace_state_with_url(&JsValue::NULL, "", Some(&landed));
            }
            _ => {}
        }
        settle();
    }

    /// Puts the `<main>` (and the account corner and title) of the page `html` in place of the
    /// current ones. The focused field stays the same element, with its caret; with `keep_input`,
    /// what the user changed in a field since it was rendered carries over to its new copy.
    fn swap(html: &str, keep_input: bool) -> bool {
        let doc = document();
        let Ok(parser) = web_sys::DomParser::new() else { return false };
        let Ok(next) = parser.parse_from_string(html, web_sys::SupportedType::TextHtml) else { return false };
        let (Some(old_main), Some(new_main)) = (one(&doc, "main"), one(&next, "main")) else { return false };
        if keep_input {
            carry_input(&old_main, &new_main);
            carry_messages(&old_main, &new_main);
        }
        // The focused element itself moves into the new page (same id), so typing goes on.
        let focused = doc.active_element().filter(|a| !a.id().is_empty() && old_main.contains(Some(a)));
        let caret = focused.as_ref().and_then(|f| f.dyn_ref::<HtmlInputElement>()).map(|i| (i.selection_start(), i.selection_end()));
        if let Some(f) = &focused {
            if let Some(copy) = new_main.query_selector(&format!("[id=\"{}\"]", f.id())).ok().flatten() {
                let _ = copy.replace_with_with_node_1(f);
            }
        }
        let Ok(new_main) = doc.adopt_node(&new_main) else { return false };
        let _ = old_main.replace_with_with_node_1(&new_main);
        if let (Some(old), Some(new)) = (one(&doc, "header .account"), one(&next, "header .account")) {
            if let Ok(new) = doc.adopt_node(&new) {
                let _ = old.replace_with_with_node_1(&new);
            }
        }
        doc.set_title(&next.title());
        if let Some(f) = focused.filter(|f| new_main.contains(Some(f))) {
            if let Some(f) = f.dyn_ref::<HtmlElement>() {
                let _ = f.focus();
            }
            if let (Some(i), Some((Ok(Some(start)), Ok(Some(end))))) = (f.dyn_ref::<HtmlInputElement>(), caret) {
                let _ = i.set_selection_range(start, end);
            }
        }
        true
    }

    fn one(root: &web_sys::Document, selector: &str) -> Option<Element> {
        root.query_selector(selector).ok().flatten()
    }

    fn all(root: &Element, selector: &str) -> Vec<Element> {
        let Ok(list) = root.query_selector_all(selector) else { return Vec::new() };
        (0..list.length()).filter_map(|i| list.item(i)).filter_map(|n| n.dyn_into::<Element>().ok()).collect()
    }

    /// Carries the answers shown in place (a refusal at the top of the page or next to its
    /// field: not part of any page the server renders) from `old` to `new`, so a refresh — even
    /// one fetched before the answer came — does not take them away.
    fn carry_messages(old: &Element, new: &Element) {
        let shown = all(old, "[data-flash] [data-enhanced]");
        if let (false, Some(slot)) = (shown.is_empty(), new.query_selector("[data-flash]").ok().flatten()) {
            // As when it was shown: the one message on the page.
            slot.set_inner_html("");
            for p in shown {
                let _ = slot.append_child(&p);
            }
        }
        for form in all(old, "form[data-error]") {
            let Some(id) = form.get_attribute("data-error") else { continue };
            let selector = format!("[id=\"{id}\"]");
            let (Some(from), Some(to)) = (old.query_selector(&selector).ok().flatten(), new.query_selector(&selector).ok().flatten())
            else {
                continue;
            };
            let text = from.text_content().unwrap_or_default();
            if !text.is_empty() && to.text_content().unwrap_or_default().is_empty() {
                to.set_text_content(Some(&text));
            }
        }
    }

    /// Carries what the user changed (a typed value, a ticked box, a chosen option) from the
    /// fields of `old` to their copies in `new`: by id, or a checkbox by its value (the bulk
    /// selection's boxes are named by row, and rows move when tags come and go).
    fn carry_input(old: &Element, new: &Element) {
        let copies = all(new, "input, select, textarea");
        let counterpart = |field: &Element, checkbox: Option<String>| {
            copies
                .iter()
                .find(|c| match &checkbox {
                    Some(v) => c.dyn_ref::<HtmlInputElement>().is_some_and(|c| c.type_() == "checkbox" && &c.value() == v),
                    None => !field.id().is_empty() && c.id() == field.id(),
                })
                .cloned()
        };
        for field in all(old, "input, select, textarea") {
            if let Some(i) = field.dyn_ref::<HtmlInputElement>() {
                match i.type_().as_str() {
                    "hidden" | "submit" | "button" => {}
                    "checkbox" | "radio" if i.checked() != i.default_checked() => {
                        let key = if i.id().is_empty() { Some(i.value()) } else { None };
                        if let Some(c) = counterpart(&field, key).and_then(|c| c.dyn_into::<HtmlInputElement>().ok()) {
                            c.set_checked(i.checked());
                        }
                    }
                    "checkbox" | "radio" => {}
                    _ if i.value() != i.default_value() => {
                        if let Some(c) = counterpart(&field, None).and_then(|c| c.dyn_into::<HtmlInputElement>().ok()) {
                            c.set_value(&i.value());
                        }
                    }
                    _ => {}
                }
            } else if let Some(s) = field.dyn_ref::<HtmlSelectElement>() {
                let chosen = s.selected_options().item(0).and_then(|o| o.dyn_into::<web_sys::HtmlOptionElement>().ok());
                if chosen.is_some_and(|o| !o.default_selected()) {
                    if let Some(c) = counterpart(&field, None).and_then(|c| c.dyn_into::<HtmlSelectElement>().ok()) {
                        c.set_value(&s.value());
                    }
                }
            } else if let Some(t) = field.dyn_ref::<HtmlTextAreaElement>() {
                if Ok(t.value()) != t.default_value() {
                    if let Some(c) = counterpart(&field, None).and_then(|c| c.dyn_into::<HtmlTextAreaElement>().ok()) {
                        c.set_value(&t.value());
                    }
                }
            }
        }
    }

    /// After a page is in place: it says it is interactive, its copy buttons show, and its event
    /// stream (if any) is followed.
    fn settle() {
        let Some(main) = one(&document(), "main") else { return };
        for el in all(&main, "[data-hydrated]") {
            let _ = el.set_attribute("data-hydrated", "true");
        }
        for el in all(&main, "button.copy") {
            let _ = el.class_list().add_1("ready");
        }
        follow(all(&main, "[data-events]").first().and_then(|e| e.get_attribute("data-events")));
    }

    /// Follows the event stream at `url` (and no other): every change it announces refreshes
    /// the page.
    fn follow(url: Option<String>) {
        LIVE.with(|live| {
            let mut live = live.borrow_mut();
            if live.as_ref().map(|(u, _)| u) == url.as_ref() {
                return;
            }
            if let Some((_, stop)) = live.take() {
                let _ = stop.send(());
            }
            let Some(url) = url else { return };
            let Ok(mut source) = gloo_net::eventsource::futures::EventSource::new(&url) else { return };
            let Ok(changes) = source.subscribe("changed") else { return };
            let (stop, stopped) = futures::channel::oneshot::channel::<()>();
            spawn_local(async move {
                let mut changes = changes.take_until(stopped);
                while let Some(Ok(_)) = changes.next().await {
                    refresh();
                }
                source.close();
            });
            *live = Some((url, stop));
        });
    }

    /// The closest element to the event's target matching `selector`.
    fn closest(ev: &web_sys::Event, selector: &str) -> Option<Element> {
        ev.target()?.dyn_into::<Element>().ok()?.closest(selector).ok().flatten()
    }

    /// A same-site page address, or `None` for what the browser should load itself.
    fn page_url(url: &str) -> Option<web_sys::Url> {
        let url = web_sys::Url::new(url).ok()?;
        let here = window().location();
        let path = url.pathname();
        (url.origin() == here.origin().ok()? && !NOT_PAGES.iter().any(|p| path.starts_with(p))).then_some(url)
    }

    fn on_click(ev: web_sys::MouseEvent) {
        if ev.default_prevented() || ev.button() != 0 || ev.meta_key() || ev.ctrl_key() || ev.shift_key() || ev.alt_key() {
            return;
        }
        if let Some(button) = closest(&ev, "button.copy[data-copy]") {
            return copy(&button);
        }
        let Some(a) = closest(&ev, "a[href]") else { return };
        if a.has_attribute("target") || a.has_attribute("download") {
            return;
        }
        let Some(a) = a.dyn_ref::<web_sys::HtmlAnchorElement>() else { return };
        let Some(url) = page_url(&a.href()) else { return };
        // A link within the page is the browser's.
        if !url.hash().is_empty() && url.pathname() == window().location().pathname().unwrap_or_default() {
            return;
        }
        ev.prevent_default();
        spawn_local(load(url.href(), Entry::Push, false));
    }

    fn copy(button: &Element) {
        let text = button.get_attribute("data-copy").unwrap_or_default();
        let say = |what: &str| {
            if let Some(label) = button.query_selector("span").ok().flatten() {
                label.set_text_content(Some(what));
            }
        };
        let window = window();
        if !window.is_secure_context() {
            return say("Needs HTTPS");
        }
        let _ = window.navigator().clipboard().write_text(&text);
        say("Copied");
        let button = button.clone();
        set_timeout(
            move || {
                if let Some(label) = button.query_selector("span").ok().flatten() {
                    label.set_text_content(Some("Copy"));
                }
            },
            std::time::Duration::from_secs(2),
        );
    }

    /// The form's fields as a query string, the pressed button's name and value included (as the
    /// browser would send them; files are not among this UI's fields).
    fn encode(form: &HtmlFormElement, submitter: Option<&HtmlElement>) -> Option<String> {
        let data = FormData::new_with_form(form).ok()?;
        let params = web_sys::UrlSearchParams::new().ok()?;
        for entry in web_sys::js_sys::try_iter(&data).ok()??.flatten() {
            let pair = web_sys::js_sys::Array::from(&entry);
            if let (Some(name), Some(value)) = (pair.get(0).as_string(), pair.get(1).as_string()) {
                params.append(&name, &value);
            }
        }
        if let Some(b) = submitter {
            if let Some(name) = b.get_attribute("name").filter(|n| !n.is_empty()) {
                params.append(&name, &b.get_attribute("value").unwrap_or_default());
            }
        }
        Some(params.to_string().into())
    }

    /// Where a form goes, absolute. Read from the attribute: `form.action` would be the field
    /// named `action` where a form has one (the bulk form does).
    fn action_of(form: &HtmlFormElement) -> String {
        let action = form.get_attribute("action").unwrap_or_default();
        web_sys::Url::new_with_base(&action, &href()).map(|u| u.href()).unwrap_or_default()
    }

    /// The address a GET form goes to with these fields.
    fn get_url(form: &HtmlFormElement, query: &str) -> Option<web_sys::Url> {
        let url = page_url(&action_of(form))?;
        url.set_search(query);
        Some(url)
    }

    fn on_input(ev: web_sys::Event) {
        let Some(field) = closest(&ev, "[data-as-you-type]") else { return };
        let Some(form) = field.closest("form").ok().flatten().and_then(|f| f.dyn_into::<HtmlFormElement>().ok()) else { return };
        if let Some(pending) = TYPING.take() {
            window().clear_timeout_with_handle(pending);
        }
        let submit = wasm_bindgen::closure::Closure::once_into_js(move || {
            TYPING.set(None);
            if let Some(url) = encode(&form, None).and_then(|q| get_url(&form, &q)) {
                spawn_local(load(url.href(), Entry::Replace, false));
            }
        });
        let handle = window().set_timeout_with_callback_and_timeout_and_arguments_0(submit.unchecked_ref(), 200).ok();
        TYPING.set(handle);
    }

    fn on_submit(ev: web_sys::SubmitEvent, offer: RwSignal<Option<Undo>>) {
        if ev.default_prevented() {
            return;
        }
        let Some(form) = ev.target().and_then(|t| t.dyn_into::<HtmlFormElement>().ok()) else { return };
        let submitter = ev.submitter();
        let Some(query) = encode(&form, submitter.as_ref()) else { return };
        let method = form.get_attribute("method").unwrap_or_default();
        if method.is_empty() || method.eq_ignore_ascii_case("get") {
            let Some(url) = get_url(&form, &query) else { return };
            ev.prevent_default();
            spawn_local(load(url.href(), Entry::Push, false));
            return;
        }
        let action = action_of(&form);
        let is_rpc = web_sys::Url::new(&action).is_ok_and(|u| u.pathname().starts_with("/rpc/"));
        if !is_rpc {
            return;
        }
        ev.prevent_default();
        spawn_local(post(form, action, query, submitter, offer));
    }

    /// Sends a server function's form: pending while it runs, then the page it returns to, or
    /// the refusal in words (next to the field the form names, or at the top of the page).
    async fn post(form: HtmlFormElement, action: String, body: String, submitter: Option<HtmlElement>, offer: RwSignal<Option<Undo>>) {
        clear_errors(&form);
        busy(&form, submitter.as_ref(), true);
        let Some(Answer { ok, status, location: next, text, .. }) = fetch(&action, "application/json", Some(&body)).await else {
            busy(&form, submitter.as_ref(), false);
            return show_error(&form, "The server could not be reached. Nothing may have changed: reload the page to see.");
        };
        if !ok {
            busy(&form, submitter.as_ref(), false);
            let message = match serde_json::from_str::<AppError>(&text) {
                Ok(e) => e.to_string(),
                Err(_) => format!("The server could not do this (HTTP {status})."),
            };
            return show_error(&form, &message);
        }
        // A change that can be taken back says how (restore, bulk changes).
        if let Ok(Some(undo)) = serde_json::from_str::<Option<Undo>>(&text) {
            offer.set(Some(undo));
        }
        let next = next.unwrap_or_else(href);
        if form.has_attribute("data-navigate") {
            return assign(&next);
        }
        load(next, Entry::Replace, false).await;
        // Still there when the page it returned to is another one's (a failed swap loads in full).
        busy(&form, submitter.as_ref(), false);
    }

    fn busy(form: &HtmlFormElement, submitter: Option<&HtmlElement>, on: bool) {
        let _ = if on { form.set_attribute("aria-busy", "true") } else { form.remove_attribute("aria-busy") };
        if let Some(b) = submitter {
            let _ = if on { b.set_attribute("disabled", "") } else { b.remove_attribute("disabled") };
        }
    }

    /// The form's own error slot (`data-error="ID"`), else the page's message slot.
    fn show_error(form: &HtmlFormElement, message: &str) {
        let doc = document();
        if let Some(slot) = form.get_attribute("data-error").and_then(|id| doc.get_element_by_id(&id)) {
            return slot.set_text_content(Some(message));
        }
        let Some(slot) = one(&doc, "main [data-flash]") else {
            return window().alert_with_message(message).unwrap_or_default();
        };
        let Ok(p) = doc.create_element("p") else { return };
        p.set_class_name("flash error");
        let _ = p.set_attribute("role", "alert");
        let _ = p.set_attribute("data-enhanced", "");
        p.set_text_content(Some(message));
        // One message at a time: this answer replaces the page's earlier ones.
        slot.set_inner_html("");
        let _ = slot.append_child(&p);
    }

    fn clear_errors(form: &HtmlFormElement) {
        let doc = document();
        if let Some(slot) = form.get_attribute("data-error").and_then(|id| doc.get_element_by_id(&id)) {
            slot.set_text_content(None);
        }
        if let Some(main) = one(&doc, "main") {
            for p in all(&main, "[data-flash] [data-enhanced]") {
                p.remove();
            }
        }
    }
}

#[cfg(feature = "hydrate")]
mod keys {
    //! Keyboard shortcuts: `/` focuses the page's search or filter box; `j` and `k` move the
    //! focus to the next and the previous row of the page's table (its first link, button or
    //! checkbox, so Enter or Space acts on it). Keys typed into a field are left alone.

    use leptos::prelude::document;
    use wasm_bindgen::JsCast;

    pub fn on_key(ev: web_sys::KeyboardEvent) {
        if ev.ctrl_key() || ev.meta_key() || ev.alt_key() || ev.default_prevented() {
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
                    r.query_selector("a[href]")
                        .ok()
                        .flatten()
                        .or_else(|| r.query_selector("button, input:not([type=hidden])").ok().flatten())
                });
                if focus(target) == Some(true) {
                    ev.prevent_default();
                }
            }
            _ => {}
        }
    }
}
