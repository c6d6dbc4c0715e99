//! Live updates for the UI's tags and history pages: `GET /events/repository/{ns}/{repo}` is a
//! server-sent event stream that sends `changed` (data: the repository's tag version) whenever
//! the repository's tags change — a push, move, delete, restore, lock, expiration or garbage
//! collection. It reads the tag version from the database twice a second, so it sees changes
//! made through every instance sharing the database. Whoever may read the repository may listen;
//! the check is repeated on every read, and the stream ends when it fails.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, Request, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use futures::stream;
use registry::RepoPath;

use crate::api_v1::{caller, ApiError};
use crate::startup::AppState;

/// How often a stream reads the tag version.
const POLL: Duration = Duration::from_millis(500);

pub fn router() -> Router<AppState> {
    Router::new().route("/events/repository/{*rest}", get(repository))
}

async fn repository(State(state): State<AppState>, Path(rest): Path<String>, req: Request) -> Response {
    let who = caller(&state.auth, &req);
    drop(req);
    let start = async {
        let who = who.await?;
        let path = RepoPath::parse(&rest).map_err(|e| ApiError::not_found(e.to_string()))?;
        let version = state.registry.tag_version(&who, &path).await?;
        Ok::<_, ApiError>((who, path, version))
    };
    let (who, path, version) = match start.await {
        Ok(v) => v,
        Err(e) => return e.into_response(),
    };
    let changes = stream::unfold((state.registry.clone(), who, path, version), |(registry, who, path, last)| async move {
        loop {
            tokio::time::sleep(POLL).await;
            match registry.tag_version(&who, &path).await {
                Ok(v) if v != last => {
                    let event = Event::default().event("changed").data(v.to_string());
                    return Some((Ok::<_, Infallible>(event), (registry, who, path, v)));
                }
                Ok(_) => {}
                Err(_) => return None,
            }
        }
    });
    Sse::new(changes).keep_alive(KeepAlive::default()).into_response()
}
