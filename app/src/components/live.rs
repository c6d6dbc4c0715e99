//! Live pages (with JavaScript): a page follows its repository's server-sent event stream
//! (`/events/repository/{ns}/{repo}`) and counts the changes it announces; the page's resources
//! take the count as part of their key, so the list is fetched again in place within about a
//! second of a push, move or delete anywhere. Without JavaScript a page is current at each load.

use leptos::prelude::*;

/// Follows the repository `repository()` names (again whenever that changes) while the calling
/// component lives; every announced change increments `changes`.
pub fn follow(repository: impl Fn() -> String + 'static, changes: RwSignal<u32>) {
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        use futures::StreamExt;
        let url = format!("/events/repository/{}", repository());
        let Ok(mut source) = gloo_net::eventsource::futures::EventSource::new(&url) else { return };
        let Ok(stream) = source.subscribe("changed") else { return };
        let (stop, stopped) = futures::channel::oneshot::channel::<()>();
        leptos::task::spawn_local(async move {
            let mut stream = stream.take_until(stopped);
            while let Some(Ok(_)) = stream.next().await {
                changes.update(|n| *n += 1);
            }
            source.close();
        });
        on_cleanup(move || {
            let _ = stop.send(());
        });
    });
    #[cfg(not(feature = "hydrate"))]
    let _ = (repository, changes);
}
