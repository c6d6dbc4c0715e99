//! What a page shows when the service refuses to show it: a sign-in prompt for anonymous
//! visitors, the reason for signed-in ones, the message for anything else. On the server it also
//! sets the page's HTTP status to the refusal's.

use leptos::prelude::*;
use registry::Error;

use crate::components::url;
use crate::error::AppError;

#[component]
pub fn Refusal(error: AppError, back: String) -> impl IntoView {
    #[cfg(feature = "ssr")]
    {
        let status = match &error {
            AppError::Registry(Error::Unauthorized) => http::StatusCode::UNAUTHORIZED,
            AppError::Registry(Error::Forbidden(_)) => http::StatusCode::FORBIDDEN,
            AppError::Registry(Error::NotFound(_) | Error::RepositoryNotFound(_)) => http::StatusCode::NOT_FOUND,
            AppError::Registry(Error::Invalid(_)) => http::StatusCode::BAD_REQUEST,
            _ => http::StatusCode::INTERNAL_SERVER_ERROR,
        };
        if let Some(resp) = use_context::<leptos_axum::ResponseOptions>() {
            resp.set_status(status);
        }
    }
    match error {
        AppError::Registry(Error::Unauthorized) => {
            let href = url::with_query("/signin", &[("next", back)]);
            view! {
                <div class="refusal" role="alert">
                    <p>"This page is not public: the repository is private or does not exist, or the page needs a role on it. Sign in to see it."</p>
                    <p><a class="button" href=href>"Sign in"</a></p>
                </div>
            }
            .into_any()
        }
        e => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
    }
}
