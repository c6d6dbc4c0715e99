//! `/setup?code=…`: the first start without an admin password. The server prints this link with
//! a one-time code; the form creates the first superuser and signs them in.

use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::SetUp;
use crate::components::flash::Flash;

#[component]
pub fn SetupPage() -> impl IntoView {
    let query = use_query_map();
    let code = Memo::new(move |_| query.read().get("code").unwrap_or_default());
    let setup = ServerAction::<SetUp>::new();
    // Without JavaScript a refused form comes back here with its error.
    let error = setup.value().get_untracked().and_then(Result::err).map(|e| e.to_string());
    view! {
        <Title text="Set up" />
        <section class="page narrow" data-hydrated="false">
            <h1>"Create the first superuser"</h1>
            <p class="muted">"This link works once. The account you create here administers everything."</p>
            <Flash error />
            <ActionForm action=setup attr:class="stacked" attr:data-navigate="">
                <input type="hidden" name="code" value=move || code.get() />
                <label for="setup-username">"Username"</label>
                <input id="setup-username" name="username" value="admin" autocomplete="username" required />
                <label for="setup-password">"Password (at least 8 characters)"</label>
                <input id="setup-password" name="password" type="password" autocomplete="new-password" minlength="8" required />
                <button type="submit">"Create and sign in"</button>
            </ActionForm>
        </section>
    }
}
