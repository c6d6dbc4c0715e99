//! `/signin`: username and password; works as a plain form post without JavaScript.

use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::SignIn;
use crate::components::flash::Flash;

#[component]
pub fn SignInPage() -> impl IntoView {
    let query = use_query_map();
    let next = Memo::new(move |_| query.read().get("next").unwrap_or_default());
    let sign_in = ServerAction::<SignIn>::new();
    // Without JavaScript a refused sign-in comes back here with its error.
    let error = sign_in.value().get_untracked().and_then(Result::err).map(|e| e.to_string());
    view! {
        <Title text="Sign in" />
        <section class="page narrow" data-hydrated="false">
            <h1>"Sign in"</h1>
            <Flash error />
            // Signed in, the whole page changes (the account corner too): it loads in full.
            <ActionForm action=sign_in attr:class="stacked" attr:data-navigate="">
                <label for="username">"Username"</label>
                <input id="username" name="username" autocomplete="username" required />
                <label for="password">"Password"</label>
                <input id="password" name="password" type="password" autocomplete="current-password" required />
                <input type="hidden" name="next" value=move || next.get() />
                <button type="submit">"Sign in"</button>
            </ActionForm>
        </section>
    }
}
