//! `/signin`: username and password; works as a plain form post without JavaScript.

use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::SignIn;

#[component]
pub fn SignInPage() -> impl IntoView {
    let query = use_query_map();
    let next = Memo::new(move |_| query.read().get("next").unwrap_or_default());
    let sign_in = ServerAction::<SignIn>::new();
    let error = move || sign_in.value().get().and_then(Result::err).map(|e| e.to_string());
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    view! {
        <Title text="Sign in" />
        <section class="page narrow" data-hydrated=move || hydrated.get().to_string()>
            <h1>"Sign in"</h1>
            {move || error().map(|e| view! { <p class="flash error" role="alert" id="signin-error">{e}</p> })}
            <ActionForm action=sign_in attr:class="stacked">
                <label for="username">"Username"</label>
                <input id="username" name="username" autocomplete="username" required />
                <label for="password">"Password"</label>
                <input id="password" name="password" type="password" autocomplete="current-password" required />
                <input type="hidden" name="next" value=move || next.get() />
                <button type="submit" disabled=move || sign_in.pending().get()>"Sign in"</button>
            </ActionForm>
        </section>
    }
}
