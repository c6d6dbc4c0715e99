//! Prometheus metrics: every request's duration by method, route pattern and status, served in
//! the Prometheus text format on a listener of their own (`--metrics-listen`), apart from the
//! registry's port as Quay serves its metrics. Routes are patterns (`/v2/{*path}`), never the
//! repository names in a request's path.

use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Seconds from a request's arrival at the router to its response head. A page is rendered in
/// full before its head is sent, so for pages this is the server's whole time; a blob download's
/// streaming body is not in it.
pub const REQUEST_SECONDS: &str = "quayside_http_request_duration_seconds";

/// Half-millisecond buckets up to 30 ms (where pages land), then coarser ones up to a minute.
fn buckets() -> Vec<f64> {
    let fine = (1..=60).map(|i| f64::from(i) * 0.0005);
    let coarse = [0.04, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];
    fine.chain(coarse).collect()
}

/// The process's recorder, once [`handle`] installed it.
static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// The process's recorder, installed on first use (requests are only recorded from then on).
pub fn handle() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new();
        // Only an empty bucket list is refused; without buckets the durations are summaries.
        let builder = builder
            .set_buckets_for_metric(Matcher::Full(REQUEST_SECONDS.to_owned()), &buckets())
            .unwrap_or_else(|_| PrometheusBuilder::new());
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("another metrics recorder is installed: /metrics stays empty");
        }
        handle
    })
}

/// Middleware: records each request's duration (see [`REQUEST_SECONDS`]). Without a recorder
/// (no `--metrics-listen`) it only passes the request on: no labels built on the hot path.
pub async fn record(req: Request, next: Next) -> Response {
    if HANDLE.get().is_none() {
        return next.run(req).await;
    }
    let start = Instant::now();
    let method = req.method().as_str().to_owned();
    let route = req.extensions().get::<MatchedPath>().map_or("unmatched", MatchedPath::as_str).to_owned();
    let response = next.run(req).await;
    let labels = [("method", method), ("route", route), ("status", response.status().as_u16().to_string())];
    metrics::histogram!(REQUEST_SECONDS, &labels).record(start.elapsed().as_secs_f64());
    response
}

/// The metrics listener's router: `GET /metrics`.
pub fn router() -> Router {
    let handle = handle();
    Router::new().route("/metrics", get(move || async move { handle.render() }))
}
