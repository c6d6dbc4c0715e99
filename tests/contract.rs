//! The storage contract: every case runs against SQLite and against PostgreSQL, through the
//! service layer, with a fixed clock. The cases are the rules of shared/SPEC.md §2–3.

mod support;

use std::sync::Arc;

use registry::*;
use support::*;

macro_rules! contract {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::Backend::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::Backend::Postgres).await
                }
            )*
        }
    };
}

contract!(
    create_move_and_history_order,
    create_needs_an_available_manifest,
    history_paging_and_filters,
    history_pages_by_cursor,
    delete_ends_the_row,
    restore_brings_back_a_dead_manifest,
    expiration_rules,
    expired_tags_are_not_alive,
    immutability_blocks_changes,
    immutability_and_expiration_exclude_each_other,
    unlocking_needs_admin,
    roles_come_from_grants_namespaces_and_organizations,
    refusals_do_not_reveal_private_repositories,
    listings_show_what_the_caller_may_read,
    sign_in_tokens_and_throttling,
    immutability_policies,
    label_driven_expiry_and_immutability,
    index_labels_need_all_children,
    user_labels,
    users_cannot_add_behaviour_labels,
    delete_manifest_is_all_or_nothing,
    concurrent_retargets_leave_one_alive_row,
    refused_push_leaves_nothing_behind,
    read_only_repository_refuses_changes,
    private_repository_needs_credentials,
    time_machine_window_choices,
    repository_list_filters_and_pages,
    tag_name_lists_follow_every_change,
    one_tags_changes_are_one_transaction,
    batch_all_or_nothing,
    batch_each_on_its_own,
    permanent_expiry,
    garbage_collection_keeps_what_is_referenced,
    garbage_collection_stops_on_a_database_error,
    organization_members_keep_an_admin,
    policies_can_be_changed,
    history_as_of_a_time,
    history_reads_as_events,
    history_pages_follow_every_change,
    changes_report_their_undo,
    tag_listing_orders,
    namespace_policies_cover_every_repository,
);

async fn create_move_and_history_order(b: Backend) {
    let f = fixture(b).await;
    let a = f.push("latest", "a", &[]).await.unwrap();
    f.advance(1000);
    let bm = f.push_untagged("b", &[]).await;
    // `b` is not pointed at by any alive tag yet: only a push or restore may use it.
    f.reg.set_tag(&f.admin, &f.repo, &tag("other"), &a.digest).await.unwrap();
    f.advance(1000);
    f.reg.restore_tag(&f.admin, &f.repo, &tag("latest"), &bm.digest).await.unwrap();
    let rows = f.all_rows().await;
    let summary: Vec<_> =
        rows.iter().map(|r| (r.name.as_str(), r.lifetime_start_ms - T0, r.lifetime_end_ms.map(|e| e - T0), r.reversion)).collect();
    assert_eq!(
        summary,
        vec![("latest", 2000, None, true), ("other", 1000, None, false), ("latest", 0, Some(2000), false)],
        "newest first, then by name"
    );
    assert_eq!(f.actions().await, ["create_repo", "create_tag", "push_repo", "push_repo", "create_tag", "revert_tag"]);
    let alive = f.alive("latest").await.unwrap();
    assert_eq!(alive.manifest_digest, bm.digest);
}

async fn create_needs_an_available_manifest(b: Backend) {
    let f = fixture(b).await;
    let a = f.push("v1", "a", &[]).await.unwrap();
    let loose = f.push_untagged("loose", &[]).await;
    let err = f.reg.set_tag(&f.admin, &f.repo, &tag("x"), &loose.digest).await.unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err:?}");
    let missing = Digest::parse(&format!("sha256:{}", "0".repeat(64))).unwrap();
    assert!(matches!(f.reg.set_tag(&f.admin, &f.repo, &tag("x"), &missing).await, Err(Error::NotFound(_))));
    // A child of an index that an alive tag points at is available.
    let c1 = f.push_untagged("c1", &[]).await;
    let c2 = f.push_untagged("c2", &[]).await;
    let idx = quayside::demo::index(&[(&c1, "amd64"), (&c2, "arm64")]);
    f.reg.put_manifest(&f.admin, &f.repo, idx, Some(&tag("multi"))).await.unwrap();
    f.reg.set_tag(&f.admin, &f.repo, &tag("amd64-only"), &c1.digest).await.unwrap();
    // Once nothing alive points at `a`, it is no longer available to create or move.
    f.advance(10);
    f.reg.delete_tag(&f.admin, &f.repo, &tag("v1")).await.unwrap();
    assert!(matches!(f.reg.set_tag(&f.admin, &f.repo, &tag("v1-again"), &a.digest).await, Err(Error::NotFound(_))));
}

async fn history_paging_and_filters(b: Backend) {
    let f = fixture(b).await;
    for i in 0..7 {
        f.push(&format!("t{i}"), &format!("s{i}"), &[]).await.unwrap();
        f.advance(1000);
    }
    f.push("Other_TAG", "o", &[]).await.unwrap();
    f.reg.delete_tag(&f.admin, &f.repo, &tag("t0")).await.unwrap();
    let p1 = f.history(HistoryParams { page: Some(1), limit: Some(3), ..Default::default() }).await;
    assert_eq!(p1.items.iter().map(|v| v.tag.name.as_str()).collect::<Vec<_>>(), ["Other_TAG", "t6", "t5"]);
    assert!(p1.has_additional);
    let p3 = f.history(HistoryParams { page: Some(3), limit: Some(3), ..Default::default() }).await;
    assert_eq!(p3.items.iter().map(|v| v.tag.name.as_str()).collect::<Vec<_>>(), ["t1", "t0"]);
    assert!(!p3.has_additional);
    // Page and limit are clamped (page >= 1, limit 1..=100).
    let clamped = f.history(HistoryParams { page: Some(0), limit: Some(1000), ..Default::default() }).await;
    assert_eq!((clamped.page, clamped.items.len()), (1, 8));
    let clamped = f.history(HistoryParams { limit: Some(-5), ..Default::default() }).await;
    assert_eq!(clamped.items.len(), 1);
    // Filters.
    let active = f.history(HistoryParams { only_active: true, limit: Some(100), ..Default::default() }).await;
    assert_eq!(active.items.len(), 7);
    let like = f.history(HistoryParams { filter: Some("like:tag".into()), ..Default::default() }).await;
    assert_eq!(like.items.iter().map(|v| v.tag.name.as_str()).collect::<Vec<_>>(), ["Other_TAG"]);
    let like_pct = f.history(HistoryParams { filter: Some("like:%".into()), ..Default::default() }).await;
    assert!(like_pct.items.is_empty(), "LIKE wildcards in the filter text are literal");
    let eq = f.history(HistoryParams { filter: Some("eq:t3".into()), ..Default::default() }).await;
    assert_eq!(eq.items.len(), 1);
    let unknown_op = f.history(HistoryParams { filter: Some("regex:t.*".into()), limit: Some(100), ..Default::default() }).await;
    assert_eq!(unknown_op.items.len(), 8, "an unknown operation is ignored");
    let err = f.reg.tag_history(&f.admin, &f.repo, &HistoryParams { filter: Some("t3".into()), ..Default::default() }).await.unwrap_err();
    assert!(matches!(err, Error::Invalid(_)), "a filter without ':' is a 400");
    let specific = f.history(HistoryParams { specific_tag: Some("t0".into()), ..Default::default() }).await;
    assert_eq!(specific.items.len(), 1);
    assert!(specific.items[0].tag.lifetime_end_ms.is_some());
}

/// Pages found from a row next to them (the pager's cursor) are the same pages as by offset,
/// forwards and backwards, with ties in start time, with a filter, and for one tag; a cursor that
/// is not one of the repository's rows falls back to the page number; other orders ignore it.
async fn history_pages_by_cursor(b: Backend) {
    let f = fixture(b).await;
    // Rows starting at the same instant (the clock is fixed between pushes): ties broken by name,
    // then by id.
    for round in 0..3 {
        for name in ["b", "a", "c", "tag-x"] {
            f.push(name, &format!("{name}{round}"), &[]).await.unwrap();
        }
        f.advance(1000);
    }
    // The same tag moved twice in one instant: rows with the same start and name (by id).
    for seed in ["a-again", "a-once-more"] {
        f.push("a", seed, &[]).await.unwrap();
    }
    f.reg.delete_tag(&f.admin, &f.repo, &tag("c")).await.unwrap();
    let listing = |p: HistoryParams| {
        let (reg, repo) = (f.reg.clone(), f.repo.clone());
        async move { reg.tag_listing(&Caller::system(), &repo, &p).await.unwrap() }
    };
    let ids = |page: &Page<HistoryRow>| page.items.iter().map(|r| r.view.tag.id).collect::<Vec<_>>();
    for filter in [None, Some("like:a".to_owned()), Some("like:-".to_owned())] {
        let base = HistoryParams { limit: Some(100), filter: filter.clone(), ..Default::default() };
        let all = ids(&listing(base.clone()).await.rows);
        assert!(all.len() > 2, "{filter:?}");
        // Forwards, two rows a page, each page after the previous one's last row.
        let p = |page, cursor| HistoryParams { page: Some(page), limit: Some(2), cursor, ..base.clone() };
        let (mut walked, mut page, mut cursor) = (Vec::new(), 1, None);
        let last_page = loop {
            let l = listing(p(page, cursor)).await;
            let by_offset = listing(p(page, None)).await;
            assert_eq!(ids(&l.rows), ids(&by_offset.rows), "page {page} of {filter:?}: by cursor and by offset");
            assert_eq!(l.rows.has_additional, by_offset.rows.has_additional);
            walked.extend(ids(&l.rows));
            let (_, last) = l.cursors.expect("the newest-first order pages by cursor");
            if !l.rows.has_additional {
                break l;
            }
            (page, cursor) = (page + 1, Some(Cursor::After(last)));
        };
        assert_eq!(walked, all, "{filter:?}");
        // Backwards from the last page, each page before the next one's first row.
        let mut back = ids(&last_page.rows);
        let mut first = last_page.cursors.unwrap().0;
        for page in (1..page).rev() {
            let l = listing(p(page, Some(Cursor::Before(first)))).await;
            assert_eq!(ids(&l.rows), ids(&listing(p(page, None)).await.rows), "page {page} of {filter:?} backwards");
            assert!(l.rows.has_additional);
            back.splice(0..0, ids(&l.rows));
            first = l.cursors.unwrap().0;
        }
        assert_eq!(back, all, "{filter:?} backwards");
    }
    // One tag's rows.
    let one = HistoryParams { specific_tag: Some("a".into()), limit: Some(2), ..Default::default() };
    let first = listing(one.clone()).await;
    let second = listing(HistoryParams { page: Some(2), cursor: Some(Cursor::After(first.cursors.unwrap().1)), ..one.clone() }).await;
    assert_eq!(ids(&second.rows), ids(&listing(HistoryParams { page: Some(2), ..one.clone() }).await.rows));
    assert_eq!((second.rows.items.len(), second.rows.has_additional), (2, true), "five rows of a");
    // Not a row of this repository: the page number decides.
    let stray = listing(HistoryParams { page: Some(2), limit: Some(3), cursor: Some(Cursor::After(i64::MAX)), ..Default::default() }).await;
    assert_eq!(ids(&stray.rows), ids(&listing(HistoryParams { page: Some(2), limit: Some(3), ..Default::default() }).await.rows));
    // Another order: by offset, and no cursors offered.
    let by_name = HistoryParams { page: Some(2), limit: Some(3), order: TagOrder::Name, ..Default::default() };
    let l = listing(HistoryParams { cursor: Some(Cursor::After(first.cursors.unwrap().1)), ..by_name.clone() }).await;
    assert_eq!(ids(&l.rows), ids(&listing(by_name).await.rows));
    assert_eq!(l.cursors, None);
}

async fn delete_ends_the_row(b: Backend) {
    let f = fixture(b).await;
    f.push("v1", "a", &[]).await.unwrap();
    f.advance(500);
    f.reg.delete_tag(&f.admin, &f.repo, &tag("v1")).await.unwrap();
    assert!(f.alive("v1").await.is_none());
    let rows = f.all_rows().await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].lifetime_end_ms, Some(T0 + 500));
    let err = f.reg.delete_tag(&f.admin, &f.repo, &tag("v1")).await.unwrap_err();
    assert!(matches!(err, Error::NotFound(_)));
    assert_eq!(f.actions().await.last().unwrap(), "delete_tag");
}

async fn restore_brings_back_a_dead_manifest(b: Backend) {
    let f = fixture(b).await;
    let a = f.push("v1", "a", &[]).await.unwrap();
    f.advance(1000);
    f.push("v1", "b", &[]).await.unwrap();
    f.advance(1000);
    // `a` is referenced only by a dead row now: restore may use it, set_tag may not.
    assert!(matches!(f.reg.set_tag(&f.admin, &f.repo, &tag("v2"), &a.digest).await, Err(Error::NotFound(_))));
    let row = f.reg.restore_tag(&f.admin, &f.repo, &tag("v1"), &a.digest).await.unwrap();
    assert!(row.reversion);
    assert_eq!(f.alive("v1").await.unwrap().manifest_digest, a.digest);
    // Restoring to the current digest still adds a row.
    f.advance(1000);
    f.reg.restore_tag(&f.admin, &f.repo, &tag("v1"), &a.digest).await.unwrap();
    assert_eq!(f.all_rows().await.len(), 4);
    let unknown = Digest::parse(&format!("sha256:{}", "1".repeat(64))).unwrap();
    assert!(matches!(f.reg.restore_tag(&f.admin, &f.repo, &tag("v1"), &unknown).await, Err(Error::NotFound(_))));
}

async fn expiration_rules(b: Backend) {
    let f = fixture(b).await;
    f.push("v1", "a", &[]).await.unwrap();
    let start = f.now();
    let secs = |ms: Millis| Some(ms / 1000);
    // In the past or now: 400.
    let err = f.reg.set_expiration(&f.admin, &f.repo, &tag("v1"), secs(start)).await.unwrap_err();
    assert!(matches!(err, Error::Invalid(_)), "{err:?}");
    // Clamped to at least 1 hour after the start...
    let t = f.reg.set_expiration(&f.admin, &f.repo, &tag("v1"), secs(start + 60_000)).await.unwrap();
    assert_eq!(t.lifetime_end_ms, Some(start + HOUR_MS));
    // ...and at most 104 weeks, measured from the tag's start, not from now.
    f.advance(HOUR_MS / 2);
    let t = f.reg.set_expiration(&f.admin, &f.repo, &tag("v1"), secs(start + 200 * WEEK_MS)).await.unwrap();
    assert_eq!(t.lifetime_end_ms, Some(start + 104 * WEEK_MS));
    let t = f.reg.set_expiration(&f.admin, &f.repo, &tag("v1"), secs(start + 2 * DAY_MS)).await.unwrap();
    assert_eq!(t.lifetime_end_ms, Some(start + 2 * DAY_MS));
    // Clearing, then clearing again (recorded once: both null is skipped).
    f.reg.set_expiration(&f.admin, &f.repo, &tag("v1"), None).await.unwrap();
    f.reg.set_expiration(&f.admin, &f.repo, &tag("v1"), None).await.unwrap();
    let changes = f.actions().await.iter().filter(|a| *a == "change_tag_expiration").count();
    assert_eq!(changes, 4);
    let log = f.reg.audit_log(&f.admin, &f.repo, &AuditParams { limit: Some(1), ..Default::default() }).await.unwrap();
    assert_eq!(log.items[0].data["old_expiration_ms"], serde_json::json!(start + 2 * DAY_MS));
    assert_eq!(log.items[0].data["expiration_ms"], serde_json::Value::Null);
    // A tag that is not alive: 404.
    assert!(matches!(f.reg.set_expiration(&f.admin, &f.repo, &tag("nope"), secs(start + 2 * DAY_MS)).await, Err(Error::NotFound(_))));
}

async fn expired_tags_are_not_alive(b: Backend) {
    let f = fixture(b).await;
    let a = f.push("v1", "a", &[]).await.unwrap();
    let start = f.now();
    f.reg.set_expiration(&f.admin, &f.repo, &tag("v1"), Some((start + 2 * HOUR_MS) / 1000)).await.unwrap();
    f.advance(HOUR_MS);
    assert!(f.alive("v1").await.is_some(), "a future end is an expiration; the tag is alive until then");
    f.advance(HOUR_MS);
    assert!(f.alive("v1").await.is_none(), "expired when end <= now");
    assert!(matches!(f.reg.delete_tag(&f.admin, &f.repo, &tag("v1")).await, Err(Error::NotFound(_))));
    // An expired tag can be pushed again: a new row, the old one keeps its end.
    f.push("v1", "b", &[]).await.unwrap();
    let rows = f.all_rows().await;
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[1].lifetime_end_ms, Some(start + 2 * HOUR_MS));
    assert_eq!(rows[1].manifest_digest, a.digest);
}

async fn immutability_blocks_changes(b: Backend) {
    let f = fixture(b).await;
    let a = f.push("v1", "a", &[]).await.unwrap();
    f.push("other", "b", &[]).await.unwrap();
    let t = f.reg.set_immutable(&f.admin, &f.repo, &tag("v1"), true).await.unwrap();
    assert!(t.immutable);
    // Setting the value it already has succeeds.
    f.reg.set_immutable(&f.admin, &f.repo, &tag("v1"), true).await.unwrap();
    let overwrite = Error::TagImmutable("Cannot overwrite immutable tag 'v1'".into());
    let other = f.alive("other").await.unwrap().manifest_digest;
    assert_eq!(
        f.reg.delete_tag(&f.admin, &f.repo, &tag("v1")).await.unwrap_err(),
        Error::TagImmutable("Cannot delete immutable tag 'v1'".into())
    );
    assert_eq!(f.reg.set_tag(&f.admin, &f.repo, &tag("v1"), &other).await.unwrap_err(), overwrite);
    assert_eq!(f.reg.restore_tag(&f.admin, &f.repo, &tag("v1"), &other).await.unwrap_err(), overwrite);
    assert_eq!(f.push("v1", "c", &[]).await.unwrap_err(), overwrite);
    assert_eq!(f.alive("v1").await.unwrap().manifest_digest, a.digest);
    // Labels on an immutable tag's manifest can still be added and removed.
    let l = f.reg.add_label(&f.admin, &f.repo, &a.digest, "note", "kept", None).await.unwrap();
    f.reg.delete_label(&f.admin, &f.repo, &a.digest, &l.id).await.unwrap();
    let changes = f.actions().await.iter().filter(|a| *a == "change_tag_immutability").count();
    assert_eq!(changes, 1, "an unchanged value is not recorded");
}

async fn immutability_and_expiration_exclude_each_other(b: Backend) {
    let f = fixture(b).await;
    f.push("locked", "a", &[]).await.unwrap();
    f.push("expiring", "b", &[]).await.unwrap();
    let later = Some((f.now() + DAY_MS) / 1000);
    f.reg.set_immutable(&f.admin, &f.repo, &tag("locked"), true).await.unwrap();
    assert_eq!(
        f.reg.set_expiration(&f.admin, &f.repo, &tag("locked"), later).await.unwrap_err(),
        Error::Invalid("Cannot set expiration on immutable tag 'locked'".into())
    );
    f.reg.set_expiration(&f.admin, &f.repo, &tag("expiring"), later).await.unwrap();
    let err = f.reg.set_immutable(&f.admin, &f.repo, &tag("expiring"), true).await.unwrap_err();
    assert!(matches!(&err, Error::Invalid(m) if m.contains("has expiration set")), "{err:?}");

    // The config switch allows both.
    let g = fixture_with(b, Config { allow_expiration_on_immutable: true, ..Config::default() }).await;
    g.push("locked", "a", &[]).await.unwrap();
    g.reg.set_immutable(&g.admin, &g.repo, &tag("locked"), true).await.unwrap();
    let t = g.reg.set_expiration(&g.admin, &g.repo, &tag("locked"), Some((g.now() + DAY_MS) / 1000)).await.unwrap();
    assert!(t.immutable && t.lifetime_end_ms.is_some());
}

async fn unlocking_needs_admin(b: Backend) {
    let f = fixture(b).await;
    f.push("v1", "a", &[]).await.unwrap();
    f.reg.set_immutable(&f.admin, &f.repo, &tag("v1"), true).await.unwrap();
    // A writer may lock but not unlock (403); an admin of the repository may unlock.
    let dev = f.user("dev", Role::Write).await;
    assert!(matches!(f.reg.set_immutable(&dev, &f.repo, &tag("v1"), false).await, Err(Error::Forbidden(_))));
    assert!(f.alive("v1").await.unwrap().immutable);
    f.push("v2", "b", &[]).await.unwrap();
    f.reg.set_immutable(&dev, &f.repo, &tag("v2"), true).await.unwrap();
    let boss = f.user("boss", Role::Admin).await;
    f.reg.set_immutable(&boss, &f.repo, &tag("v1"), false).await.unwrap();
    assert!(!f.alive("v1").await.unwrap().immutable);
}

async fn roles_come_from_grants_namespaces_and_organizations(b: Backend) {
    let f = fixture(b).await;
    f.push("v1", "a", &[]).await.unwrap();
    let reader = f.user("reader", Role::Read).await;
    // Read: lists and reads, may not change (403 with the role named).
    assert_eq!(f.reg.my_role(&reader, &f.repo).await.unwrap(), Some(Role::Read));
    assert!(f.reg.tag_history(&reader, &f.repo, &HistoryParams::default()).await.is_ok());
    match f.reg.delete_tag(&reader, &f.repo, &tag("v1")).await {
        Err(Error::Forbidden(m)) => assert_eq!(m, "You need write permission on acme/app"),
        other => panic!("{other:?}"),
    }
    // Only repository admins see and change grants.
    assert!(matches!(f.reg.permissions(&reader, &f.repo).await, Err(Error::Forbidden(_))));
    let grants = f.reg.permissions(&f.admin, &f.repo).await.unwrap();
    assert_eq!(grants, [Permission { user: "reader".into(), role: Role::Read }]);
    // A user owns their namespace: admin there, and pushing creates repositories in it.
    let (carol, _) = f.account("carol", false).await;
    let own = RepoPath::parse("carol/tools").unwrap();
    let m = quayside::demo::image("amd64", "c", &[10], &[]);
    f.reg.put_manifest(&carol, &own, m, Some(&tag("v1"))).await.unwrap();
    assert_eq!(f.reg.my_role(&carol, &own).await.unwrap(), Some(Role::Admin));
    assert_eq!(f.reg.repository(&carol, &own).await.unwrap().visibility, Visibility::Private, "pushes create private repositories");
    // ... but not in someone else's.
    let m = quayside::demo::image("amd64", "d", &[10], &[]);
    assert!(matches!(f.reg.put_manifest(&carol, &f.repo, m, Some(&tag("x"))).await, Err(Error::Forbidden(_))));
    // Organizations: the creator is its admin; members read every repository in it.
    f.reg.create_organization(&carol, "team").await.unwrap();
    let team_repo = RepoPath::parse("team/app").unwrap();
    f.reg.create_repository(&carol, &team_repo, Visibility::Private, "").await.unwrap();
    let (dave, _) = f.account("dave", false).await;
    assert!(matches!(f.reg.repository(&dave, &team_repo).await, Err(Error::Forbidden(_))));
    f.reg.set_org_member(&carol, &NamespaceName::parse("team").unwrap(), "dave", OrgRole::Member).await.unwrap();
    assert_eq!(f.reg.my_role(&dave, &team_repo).await.unwrap(), Some(Role::Read));
    assert!(matches!(
        f.reg.set_org_member(&dave, &NamespaceName::parse("team").unwrap(), "dave", OrgRole::Admin).await,
        Err(Error::Forbidden(_))
    ));
    // A name is one namespace: no org over a user, no user over an org.
    assert!(matches!(f.reg.create_organization(&carol, "dave").await, Err(Error::Conflict(_))));
    assert!(matches!(f.reg.create_user(&f.admin, "team", "password-123", false).await, Err(Error::Conflict(_))));
    // Superusers are admin everywhere; only they create users.
    let (root, _) = f.account("root", true).await;
    assert_eq!(f.reg.my_role(&root, &team_repo).await.unwrap(), Some(Role::Admin));
    assert!(matches!(f.reg.create_user(&carol, "eve", "password-123", false).await, Err(Error::Forbidden(_))));
    // Grants are audited.
    assert!(f.actions().await.contains(&"change_repo_permission".to_owned()));
}

async fn refusals_do_not_reveal_private_repositories(b: Backend) {
    let f = fixture(b).await;
    f.push("v1", "a", &[]).await.unwrap();
    let missing = RepoPath::parse("acme/nothing").unwrap();
    let anon = Caller::anonymous();
    // Anonymous: 401 whether the private repository exists or not.
    assert_eq!(f.reg.repository(&anon, &f.repo).await.unwrap_err(), Error::Unauthorized);
    assert_eq!(f.reg.repository(&anon, &missing).await.unwrap_err(), Error::Unauthorized);
    // Signed in without a role: the same 403 for both.
    let (nobody, _) = f.account("nobody", false).await;
    let a = f.reg.repository(&nobody, &f.repo).await.unwrap_err();
    let b2 = f.reg.repository(&nobody, &missing).await.unwrap_err();
    assert!(matches!(a, Error::Forbidden(_)));
    assert_eq!(a, b2);
    // Those who could see it get the 404.
    assert!(matches!(f.reg.repository(&f.admin, &missing).await, Err(Error::RepositoryNotFound(_))));
    // Public: anyone reads, nobody without a role writes.
    f.reg.set_visibility(&f.admin, &f.repo, Visibility::Public).await.unwrap();
    assert!(f.reg.tag_history(&anon, &f.repo, &HistoryParams::default()).await.is_ok());
    assert_eq!(f.reg.delete_tag(&anon, &f.repo, &tag("v1")).await.unwrap_err(), Error::Unauthorized);
    assert!(matches!(f.reg.delete_tag(&nobody, &f.repo, &tag("v1")).await, Err(Error::Forbidden(_))));
    // Read-only: every mutation is 503, even for the superuser.
    f.reg.set_repository_state(&f.admin, &f.repo, RepoState::ReadOnly).await.unwrap();
    assert_eq!(f.reg.delete_tag(&f.admin, &f.repo, &tag("v1")).await.unwrap_err(), Error::ReadOnly);
}

fn every() -> registry::store::RepositoryQuery {
    registry::store::RepositoryQuery { page: 1, limit: 100, ..Default::default() }
}

async fn listings_show_what_the_caller_may_read(b: Backend) {
    let f = fixture(b).await;
    let public = RepoPath::parse("acme/public").unwrap();
    f.reg.create_repository(&f.admin, &public, Visibility::Public, "").await.unwrap();
    let names = |page: Page<RepositorySummary>| page.items.iter().map(|r| r.path.to_string()).collect::<Vec<_>>();
    let (erin, _) = f.account("erin", false).await;
    let erins = RepoPath::parse("erin/own").unwrap();
    f.reg.create_repository(&erin, &erins, Visibility::Private, "").await.unwrap();
    assert_eq!(names(f.reg.list_repositories(&Caller::anonymous(), every()).await.unwrap()), ["acme/public"]);
    assert_eq!(names(f.reg.list_repositories(&erin, every()).await.unwrap()), ["acme/public", "erin/own"]);
    f.user("frank", Role::Read).await;
    let frank = f.signed_in("frank").await;
    assert_eq!(names(f.reg.list_repositories(&frank, every()).await.unwrap()), ["acme/app", "acme/public"]);
    assert_eq!(names(f.reg.list_repositories(&f.admin, every()).await.unwrap()), ["acme/app", "acme/public", "erin/own"]);
    let (catalog, _) = f.reg.catalog(&Caller::anonymous(), None, None).await.unwrap();
    assert_eq!(catalog.iter().map(ToString::to_string).collect::<Vec<_>>(), ["acme/public"]);
}

async fn sign_in_tokens_and_throttling(b: Backend) {
    let f = fixture(b).await;
    assert!(matches!(f.reg.create_user(&f.admin, "short", "1234567", false).await, Err(Error::Invalid(_))));
    assert!(matches!(f.reg.create_user(&f.admin, "Bad Name", "password-123", false).await, Err(Error::Invalid(_))));
    let (_, account) = f.account("gina", false).await;
    assert_eq!(f.reg.sign_in("gina", "gina-password", Some("10.0.0.1")).await.unwrap(), account);
    assert_eq!(f.reg.sign_in("gina", "nope", Some("10.0.0.1")).await.unwrap_err(), Error::BadCredentials);
    assert_eq!(
        f.reg.sign_in("nobody", "nope", Some("10.0.0.1")).await.unwrap_err(),
        Error::BadCredentials,
        "same answer for unknown users"
    );
    // API tokens: shown once, stored as a digest, only for their own user.
    let token = f.reg.create_token(&f.admin, "gina", "ci").await.unwrap();
    assert!(token.starts_with(TOKEN_PREFIX));
    assert_eq!(f.reg.authenticate_token(&token).await.unwrap(), account);
    assert_eq!(f.reg.authenticate_basic("gina", &token, None).await.unwrap(), account);
    assert_eq!(f.reg.authenticate_basic("admin", &token, None).await.unwrap_err(), Error::BadCredentials);
    assert_eq!(f.reg.authenticate_token("qs_forged").await.unwrap_err(), Error::BadCredentials);
    // Five failures for an account within five minutes lock it (even the right password), from
    // any address, until the window passes.
    for i in 0..5 {
        let _ = f.reg.sign_in("gina", "wrong", Some(&format!("10.0.1.{i}"))).await;
    }
    assert!(matches!(f.reg.sign_in("gina", "gina-password", Some("10.0.2.1")).await, Err(Error::Throttled(_))));
    f.advance(5 * 60 * 1000);
    assert!(f.reg.sign_in("gina", "gina-password", Some("10.0.2.1")).await.is_ok());
    // Five failures from one address lock that address for every account.
    for user in ["u1", "u2", "u3", "u4", "u5"] {
        let _ = f.reg.sign_in(user, "wrong", Some("10.9.9.9")).await;
    }
    assert!(matches!(f.reg.sign_in("gina", "gina-password", Some("10.9.9.9")).await, Err(Error::Throttled(_))));
    assert!(f.reg.sign_in("gina", "gina-password", Some("10.9.9.8")).await.is_ok());
}

async fn immutability_policies(b: Backend) {
    let f = fixture(b).await;
    f.push("v1.0", "a", &[]).await.unwrap();
    f.push("latest", "b", &[]).await.unwrap();
    f.push("v2.0", "c", &[]).await.unwrap();
    f.reg.set_expiration(&f.admin, &f.repo, &tag("v2.0"), Some((f.now() + DAY_MS) / 1000)).await.unwrap();
    // Invalid patterns: too long, does not compile.
    assert!(matches!(f.reg.add_repository_policy(&f.admin, &f.repo, &"a".repeat(257), true).await, Err(Error::Invalid(_))));
    assert!(matches!(f.reg.add_repository_policy(&f.admin, &f.repo, "v(", true).await, Err(Error::Invalid(_))));
    // Creating a policy marks the alive tags it covers (full match) and clears their expiration.
    let p = f.reg.add_repository_policy(&f.admin, &f.repo, r"v[0-9]+\.[0-9]+", true).await.unwrap();
    assert!(f.alive("v1.0").await.unwrap().immutable);
    let v2 = f.alive("v2.0").await.unwrap();
    assert!(v2.immutable && v2.lifetime_end_ms.is_none());
    assert!(!f.alive("latest").await.unwrap().immutable);
    // New rows get it at push.
    f.push("v3.0", "d", &[]).await.unwrap();
    assert!(f.alive("v3.0").await.unwrap().immutable);
    f.push("v3.0-rc", "e", &[]).await.unwrap();
    assert!(!f.alive("v3.0-rc").await.unwrap().immutable, "full match only");
    // Deleting the policy unmarks nothing.
    f.reg.delete_repository_policy(&f.admin, &f.repo, &p.id).await.unwrap();
    assert!(f.alive("v1.0").await.unwrap().immutable);
    f.push("v4.0", "f", &[]).await.unwrap();
    assert!(!f.alive("v4.0").await.unwrap().immutable);
    // A policy on non-matching names.
    f.reg.add_repository_policy(&f.admin, &f.repo, "dev-.*", false).await.unwrap();
    assert!(f.alive("latest").await.unwrap().immutable);
    f.push("dev-1", "g", &[]).await.unwrap();
    assert!(!f.alive("dev-1").await.unwrap().immutable);
}

async fn label_driven_expiry_and_immutability(b: Backend) {
    let f = fixture(b).await;
    let now = f.now();
    f.push("short", "a", &[("quay.expires-after", "2h")]).await.unwrap();
    assert_eq!(f.alive("short").await.unwrap().lifetime_end_ms, Some(now + 2 * HOUR_MS));
    f.push("weeks", "b", &[("quay.expires-after", "3w")]).await.unwrap();
    assert_eq!(f.alive("weeks").await.unwrap().lifetime_end_ms, Some(now + 3 * WEEK_MS));
    f.push("junk", "c", &[("quay.expires-after", "soon")]).await.unwrap();
    assert_eq!(f.alive("junk").await.unwrap().lifetime_end_ms, None, "an unparsable value is ignored");
    for (i, (value, immutable)) in
        [("true", true), ("True", true), (" TRUE ", true), ("false", false), ("0", false), ("yes", false), ("", false)].iter().enumerate()
    {
        let name = format!("imm{i}");
        f.push(&name, &format!("imm-{i}"), &[("quay.immutable", value)]).await.unwrap();
        assert_eq!(f.alive(&name).await.unwrap().immutable, *immutable, "quay.immutable={value:?}");
    }
    // Immutability from a label clears the expiration instead.
    f.push("both", "d", &[("quay.immutable", "true"), ("quay.expires-after", "1h")]).await.unwrap();
    let both = f.alive("both").await.unwrap();
    assert!(both.immutable && both.lifetime_end_ms.is_none());
    // Labels apply again at every move/restore, never inherited from the old row.
    f.advance(1000);
    let plain = f.push("moving", "e", &[]).await.unwrap();
    f.reg.set_tag(&f.admin, &f.repo, &tag("keeps-plain-available"), &plain.digest).await.unwrap();
    let expiring = f.alive("short").await.unwrap().manifest_digest;
    f.reg.set_tag(&f.admin, &f.repo, &tag("moving"), &expiring).await.unwrap();
    assert_eq!(f.alive("moving").await.unwrap().lifetime_end_ms, Some(f.now() + 2 * HOUR_MS));
    f.reg.set_tag(&f.admin, &f.repo, &tag("moving"), &plain.digest).await.unwrap();
    assert_eq!(f.alive("moving").await.unwrap().lifetime_end_ms, None);
    // Manifest labels are stored with source `manifest`.
    let labels = f.reg.labels(&f.admin, &f.repo, &expiring, None).await.unwrap();
    assert_eq!(labels.len(), 1);
    assert_eq!((labels[0].key.as_str(), labels[0].source_type), ("quay.expires-after", LabelSource::Manifest));
}

async fn index_labels_need_all_children(b: Backend) {
    let f = fixture(b).await;
    let c1 = f.push_untagged("c1", &[("quay.expires-after", "1d"), ("quay.immutable", "true")]).await;
    let c2 = f.push_untagged("c2", &[("quay.expires-after", "2d")]).await;
    let idx = quayside::demo::index(&[(&c1, "amd64"), (&c2, "arm64")]);
    f.reg.put_manifest(&f.admin, &f.repo, idx, Some(&tag("multi"))).await.unwrap();
    let t = f.alive("multi").await.unwrap();
    assert!(!t.immutable, "only one child is immutable");
    assert_eq!(t.lifetime_end_ms, Some(f.now() + DAY_MS), "every child expires; the shortest wins");
    let c3 = f.push_untagged("c3", &[]).await;
    let idx2 = quayside::demo::index(&[(&c1, "amd64"), (&c3, "arm64")]);
    f.reg.put_manifest(&f.admin, &f.repo, idx2, Some(&tag("multi2"))).await.unwrap();
    assert_eq!(f.alive("multi2").await.unwrap().lifetime_end_ms, None);
    // A child the repository does not have is refused.
    let stranger = quayside::demo::image("amd64", "stranger", &[1], &[]);
    let idx3 = quayside::demo::index(&[(&c1, "amd64")]);
    let mut idx3 = idx3;
    idx3.children.push(stranger.digest);
    assert!(matches!(f.reg.put_manifest(&f.admin, &f.repo, idx3, Some(&tag("bad"))).await, Err(Error::BlobUnknown(_))));
}

async fn user_labels(b: Backend) {
    let f = fixture(b).await;
    let m = f.push("v1", "a", &[("org.opencontainers.image.source", "x")]).await.unwrap();
    let add = |k: &'static str, v: &'static str, mt: Option<&'static str>| {
        let (reg, admin, repo, d) = (f.reg.clone(), f.admin.clone(), f.repo.clone(), m.digest.clone());
        async move { reg.add_label(&admin, &repo, &d, k, v, mt).await }
    };
    for key in ["foo", "1", "git-sha", "io.quay-not-reserved-x"] {
        // `io.quay` is a plain prefix: `io.quay-…` is reserved too.
        let r = add(key, "v", None).await;
        if key.starts_with("io.quay") {
            assert_eq!(r.unwrap_err(), Error::Invalid("Label has a reserved prefix".into()));
        } else {
            r.unwrap();
        }
    }
    for key in ["", "git_sha", "-foo", "foo-", "foo--bar", "foo..bar"] {
        assert!(matches!(add(key, "v", None).await, Err(Error::Invalid(_))), "{key:?}");
    }
    for key in [
        "com.docker.x",
        "io.docker.x",
        "org.dockerproject.x",
        "org.opencontainers.x",
        "io.cncf.x",
        "io.kubernetes.x",
        "io.k8s.x",
        "io.quay.x",
        "com.coreos.x",
        "com.tectonic.x",
        "internal.x",
        "quay.x",
        "internalfoo",
        "quayside",
    ] {
        assert_eq!(add(key, "v", None).await.unwrap_err(), Error::Invalid("Label has a reserved prefix".into()), "{key}");
    }
    // Media types: inferred, given, refused.
    assert_eq!(add("obj", r#"{"a":1}"#, None).await.unwrap().media_type, "application/json");
    assert_eq!(add("arr", "[1,2]", None).await.unwrap().media_type, "application/json");
    assert_eq!(add("num", "42", None).await.unwrap().media_type, "text/plain");
    assert_eq!(add("txt", r#"{"a":1}"#, Some("text/plain")).await.unwrap().media_type, "text/plain");
    assert!(matches!(add("bad", "v", Some("image/png")).await, Err(Error::Invalid(_))));
    // Duplicate keys are allowed.
    add("foo", "second", None).await.unwrap();
    // Prefix filter, case-insensitive.
    let foos = f.reg.labels(&f.admin, &f.repo, &m.digest, Some("FO")).await.unwrap();
    assert_eq!(foos.iter().map(|l| l.value.as_str()).collect::<Vec<_>>(), ["v", "second"]);
    // Only api labels can be deleted.
    let all = f.reg.labels(&f.admin, &f.repo, &m.digest, None).await.unwrap();
    let from_manifest = all.iter().find(|l| l.source_type == LabelSource::Manifest).unwrap();
    assert_eq!(
        f.reg.delete_label(&f.admin, &f.repo, &m.digest, &from_manifest.id).await.unwrap_err(),
        Error::Invalid("Cannot delete immutable label".into())
    );
    let api = all.iter().find(|l| l.key == "git-sha").unwrap();
    f.reg.delete_label(&f.admin, &f.repo, &m.digest, &api.id).await.unwrap();
    assert!(matches!(f.reg.label(&f.admin, &f.repo, &m.digest, &api.id).await, Err(Error::NotFound(_))));
    assert!(matches!(f.reg.delete_label(&f.admin, &f.repo, &m.digest, &api.id).await, Err(Error::NotFound(_))));
    let log = f.reg.audit_log(&f.admin, &f.repo, &AuditParams { limit: Some(1), ..Default::default() }).await.unwrap();
    assert_eq!(log.items[0].action, "manifest_label_delete");
    assert_eq!(log.items[0].data["key"], "git-sha");
    assert_eq!(log.items[0].data["manifest_digest"], m.digest.as_str());
}

async fn users_cannot_add_behaviour_labels(b: Backend) {
    // `quay` is a reserved prefix for user-added labels: behaviour labels come only from images.
    let f = fixture(b).await;
    let m = f.push("v1", "a", &[]).await.unwrap();
    assert_eq!(
        f.reg.add_label(&f.admin, &f.repo, &m.digest, "quay.expires-after", "1h", None).await.unwrap_err(),
        Error::Invalid("Label has a reserved prefix".into())
    );
    assert_eq!(f.alive("v1").await.unwrap().lifetime_end_ms, None);
}

async fn delete_manifest_is_all_or_nothing(b: Backend) {
    let f = fixture(b).await;
    let m = f.push("a", "m", &[]).await.unwrap();
    f.reg.set_tag(&f.admin, &f.repo, &tag("b"), &m.digest).await.unwrap();
    f.reg.set_tag(&f.admin, &f.repo, &tag("c"), &m.digest).await.unwrap();
    f.reg.set_immutable(&f.admin, &f.repo, &tag("b"), true).await.unwrap();
    let err = f.reg.delete_manifest_tags(&f.admin, &f.repo, &m.digest).await.unwrap_err();
    assert_eq!(err, Error::TagImmutable("Cannot delete immutable tag 'b'".into()));
    for t in ["a", "b", "c"] {
        assert!(f.alive(t).await.is_some(), "{t} must survive the refused delete");
    }
    f.reg.set_immutable(&f.admin, &f.repo, &tag("b"), false).await.unwrap();
    assert_eq!(f.reg.delete_manifest_tags(&f.admin, &f.repo, &m.digest).await.unwrap(), 3);
    for t in ["a", "b", "c"] {
        assert!(f.alive(t).await.is_none());
    }
}

async fn concurrent_retargets_leave_one_alive_row(b: Backend) {
    let f = fixture(b).await;
    let mut digests = Vec::new();
    for i in 0..5 {
        digests.push(f.push(&format!("seed{i}"), &format!("s{i}"), &[]).await.unwrap().digest);
    }
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let (reg, admin, repo, d) = (f.reg.clone(), f.admin.clone(), f.repo.clone(), digests[i % 5].clone());
            tokio::spawn(async move { reg.set_tag(&admin, &repo, &tag("hot"), &d).await })
        })
        .collect();
    for t in futures::future::join_all(tasks).await {
        t.expect("task").expect("every retarget succeeds");
    }
    let rows: Vec<_> = f.all_rows().await.into_iter().filter(|r| r.name == "hot").collect();
    assert_eq!(rows.len(), 50);
    // Checked on the rows themselves, not through the alive query: exactly one has no end.
    assert_eq!(rows.iter().filter(|r| r.is_alive(f.now())).count(), 1);
    assert!(f.alive("hot").await.is_some());
    let moves = f.actions().await.iter().filter(|a| *a == "move_tag").count();
    assert_eq!(moves, 49);
}

async fn refused_push_leaves_nothing_behind(b: Backend) {
    let f = fixture(b).await;
    f.push("v1", "a", &[]).await.unwrap();
    f.reg.set_immutable(&f.admin, &f.repo, &tag("v1"), true).await.unwrap();
    let before = f.actions().await.len();
    let new = quayside::demo::image("amd64", "never", &[1], &[("foo", "bar")]);
    let digest = new.digest.clone();
    assert!(matches!(f.reg.put_manifest(&f.admin, &f.repo, new, Some(&tag("v1"))).await, Err(Error::TagImmutable(_))));
    // The manifest row, its labels and the audit record were one transaction: all rolled back.
    assert!(matches!(f.reg.manifest(&f.admin, &f.repo, &digest).await, Err(Error::NotFound(_))));
    assert_eq!(f.actions().await.len(), before);
    assert_eq!(f.all_rows().await.len(), 1);
}

async fn read_only_repository_refuses_changes(b: Backend) {
    let f = fixture(b).await;
    let m = f.push("v1", "a", &[]).await.unwrap();
    f.reg.set_repository_state(&f.admin, &f.repo, RepoState::ReadOnly).await.unwrap();
    assert_eq!(f.reg.delete_tag(&f.admin, &f.repo, &tag("v1")).await.unwrap_err(), Error::ReadOnly);
    assert_eq!(f.push("v2", "b", &[]).await.unwrap_err(), Error::ReadOnly);
    assert_eq!(f.reg.add_label(&f.admin, &f.repo, &m.digest, "k", "v", None).await.unwrap_err(), Error::ReadOnly);
    assert_eq!(Error::ReadOnly.to_string(), "Repository is in read only or mirror mode");
    // Reads still work.
    assert_eq!(f.all_rows().await.len(), 1);
    f.reg.set_repository_state(&f.admin, &f.repo, RepoState::Normal).await.unwrap();
    f.reg.delete_tag(&f.admin, &f.repo, &tag("v1")).await.unwrap();
}

async fn private_repository_needs_credentials(b: Backend) {
    let f = fixture(b).await;
    f.push("v1", "a", &[]).await.unwrap();
    let anon = Caller::anonymous();
    assert_eq!(f.reg.tag_history(&anon, &f.repo, &HistoryParams::default()).await.unwrap_err(), Error::Unauthorized);
    assert_eq!(f.reg.delete_tag(&anon, &f.repo, &tag("v1")).await.unwrap_err(), Error::Unauthorized);
    let public = RepoPath::parse("acme/public").unwrap();
    f.reg.create_repository(&f.admin, &public, Visibility::Public, "").await.unwrap();
    assert!(f.reg.tag_history(&anon, &public, &HistoryParams::default()).await.is_ok());
    assert_eq!(f.reg.delete_tag(&anon, &public, &tag("v1")).await.unwrap_err(), Error::Unauthorized);
    let listed = f.reg.list_repositories(&anon, Default::default()).await.unwrap();
    assert_eq!(listed.items.iter().map(|r| r.path.to_string()).collect::<Vec<_>>(), ["acme/public"]);
}

async fn time_machine_window_choices(b: Backend) {
    let f = fixture(b).await;
    let ns = NamespaceName::parse("acme").unwrap();
    for s in [0, 86_400, 604_800, 1_209_600, 2_419_200] {
        f.reg.set_time_machine(&f.admin, &ns, s).await.unwrap();
    }
    assert!(matches!(f.reg.set_time_machine(&f.admin, &ns, 3600).await, Err(Error::Invalid(_))));
    let missing = NamespaceName::parse("nobody").unwrap();
    assert!(matches!(f.reg.set_time_machine(&f.admin, &missing, 0).await, Err(Error::NotFound(_))));
}

async fn repository_list_filters_and_pages(b: Backend) {
    let f = fixture(b).await;
    for name in ["acme/web", "acme/tools/builder", "library/alpine", "other/x_y"] {
        f.reg.create_repository(&f.admin, &RepoPath::parse(name).unwrap(), Visibility::Public, "").await.unwrap();
    }
    assert!(matches!(
        f.reg.create_repository(&f.admin, &RepoPath::parse("acme/web").unwrap(), Visibility::Public, "").await,
        Err(Error::Conflict(_))
    ));
    f.push("v1", "a", &[]).await.unwrap();
    f.push("v2", "b", &[]).await.unwrap();
    let list = |filter: Option<&str>, page: u32, limit: u32| {
        let q = registry::store::RepositoryQuery { filter: filter.map(String::from), page, limit, ..Default::default() };
        let (reg, admin) = (f.reg.clone(), f.admin.clone());
        async move { reg.list_repositories(&admin, q).await.unwrap() }
    };
    let all = list(None, 1, 100).await;
    assert_eq!(
        all.items.iter().map(|r| r.path.to_string()).collect::<Vec<_>>(),
        ["acme/app", "acme/tools/builder", "acme/web", "library/alpine", "other/x_y"]
    );
    assert_eq!(all.items[0].tag_count, 2);
    assert_eq!(all.items[0].last_modified_ms, T0);
    let acme = list(Some("ACME/"), 1, 2).await;
    assert_eq!(acme.items.len(), 2);
    assert!(acme.has_additional);
    assert_eq!(list(Some("acme/"), 2, 2).await.items.len(), 1);
    assert_eq!(list(Some("_"), 1, 100).await.items.iter().map(|r| r.path.to_string()).collect::<Vec<_>>(), ["other/x_y"], "_ is literal");
}

async fn tag_name_lists_follow_every_change(b: Backend) {
    // The /v2 list is cached per repository version; every change and every expiry must show.
    let f = fixture(b).await;
    let names = |last: Option<&'static str>, n: Option<u32>| {
        let (reg, admin, repo) = (f.reg.clone(), f.admin.clone(), f.repo.clone());
        async move {
            let (names, more) = reg.tag_names(&admin, &repo, last, n).await.unwrap();
            (names.as_ref().clone(), more)
        }
    };
    f.push("b", "b", &[]).await.unwrap();
    f.push("a", "a", &[]).await.unwrap();
    assert_eq!(names(None, None).await, (vec!["a".to_owned(), "b".to_owned()], false));
    f.push("c", "c", &[("quay.expires-after", "1h")]).await.unwrap();
    assert_eq!(names(None, None).await.0, ["a", "b", "c"]);
    assert_eq!(names(None, Some(2)).await, (vec!["a".to_owned(), "b".to_owned()], true));
    assert_eq!(names(Some("b"), Some(2)).await, (vec!["c".to_owned()], false));
    f.advance(HOUR_MS);
    assert_eq!(names(None, None).await.0, ["a", "b"], "an expired tag leaves the list without any write");
    f.reg.delete_tag(&f.admin, &f.repo, &tag("a")).await.unwrap();
    assert_eq!(names(None, None).await.0, ["b"]);
    let b_digest = f.alive("b").await.unwrap().manifest_digest;
    f.reg.set_tag(&f.admin, &f.repo, &tag("d"), &b_digest).await.unwrap();
    assert_eq!(names(None, None).await.0, ["b", "d"]);
}

async fn one_tags_changes_are_one_transaction(b: Backend) {
    let f = fixture(b).await;
    let a = f.push("v1", "a", &[]).await.unwrap();
    f.push("v2", "b", &[]).await.unwrap();
    let later = Some((f.now() + DAY_MS) / 1000);
    // Expiration, then immutability: the second is refused (SPEC §2.9), so the first is undone.
    let err =
        f.reg.update_tag(&f.admin, &f.repo, &tag("v1"), &[TagChange::Expiration(later), TagChange::Immutable(true)]).await.unwrap_err();
    assert!(matches!(&err, Error::Invalid(m) if m.contains("has expiration set")), "{err:?}");
    let v1 = f.alive("v1").await.unwrap();
    assert_eq!((v1.lifetime_end_ms, v1.immutable, v1.manifest_digest.as_str()), (None, false, a.digest.as_str()));
    assert!(!f.actions().await.iter().any(|a| a == "change_tag_expiration"), "nothing of the refused update is recorded");
    // Both keys that agree are applied together.
    let other = f.alive("v2").await.unwrap().manifest_digest;
    f.reg.update_tag(&f.admin, &f.repo, &tag("v1"), &[TagChange::Move(other.to_string()), TagChange::Immutable(true)]).await.unwrap();
    let v1 = f.alive("v1").await.unwrap();
    assert_eq!((v1.immutable, v1.manifest_digest.as_str()), (true, other.as_str()));
}

fn change(t: &str, change: TagChange) -> TagChangeRequest {
    TagChangeRequest::new(t, change)
}

async fn batch_all_or_nothing(b: Backend) {
    let f = fixture(b).await;
    let a = f.push("a", "a", &[]).await.unwrap();
    f.push("b", "b", &[]).await.unwrap();
    f.push("locked", "c", &[]).await.unwrap();
    f.reg.set_immutable(&f.admin, &f.repo, &tag("locked"), true).await.unwrap();
    let before = f.all_rows().await;
    let audit_before = f.actions().await.len();
    f.advance(1000);
    let batch = [
        change("a", TagChange::Delete),
        change("b", TagChange::Immutable(true)),
        change("locked", TagChange::Delete),
        change("-bad", TagChange::Delete),
        change("missing", TagChange::Delete),
    ];
    let out = f.reg.change_tags(&f.admin, &f.repo, &batch, true).await.unwrap();
    assert!(!out.applied);
    let errors: Vec<_> = out.results.iter().map(|r| (r.tag.as_str(), r.error.clone())).collect();
    assert_eq!(
        errors,
        vec![
            ("a", None),
            ("b", None),
            ("locked", Some(Error::TagImmutable("Cannot delete immutable tag 'locked'".into()))),
            ("-bad", Some(Error::Invalid(registry::NameError::Tag.to_string()))),
            ("missing", Some(Error::NotFound("Tag 'missing' not found".into()))),
        ]
    );
    assert_eq!(f.all_rows().await, before, "a refused batch changes nothing");
    assert_eq!(f.actions().await.len(), audit_before, "and records nothing");

    // Without the failing changes the same batch is stored whole.
    let out = f.reg.change_tags(&f.admin, &f.repo, &batch[..2], true).await.unwrap();
    assert!(out.applied && out.failures() == 0);
    assert!(f.alive("a").await.is_none());
    assert!(f.alive("b").await.unwrap().immutable);
    // Restore in a batch: back to the deleted digest, as a reversion.
    f.advance(1000);
    let out = f.reg.change_tags(&f.admin, &f.repo, &[change("a", TagChange::Restore(a.digest.to_string()))], true).await.unwrap();
    assert!(out.applied);
    let restored = f.alive("a").await.unwrap();
    assert!(restored.reversion && restored.manifest_digest == a.digest);
}

async fn batch_each_on_its_own(b: Backend) {
    let f = fixture(b).await;
    f.push("a", "a", &[]).await.unwrap();
    f.push("b", "b", &[]).await.unwrap();
    f.push("c", "c", &[]).await.unwrap();
    f.reg.set_immutable(&f.admin, &f.repo, &tag("b"), true).await.unwrap();
    let later = Some((f.now() + DAY_MS) / 1000);
    let batch = [
        change("a", TagChange::Expiration(later)),
        change("b", TagChange::Delete),
        change("c", TagChange::Immutable(true)),
        change("b", TagChange::Immutable(false)),
    ];
    // A writer: the unlock needs admin (403) and the locked delete is 409; the rest is stored.
    let dev = f.user("dev", Role::Write).await;
    let out = f.reg.change_tags(&dev, &f.repo, &batch, false).await.unwrap();
    assert!(out.applied);
    let failed: Vec<_> = out.results.iter().filter_map(|r| r.error.as_ref().map(|e| (r.tag.as_str(), e.clone()))).collect();
    assert_eq!(failed.len(), 2, "{failed:?}");
    assert!(matches!(failed[0], ("b", Error::TagImmutable(_))));
    assert!(matches!(failed[1], ("b", Error::Forbidden(_))));
    assert!(f.alive("a").await.unwrap().lifetime_end_ms.is_some());
    assert!(f.alive("b").await.unwrap().immutable);
    assert!(f.alive("c").await.unwrap().immutable);

    // Refusals of the whole repository are not per tag: no write, nothing tried.
    let reader = f.user("reader", Role::Read).await;
    assert!(matches!(f.reg.change_tags(&reader, &f.repo, &batch, false).await, Err(Error::Forbidden(_))));
    assert_eq!(f.reg.change_tags(&f.admin, &f.repo, &[], false).await.unwrap_err(), Error::invalid("A batch needs at least one change"));
    let huge: Vec<_> = (0..=registry::MAX_BATCH).map(|i| change(&format!("t{i}"), TagChange::Delete)).collect();
    assert!(matches!(f.reg.change_tags(&f.admin, &f.repo, &huge, true).await, Err(Error::Invalid(_))));
}

async fn permanent_expiry(b: Backend) {
    // Off by default: refused even for an admin.
    let f = fixture(b).await;
    let a = f.push("v1", "a", &[]).await.unwrap();
    f.advance(1000);
    f.push("v1", "b", &[]).await.unwrap();
    assert!(matches!(f.reg.expire_tag_permanently(&f.admin, &f.repo, &tag("v1"), &a.digest, false).await, Err(Error::Forbidden(_))));

    let f = fixture_with(b, Config { allow_permanent_expiry: true, ..Config::default() }).await;
    let a = f.push("v1", "a", &[]).await.unwrap();
    f.advance(1000);
    let bm = f.push("v1", "b", &[]).await.unwrap();
    let writer = f.user("dev", Role::Write).await;
    assert!(matches!(f.reg.expire_tag_permanently(&writer, &f.repo, &tag("v1"), &a.digest, false).await, Err(Error::Forbidden(_))));
    // The ended row on `a` leaves the window; the alive row on `b` is untouched.
    assert_eq!(f.reg.expire_tag_permanently(&f.admin, &f.repo, &tag("v1"), &a.digest, false).await.unwrap(), 1);
    let window = f.reg.time_machine_of(&f.admin, &f.repo).await.unwrap();
    let rows = f.all_rows().await;
    let old = rows.iter().find(|r| r.manifest_digest == a.digest).unwrap();
    assert!(old.restorable_until(window).unwrap() < f.now(), "no longer restorable");
    assert_eq!(f.alive("v1").await.unwrap().manifest_digest, bm.digest);
    assert!(matches!(f.reg.expire_tag_permanently(&f.admin, &f.repo, &tag("v1"), &a.digest, false).await, Err(Error::NotFound(_))));
    // An alive tag: only with include_alive, and never an immutable one.
    assert!(matches!(f.reg.expire_tag_permanently(&f.admin, &f.repo, &tag("v1"), &bm.digest, false).await, Err(Error::NotFound(_))));
    f.reg.set_immutable(&f.admin, &f.repo, &tag("v1"), true).await.unwrap();
    assert!(matches!(f.reg.expire_tag_permanently(&f.admin, &f.repo, &tag("v1"), &bm.digest, true).await, Err(Error::TagImmutable(_))));
    f.reg.set_immutable(&f.admin, &f.repo, &tag("v1"), false).await.unwrap();
    f.advance(1000);
    assert_eq!(f.reg.expire_tag_permanently(&f.admin, &f.repo, &tag("v1"), &bm.digest, true).await.unwrap(), 1);
    assert!(f.alive("v1").await.is_none());
    assert!(f.actions().await.iter().any(|a| a == "expire_tag_permanently"));
}

/// Uploads a (pretend) blob to the fixture's repository: a link and a blob row.
async fn upload(f: &Fixture, seed: &str) -> Digest {
    let digest = quayside::v2::manifest::sha256_digest(seed.as_bytes());
    let id = f.reg.start_upload(&f.admin, &f.repo).await.unwrap();
    f.reg.complete_upload(&f.admin, &f.repo, Some(&id), &digest, 100).await.unwrap();
    digest
}

fn gc_opts(dry_run: bool) -> GcOptions {
    GcOptions { dry_run, grace_ms: HOUR_MS, upload_max_age_ms: DAY_MS }
}

async fn garbage_collection_keeps_what_is_referenced(b: Backend) {
    let f = fixture(b).await;
    let sys = Caller::system();
    let (used, unused) = (upload(&f, "layer-used").await, upload(&f, "layer-unused").await);
    let mut image = quayside::demo::image("amd64", "keep", &[100], &[]);
    image.blobs = vec![used.clone()];
    let keep = f.reg.put_manifest(&f.admin, &f.repo, image, Some(&tag("keep"))).await.unwrap();
    let old = f.push("old", "old", &[]).await.unwrap();
    let loose = f.push_untagged("loose", &[]).await;
    let (c1, c2) = (f.push_untagged("c1", &[]).await, f.push_untagged("c2", &[]).await);
    let multi =
        f.reg.put_manifest(&f.admin, &f.repo, quayside::demo::index(&[(&c1, "amd64"), (&c2, "arm64")]), Some(&tag("multi"))).await.unwrap();
    let mut referrer = quayside::demo::image("amd64", "signature", &[10], &[]);
    referrer.subject = Some(keep.digest.clone());
    let referrer = f.reg.put_manifest(&f.admin, &f.repo, referrer, None).await.unwrap();
    let abandoned = f.reg.start_upload(&f.admin, &f.repo).await.unwrap();
    f.reg.delete_tag(&f.admin, &f.repo, &tag("old")).await.unwrap();
    f.reg.delete_tag(&f.admin, &f.repo, &tag("multi")).await.unwrap();

    // Only admins of the whole server collect.
    assert!(f.reg.collect_garbage(&f.user("boss", Role::Admin).await, &gc_opts(true)).await.is_err());
    // Within the grace period nothing goes, not even the untagged manifest and the unused blob.
    let r = f.reg.collect_garbage(&sys, &gc_opts(false)).await.unwrap();
    assert_eq!((r.tag_rows, r.manifests.len(), r.blob_links, r.blobs.len(), r.uploads.len()), (0, 0, 0, 0, 0), "{r:?}");

    // A day later: the untagged manifest, the unused blob and the abandoned upload go; the
    // deleted tags are still in the time machine (two weeks), so their manifests stay.
    f.advance(DAY_MS + 1);
    let dry = f.reg.collect_garbage(&sys, &gc_opts(true)).await.unwrap();
    let r = f.reg.collect_garbage(&sys, &gc_opts(false)).await.unwrap();
    assert_eq!(
        (dry.manifests.clone(), dry.blobs.clone(), dry.uploads.clone()),
        (r.manifests.clone(), r.blobs.clone(), r.uploads.clone()),
        "the dry run saw what the pass did"
    );
    let digests: Vec<_> = r.manifests.iter().map(|(_, d)| d.clone()).collect();
    assert_eq!(digests, vec![loose.digest.clone()]);
    assert_eq!(r.blobs, vec![(unused.clone(), 100)]);
    assert_eq!(r.uploads, vec![abandoned]);
    assert_eq!(r.blob_links, 1);
    let stored = |d: Digest| {
        let (reg, repo) = (f.reg.clone(), f.repo.clone());
        async move { reg.manifest(&Caller::system(), &repo, &d).await.is_ok() }
    };
    assert!(!stored(loose.digest.clone()).await);
    assert!(stored(old.digest.clone()).await && stored(multi.digest.clone()).await && stored(c1.digest.clone()).await);
    assert!(stored(referrer.digest.clone()).await, "a referrer of a kept manifest stays");
    // The deleted tags can still be restored.
    f.reg.restore_tag(&f.admin, &f.repo, &tag("old"), &old.digest).await.unwrap();
    f.reg.delete_tag(&f.admin, &f.repo, &tag("old")).await.unwrap();

    // Past the window: the rows go, then the manifests only they kept, then the index's children.
    f.advance(15 * DAY_MS);
    let r = f.reg.collect_garbage(&sys, &gc_opts(false)).await.unwrap();
    assert_eq!(r.tag_rows, 3, "old (twice) and multi");
    let mut gone: Vec<_> = r.manifests.iter().map(|(_, d)| d.clone()).collect();
    gone.sort();
    let mut expected = vec![old.digest.clone(), multi.digest.clone(), c1.digest.clone(), c2.digest.clone()];
    expected.sort();
    assert_eq!(gone, expected);
    assert!(stored(keep.digest.clone()).await && stored(referrer.digest.clone()).await);
    assert!(f.reg.blob_size(&f.admin, &f.repo, &used).await.is_ok(), "a blob the alive tag's manifest uses stays");
    assert_eq!(f.alive("keep").await.unwrap().manifest_digest, keep.digest);

    // Once the subject goes, so does its referrer.
    f.reg.delete_tag(&f.admin, &f.repo, &tag("keep")).await.unwrap();
    f.advance(15 * DAY_MS);
    let r = f.reg.collect_garbage(&sys, &gc_opts(false)).await.unwrap();
    let gone: Vec<_> = r.manifests.iter().map(|(_, d)| d.clone()).collect();
    assert_eq!(gone, vec![keep.digest.clone(), referrer.digest.clone()]);
    assert_eq!(r.blobs, vec![(used, 100)]);
    // Nothing is left to collect.
    let r = f.reg.collect_garbage(&sys, &gc_opts(false)).await.unwrap();
    assert_eq!((r.tag_rows, r.manifests.len(), r.blob_links, r.blobs.len()), (0, 0, 0, 0));
}

/// Blob files as garbage collection sees them, recording what it removes.
#[derive(Default)]
struct RecordedFiles(std::sync::Mutex<Vec<Digest>>);

impl RecordedFiles {
    fn removed(&self) -> Vec<Digest> {
        self.0.lock().unwrap().clone()
    }
}

#[async_trait::async_trait]
impl BlobFiles for RecordedFiles {
    async fn exists(&self, _: &Digest) -> Result<bool> {
        Ok(true)
    }
    async fn remove(&self, digest: &Digest) -> Result<()> {
        self.0.lock().unwrap().push(digest.clone());
        Ok(())
    }
    async fn remove_upload(&self, _: &str) -> Result<()> {
        Ok(())
    }
    async fn stale_upload_files(&self, _: Millis) -> Result<Vec<String>> {
        Ok(Vec::new())
    }
    async fn verify(&self, _: &Digest, _: i64) -> Result<BlobHealth> {
        Ok(BlobHealth::Ok)
    }
}

/// Makes the database itself refuse to delete the rows of `table` that match `when` (a condition
/// on `OLD`): a real database error, raised in the middle of a garbage collection pass.
async fn refuse_deletes(f: &Fixture, b: Backend, table: &str, when: &str) {
    use sqlx::{Connection, Executor};
    let mut db = sqlx::AnyConnection::connect(&f.url).await.unwrap();
    let statements = match b {
        Backend::Sqlite => vec![format!(
            "CREATE TRIGGER refuse_{table} BEFORE DELETE ON {table} FOR EACH ROW WHEN {when} BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
        )],
        Backend::Postgres => vec![
            "CREATE OR REPLACE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$"
                .to_owned(),
            format!("CREATE TRIGGER refuse_{table} BEFORE DELETE ON {table} FOR EACH ROW WHEN ({when}) EXECUTE FUNCTION refuse()"),
        ],
    };
    for statement in statements {
        db.execute(statement.as_str()).await.unwrap();
    }
    db.close().await.ok();
}

async fn allow_deletes(f: &Fixture, b: Backend, table: &str) {
    use sqlx::{Connection, Executor};
    let mut db = sqlx::AnyConnection::connect(&f.url).await.unwrap();
    let on = if matches!(b, Backend::Postgres) { format!(" ON {table}") } else { String::new() };
    db.execute(format!("DROP TRIGGER refuse_{table}{on}").as_str()).await.unwrap();
    db.close().await.ok();
}

/// A database error stops a pass where it happens: the step's transaction rolls back, no file
/// goes whose row still exists, and nothing after it is touched. The next pass finishes the work.
async fn garbage_collection_stops_on_a_database_error(b: Backend) {
    use registry::store::Store as _;
    let f = fixture(b).await;
    let files = Arc::new(RecordedFiles::default());
    let reg = f.reg.clone().with_blob_files(files.clone());
    let sys = Caller::system();
    let mut unused = vec![upload(&f, "unused-1").await, upload(&f, "unused-2").await, upload(&f, "unused-3").await];
    unused.sort();
    let loose = f.push_untagged("loose", &[]).await;
    f.advance(DAY_MS + 1);
    let manifest_stored = || async { f.reg.manifest(&sys, &f.repo, &loose.digest).await.is_ok() };
    let blob_rows =
        || async { f.store.blobs_after(None, 100).await.unwrap().into_iter().map(|b| (b.digest, b.in_use)).collect::<Vec<_>>() };

    // The manifest's deletion fails: the repository's step rolls back whole (the blob links it
    // would have removed stay) and the pass stops before any blob.
    refuse_deletes(&f, b, "manifest", "1 = 1").await;
    assert!(matches!(reg.collect_garbage(&sys, &gc_opts(false)).await, Err(Error::Storage)));
    assert!(manifest_stored().await, "the manifest stays");
    assert_eq!(blob_rows().await, unused.iter().map(|d| (d.clone(), true)).collect::<Vec<_>>(), "every blob stays linked");
    assert!(files.removed().is_empty(), "no file goes");
    allow_deletes(&f, b, "manifest").await;

    // The second blob's deletion fails: the first went (row, then file, then commit); the second
    // keeps its row and its file; the third is not reached.
    refuse_deletes(&f, b, "blob", &format!("OLD.digest = '{}'", unused[1])).await;
    assert!(matches!(reg.collect_garbage(&sys, &gc_opts(false)).await, Err(Error::Storage)));
    assert!(!manifest_stored().await, "the repository's step committed before the blobs");
    assert_eq!(files.removed(), vec![unused[0].clone()]);
    assert_eq!(blob_rows().await, vec![(unused[1].clone(), false), (unused[2].clone(), false)]);
    allow_deletes(&f, b, "blob").await;

    // With the database healthy, the next pass takes the rest.
    let r = reg.collect_garbage(&sys, &gc_opts(false)).await.unwrap();
    assert_eq!(r.blobs, vec![(unused[1].clone(), 100), (unused[2].clone(), 100)]);
    assert_eq!(files.removed(), unused);
    assert!(blob_rows().await.is_empty());
}

async fn namespace_policies_cover_every_repository(b: Backend) {
    let f = fixture(b).await;
    let acme = NamespaceName::parse("acme").unwrap();
    let other = RepoPath::parse("acme/other").unwrap();
    f.reg.create_repository(&f.admin, &other, Visibility::Private, "").await.unwrap();
    f.push("v1", "a", &[]).await.unwrap();
    f.push("dev", "b", &[]).await.unwrap();
    f.reg.put_manifest(&f.admin, &other, quayside::demo::image("amd64", "c", &[10], &[]), Some(&tag("v2"))).await.unwrap();
    // A repository admin is not a namespace admin.
    let boss = f.user("boss", Role::Admin).await;
    assert!(matches!(f.reg.add_namespace_policy(&boss, &acme, "v.*", true).await, Err(Error::Forbidden(_))));
    assert!(matches!(f.reg.add_namespace_policy(&f.admin, &acme, "(", true).await, Err(Error::Invalid(_))));
    // The preview names every repository's tags it would mark; saving marks exactly those.
    let preview = f.reg.preview_namespace_policy(&f.admin, &acme, "v.*", true).await.unwrap();
    assert_eq!(preview, ["acme/app:v1", "acme/other:v2"]);
    let policy = f.reg.add_namespace_policy(&f.admin, &acme, "v.*", true).await.unwrap();
    assert!(f.alive("v1").await.unwrap().immutable && !f.alive("dev").await.unwrap().immutable);
    let alive_in_other = |t: &'static str| {
        let (reg, other) = (f.reg.clone(), other.clone());
        async move {
            let p = HistoryParams { only_active: true, specific_tag: Some(t.into()), ..Default::default() };
            reg.tag_history(&Caller::system(), &other, &p).await.unwrap().items[0].tag.clone()
        }
    };
    assert!(alive_in_other("v2").await.immutable);
    // It covers repositories and pushes that come later, and is listed for the namespace.
    let later = RepoPath::parse("acme/later").unwrap();
    f.reg.create_repository(&f.admin, &later, Visibility::Private, "").await.unwrap();
    f.reg.put_manifest(&f.admin, &later, quayside::demo::image("amd64", "d", &[10], &[]), Some(&tag("v3"))).await.unwrap();
    let p = HistoryParams { only_active: true, ..Default::default() };
    assert!(f.reg.tag_history(&f.admin, &later, &p).await.unwrap().items[0].tag.immutable);
    assert_eq!(f.reg.namespace_policies(&f.admin, &acme).await.unwrap(), vec![policy.clone()]);
    assert!(f.reg.repository_policies(&f.admin, &f.repo).await.unwrap().contains(&policy), "repositories see it");
    // Only the namespace deletes it; the tags it marked stay marked.
    assert!(matches!(f.reg.delete_repository_policy(&f.admin, &f.repo, &policy.id).await, Err(Error::NotFound(_))));
    f.reg.delete_namespace_policy(&f.admin, &acme, &policy.id).await.unwrap();
    assert!(f.alive("v1").await.unwrap().immutable);
    f.push("v4", "e", &[]).await.unwrap();
    assert!(!f.alive("v4").await.unwrap().immutable);
    assert!(
        f.actions().await.iter().filter(|a| *a == "create_immutability_policy").count() == 0,
        "namespace records are not the repository's"
    );
}

/// Organization members on both backends: roles, the last admin kept, concurrent step-downs of
/// the only two admins leave one.
async fn organization_members_keep_an_admin(b: Backend) {
    let f = fixture(b).await;
    let sys = Caller::system();
    let acme = NamespaceName::parse("acme").unwrap();
    let (alice, _) = f.account("alice", false).await;
    f.account("bob", false).await;
    f.reg.set_org_member(&sys, &acme, "alice", OrgRole::Admin).await.unwrap();
    f.reg.set_org_member(&sys, &acme, "bob", OrgRole::Member).await.unwrap();
    let members = f.reg.org_members(&alice, &acme).await.unwrap();
    assert_eq!(
        members,
        vec![OrgMember { user: "alice".into(), role: OrgRole::Admin }, OrgMember { user: "bob".into(), role: OrgRole::Member }]
    );
    assert!(matches!(f.reg.remove_org_member(&alice, &acme, "alice").await, Err(Error::Conflict(_))));
    f.reg.set_org_member(&alice, &acme, "bob", OrgRole::Admin).await.unwrap();
    // Both admins step down at once: one of them stays.
    let bob = f.signed_in("bob").await;
    let (a, b2) = tokio::join!(f.reg.remove_org_member(&alice, &acme, "alice"), f.reg.remove_org_member(&bob, &acme, "bob"));
    assert!(a.is_ok() != b2.is_ok(), "exactly one leaves: {a:?} {b2:?}");
    let left = f.reg.org_members(&sys, &acme).await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].role, OrgRole::Admin);
    assert!(!f.actions().await.iter().any(|a| a.starts_with("org_")), "membership records are the namespace's, not the repository's");
}

/// A policy's pattern can be changed: what the new pattern covers is marked, what the old one
/// marked stays marked; each scope changes only its own policies.
async fn policies_can_be_changed(b: Backend) {
    let f = fixture(b).await;
    let acme = NamespaceName::parse("acme").unwrap();
    f.push("v1", "a", &[]).await.unwrap();
    f.push("dev", "b", &[]).await.unwrap();
    let p = f.reg.add_repository_policy(&f.admin, &f.repo, "v.*", true).await.unwrap();
    assert!(matches!(f.reg.update_repository_policy(&f.admin, &f.repo, &p.id, "(", true).await, Err(Error::Invalid(_))));
    let writer = f.user("writer", Role::Write).await;
    assert!(matches!(f.reg.update_repository_policy(&writer, &f.repo, &p.id, "dev", true).await, Err(Error::Forbidden(_))));
    let changed = f.reg.update_repository_policy(&f.admin, &f.repo, &p.id, "dev", true).await.unwrap();
    assert_eq!((changed.id.as_str(), changed.pattern.as_str()), (p.id.as_str(), "dev"));
    assert!(f.alive("dev").await.unwrap().immutable && f.alive("v1").await.unwrap().immutable, "new marks, old marks kept");
    assert_eq!(f.reg.repository_policies(&f.admin, &f.repo).await.unwrap(), vec![changed.clone()]);
    assert!(f.actions().await.contains(&"update_immutability_policy".to_owned()));
    // A namespace policy changes through the namespace only.
    let n = f.reg.add_namespace_policy(&f.admin, &acme, "none", true).await.unwrap();
    assert!(matches!(f.reg.update_repository_policy(&f.admin, &f.repo, &n.id, "x", true).await, Err(Error::NotFound(_))));
    assert!(matches!(f.reg.update_namespace_policy(&f.admin, &acme, &p.id, "x", true).await, Err(Error::NotFound(_))));
    f.push("rc", "c", &[]).await.unwrap();
    f.reg.update_namespace_policy(&f.admin, &acme, &n.id, "rc", true).await.unwrap();
    assert!(f.alive("rc").await.unwrap().immutable);
    assert_eq!(f.reg.namespace_policies(&f.admin, &acme).await.unwrap()[0].pattern, "rc");
}

/// The repository as of an instant: exactly the rows alive then (started at or before it, not
/// ended by it), with the usual filters and paging.
async fn history_as_of_a_time(b: Backend) {
    let f = fixture(b).await;
    f.push("v1", "a", &[]).await.unwrap();
    let t1 = f.now();
    f.advance(1000);
    let b2 = f.push("v1", "b", &[]).await.unwrap(); // moves v1
    f.push("dev", "c", &[]).await.unwrap();
    let t2 = f.now();
    f.advance(1000);
    f.reg.delete_tag(&f.admin, &f.repo, &tag("dev")).await.unwrap();
    let at = |ms: Millis, filter: Option<&str>| {
        let (reg, repo) = (f.reg.clone(), f.repo.clone());
        let filter = filter.map(str::to_owned);
        async move {
            let p = HistoryParams { as_of: Some(ms), filter, ..Default::default() };
            let mut rows: Vec<_> = reg
                .tag_history(&Caller::system(), &repo, &p)
                .await
                .unwrap()
                .items
                .into_iter()
                .map(|v| (v.tag.name.to_string(), v.tag.manifest_digest))
                .collect();
            rows.sort();
            rows
        }
    };
    let first = f.all_rows().await.into_iter().find(|r| r.name.as_str() == "v1" && r.lifetime_end_ms.is_some()).unwrap();
    assert_eq!(at(t1, None).await, vec![("v1".to_owned(), first.manifest_digest.clone())]);
    let dev = f.all_rows().await.into_iter().find(|r| r.name.as_str() == "dev").unwrap();
    assert_eq!(at(t2, None).await, vec![("dev".to_owned(), dev.manifest_digest.clone()), ("v1".to_owned(), b2.digest.clone())]);
    assert_eq!(at(t2, Some("like:de")).await.len(), 1);
    assert_eq!(at(f.now(), None).await, vec![("v1".to_owned(), b2.digest.clone())], "now: what is alive");
    assert!(at(T0 - 1, None).await.is_empty(), "before anything was pushed");
    // What people type: a UTC date and time, RFC 3339, Unix seconds; anything else is refused.
    assert_eq!(HistoryParams::instant("2026-01-01T00:00").unwrap(), Some(T0));
    assert_eq!(HistoryParams::instant("2026-01-01T01:00:00+01:00").unwrap(), Some(T0));
    assert_eq!(HistoryParams::instant(&(T0 / 1000).to_string()).unwrap(), Some(T0));
    assert_eq!(HistoryParams::instant(" ").unwrap(), None);
    assert!(matches!(HistoryParams::instant("yesterday"), Err(Error::Invalid(_))));
}

/// The store's links (a row's predecessor and successor) read the same events as the reference
/// reading of the whole history; expire and delete are told apart; one tag's history, and a page of
/// two, reads the same.
async fn history_pages_follow_every_change(b: Backend) {
    // The History page is cached per repository version (its rows do not change with the clock):
    // every change, made here or by another instance sharing the database, and every end that
    // passes must show, exactly as an uncached reading of the rows says.
    let f = fixture(b).await;
    let other = Registry::new(Arc::new(f.store.clone()), f.clock.clone(), Default::default());
    let params = HistoryParams { limit: Some(3), ..Default::default() };
    let page_one = || {
        let (reg, repo, p) = (f.reg.clone(), f.repo.clone(), params.clone());
        async move { reg.tag_listing(&Caller::system(), &repo, &p).await.unwrap().rows }
    };
    // The reference: a reading by a new instance (its cache empty), checked itself against the
    // rows' reference events in `history_reads_as_events`.
    let check = |page: Page<HistoryRow>, step: &'static str| {
        let (store, clock, repo, p) = (f.store.clone(), f.clock.clone(), f.repo.clone(), params.clone());
        async move {
            let fresh = Registry::new(Arc::new(store), clock, Default::default());
            let uncached = fresh.tag_listing(&Caller::system(), &repo, &p).await.unwrap().rows;
            assert_eq!(page, uncached, "{step}");
        }
    };
    let a = f.push("latest", "a", &[]).await.unwrap();
    check(page_one().await, "a push").await;
    check(page_one().await, "the same page again (served from the cache)").await;
    f.advance(1000);
    f.push("latest", "b", &[]).await.unwrap();
    check(page_one().await, "a move").await;
    f.advance(1000);
    // Another instance: only the database tells this one.
    other.restore_tag(&f.admin, &f.repo, &tag("latest"), &a.digest).await.unwrap();
    check(page_one().await, "a restore by another instance").await;
    other.set_immutable(&f.admin, &f.repo, &tag("latest"), true).await.unwrap();
    let page = page_one().await;
    assert!(page.items[0].view.tag.immutable, "a lock by another instance shows");
    check(page, "a lock").await;
    other.set_immutable(&f.admin, &f.repo, &tag("latest"), false).await.unwrap();
    f.push("beta", "c", &[]).await.unwrap();
    other.set_expiration(&f.admin, &f.repo, &tag("beta"), Some((f.now() + HOUR_MS) / 1000)).await.unwrap();
    check(page_one().await, "an expiration set").await;
    // No write at all: the clock passes the end, and the page shows the expiry.
    f.advance(2 * HOUR_MS);
    let page = page_one().await;
    assert!(page.items[0].events.iter().any(|e| e.kind == registry::rules::HistoryEventKind::Expire), "{:?}", page.items[0]);
    check(page, "an expiry with no write").await;
    other.delete_tag(&f.admin, &f.repo, &tag("latest")).await.unwrap();
    check(page_one().await, "a delete by another instance").await;
}

async fn history_reads_as_events(b: Backend) {
    use registry::rules::{history_events, HistoryEventKind as K};
    let f = fixture(b).await;
    let a = f.push("latest", "a", &[]).await.unwrap();
    f.advance(1000);
    let bm = f.push("latest", "b", &[]).await.unwrap(); // a move
    f.advance(1000);
    f.reg.restore_tag(&f.admin, &f.repo, &tag("latest"), &a.digest).await.unwrap(); // a revert
    f.advance(1000);
    f.reg.delete_tag(&f.admin, &f.repo, &tag("latest")).await.unwrap();
    f.push("beta", "c", &[]).await.unwrap();
    f.reg.set_expiration(&f.admin, &f.repo, &tag("beta"), Some((f.now() + 2 * HOUR_MS) / 1000)).await.unwrap();
    f.advance(3 * HOUR_MS); // beta's expiration passes
    f.push("rc", "d", &[]).await.unwrap();
    f.reg.set_expiration(&f.admin, &f.repo, &tag("rc"), Some((f.now() + 2 * HOUR_MS) / 1000)).await.unwrap();
    f.reg.delete_tag(&f.admin, &f.repo, &tag("rc")).await.unwrap(); // deleted before it expired

    let events = |p: HistoryParams| {
        let (reg, repo) = (f.reg.clone(), f.repo.clone());
        async move {
            let page = reg.tag_events(&Caller::system(), &repo, &p).await.unwrap();
            (page.items.into_iter().flat_map(|r| r.events).collect::<Vec<_>>(), page.has_additional)
        }
    };
    let (all, _) = events(HistoryParams::default()).await;
    assert_eq!(all, history_events(&f.all_rows().await, f.now()), "the store's links agree with the reference");
    let kinds: Vec<_> = all.iter().map(|e| (e.kind, e.tag.as_str())).collect();
    assert_eq!(
        kinds,
        [
            (K::Delete, "rc"),
            (K::Create, "rc"),
            (K::Expire, "beta"),
            (K::Create, "beta"),
            (K::Delete, "latest"),
            (K::Revert, "latest"),
            (K::Move, "latest"),
            (K::Create, "latest"),
        ]
    );
    let revert = &all[5];
    assert_eq!((revert.previous_digest.as_ref(), revert.restorable_to.as_ref()), (Some(&bm.digest), Some(&bm.digest)));
    assert_eq!(all[6].restorable_to.as_ref(), Some(&a.digest), "a move restores to the digest before");
    assert_eq!(all[4].restorable_to.as_ref(), Some(&a.digest), "a delete restores to the lost digest");
    assert_eq!(all[7].restorable_to, None, "a create has nothing to go back to");

    let (one, _) = events(HistoryParams { specific_tag: Some("latest".into()), ..Default::default() }).await;
    assert_eq!(one, all[4..].to_vec(), "one tag's history reads the same");
    let (page2, more) = events(HistoryParams { page: Some(2), limit: Some(2), ..Default::default() }).await;
    assert_eq!(
        page2.iter().map(|e| e.kind).collect::<Vec<_>>(),
        [K::Delete, K::Revert, K::Move],
        "rows 3 and 4: links reach past the page"
    );
    assert!(more);
}

/// A delete, move or restore says what takes it back, expecting the tag as it left it; applying
/// that brings the tags back as they were; a refused batch offers nothing; locks offer nothing;
/// an undo never takes back a change made after the one it undoes.
async fn changes_report_their_undo(b: Backend) {
    let f = fixture(b).await;
    let a = f.push("latest", "a", &[]).await.unwrap();
    let bm = f.push("latest", "b", &[]).await.unwrap();
    f.push("beta", "c", &[]).await.unwrap();
    let run = |changes: Vec<TagChangeRequest>, all: bool| {
        let (reg, repo, admin) = (f.reg.clone(), f.repo.clone(), f.admin.clone());
        async move { reg.change_tags(&admin, &repo, &changes, all).await.unwrap() }
    };
    let batch = |changes: Vec<(&str, TagChange)>, all: bool| run(changes.into_iter().map(|(t, c)| change(t, c)).collect(), all);
    let undos = |out: &BatchOutcome| out.results.iter().map(|r| r.undo.clone()).collect::<Vec<_>>();
    let all = |out: &BatchOutcome| out.results.iter().flat_map(|r| r.undo.clone()).collect::<Vec<_>>();
    let guarded = |t: &str, change: TagChange, expect: Expected| TagChangeRequest { expect: Some(expect), ..self::change(t, change) };
    f.advance(1000);
    let out = batch(vec![("latest", TagChange::Delete), ("beta", TagChange::Immutable(true))], true).await;
    assert_eq!(undos(&out), [vec![guarded("latest", TagChange::Restore(bm.digest.to_string()), Expected::Absent)], vec![]]);
    f.advance(1000);
    let out = batch(vec![("latest", TagChange::Restore(a.digest.to_string()))], false).await;
    assert_eq!(
        undos(&out),
        [vec![guarded("latest", TagChange::Delete, Expected::Digest(a.digest.to_string()))]],
        "restoring a deleted tag is undone by deleting it"
    );
    f.advance(1000);
    let back = batch(vec![("latest", TagChange::Delete)], true).await;
    assert!(back.applied);
    assert_eq!(f.alive("latest").await, None);
    f.advance(1000);
    let out = batch(vec![("latest", TagChange::Restore(bm.digest.to_string()))], true).await;
    let undo = all(&out);
    let undone = run(undo, true).await;
    assert!(undone.applied);
    assert_eq!(f.alive("latest").await, None, "undoing the restore of a deleted tag deletes it again");
    // beta is locked now: deleting it is refused, and a refused batch has nothing to undo.
    let out = batch(vec![("beta", TagChange::Delete)], true).await;
    assert!(!out.applied);
    assert_eq!(undos(&out), [Vec::<TagChangeRequest>::new()]);

    // Someone points the tag elsewhere after the change: its undo is refused, and that stays.
    f.advance(1000);
    let out = batch(vec![("latest", TagChange::Restore(a.digest.to_string()))], true).await;
    let undo = all(&out);
    f.advance(1000);
    assert!(batch(vec![("latest", TagChange::Restore(bm.digest.to_string()))], true).await.applied);
    let refused = run(undo.clone(), true).await;
    assert!(!refused.applied);
    let error = refused.results[0].error.clone().expect("refused");
    assert_eq!(error, registry::Error::Conflict("Tag latest has changed since".into()));
    assert_eq!(f.alive("latest").await.map(|t| t.manifest_digest), Some(bm.digest.clone()), "the later change stays");
    // Put back as the change left it, the undo applies.
    assert!(batch(vec![("latest", TagChange::Restore(a.digest.to_string()))], true).await.applied);
    assert!(run(undo, true).await.applied);
    assert_eq!(f.alive("latest").await, None);
    // A deleted tag pushed again meanwhile: restoring it as the undo of its delete is refused.
    f.push("beta2", "d", &[]).await.unwrap();
    let out = batch(vec![("beta2", TagChange::Delete)], true).await;
    let undo = all(&out);
    f.advance(1000);
    f.push("beta2", "e", &[]).await.unwrap();
    assert!(!run(undo, true).await.applied, "the push after the delete stays");

    // An expiring tag deleted: its undo brings the expiration back (whole seconds, not sooner).
    let at_s = (f.now() + 86_400_000) / 1000 + 1;
    assert!(batch(vec![("beta2", TagChange::Expiration(Some(at_s)))], true).await.applied);
    f.advance(1000);
    let out = batch(vec![("beta2", TagChange::Delete)], true).await;
    assert_eq!(all(&out)[1], change("beta2", TagChange::Expiration(Some(at_s))));
    f.advance(1000);
    assert!(run(all(&out), true).await.applied);
    let back = f.alive("beta2").await.expect("restored");
    assert_eq!(back.lifetime_end_ms, Some(at_s * 1000));
}

/// Alive tags in each order: natural names, size, soonest expiration, newest (the default).
async fn tag_listing_orders(b: Backend) {
    let f = fixture(b).await;
    for (name, size) in [("v1.10", 300), ("v1.2", 100), ("latest", 200), ("v1.9", 400)] {
        f.advance(1000);
        let m = quayside::demo::image("amd64", name, &[size], &[]);
        f.reg.put_manifest(&f.admin, &f.repo, m, Some(&tag(name))).await.unwrap();
    }
    f.reg.set_expiration(&f.admin, &f.repo, &tag("v1.9"), Some((f.now() + DAY_MS) / 1000)).await.unwrap();
    f.reg.set_expiration(&f.admin, &f.repo, &tag("latest"), Some((f.now() + HOUR_MS) / 1000)).await.unwrap();
    let names = |order: TagOrder, page: i64, limit: i64| {
        let (reg, repo) = (f.reg.clone(), f.repo.clone());
        async move {
            let p = HistoryParams { only_active: true, order, page: Some(page), limit: Some(limit), ..Default::default() };
            let page = reg.tag_history(&Caller::system(), &repo, &p).await.unwrap();
            (page.items.into_iter().map(|v| v.tag.name.to_string()).collect::<Vec<_>>(), page.has_additional)
        }
    };
    assert_eq!(names(TagOrder::Name, 1, 50).await.0, ["latest", "v1.2", "v1.9", "v1.10"]);
    assert_eq!(names(TagOrder::Name, 2, 3).await, (vec!["v1.10".to_owned()], false), "paged after sorting");
    assert!(names(TagOrder::Name, 1, 3).await.1, "more after the first three");
    assert_eq!(names(TagOrder::Newest, 1, 50).await.0, ["v1.9", "latest", "v1.2", "v1.10"]);
    assert_eq!(names(TagOrder::Size, 1, 50).await.0.first().map(String::as_str), Some("v1.9"));
    assert_eq!(names(TagOrder::Expiration, 1, 50).await.0, ["latest", "v1.9", "v1.10", "v1.2"]);
    assert!(matches!(TagOrder::parse("color"), Err(Error::Invalid(_))));
    assert_eq!(TagOrder::parse("").unwrap(), TagOrder::Newest);
}
