//! The store conformance suite: one `suite(&dyn Store)` that every backend
//! must pass, run here against SQLite in memory and in a file and against
//! PostgreSQL (a database of its own per test on the machine's server, see
//! `tvgate_store::postgres::testing`; a server that cannot be reached
//! fails the test), plus what only one backend has: SQLite's crash-safety
//! test (a writer killed with SIGKILL loses nothing it reported as
//! committed) and upgrade of an old file, PostgreSQL's notifications and
//! concurrent starts. Bulk timings: set `TVGATE_STORE_BENCH=1`.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tvgate_core::access::device::{
    Actor, AuditAction, DeviceAudit, DeviceKind, DevicePolicy, Enrolment, IpRange, NewDevice,
};
use tvgate_core::access::refusal::{Refusal, RefusalFilter};
use tvgate_core::access::{Line, OutputFormat, OutputFormats, Status};
use tvgate_core::catalog::guide_plan::GuidePlan;
use tvgate_core::catalog::ingest::{EpisodeOf, ImportedItem, ItemKind};
use tvgate_core::catalog::plan::CatalogPlan;
use tvgate_core::catalog::{
    CatalogData, CategoryKind, Delivery, HeldRefresh, SourceKind, UpstreamHeader, UpstreamIdentity,
};
use tvgate_core::ids::{CategoryId, LineId, SourceId, StreamId};
use tvgate_core::ledger::LimitPolicy;
use tvgate_core::ports::{
    Change, ChangeStamp, ImportCounts, NewSource, RefreshRecord, SessionFace, SourcePatch, Store,
    StoreError, StoredSession, StreamQuery, UpsertCounts, UpsertFields,
};
use tvgate_core::stats::Sample;
use tvgate_core::timeline::{EventKind, LineEvent};
use tvgate_formats::{xmltv, Diagnostic};
use tvgate_store::postgres::testing::TestDatabase;
use tvgate_store::{open_in_memory, open_postgres, open_sqlite};

// ----- the suite -----

/// Operators and API tokens: unique names, tokens found by hash with their
/// owner's name, revocation kept (not deleted) and idempotent.
async fn operators(store: &dyn Store) {
    use tvgate_core::admin::NewApiToken;
    assert!(store.admins().await.unwrap().is_empty());
    let alice = store
        .insert_admin("alice".into(), "$argon2id$h1".into(), 100)
        .await
        .unwrap();
    assert!(matches!(
        store.insert_admin("alice".into(), "x".into(), 101).await,
        Err(StoreError::Conflict { .. })
    ));
    let found = store.admin_by_name("alice".into()).await.unwrap().unwrap();
    assert_eq!(found, alice);
    assert!(store.admin_by_name("bob".into()).await.unwrap().is_none());
    store
        .set_admin_password(alice.id, "$argon2id$h2".into())
        .await
        .unwrap();
    let found = store.admin_by_name("alice".into()).await.unwrap().unwrap();
    assert_eq!(found.password_hash, "$argon2id$h2");

    let token = store
        .insert_api_token(NewApiToken {
            admin: alice.id,
            name: "billing".into(),
            hash: vec![7; 32],
            created_at: 200,
        })
        .await
        .unwrap();
    assert_eq!(token.admin_name, "alice");
    assert_eq!(token.revoked_at, None);
    let by_hash = store.api_token_by_hash(vec![7; 32]).await.unwrap().unwrap();
    assert_eq!(by_hash, token);
    assert!(store
        .api_token_by_hash(vec![8; 32])
        .await
        .unwrap()
        .is_none());
    store.revoke_api_token(token.id, 300).await.unwrap();
    store.revoke_api_token(token.id, 400).await.unwrap();
    let revoked = store.api_token_by_hash(vec![7; 32]).await.unwrap().unwrap();
    assert_eq!(revoked.revoked_at, Some(300));
    assert_eq!(store.api_tokens().await.unwrap().len(), 1);
    assert!(matches!(
        store.revoke_api_token(9999, 1).await,
        Err(StoreError::NotFound { .. })
    ));
}

fn refusal(at: i64, reason: &str, line: Option<i64>, username: &str, ip: [u8; 4]) -> Refusal {
    Refusal {
        at,
        reason: reason.into(),
        text: format!("{reason} at {at}"),
        line: line.map(LineId),
        username: username.into(),
        ip: std::net::IpAddr::from(ip),
        face: "stream".into(),
    }
}

/// The denial log: appended in order, read newest first with each filter
/// and the cursor, pruned by time; it bumps no change stamp.
async fn refusal_log(store: &dyn Store) {
    let s0 = stamp(store).await;
    let rows = vec![
        refusal(100, "expired", Some(7), "Dora", [10, 0, 0, 1]),
        refusal(200, "invalid_credentials", None, "guess", [10, 0, 0, 2]),
        refusal(300, "expired", Some(7), "dora", [10, 0, 0, 2]),
        refusal(400, "banned", Some(8), "Ülrich", [10, 0, 0, 3]),
    ];
    store.insert_refusals(rows.clone()).await.unwrap();
    store.insert_refusals(Vec::new()).await.unwrap();
    assert_eq!(stamp(store).await, s0, "the log bumps no stamp");
    let read = |f: RefusalFilter| async move {
        store
            .refusals(RefusalFilter { limit: 100, ..f })
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.refusal.at)
            .collect::<Vec<_>>()
    };
    assert_eq!(read(RefusalFilter::default()).await, [400, 300, 200, 100]);
    let all = store
        .refusals(RefusalFilter {
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(all[3].refusal, rows[0], "every field comes back");
    assert!(all.windows(2).all(|w| w[0].id > w[1].id));
    let f = |reason: Option<&str>| RefusalFilter {
        reason: reason.map(str::to_string),
        ..Default::default()
    };
    assert_eq!(read(f(Some("expired"))).await, [300, 100]);
    assert_eq!(
        read(RefusalFilter {
            line: Some(LineId(7)),
            ..Default::default()
        })
        .await,
        [300, 100]
    );
    for name in ["DORA", "dora"] {
        assert_eq!(
            read(RefusalFilter {
                username: Some(name.into()),
                ..Default::default()
            })
            .await,
            [300, 100],
            "{name}"
        );
    }
    assert_eq!(
        read(RefusalFilter {
            username: Some("üLRICH".into()),
            ..Default::default()
        })
        .await,
        [400],
        "case-insensitive beyond ASCII"
    );
    assert_eq!(
        read(RefusalFilter {
            ip: Some([10, 0, 0, 2].into()),
            ..Default::default()
        })
        .await,
        [300, 200]
    );
    assert_eq!(
        read(RefusalFilter {
            since: Some(200),
            until: Some(300),
            ..Default::default()
        })
        .await,
        [300, 200]
    );
    // Paging: the cursor is the last id of the page before.
    let first = store
        .refusals(RefusalFilter {
            limit: 2,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(first.len(), 2);
    assert_eq!(
        read(RefusalFilter {
            before: Some(first[1].id),
            ..Default::default()
        })
        .await,
        [200, 100]
    );
    // Pruning deletes what is older than the cut, and only that.
    assert_eq!(store.prune_refusals(300).await.unwrap(), 2);
    assert_eq!(read(RefusalFilter::default()).await, [400, 300]);
    assert_eq!(store.prune_refusals(300).await.unwrap(), 0);
    assert_eq!(store.prune_refusals(i64::MAX).await.unwrap(), 2);
    assert!(read(RefusalFilter::default()).await.is_empty());
}

fn sample(minute: i64, viewers: u64, bytes: u64, logins: u64, refused: &[(&str, u64)]) -> Sample {
    Sample {
        minute,
        viewers,
        bytes_out: bytes,
        logins,
        refusals: refused.iter().map(|(r, n)| (r.to_string(), *n)).collect(),
    }
}

/// Per-minute samples: written in place by node and minute, read one
/// node's or summed over the nodes, pruned by minute.
async fn samples(store: &dyn Store) {
    let a = vec![
        sample(60, 2, 100, 1, &[("expired", 2)]),
        sample(120, 1, u64::MAX, 0, &[]),
    ];
    store.save_samples("a:1".into(), a.clone()).await.unwrap();
    store.save_samples("a:1".into(), Vec::new()).await.unwrap();
    assert_eq!(store.samples(Some("a:1".into()), 0).await.unwrap()[0], a[0]);
    assert_eq!(
        store.samples(Some("a:1".into()), 0).await.unwrap()[1].bytes_out,
        i64::MAX as u64,
        "a count beyond the column is kept at its largest"
    );
    // The same minute written again replaces the node's row.
    store
        .save_samples(
            "a:1".into(),
            vec![sample(60, 3, 150, 2, &[("banned", 1), ("expired", 2)])],
        )
        .await
        .unwrap();
    store
        .save_samples(
            "b:2".into(),
            vec![
                sample(60, 4, 50, 0, &[("expired", 1)]),
                sample(180, 1, 10, 1, &[]),
            ],
        )
        .await
        .unwrap();
    let all = store.samples(None, 0).await.unwrap();
    assert_eq!(
        all.iter().map(|s| s.minute).collect::<Vec<_>>(),
        [60, 120, 180]
    );
    assert_eq!(
        all[0],
        sample(60, 7, 200, 2, &[("banned", 1), ("expired", 3)]),
        "nodes add up"
    );
    assert_eq!(
        store.samples(None, 120).await.unwrap().len(),
        2,
        "from a minute on"
    );
    assert_eq!(store.samples(Some("b:2".into()), 0).await.unwrap().len(), 2);
    assert!(store
        .samples(Some("c:3".into()), 0)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(store.prune_samples(120).await.unwrap(), 2);
    assert_eq!(store.samples(None, 0).await.unwrap().len(), 2);
    assert_eq!(store.prune_samples(i64::MAX).await.unwrap(), 2);
}

/// Lines' timelines: appended in order, read per line newest first, pruned by time.
async fn line_events(store: &dyn Store) {
    let event =
        |line: i64, kind: EventKind, at: i64, ended: Option<i64>, channel: &str| LineEvent {
            line: LineId(line),
            kind,
            at,
            ended,
            channel: channel.to_string(),
            player: "VLC/3.0".into(),
            ip: "10.0.0.9".parse().unwrap(),
            detail: if kind == EventKind::Login {
                "player_api".into()
            } else {
                "closed".into()
            },
        };
    let rows = vec![
        event(7, EventKind::Login, 100, None, ""),
        event(7, EventKind::Stream, 110, Some(170), "Ünïcode News"),
        event(8, EventKind::Stream, 120, Some(130), "Sport"),
        event(7, EventKind::Stream, 200, Some(260), "Film"),
    ];
    store.insert_line_events(rows.clone()).await.unwrap();
    store.insert_line_events(Vec::new()).await.unwrap();
    let seven = store.line_events(LineId(7), 10).await.unwrap();
    assert_eq!(
        seven.iter().map(|e| e.at).collect::<Vec<_>>(),
        [200, 110, 100]
    );
    assert_eq!(seven[1], rows[1], "every field comes back");
    assert_eq!(seven[2].ended, None);
    assert_eq!(store.line_events(LineId(7), 1).await.unwrap().len(), 1);
    assert!(store.line_events(LineId(9), 10).await.unwrap().is_empty());
    assert_eq!(store.prune_line_events(150).await.unwrap(), 3);
    assert_eq!(store.line_events(LineId(7), 10).await.unwrap().len(), 1);
    assert_eq!(store.prune_line_events(i64::MAX).await.unwrap(), 1);
}

async fn suite(store: &dyn Store) {
    lines(store).await;
    upserts(store).await;
    verifiers_and_stamps(store).await;
    sources(store).await;
    let ids = catalog(store).await;
    big_catalog(store).await;
    guide(store, ids).await;
    delete_source_cascades(store, ids).await;
    source_settings(store).await;
    accounts_and_catchups(store).await;
    backups(store).await;
    switches(store).await;
    devices(store).await;
    operators(store).await;
    refusal_log(store).await;
    samples(store).await;
    line_events(store).await;
    sessions(store).await;
    key_fingerprint(store).await;
}

fn session(byte: u8, face: SessionFace, expires: i64) -> StoredSession {
    StoredSession {
        id_hash: [byte; 32],
        face,
        csrf: format!("csrf-{byte}"),
        sealed: vec![byte; 40],
        expires,
    }
}

/// Console and portal sessions: found by face and id hash while they
/// live, bounded per face (the ones closest to expiry go), ended on
/// request; none of it bumps a stamp.
async fn sessions(store: &dyn Store) {
    let s0 = stamp(store).await;
    let (console, portal) = (SessionFace::Console, SessionFace::Portal);
    store
        .insert_session(session(1, console, 1100), 1000, 3)
        .await
        .unwrap();
    store
        .insert_session(session(2, portal, 1200), 1000, 3)
        .await
        .unwrap();
    assert_eq!(
        store.session(console, [1; 32], 1000).await.unwrap(),
        Some(session(1, console, 1100))
    );
    assert_eq!(
        store.session(portal, [1; 32], 1000).await.unwrap(),
        None,
        "another face's session is not this one's"
    );
    assert_eq!(
        store.session(console, [1; 32], 1100).await.unwrap(),
        None,
        "expired"
    );
    assert_eq!(store.session(console, [9; 32], 1000).await.unwrap(), None);
    // Bounded per face: a fourth console session pushes out the one
    // closest to expiry; the portal's is untouched.
    for (byte, expires) in [(3, 1300), (4, 1150), (5, 1400)] {
        store
            .insert_session(session(byte, console, expires), 1000, 3)
            .await
            .unwrap();
    }
    let live = |byte: u8, face| async move {
        store
            .session(face, [byte; 32], 1000)
            .await
            .unwrap()
            .is_some()
    };
    assert!(!live(1, console).await, "closest to expiry went");
    assert!(live(3, console).await && live(4, console).await && live(5, console).await);
    assert!(live(2, portal).await);
    // Opening one removes the face's expired ones.
    store
        .insert_session(session(6, console, 2000), 1350, 3)
        .await
        .unwrap();
    assert!(store
        .session(console, [5; 32], 1000)
        .await
        .unwrap()
        .is_some());
    assert!(store
        .session(console, [3; 32], 1000)
        .await
        .unwrap()
        .is_none());
    store.delete_session([5; 32]).await.unwrap();
    store.delete_session([5; 32]).await.unwrap();
    assert!(store
        .session(console, [5; 32], 1000)
        .await
        .unwrap()
        .is_none());
    assert!(store
        .session(console, [6; 32], 1000)
        .await
        .unwrap()
        .is_some());
    for byte in [2, 4, 6] {
        store.delete_session([byte; 32]).await.unwrap();
    }
    assert_eq!(stamp(store).await, s0, "sessions bump no stamp");
}

/// The first fingerprint recorded stays; a later claim gets it back.
async fn key_fingerprint(store: &dyn Store) {
    assert_eq!(
        store.claim_key_fingerprint("first".into()).await.unwrap(),
        "first"
    );
    assert_eq!(
        store.claim_key_fingerprint("second".into()).await.unwrap(),
        "first"
    );
}

fn new_line(username: &str) -> Line {
    Line {
        id: LineId::UNSAVED,
        username: username.into(),
        password_hash: format!("$argon2id$hash-of-{username}").into(),
        verifier: Some([1; 36]),
        status: Status::Active,
        expires_at: Some(2_000_000_000),
        is_trial: false,
        max_connections: 2,
        limit_policy: None,
        allowed_formats: OutputFormats::DEFAULT,
        created_at: 1_700_000_000,
        note: format!("note of {username}").into(),
        package: None,
        revision: 0,
    }
}

async fn find(store: &dyn Store, id: LineId) -> Line {
    store
        .load_lines()
        .await
        .unwrap()
        .into_iter()
        .find(|a| a.id == id)
        .unwrap_or_else(|| panic!("line {id} is missing"))
}

async fn lines(store: &dyn Store) {
    assert!(store.load_lines().await.unwrap().is_empty());

    let alice = store
        .insert_line(new_line("Alice"), "alice".into())
        .await
        .unwrap();
    assert_eq!(&*alice.username, "Alice");
    assert_eq!(alice.revision, 1);
    assert_eq!(store.load_lines().await.unwrap(), vec![alice.clone()]);

    // The key is what is unique: a case-folded duplicate is a conflict.
    let dup = store.insert_line(new_line("ALICE"), "alice".into()).await;
    assert!(
        matches!(&dup, Err(StoreError::Conflict { value, .. }) if value == "alice"),
        "{dup:?}"
    );

    // Every field round-trips, including an empty package and no expiry.
    let mut full = new_line("Carol");
    full.verifier = None;
    full.status = Status::Banned;
    full.expires_at = None;
    full.is_trial = true;
    full.max_connections = 0;
    full.limit_policy = Some(LimitPolicy::NewestWins);
    full.allowed_formats = OutputFormats::empty().with(OutputFormat::Rtmp);
    full.package = Some(Box::default());
    let carol = store
        .insert_line(full.clone(), "carol".into())
        .await
        .unwrap();
    assert_ne!(carol.id, alice.id);
    assert_eq!(find(store, carol.id).await, carol);
    assert_eq!(carol.package.as_deref(), Some(&[][..]));
    assert_eq!(carol.limit_policy, Some(LimitPolicy::NewestWins));
    assert_eq!(alice.limit_policy, None, "None is the server default");

    // update_line writes every field, the revision as given.
    let mut changed = alice.clone();
    changed.username = "Alicia".into();
    changed.note = "moved".into();
    changed.status = Status::Disabled;
    changed.package = Some(vec![CategoryId(7), CategoryId(3)].into_boxed_slice());
    changed.limit_policy = Some(LimitPolicy::Refuse);
    changed.revision += 1;
    store.update_line(&changed, "alicia".into()).await.unwrap();
    assert_eq!(find(store, alice.id).await, changed);
    // The old key is free again, the new one is taken.
    let again = store
        .insert_line(new_line("alice"), "alice".into())
        .await
        .unwrap();
    store.delete_line(again.id).await.unwrap();
    let taken = store.update_line(&carol, "alicia".into()).await;
    assert!(
        matches!(taken, Err(StoreError::Conflict { .. })),
        "{taken:?}"
    );
    let mut ghost = carol.clone();
    ghost.id = LineId(999_999);
    let missing = store.update_line(&ghost, "ghost".into()).await;
    assert!(
        matches!(missing, Err(StoreError::NotFound { .. })),
        "{missing:?}"
    );

    // Verifier set and cleared; the revision does not move.
    store
        .set_verifier(carol.id, Some(vec![9; 36]))
        .await
        .unwrap();
    let loaded = find(store, carol.id).await;
    assert_eq!(loaded.verifier, Some([9; 36]));
    assert_eq!(loaded.revision, carol.revision);
    store.set_verifier(carol.id, None).await.unwrap();
    assert_eq!(find(store, carol.id).await.verifier, None);
    let missing = store.set_verifier(LineId(999_999), None).await;
    assert!(matches!(missing, Err(StoreError::NotFound { .. })));

    // Delete, then delete again.
    store.delete_line(carol.id).await.unwrap();
    let missing = store.delete_line(carol.id).await;
    assert!(matches!(missing, Err(StoreError::NotFound { .. })));
    let left: Vec<_> = store
        .load_lines()
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.id)
        .collect();
    assert_eq!(left, vec![alice.id]);
    store.delete_line(alice.id).await.unwrap();
}

async fn upserts(store: &dyn Store) {
    let dave = store
        .insert_line(new_line("Dave"), "dave".into())
        .await
        .unwrap();

    // An existing line changes only in the flagged fields.
    let mut incoming = new_line("DAVE");
    incoming.password_hash = "new-hash".into();
    incoming.verifier = None;
    incoming.max_connections = 9;
    incoming.status = Status::Banned;
    incoming.expires_at = None;
    incoming.limit_policy = Some(LimitPolicy::NewestWins);
    incoming.note = "ignored".into();
    incoming.is_trial = true;
    let only_password = UpsertFields {
        password: true,
        ..UpsertFields::default()
    };
    let counts = store
        .upsert_lines(vec![
            (incoming.clone(), "dave".into(), only_password),
            (new_line("Erin"), "erin".into(), UpsertFields::default()),
        ])
        .await
        .unwrap();
    assert_eq!(
        counts,
        UpsertCounts {
            created: 1,
            updated: 1
        }
    );
    let after = find(store, dave.id).await;
    assert_eq!(&*after.password_hash, "new-hash");
    assert_eq!(after.verifier, None);
    assert_eq!(after.max_connections, dave.max_connections);
    assert_eq!(after.status, dave.status);
    assert_eq!(after.expires_at, dave.expires_at);
    assert_eq!(after.limit_policy, None);
    assert_eq!(&*after.username, "Dave");
    assert_eq!(after.note, dave.note);
    assert_eq!(after.is_trial, dave.is_trial);
    assert_eq!(after.revision, dave.revision + 1);

    // The other flags, one at a time.
    for (flags, check) in [
        (
            UpsertFields {
                max_connections: true,
                ..Default::default()
            },
            (|a: &Line| a.max_connections == 9) as fn(&Line) -> bool,
        ),
        (
            UpsertFields {
                status: true,
                ..Default::default()
            },
            |a: &Line| a.status == Status::Banned,
        ),
        (
            UpsertFields {
                expires: true,
                ..Default::default()
            },
            |a: &Line| a.expires_at.is_none(),
        ),
        (
            UpsertFields {
                limit_policy: true,
                ..Default::default()
            },
            |a: &Line| a.limit_policy == Some(LimitPolicy::NewestWins),
        ),
        (
            UpsertFields {
                note: true,
                ..Default::default()
            },
            |a: &Line| &*a.note == "ignored",
        ),
        (
            UpsertFields {
                is_trial: true,
                ..Default::default()
            },
            |a: &Line| a.is_trial,
        ),
    ] {
        let before = find(store, dave.id).await;
        assert!(!check(&before), "{flags:?} already applied");
        store
            .upsert_lines(vec![(incoming.clone(), "dave".into(), flags)])
            .await
            .unwrap();
        let now = find(store, dave.id).await;
        assert!(check(&now), "{flags:?} not applied");
        assert_eq!(now.revision, before.revision + 1);
    }

    // A new line gets every field; a key twice in one batch: created, then updated.
    let all = store.load_lines().await.unwrap();
    let erin = all.iter().find(|a| &*a.username == "Erin").unwrap();
    assert_eq!(erin.password_hash, new_line("Erin").password_hash);
    assert_eq!(erin.verifier, Some([1; 36]));
    let counts = store
        .upsert_lines(vec![
            (new_line("Frank"), "frank".into(), UpsertFields::default()),
            (new_line("Frank"), "frank".into(), UpsertFields::default()),
        ])
        .await
        .unwrap();
    assert_eq!(
        counts,
        UpsertCounts {
            created: 1,
            updated: 1
        }
    );

    // A create-only row whose key is taken fails the whole batch: nothing
    // of it is written.
    let only_new = UpsertFields {
        only_new: true,
        ..Default::default()
    };
    let err = store
        .upsert_lines(vec![
            (new_line("Gus"), "gus".into(), only_new),
            (new_line("Frank"), "frank".into(), only_new),
        ])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict { .. }), "{err:?}");
    let all = store.load_lines().await.unwrap();
    assert!(!all.iter().any(|a| &*a.username == "Gus"), "rolled back");

    // A batch is one transaction and fast enough to do often.
    let rows: Vec<_> = (0..10_000)
        .map(|i| {
            let name = format!("bulk{i:05}");
            (new_line(&name), name, UpsertFields::default())
        })
        .collect();
    let started = Instant::now();
    let counts = store.upsert_lines(rows).await.unwrap();
    assert_eq!(counts.created, 10_000);
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(store.load_lines().await.unwrap().len(), 10_000 + 3);
}

async fn stamp(store: &dyn Store) -> ChangeStamp {
    store
        .change_stamp()
        .await
        .unwrap()
        .expect("the backend keeps change stamps")
}

async fn verifiers_and_stamps(store: &dyn Store) {
    let s0 = stamp(store).await;
    let ivy = store
        .insert_line(new_line("Ivy"), "ivy".into())
        .await
        .unwrap();
    let jon = store
        .insert_line(new_line("Jon"), "jon".into())
        .await
        .unwrap();
    let s1 = stamp(store).await;
    assert!(s1.lines > s0.lines);
    assert_eq!(s1.catalog, s0.catalog);

    // One verifier (a first login) is not a change servers must reload for.
    store.set_verifier(ivy.id, Some(vec![4; 8])).await.unwrap();
    assert_eq!(stamp(store).await, s1);

    // Many at once: one transaction, all or nothing, and a change.
    store
        .set_verifiers(vec![(ivy.id, vec![5; 36]), (jon.id, vec![6; 36])])
        .await
        .unwrap();
    assert_eq!(find(store, ivy.id).await.verifier, Some([5; 36]));
    assert_eq!(find(store, jon.id).await.verifier, Some([6; 36]));
    let s2 = stamp(store).await;
    assert!(s2.lines > s1.lines);
    let missing = store
        .set_verifiers(vec![(ivy.id, vec![7; 8]), (LineId(999_999), vec![7; 8])])
        .await;
    assert!(
        matches!(missing, Err(StoreError::NotFound { .. })),
        "{missing:?}"
    );
    assert_eq!(find(store, ivy.id).await.verifier, Some([5; 36]));
    assert_eq!(stamp(store).await, s2);

    // Updates and deletes count; failed writes do not.
    let taken = store.insert_line(new_line("IVY"), "ivy".into()).await;
    assert!(matches!(taken, Err(StoreError::Conflict { .. })));
    assert_eq!(stamp(store).await, s2);
    store.delete_line(ivy.id).await.unwrap();
    store.delete_line(jon.id).await.unwrap();
    let s3 = stamp(store).await;
    assert!(s3.lines > s2.lines);

    // Catalog writes bump the other half.
    let src = store
        .insert_source(NewSource {
            kind: SourceKind::M3u,
            location: "/srv/stamp.m3u".into(),
            name: "stamp".into(),
            created_at: 0,
            max_connections: 0,
            delivery: Delivery::Proxy,
        })
        .await
        .unwrap();
    let s4 = stamp(store).await;
    assert!(s4.catalog > s3.catalog);
    assert_eq!(s4.lines, s3.lines);
    store.replace_items(src.id, plan(vec![]), 0).await.unwrap();
    let s5 = stamp(store).await;
    assert!(s5.catalog > s4.catalog);
    store
        .replace_guide(src.id, GuidePlan::default())
        .await
        .unwrap();
    let s6 = stamp(store).await;
    assert!(s6.catalog > s5.catalog);
    store.delete_source(src.id).await.unwrap();
    assert!(stamp(store).await.catalog > s6.catalog);
}

async fn sources(store: &dyn Store) {
    assert!(store.sources().await.unwrap().is_empty());
    let s = store
        .insert_source(NewSource {
            kind: SourceKind::M3u,
            location: "http://up.example/list.m3u".into(),
            name: "Main".into(),
            created_at: 100,
            max_connections: 0,
            delivery: Delivery::Proxy,
        })
        .await
        .unwrap();
    assert_eq!(s.kind, SourceKind::M3u);
    assert_eq!((s.last_refresh, s.item_count, s.enabled), (None, 0, true));
    assert_eq!(store.sources().await.unwrap(), vec![s.clone()]);

    // Diagnostics are capped, but the count is kept.
    let diagnostics: Vec<Diagnostic> = (1..=1500)
        .map(|n| Diagnostic::new(n, "no URL after #EXTINF"))
        .collect();
    store
        .record_refresh(
            s.id,
            RefreshRecord {
                at: 200,
                item_count: 42,
                error: Some("partial".into()),
                diagnostics,
            },
        )
        .await
        .unwrap();
    let loaded = &store.sources().await.unwrap()[0];
    assert_eq!(loaded.last_refresh, Some(200));
    assert_eq!(loaded.item_count, 42);
    assert_eq!(loaded.last_error.as_deref(), Some("partial"));
    assert_eq!(loaded.diagnostics.len(), 1000);
    assert_eq!(loaded.diagnostic_count, 1500);
    assert_eq!(
        loaded.diagnostics[0],
        Diagnostic::new(1, "no URL after #EXTINF")
    );
    let rows: Vec<String> = loaded.diagnostic_rows().map(|r| r.to_string()).collect();
    assert_eq!(rows.len(), 1001);
    assert_eq!(rows[0], "line 1: no URL after #EXTINF");
    assert_eq!(rows[999], "line 1000: no URL after #EXTINF");
    assert!(rows[1000].contains("500 more"), "{}", rows[1000]);

    // A clean refresh replaces them.
    store
        .record_refresh(
            s.id,
            RefreshRecord {
                at: 300,
                item_count: 40,
                error: None,
                diagnostics: vec![Diagnostic::new(3, "bad")],
            },
        )
        .await
        .unwrap();
    let loaded = &store.sources().await.unwrap()[0];
    assert_eq!(loaded.diagnostics, vec![Diagnostic::new(3, "bad")]);
    assert_eq!(loaded.diagnostic_count, 1);
    assert_eq!(loaded.last_error, None);
    assert_eq!(loaded.held, None);

    // A held refresh: recorded with its reason and time, the last applied
    // refresh's count and diagnostics kept; the next applied one clears it.
    let held = HeldRefresh {
        at: 400,
        before: 40,
        after: 2,
        reason: "the refresh read 2 entries where the source has 40".into(),
    };
    store.hold_refresh(s.id, held.clone()).await.unwrap();
    let loaded = &store.sources().await.unwrap()[0];
    assert_eq!(loaded.held.as_ref(), Some(&held));
    assert_eq!(loaded.last_refresh, Some(400));
    assert_eq!(loaded.item_count, 40);
    assert_eq!(loaded.diagnostics, vec![Diagnostic::new(3, "bad")]);
    store
        .record_refresh(
            s.id,
            RefreshRecord {
                at: 500,
                item_count: 2,
                error: None,
                diagnostics: vec![],
            },
        )
        .await
        .unwrap();
    let loaded = &store.sources().await.unwrap()[0];
    assert_eq!((loaded.held.as_ref(), loaded.item_count), (None, 2));
    let missing = store.hold_refresh(SourceId(999_999), held).await;
    assert!(matches!(missing, Err(StoreError::NotFound { .. })));

    let missing = store
        .record_refresh(
            SourceId(999_999),
            RefreshRecord {
                at: 0,
                item_count: 0,
                error: None,
                diagnostics: vec![],
            },
        )
        .await;
    assert!(matches!(missing, Err(StoreError::NotFound { .. })));
    store.delete_source(s.id).await.unwrap();
    let missing = store.delete_source(s.id).await;
    assert!(matches!(missing, Err(StoreError::NotFound { .. })));
}

/// An import big enough for the SQLite store to build its indexes once at
/// the end (and many rows per insert), then a refresh that changes one
/// item, removes one and adds one: what players see is the plan, ids of
/// kept keys stay, and the indexes answer as before (order by position).
async fn big_catalog(store: &dyn Store) {
    let src = store
        .insert_source(NewSource {
            kind: SourceKind::M3u,
            location: "/srv/big.m3u".into(),
            name: "Big".into(),
            created_at: 0,
            max_connections: 0,
            delivery: Delivery::Proxy,
        })
        .await
        .unwrap()
        .id;
    let n = 12_345;
    let items = |renamed: &str| -> Vec<ImportedItem> {
        (0..n)
            .map(|i| match i {
                7 => live(renamed, "http://big/7.ts", "Big"),
                _ => live(&format!("B{i}"), &format!("http://big/{i}.ts"), "Big"),
            })
            .collect()
    };
    store
        .replace_items(src, plan(items("B7")), 100)
        .await
        .unwrap();
    let one = store.load_catalog().await.unwrap();
    let first: Vec<_> = one
        .live
        .iter()
        .filter(|c| c.url().starts_with("http://big/"))
        .collect();
    assert_eq!(first.len(), n);
    assert_eq!(first[n - 1].name(), format!("B{}", n - 1), "playlist order");

    let mut second = items("Seven");
    second.remove(3);
    second.push(live("New", "http://big/new.ts", "Big"));
    let counts = store.replace_items(src, plan(second), 200).await.unwrap();
    assert_eq!((counts.live, counts.removed), (n as u64, 1));
    let two = store.load_catalog().await.unwrap();
    let second: Vec<_> = two
        .live
        .iter()
        .filter(|c| c.url().starts_with("http://big/"))
        .collect();
    assert_eq!(second.len(), n);
    assert_eq!(second[6].name(), "Seven", "a changed item is written");
    assert_eq!(second[6].id, first[7].id, "and keeps its id");
    assert_eq!(second[7].name(), "B8");
    assert_eq!(second[7].id, first[8].id);
    assert_eq!(second[n - 1].name(), "New");
    assert!(
        second[n - 1].id.0 > first[n - 1].id.0,
        "a new key gets a new id"
    );
    store.delete_source(src).await.unwrap();
}

/// Items as an import hands them to the store: planned by core.
fn plan(items: Vec<ImportedItem>) -> CatalogPlan {
    CatalogPlan::from_items(items)
}

fn live(name: &str, url: &str, group: &str) -> ImportedItem {
    ImportedItem {
        key: url.into(),
        kind: ItemKind::Live,
        name: name.into(),
        group: Some(group.into()),
        epg_id: Some(format!("{}.tv", name.to_lowercase())),
        logo: Some(format!("http://logo/{name}.png")),
        url: url.into(),
        container: None,
        is_adult: false,
        archive_days: 0,
        catchup: None,
        episode_of: None,
        line: 0,
    }
}

fn movie(name: &str, url: &str, group: &str) -> ImportedItem {
    ImportedItem {
        kind: ItemKind::Movie,
        container: Some("mkv".into()),
        epg_id: None,
        ..live(name, url, group)
    }
}

fn episode(series: &str, season: u32, number: u32, group: Option<&str>) -> ImportedItem {
    let name = format!("{series} S{season:02}E{number:02}");
    let url = format!("http://up/series/{series}/{season}/{number}.mp4");
    ImportedItem {
        kind: ItemKind::Episode,
        container: Some("mp4".into()),
        epg_id: None,
        group: group.map(str::to_string),
        episode_of: Some(EpisodeOf {
            series: series.into(),
            season,
            episode: number,
        }),
        ..live(&name, &url, "")
    }
}

/// Sources the later steps use.
#[derive(Clone, Copy)]
struct CatalogIds {
    playlist: SourceId,
    other: SourceId,
    films: CategoryId,
}

fn names<T>(list: &[T], name: impl Fn(&T) -> &str) -> Vec<String> {
    list.iter().map(|x| name(x).to_string()).collect()
}

async fn catalog(store: &dyn Store) -> CatalogIds {
    let playlist = store
        .insert_source(NewSource {
            kind: SourceKind::M3u,
            location: "/srv/a.m3u".into(),
            name: "A".into(),
            created_at: 0,
            max_connections: 0,
            delivery: Delivery::Proxy,
        })
        .await
        .unwrap()
        .id;
    let first = vec![
        live("News", "http://up/1.ts", "General"),
        live("Sport", "http://up/2.ts", "Sports"),
        movie("Film", "http://up/film.mkv", "Films"),
        episode("Show", 1, 2, Some("Shows")),
        episode("Show", 1, 1, None),
        live("Dup A", "http://up/dup.ts", "General"),
        live("Dup B", "http://up/dup.ts", "General"),
        episode("Other", 2, 1, None),
    ];
    let counts = store
        .replace_items(playlist, plan(first), 1000)
        .await
        .unwrap();
    assert_eq!(
        counts,
        ImportCounts {
            live: 4,
            movies: 1,
            episodes: 3,
            series: 2,
            removed: 0
        }
    );
    let one = store.load_catalog().await.unwrap();
    assert_eq!(
        names(&one.live, |c| c.name()),
        ["News", "Sport", "Dup A", "Dup B"]
    );
    let cat = |data: &CatalogData, kind: CategoryKind, name: &str| {
        data.categories
            .iter()
            .find(|c| c.kind == kind && &*c.name == name)
            .unwrap_or_else(|| panic!("no {kind:?} category {name}"))
            .id
    };
    let general = cat(&one, CategoryKind::Live, "General");
    assert_eq!(
        names(&one.categories, |c| &c.name),
        ["General", "Sports", "Films", "Shows"]
    );
    assert_eq!(one.live[0].category, Some(general));
    assert_eq!(one.live[0].epg_id(), Some("news.tv"));
    assert_eq!(one.live[0].logo(), "http://logo/News.png");
    assert_eq!(one.live[0].added, 1000);
    assert_eq!(one.live[0].source, playlist);
    // The same URL twice: two streams, two ids.
    assert_ne!(one.live[2].id, one.live[3].id);
    assert_eq!(one.live[3].url(), "http://up/dup.ts");
    assert_eq!(names(&one.movies, |m| &m.name), ["Film"]);
    assert_eq!(&*one.movies[0].container, "mkv");
    let films = cat(&one, CategoryKind::Movie, "Films");
    assert_eq!(one.movies[0].category, Some(films));
    // Series grouped by name, category from the episode that has a group,
    // episodes sorted.
    assert_eq!(names(&one.series, |s| &s.name), ["Show", "Other"]);
    let show = &one.series[0];
    assert_eq!(
        show.category,
        Some(cat(&one, CategoryKind::Series, "Shows"))
    );
    assert_eq!(show.last_modified, 1000);
    let numbers: Vec<_> = show
        .episodes
        .iter()
        .map(|e| (e.season, e.episode))
        .collect();
    assert_eq!(numbers, [(1, 1), (1, 2)]);
    assert_eq!(&*show.episodes[0].container, "mp4");
    assert_eq!(one.series[1].category, None);

    // Second import: News renamed, Sport gone, Music new, one more episode,
    // the Other series gone.
    let second = vec![
        live("News HD", "http://up/1.ts", "General"),
        live("Music", "http://up/3.ts", "General"),
        live("Dup A", "http://up/dup.ts", "General"),
        live("Dup B", "http://up/dup.ts", "General"),
        movie("Film", "http://up/film.mkv", "Films"),
        episode("Show", 1, 1, Some("Shows")),
        episode("Show", 1, 2, Some("Shows")),
        episode("Show", 1, 3, Some("Shows")),
    ];
    let counts = store
        .replace_items(playlist, plan(second), 2000)
        .await
        .unwrap();
    assert_eq!(
        counts,
        ImportCounts {
            live: 4,
            movies: 1,
            episodes: 3,
            series: 1,
            removed: 2
        }
    );
    let two = store.load_catalog().await.unwrap();
    assert_eq!(
        names(&two.live, |c| c.name()),
        ["News HD", "Music", "Dup A", "Dup B"]
    );
    assert_eq!(two.live[0].id, one.live[0].id, "a kept key keeps its id");
    assert_eq!(two.live[0].added, 1000, "and its added time");
    assert_eq!(two.live[2].id, one.live[2].id);
    assert_eq!(two.live[3].id, one.live[3].id);
    assert!(
        ![
            one.live[0].id,
            one.live[1].id,
            one.live[2].id,
            one.live[3].id
        ]
        .contains(&two.live[1].id),
        "a new key gets a new id, never an old one"
    );
    assert_eq!(two.live[1].added, 2000);
    assert_eq!(two.movies[0].id, one.movies[0].id);
    assert_eq!(names(&two.series, |s| &s.name), ["Show"]);
    assert_eq!(two.series[0].id, show.id);
    assert_eq!(two.series[0].last_modified, 2000);
    assert_eq!(two.series[0].episodes[0].id, show.episodes[0].id);
    assert_eq!(two.series[0].episodes[1].id, show.episodes[1].id);
    assert_eq!(two.series[0].episodes.len(), 3);
    // Categories stay even when empty (packages may name them).
    assert_eq!(
        cat(&two, CategoryKind::Live, "Sports"),
        cat(&one, CategoryKind::Live, "Sports")
    );

    // Importing the same list again changes nothing.
    let third = store
        .replace_items(
            playlist,
            plan(vec![
                live("News HD", "http://up/1.ts", "General"),
                live("Music", "http://up/3.ts", "General"),
                live("Dup A", "http://up/dup.ts", "General"),
                live("Dup B", "http://up/dup.ts", "General"),
                movie("Film", "http://up/film.mkv", "Films"),
                episode("Show", 1, 1, Some("Shows")),
                episode("Show", 1, 2, Some("Shows")),
                episode("Show", 1, 3, Some("Shows")),
            ]),
            3000,
        )
        .await
        .unwrap();
    assert_eq!(third.removed, 0);
    let three = store.load_catalog().await.unwrap();
    assert_eq!(three.live, two.live);
    assert_eq!(
        three.series, two.series,
        "untouched series keep last_modified"
    );

    // Categories are shared across sources.
    let other = store
        .insert_source(NewSource {
            kind: SourceKind::M3u,
            location: "/srv/b.m3u".into(),
            name: "B".into(),
            created_at: 0,
            max_connections: 0,
            delivery: Delivery::Proxy,
        })
        .await
        .unwrap()
        .id;
    store
        .replace_items(
            other,
            plan(vec![live("B1", "http://b/1.ts", "General")]),
            4000,
        )
        .await
        .unwrap();
    let four = store.load_catalog().await.unwrap();
    assert_eq!(four.live.len(), 5);
    assert_eq!(four.live[4].source, other);
    assert_eq!(four.live[4].category, Some(general));

    let missing = store
        .replace_items(SourceId(999_999), plan(vec![]), 0)
        .await;
    assert!(matches!(missing, Err(StoreError::NotFound { .. })));

    CatalogIds {
        playlist,
        other,
        films,
    }
}

fn guide_plan(channels: Vec<xmltv::Channel>, programmes: Vec<xmltv::Programme>) -> GuidePlan {
    GuidePlan::from_guide(channels, programmes)
}

fn programme(channel: &str, start: i64, stop: Option<i64>, title: &str) -> xmltv::Programme {
    xmltv::Programme {
        line: 0,
        channel: channel.into(),
        start,
        stop,
        title: title.into(),
        desc: Some(format!("about {title}")),
        lang: Some("en".into()),
    }
}

async fn guide(store: &dyn Store, ids: CatalogIds) {
    let epg = store
        .insert_source(NewSource {
            kind: SourceKind::Xmltv,
            location: "http://up/epg.xml.gz".into(),
            name: "Guide".into(),
            created_at: 0,
            max_connections: 0,
            delivery: Delivery::Proxy,
        })
        .await
        .unwrap()
        .id;
    let guide = guide_plan(
        vec![
            xmltv::Channel {
                id: "news.tv".into(),
                display_names: vec!["News".into(), "News HD".into()],
                icon: Some("http://logo/news.png".into()),
            },
            xmltv::Channel {
                id: "music.tv".into(),
                display_names: vec![],
                icon: None,
            },
        ],
        vec![
            programme("news.tv", 200, Some(300), "Late"),
            programme("news.tv", 100, None, "Early"),
            programme("music.tv", 100, Some(400), "Hits"),
        ],
    );
    assert_eq!(store.replace_guide(epg, guide).await.unwrap(), 3);
    let data = store.load_catalog().await.unwrap();
    assert_eq!(
        names(&data.guide_channels, |c| &c.id),
        ["news.tv", "music.tv"]
    );
    assert_eq!(&*data.guide_channels[0].name, "News");
    assert_eq!(&*data.guide_channels[0].icon, "http://logo/news.png");
    assert_eq!(&*data.guide_channels[1].name, "music.tv");
    let rows: Vec<_> = data
        .programmes
        .iter()
        .map(|(c, p)| (c.to_string(), p.start, p.stop, p.title.to_string()))
        .collect();
    assert_eq!(
        rows,
        [
            ("music.tv".to_string(), 100, 400, "Hits".to_string()),
            ("news.tv".to_string(), 100, 200, "Early".to_string()),
            ("news.tv".to_string(), 200, 300, "Late".to_string()),
        ]
    );
    assert_eq!(&*data.programmes[0].1.desc, "about Hits");
    assert_eq!(&*data.programmes[0].1.lang, "en");

    // Replacing keeps nothing of the old guide.
    let smaller = guide_plan(vec![], vec![programme("news.tv", 500, Some(600), "Night")]);
    assert_eq!(store.replace_guide(epg, smaller).await.unwrap(), 1);
    let data = store.load_catalog().await.unwrap();
    assert!(data.guide_channels.is_empty());
    assert_eq!(data.programmes.len(), 1);
    assert_eq!(&*data.programmes[0].1.title, "Night");

    let missing = store
        .replace_guide(SourceId(999_999), GuidePlan::default())
        .await;
    assert!(matches!(missing, Err(StoreError::NotFound { .. })));
    // The playlist source may carry a guide too; deleting it removes it.
    store
        .replace_guide(
            ids.playlist,
            guide_plan(vec![], vec![programme("x", 0, Some(1), "X")]),
        )
        .await
        .unwrap();
    let data = store.load_catalog().await.unwrap();
    assert_eq!(
        names(&data.programmes, |(c, _)| c),
        ["x", "news.tv"],
        "one source's guide leaves the other's alone; sources in id order"
    );
    store.delete_source(epg).await.unwrap();
    let data = store.load_catalog().await.unwrap();
    assert_eq!(names(&data.programmes, |(c, _)| c), ["x"]);
}

async fn delete_source_cascades(store: &dyn Store, ids: CatalogIds) {
    // A package that names Films keeps that category alive.
    let mut packaged = new_line("Gina");
    packaged.package = Some(Box::new([ids.films]));
    let gina = store.insert_line(packaged, "gina".into()).await.unwrap();

    store.delete_source(ids.playlist).await.unwrap();
    let data = store.load_catalog().await.unwrap();
    assert_eq!(names(&data.live, |c| c.name()), ["B1"]);
    assert!(data.movies.is_empty());
    assert!(data.series.is_empty());
    assert!(data.programmes.is_empty());
    assert_eq!(
        names(&data.categories, |c| &c.name),
        ["General", "Films"],
        "unused categories go, unless a package names them"
    );
    assert_eq!(
        store
            .sources()
            .await
            .unwrap()
            .iter()
            .map(|s| s.id)
            .collect::<Vec<_>>(),
        [ids.other]
    );

    store.delete_source(ids.other).await.unwrap();
    store.delete_line(gina.id).await.unwrap();
    let data = store.load_catalog().await.unwrap();
    assert!(data.live.is_empty());
    assert!(store.sources().await.unwrap().is_empty());
}

async fn source_settings(store: &dyn Store) {
    // A new source takes what it is given; the defaults are proxy, no cap.
    let capped = store
        .insert_source(NewSource {
            kind: SourceKind::M3u,
            location: "http://up.example/capped.m3u".into(),
            name: "Capped".into(),
            created_at: 0,
            max_connections: 3,
            delivery: Delivery::Redirect,
        })
        .await
        .unwrap();
    assert_eq!(
        (capped.max_connections, capped.delivery),
        (3, Delivery::Redirect)
    );
    assert_eq!(store.sources().await.unwrap(), vec![capped.clone()]);
    let settings = store.load_catalog().await.unwrap().sources;
    assert_eq!(settings, vec![capped.settings()]);

    // Each field changes alone; every change bumps the catalog stamp.
    let s0 = stamp(store).await;
    store
        .update_source(
            capped.id,
            SourcePatch {
                max_connections: Some(u32::MAX),
                ..SourcePatch::default()
            },
        )
        .await
        .unwrap();
    let s1 = stamp(store).await;
    assert!(s1.catalog > s0.catalog);
    assert_eq!(s1.lines, s0.lines);
    let loaded = &store.sources().await.unwrap()[0];
    assert_eq!(
        (loaded.max_connections, loaded.delivery),
        (u32::MAX, Delivery::Redirect)
    );
    store
        .update_source(
            capped.id,
            SourcePatch {
                delivery: Some(Delivery::Proxy),
                ..SourcePatch::default()
            },
        )
        .await
        .unwrap();
    assert!(stamp(store).await.catalog > s1.catalog);
    let loaded = &store.sources().await.unwrap()[0];
    assert_eq!(
        (loaded.max_connections, loaded.delivery),
        (u32::MAX, Delivery::Proxy)
    );
    let settings = &store.load_catalog().await.unwrap().sources[0];
    assert_eq!(
        (settings.max_connections, settings.delivery),
        (u32::MAX, Delivery::Proxy)
    );

    // The upstream identity: a user agent and headers set, kept through an
    // unrelated change, each cleared alone; every change bumps the stamp.
    let header = |raw: &str| UpstreamHeader::parse(raw).unwrap();
    let s_id = stamp(store).await;
    store
        .update_source(
            capped.id,
            SourcePatch {
                user_agent: Some(Some("VLC/3.0.18 LibVLC/3.0.18".into())),
                headers: Some(vec![
                    header("X-Token: s3cr3t"),
                    header("Referer: http://app.example/"),
                ]),
                ..SourcePatch::default()
            },
        )
        .await
        .unwrap();
    assert!(stamp(store).await.catalog > s_id.catalog);
    let want = UpstreamIdentity {
        user_agent: Some("VLC/3.0.18 LibVLC/3.0.18".into()),
        headers: vec![
            header("X-Token: s3cr3t"),
            header("Referer: http://app.example/"),
        ],
    };
    assert_eq!(store.sources().await.unwrap()[0].identity, want);
    assert_eq!(
        store.load_catalog().await.unwrap().sources[0].identity,
        want
    );
    store
        .update_source(
            capped.id,
            SourcePatch {
                enabled: Some(true),
                ..SourcePatch::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(store.sources().await.unwrap()[0].identity, want, "kept");
    store
        .update_source(
            capped.id,
            SourcePatch {
                user_agent: Some(None),
                ..SourcePatch::default()
            },
        )
        .await
        .unwrap();
    let loaded = store.sources().await.unwrap()[0].identity.clone();
    assert_eq!((loaded.user_agent, loaded.headers.len()), (None, 2));
    store
        .update_source(
            capped.id,
            SourcePatch {
                headers: Some(Vec::new()),
                ..SourcePatch::default()
            },
        )
        .await
        .unwrap();
    assert!(store.sources().await.unwrap()[0].identity.is_empty());
    assert!(store.load_catalog().await.unwrap().sources[0]
        .identity
        .is_empty());

    let s2 = stamp(store).await;
    let missing = store
        .update_source(SourceId(999_999), SourcePatch::default())
        .await;
    assert!(
        matches!(missing, Err(StoreError::NotFound { what: "source", .. })),
        "{missing:?}"
    );
    assert_eq!(stamp(store).await, s2, "a failed write is no change");
    store.delete_source(capped.id).await.unwrap();
    assert!(store.load_catalog().await.unwrap().sources.is_empty());
}

/// An Xtream account source: its credentials stored and loaded (never in
/// the location), the cap its provider says used unless the operator set
/// one, each change bumping the catalog stamp; and a live channel's
/// catch-up convention kept through a refresh.
async fn accounts_and_catchups(store: &dyn Store) {
    use tvgate_core::catalog::catchup::{Catchup, CatchupKind};
    use tvgate_core::catalog::XtreamAccount;
    let src = store
        .insert_source(NewSource {
            kind: SourceKind::Xtream,
            location: "http://xc.example:8080".into(),
            name: "Provider".into(),
            created_at: 0,
            max_connections: 0,
            delivery: Delivery::Proxy,
        })
        .await
        .unwrap();
    assert_eq!((src.kind, src.account.clone()), (SourceKind::Xtream, None));
    let s0 = stamp(store).await;
    let account = XtreamAccount {
        username: "joe".into(),
        password: "s3cret/\u{e9}".into(),
        max_connections: 0,
    };
    store
        .set_source_account(src.id, Some(account.clone()))
        .await
        .unwrap();
    let s1 = stamp(store).await;
    assert!(s1.catalog > s0.catalog);
    let loaded = &store.sources().await.unwrap()[0];
    assert_eq!(loaded.kind, SourceKind::Xtream);
    assert_eq!(loaded.account.as_ref(), Some(&account));
    assert_eq!(loaded.location, "http://xc.example:8080");

    // The provider's cap is the source's until the operator sets one.
    store.set_account_connections(src.id, 2).await.unwrap();
    let s2 = stamp(store).await;
    assert!(s2.catalog > s1.catalog);
    store.set_account_connections(src.id, 2).await.unwrap();
    assert_eq!(stamp(store).await, s2, "the same cap again is no change");
    let loaded = &store.sources().await.unwrap()[0];
    assert_eq!(
        (
            loaded.max_connections,
            loaded.cap(),
            loaded.account.as_ref().map(|a| a.max_connections)
        ),
        (0, 2, Some(2))
    );
    assert_eq!(
        store.load_catalog().await.unwrap().sources[0].max_connections,
        2
    );
    store
        .update_source(
            src.id,
            SourcePatch {
                max_connections: Some(5),
                ..SourcePatch::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        store.load_catalog().await.unwrap().sources[0].max_connections,
        5
    );
    assert!(matches!(
        store.set_account_connections(SourceId(999_999), 1).await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        store.set_source_account(SourceId(999_999), None).await,
        Err(StoreError::NotFound { .. })
    ));

    // Catch-up conventions go with the channel, through a refresh.
    let mut fluss = live("Fluss", "http://fl/ch1/mpegts", "Archive");
    fluss.key = "xtream:live:1".into();
    fluss.archive_days = 3;
    fluss.catchup = Some(Catchup {
        kind: CatchupKind::Flussonic,
        source: None,
    });
    let mut templated = live("Tpl", "http://up/2.ts", "Archive");
    templated.key = "xtream:live:2".into();
    templated.archive_days = 1;
    templated.catchup = Some(Catchup {
        kind: CatchupKind::Default,
        source: Some("http://arc/2?s={utc}&d={duration}".into()),
    });
    let mut xc = live("Xc", "http://xc.example:8080/live/joe/p/3.ts", "Archive");
    xc.key = "xtream:live:3".into();
    xc.archive_days = 7;
    xc.catchup = Some(tvgate_core::catalog::catchup::xc());
    for _ in 0..2 {
        store
            .replace_items(
                src.id,
                plan(vec![fluss.clone(), templated.clone(), xc.clone()]),
                0,
            )
            .await
            .unwrap();
        let data = store.load_catalog().await.unwrap();
        let mut catchups: Vec<_> = data
            .catchups
            .iter()
            .map(|(id, c)| {
                let channel = data.live.iter().find(|l| l.id == *id).unwrap();
                (channel.name().to_string(), c.clone())
            })
            .collect();
        catchups.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(
            catchups,
            vec![
                ("Fluss".to_string(), fluss.catchup.clone().unwrap()),
                ("Tpl".to_string(), templated.catchup.clone().unwrap()),
                ("Xc".to_string(), xc.catchup.clone().unwrap()),
            ]
        );
    }
    store.delete_source(src.id).await.unwrap();
}

/// An operator's switches: a disabled stream stays stored (listed with
/// `enabled: false`) but leaves the catalog load, and a refresh keeps the
/// switch and the id; a disabled source's settings say so and its guide is
/// not loaded.
async fn switches(store: &dyn Store) {
    let new = |name: &str, kind| NewSource {
        kind,
        location: format!("/srv/{name}"),
        name: name.into(),
        created_at: 0,
        max_connections: 0,
        delivery: Delivery::Proxy,
    };
    let src = store
        .insert_source(new("switches.m3u", SourceKind::M3u))
        .await
        .unwrap()
        .id;
    let items = vec![
        live("Alpha 100%", "http://up/s1.ts", "General"),
        live("Beta", "http://up/s2.ts", "General"),
        episode("Saga", 1, 1, Some("Shows")),
    ];
    store
        .replace_items(src, plan(items.clone()), 0)
        .await
        .unwrap();
    let only = |search: &str| StreamQuery {
        source: Some(src),
        search: search.into(),
        limit: 10,
        ..Default::default()
    };
    let page = store.streams(only("")).await.unwrap();
    assert_eq!(page.total, 3);
    assert_eq!(page.items[2].category.as_deref(), Some("Shows"));
    let beta = page.items[1].clone();
    assert_eq!((beta.name.as_str(), beta.kind.as_str()), ("Beta", "live"));
    assert!(beta.enabled);
    // Wildcards in a search are literal; case is folded.
    assert_eq!(store.streams(only("100%")).await.unwrap().total, 1);
    assert_eq!(store.streams(only("BET")).await.unwrap().total, 1);
    assert_eq!(store.streams(only("_")).await.unwrap().total, 0);
    let paged = StreamQuery {
        offset: 1,
        limit: 1,
        ..only("")
    };
    let paged = store.streams(paged).await.unwrap();
    assert_eq!((paged.total, paged.items.len()), (3, 1));
    assert_eq!(paged.items[0].id, beta.id);

    let s0 = stamp(store).await;
    store.set_stream_enabled(beta.id, false).await.unwrap();
    assert!(stamp(store).await.catalog > s0.catalog);
    let loaded = |data: &CatalogData| -> Vec<String> {
        data.live
            .iter()
            .filter(|c| c.source == src)
            .map(|c| c.name().to_string())
            .collect()
    };
    assert_eq!(loaded(&store.load_catalog().await.unwrap()), ["Alpha 100%"]);
    store.replace_items(src, plan(items), 10).await.unwrap();
    assert_eq!(
        loaded(&store.load_catalog().await.unwrap()),
        ["Alpha 100%"],
        "a refresh keeps the switch"
    );
    let by_id = StreamQuery {
        stream: Some(beta.id),
        limit: 1,
        ..Default::default()
    };
    let again = store.streams(by_id).await.unwrap();
    assert_eq!(again.items.len(), 1);
    assert!(!again.items[0].enabled);
    let off = StreamQuery {
        enabled: Some(false),
        ..only("")
    };
    let off = store.streams(off).await.unwrap();
    assert_eq!((off.total, off.items[0].id), (1, beta.id));
    store.set_stream_enabled(beta.id, true).await.unwrap();
    assert_eq!(loaded(&store.load_catalog().await.unwrap()).len(), 2);
    let missing = store.set_stream_enabled(StreamId(4_000_000), false).await;
    assert!(
        matches!(missing, Err(StoreError::NotFound { what: "stream", .. })),
        "{missing:?}"
    );

    // A disabled source: its settings say so, its guide is not loaded.
    let guide_src = store
        .insert_source(new("switches.xml", SourceKind::Xmltv))
        .await
        .unwrap()
        .id;
    let guide = guide_plan(
        vec![xmltv::Channel {
            id: "sw.tv".into(),
            display_names: vec!["Switch".into()],
            icon: None,
        }],
        vec![programme("sw.tv", 100, Some(200), "On")],
    );
    store.replace_guide(guide_src, guide).await.unwrap();
    let has_guide = |data: &CatalogData| data.guide_channels.iter().any(|g| &*g.id == "sw.tv");
    let data = store.load_catalog().await.unwrap();
    assert!(has_guide(&data));
    let programmes = data.programmes.len();
    for id in [src, guide_src] {
        let off = SourcePatch {
            enabled: Some(false),
            ..Default::default()
        };
        store.update_source(id, off).await.unwrap();
    }
    let data = store.load_catalog().await.unwrap();
    assert!(!has_guide(&data));
    assert_eq!(data.programmes.len(), programmes - 1);
    let settings = data.sources.iter().find(|s| s.id == src).unwrap();
    assert!(!settings.enabled, "the catalog build hides its items");
    assert!(store
        .sources()
        .await
        .unwrap()
        .iter()
        .all(|s| s.id != src || !s.enabled));
    store.delete_source(src).await.unwrap();
    store.delete_source(guide_src).await.unwrap();
}

async fn backups(store: &dyn Store) {
    let src = store
        .insert_source(NewSource {
            kind: SourceKind::M3u,
            location: "/srv/backups.m3u".into(),
            name: "Backups".into(),
            created_at: 0,
            max_connections: 0,
            delivery: Delivery::Proxy,
        })
        .await
        .unwrap()
        .id;
    let items = vec![
        live("One", "http://up/b1.ts", "General"),
        live("Two", "http://up/b2.ts", "General"),
        movie("Film", "http://up/b.mkv", "Films"),
    ];
    store
        .replace_items(src, plan(items.clone()), 0)
        .await
        .unwrap();
    let data = store.load_catalog().await.unwrap();
    let (one, two, film) = (data.live[0].id, data.live[1].id, data.movies[0].id);
    assert!(data.backups.is_empty());

    let s0 = stamp(store).await;
    store
        .set_backups(one, vec!["http://b/1.ts".into(), "http://a/1.ts".into()])
        .await
        .unwrap();
    store
        .set_backups(two, vec!["http://b/2.ts".into()])
        .await
        .unwrap();
    let s1 = stamp(store).await;
    assert!(s1.catalog > s0.catalog);
    assert_eq!(s1.lines, s0.lines);
    let urls = |v: &[&str]| v.iter().map(|u| Box::<str>::from(*u)).collect::<Vec<_>>();
    let expected = vec![
        (one, urls(&["http://b/1.ts", "http://a/1.ts"])),
        (two, urls(&["http://b/2.ts"])),
    ];
    assert_eq!(
        store.load_catalog().await.unwrap().backups,
        expected,
        "in the order given"
    );

    // A refresh that keeps the channels keeps their backups.
    store.replace_items(src, plan(items), 10).await.unwrap();
    assert_eq!(store.load_catalog().await.unwrap().backups, expected);

    // Replacing and clearing.
    store
        .set_backups(one, vec!["http://c/1.ts".into()])
        .await
        .unwrap();
    store.set_backups(two, vec![]).await.unwrap();
    assert_eq!(
        store.load_catalog().await.unwrap().backups,
        vec![(one, urls(&["http://c/1.ts"]))]
    );

    // Only live channels have backups; a failed write changes nothing.
    let s2 = stamp(store).await;
    for bad in [film, StreamId(999_999)] {
        let err = store.set_backups(bad, vec!["http://x/1.ts".into()]).await;
        assert!(
            matches!(
                err,
                Err(StoreError::NotFound {
                    what: "live channel",
                    ..
                })
            ),
            "{bad}: {err:?}"
        );
    }
    assert_eq!(stamp(store).await, s2);

    // A channel gone from the source takes its backups with it; a new
    // channel at the same URL later starts with none.
    store
        .replace_items(
            src,
            plan(vec![live("Two", "http://up/b2.ts", "General")]),
            20,
        )
        .await
        .unwrap();
    assert!(store.load_catalog().await.unwrap().backups.is_empty());
    store
        .replace_items(
            src,
            plan(vec![live("One", "http://up/b1.ts", "General")]),
            30,
        )
        .await
        .unwrap();
    let data = store.load_catalog().await.unwrap();
    assert_ne!(data.live[0].id, one);
    assert!(data.backups.is_empty());

    // Deleting the source cascades to its channels' backups.
    store
        .set_backups(data.live[0].id, vec!["http://d/1.ts".into()])
        .await
        .unwrap();
    store.delete_source(src).await.unwrap();
    assert!(store.load_catalog().await.unwrap().backups.is_empty());
}

// ----- upgrades -----

/// A database written by a tvgate that knew only migration 0001, with a
/// line, a source and a channel in it, upgrades in place: every row is
/// kept, and the new settings take their defaults.
#[tokio::test]
async fn a_0001_database_upgrades_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tvgate.db");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(include_str!("../migrations/sqlite/0001_init.sql"))
            .unwrap();
        conn.execute_batch(
            "CREATE TABLE schema_version (
                 version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL);
             INSERT INTO schema_version VALUES (1, 'init', 0);
             INSERT INTO accounts (username, username_key, password_hash, status,
                 max_connections, allowed_formats, created_at, note)
             VALUES ('Old', 'old', '$argon2id$h', 'active', 2, 3, 5, 'kept');
             INSERT INTO sources (kind, location, name, created_at, item_count)
             VALUES ('m3u', 'http://up/old.m3u', 'Old list', 7, 1);
             INSERT INTO streams (source_id, key, kind, position, name, url, added)
             VALUES (1, 'http://up/old.ts', 'live', 0, 'Old channel', 'http://up/old.ts', 9);",
        )
        .unwrap();
    }
    let store = open_sqlite(&path).await.unwrap();
    let conn = rusqlite::Connection::open(&path).unwrap();
    let version: i64 = conn
        .query_row("SELECT MAX(version) FROM schema_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, tvgate_store::sqlite::migrate::latest_version());
    assert!(version >= 3);
    assert!(
        store.load_bindings().await.unwrap().is_empty(),
        "upgraded lines have no binding: binding off"
    );

    let lines = store.load_lines().await.unwrap();
    assert_eq!(lines.len(), 1);
    assert_eq!((&*lines[0].username, &*lines[0].note), ("Old", "kept"));
    assert_eq!(lines[0].max_connections, 2);
    assert_eq!(lines[0].status, Status::Active);
    assert_eq!(lines[0].limit_policy, None);

    let sources = store.sources().await.unwrap();
    assert_eq!(sources.len(), 1);
    assert_eq!(sources[0].name, "Old list");
    assert_eq!(sources[0].item_count, 1);
    assert_eq!(
        (sources[0].max_connections, sources[0].delivery),
        (0, Delivery::Proxy)
    );

    let data = store.load_catalog().await.unwrap();
    assert_eq!(names(&data.live, |c| c.name()), ["Old channel"]);
    assert!(data.backups.is_empty());
    // The upgraded database takes the new rows.
    store
        .set_backups(data.live[0].id, vec!["http://b/old.ts".into()])
        .await
        .unwrap();
    let mut old = lines[0].clone();
    old.limit_policy = Some(LimitPolicy::Refuse);
    store.update_line(&old, "old".into()).await.unwrap();
    drop(store);
    let reopened = open_sqlite(&path).await.unwrap();
    assert_eq!(reopened.load_lines().await.unwrap(), vec![old]);
    assert_eq!(reopened.load_catalog().await.unwrap().backups.len(), 1);
}

fn audit(line: LineId, action: AuditAction, at: i64) -> DeviceAudit {
    DeviceAudit {
        line,
        username: "Dev".into(),
        at,
        actor: Actor::Operator,
        action,
        ip: Some("192.0.2.7".parse().unwrap()),
        old_device: None,
        new_device: Some(format!("{} at {at}", action.as_str())),
        detail: String::new(),
    }
}

fn new_device(kind: DeviceKind, identifier: &str) -> NewDevice {
    NewDevice {
        kind,
        identifier: identifier.into(),
        label: "Living room".into(),
        serial: None,
        device_id: None,
        device_id2: None,
        first_seen: 100,
        last_seen: 0,
        last_ip: None,
    }
}

/// Device bindings: policy, devices, pins, reset, audit, stamps, cascade.
async fn devices(store: &dyn Store) {
    let dev = store
        .insert_line(new_line("Dev"), "dev".into())
        .await
        .unwrap();
    let none = store.load_bindings().await.unwrap();
    assert!(
        none.iter().all(|(id, _)| *id != dev.id),
        "a new line has no binding: binding off"
    );
    let s0 = stamp(store).await;
    let policy = DevicePolicy {
        limit: 2,
        enrolment: Enrolment::Operator,
        ip_lock: vec![
            IpRange::parse("192.0.2.0/24").unwrap(),
            IpRange::parse("2001:db8::/32").unwrap(),
        ],
    };
    store
        .set_device_policy(
            dev.id,
            policy.clone(),
            audit(dev.id, AuditAction::Policy, 1),
        )
        .await
        .unwrap();
    let s1 = stamp(store).await;
    assert!(s1.lines > s0.lines, "a policy change is a line change");
    let tv = store
        .add_device(
            dev.id,
            new_device(DeviceKind::Mac, "00:1A:79:AA:BB:CC"),
            audit(dev.id, AuditAction::Add, 2),
        )
        .await
        .unwrap();
    assert_eq!(&*tv.identifier, "00:1A:79:AA:BB:CC");
    let phone = store
        .add_device(
            dev.id,
            new_device(DeviceKind::Player, "phone-1"),
            audit(dev.id, AuditAction::Bind, 3),
        )
        .await
        .unwrap();
    assert!(matches!(
        store
            .add_device(
                dev.id,
                new_device(DeviceKind::Mac, "00:1A:79:AA:BB:CC"),
                audit(dev.id, AuditAction::Add, 4),
            )
            .await,
        Err(StoreError::Conflict { .. })
    ));
    assert!(matches!(
        store
            .add_device(
                LineId(999_999),
                new_device(DeviceKind::Mac, "00:1A:79:00:00:01"),
                audit(LineId(999_999), AuditAction::Add, 4),
            )
            .await,
        Err(StoreError::NotFound { .. })
    ));
    // A sighting pins new identifiers, keeps pinned ones, and does not bump.
    let s2 = stamp(store).await;
    let mut seen = tv.clone();
    seen.last_seen = 500;
    seen.last_ip = Some("192.0.2.9".parse().unwrap());
    seen.serial = Some("SN1".into());
    store.touch_device(seen).await.unwrap();
    let mut again = tv.clone();
    again.last_seen = 600;
    again.serial = Some("SN2".into());
    again.last_ip = Some("192.0.2.10".parse().unwrap());
    store.touch_device(again).await.unwrap();
    store
        .record_device_audit(audit(dev.id, AuditAction::Refuse, 7))
        .await
        .unwrap();
    assert_eq!(stamp(store).await, s2, "sightings and refusals do not bump");
    let binding = store
        .load_bindings()
        .await
        .unwrap()
        .into_iter()
        .find(|(id, _)| *id == dev.id)
        .map(|(_, b)| b)
        .expect("the line's binding");
    assert_eq!(binding.policy, policy);
    assert_eq!(binding.last_self_reset, None);
    assert_eq!(binding.devices.len(), 2);
    let got = &binding.devices[0];
    assert_eq!((got.id, got.kind), (tv.id, DeviceKind::Mac));
    assert_eq!(
        got.serial.as_deref(),
        Some("SN1"),
        "the first serial stays pinned"
    );
    assert_eq!(got.last_seen, 600);
    assert_eq!(got.last_ip, Some("192.0.2.10".parse().unwrap()));
    assert_eq!(&*got.label, "Living room");
    assert_eq!(binding.devices[1].id, phone.id);
    // Remove one, then reset by the subscriber (records when).
    assert_eq!(
        store
            .remove_devices(
                dev.id,
                Some(phone.id),
                None,
                audit(dev.id, AuditAction::Remove, 8)
            )
            .await
            .unwrap(),
        1
    );
    assert!(matches!(
        store
            .remove_devices(
                dev.id,
                Some(phone.id),
                None,
                audit(dev.id, AuditAction::Remove, 8)
            )
            .await,
        Err(StoreError::NotFound { .. })
    ));
    let mut reset = audit(dev.id, AuditAction::Reset, 9);
    reset.actor = Actor::Subscriber;
    assert_eq!(
        store
            .remove_devices(dev.id, None, Some(900), reset)
            .await
            .unwrap(),
        1
    );
    let binding = store
        .load_bindings()
        .await
        .unwrap()
        .into_iter()
        .find(|(id, _)| *id == dev.id)
        .map(|(_, b)| b)
        .expect("the policy stays");
    assert!(binding.devices.is_empty());
    assert_eq!(binding.last_self_reset, Some(900));
    assert_eq!(binding.policy, policy, "a reset keeps the rules");
    // The audit log, newest first, per line and overall, limited.
    let log = store.device_audit(Some(dev.id), 100).await.unwrap();
    let actions: Vec<&str> = log.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        ["reset", "remove", "refuse", "bind", "add", "policy"]
    );
    assert_eq!(log[0].actor, Actor::Subscriber);
    assert_eq!(log[0].ip, Some("192.0.2.7".parse().unwrap()));
    assert_eq!(log[0].new_device.as_deref(), Some("reset at 9"));
    assert_eq!(store.device_audit(Some(dev.id), 2).await.unwrap().len(), 2);
    assert!(store.device_audit(None, 100).await.unwrap().len() >= 6);
    // Deleting the line drops its binding and keeps its audit.
    store
        .add_device(
            dev.id,
            new_device(DeviceKind::Stb, "SN-9"),
            audit(dev.id, AuditAction::Add, 10),
        )
        .await
        .unwrap();
    store.delete_line(dev.id).await.unwrap();
    assert!(store
        .load_bindings()
        .await
        .unwrap()
        .iter()
        .all(|(id, _)| *id != dev.id));
    assert_eq!(
        store.device_audit(Some(dev.id), 100).await.unwrap().len(),
        7
    );
}

// ----- runs -----

#[tokio::test]
async fn sqlite_in_memory() {
    let store = open_in_memory().unwrap();
    suite(&store).await;
}

#[tokio::test]
async fn sqlite_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tvgate.db");
    let store = open_sqlite(&path).await.unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the database holds password hashes");
    }
    suite(&store).await;

    // Data outlives the value.
    let kept = store
        .insert_line(new_line("Hank"), "hank".into())
        .await
        .unwrap();
    let before = store.load_lines().await.unwrap();
    assert!(before.contains(&kept));

    // Another process (the CLI) writes the same file: the server's reader
    // sees the change stamp move and the new line.
    let cli = open_sqlite(&path).await.unwrap();
    let stamp_before = stamp(&store).await;
    let added = cli
        .insert_line(new_line("Kim"), "kim".into())
        .await
        .unwrap();
    assert!(stamp(&store).await.lines > stamp_before.lines);
    assert!(store.load_lines().await.unwrap().contains(&added));
    cli.delete_line(added.id).await.unwrap();
    drop(cli);
    drop(store);
    let reopened = open_sqlite(&path).await.unwrap();
    assert_eq!(reopened.load_lines().await.unwrap(), before);
}

#[tokio::test]
async fn a_database_from_a_newer_tvgate_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tvgate.db");
    drop(open_sqlite(&path).await.unwrap());
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute(
        "INSERT INTO schema_version (version, name, applied_at) VALUES (?1, 'future', 0)",
        [tvgate_store::sqlite::migrate::latest_version() + 1],
    )
    .unwrap();
    drop(conn);
    let err = open_sqlite(&path).await.unwrap_err().to_string();
    assert!(err.contains("newer tvgate"), "{err}");
}

#[tokio::test]
async fn postgres() {
    let db = TestDatabase::create().await;
    let store = open_postgres(&db.url, 4).await.unwrap();
    suite(&store).await;
}

/// Two nodes on one database: what one writes, the other sees, is told of
/// at once (LISTEN/NOTIFY), and counts in the change stamp.
#[tokio::test]
async fn postgres_nodes_see_each_others_writes() {
    let db = TestDatabase::create().await;
    let (a, b) = tokio::join!(open_postgres(&db.url, 4), open_postgres(&db.url, 4));
    let (a, b) = (a.unwrap(), b.unwrap());
    let mut changes = a.watch().expect("PostgreSQL notifies");
    // The listening connection is made in the background: the first write
    // must not be sent before it listens.
    wait_for_listener(&db.url).await;

    let before = stamp(&a).await;
    let kim = b.insert_line(new_line("Kim"), "kim".into()).await.unwrap();
    assert_eq!(next_change(&mut changes).await, Change::Lines);
    assert!(stamp(&a).await.lines > before.lines);
    assert!(a.load_lines().await.unwrap().contains(&kim));

    let src = b
        .insert_source(NewSource {
            kind: SourceKind::M3u,
            location: "/srv/nodes.m3u".into(),
            name: "nodes".into(),
            created_at: 0,
            max_connections: 0,
            delivery: Delivery::Proxy,
        })
        .await
        .unwrap();
    assert_eq!(next_change(&mut changes).await, Change::Catalog);
    b.replace_items(src.id, plan(vec![live("N", "http://n/1.ts", "G")]), 5)
        .await
        .unwrap();
    assert_eq!(next_change(&mut changes).await, Change::Catalog);
    assert_eq!(
        names(&a.load_catalog().await.unwrap().live, |c| c.name()),
        ["N"]
    );

    // A verifier alone is no change; ending a session is one of its own.
    b.set_verifier(kim.id, Some(vec![3; 36])).await.unwrap();
    b.delete_session([1; 32]).await.unwrap();
    assert_eq!(next_change(&mut changes).await, Change::Sessions);
    drop(changes);
}

/// Waits until a connection to the database at `url` listens for changes;
/// returns a connection of its own to it.
async fn wait_for_listener(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let listening: i64 = client
            .query_one(
                "SELECT COUNT(*) FROM pg_stat_activity
                 WHERE datname = current_database() AND query = 'LISTEN tvgate_changes'",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        if listening > 0 {
            return client;
        }
        assert!(Instant::now() < deadline, "the listener never connected");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn next_change(changes: &mut futures::stream::BoxStream<'static, Change>) -> Change {
    use futures::StreamExt;
    tokio::time::timeout(Duration::from_secs(5), changes.next())
        .await
        .expect("a notification within 5 s")
        .expect("the stream goes on")
}

/// When the listening connection is lost, the stream says so with a
/// resync (what was notified meanwhile is gone) once it listens again,
/// and notifications flow as before.
#[tokio::test]
async fn postgres_listener_reconnects_and_asks_for_a_resync() {
    let db = TestDatabase::create().await;
    let store = open_postgres(&db.url, 2).await.unwrap();
    let mut changes = store.watch().expect("PostgreSQL notifies");
    let admin = wait_for_listener(&db.url).await;
    admin
        .execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE datname = current_database() AND query = 'LISTEN tvgate_changes'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(next_change(&mut changes).await, Change::Resync);
    store
        .insert_line(new_line("Back"), "back".into())
        .await
        .unwrap();
    assert_eq!(next_change(&mut changes).await, Change::Lines);
}

/// Connections the server drops (a restart of PostgreSQL, a failover, an
/// administrator's `pg_terminate_backend`) are replaced: the next calls
/// work without restarting the node.
#[tokio::test]
async fn postgres_connections_dropped_by_the_server_are_replaced() {
    let db = TestDatabase::create().await;
    let store = open_postgres(&db.url, 3).await.unwrap();
    for name in ["one", "two", "three"] {
        store
            .insert_line(new_line(name), name.into())
            .await
            .unwrap();
    }
    let (admin, connection) = tokio_postgres::connect(&db.url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    admin
        .execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
            &[],
        )
        .await
        .unwrap();
    // A pooled connection notices it was closed once its task sees the
    // server go; give that a moment.
    tokio::time::sleep(Duration::from_millis(200)).await;
    for _ in 0..5 {
        assert_eq!(store.load_lines().await.unwrap().len(), 3);
    }
    store
        .insert_line(new_line("four"), "four".into())
        .await
        .unwrap();
}

/// Three nodes starting at once on an empty database: one migrates, the
/// others wait for it, and all work.
#[tokio::test]
async fn postgres_nodes_starting_at_once_migrate_once() {
    let db = TestDatabase::create().await;
    let (a, b, c) = tokio::join!(
        open_postgres(&db.url, 2),
        open_postgres(&db.url, 2),
        open_postgres(&db.url, 2)
    );
    let (a, b, c) = (a.unwrap(), b.unwrap(), c.unwrap());
    a.insert_line(new_line("One"), "one".into()).await.unwrap();
    assert_eq!(b.load_lines().await.unwrap().len(), 1);
    assert_eq!(c.load_lines().await.unwrap().len(), 1);
    let (client, connection) = tokio_postgres::connect(&db.url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let rows: i64 = client
        .query_one("SELECT COUNT(*) FROM schema_version", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(rows, tvgate_store::migrations::MIGRATIONS.len() as i64);
}

#[tokio::test]
async fn a_postgres_database_from_a_newer_tvgate_is_refused() {
    let db = TestDatabase::create().await;
    drop(open_postgres(&db.url, 2).await.unwrap());
    let (client, connection) = tokio_postgres::connect(&db.url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
        .execute(
            "INSERT INTO schema_version (version, name, applied_at) VALUES ($1, 'future', 0)",
            &[&(tvgate_store::migrations::latest_version() + 1)],
        )
        .await
        .unwrap();
    let err = open_postgres(&db.url, 2).await.unwrap_err().to_string();
    assert!(err.contains("newer tvgate"), "{err}");
}

/// A server that is not there, or a database that does not exist: one
/// line that says what failed, the password never in it.
#[tokio::test]
async fn an_unreachable_postgres_is_a_clear_error() {
    let err = open_postgres("postgres://tvgate:s3cret@127.0.0.1:1/tvgate", 2)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("connecting to PostgreSQL"), "{err}");
    assert!(err.contains("tvgate:***@127.0.0.1:1"), "{err}");
    assert!(!err.contains("s3cret") && !err.contains('\n'), "{err}");
    let missing = tvgate_store::postgres::testing::with_database(
        &tvgate_store::postgres::testing::admin_url(),
        "tvgate_no_such_database",
    );
    let err = open_postgres(&missing, 2).await.unwrap_err().to_string();
    assert!(err.contains("tvgate_no_such_database"), "{err}");
    let err = open_postgres("postgres://h:notaport/x", 2)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("PostgreSQL URL"), "{err}");
}

#[tokio::test]
async fn a_missing_directory_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("no-such-dir").join("tvgate.db");
    let err = open_sqlite(&path).await.unwrap_err().to_string();
    assert!(err.contains("no-such-dir"), "{err}");
}

// ----- crash safety -----

/// Set in the child: the database file to write to.
const CHILD_ENV: &str = "TVGATE_STORE_CRASH_CHILD";

/// Kills and reaps the child however the test ends.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The child's side of `committed_lines_survive_sigkill`: a no-op unless the
/// parent started this binary with `CHILD_ENV` set.
#[tokio::test]
async fn crash_writer_child() {
    let Some(path) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let store = open_sqlite(Path::new(&path)).await.unwrap();
    // Stops on its own if the parent never kills it.
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut n = 0u64;
    while Instant::now() < deadline {
        n += 1;
        let name = format!("crash{n}");
        let a = store
            .insert_line(new_line(&name), name.clone())
            .await
            .unwrap();
        // Printed only once the call has returned, i.e. committed.
        println!("committed {}", a.id);
        if n % 50 == 0 {
            // Some bigger transactions too, so the kill may land mid-batch.
            let rows = (0..200)
                .map(|i| {
                    let key = format!("batch{n}-{i}");
                    (new_line(&key), key, UpsertFields::default())
                })
                .collect();
            store.upsert_lines(rows).await.unwrap();
            println!("batch {n}");
        }
    }
}

#[tokio::test]
async fn committed_lines_survive_sigkill() {
    if std::env::var_os(CHILD_ENV).is_some() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crash.db");
    let child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "crash_writer_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, &path)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut child = KillOnDrop(child);
    let stdout = child.0.stdout.take().unwrap();

    let mut committed: Vec<i64> = Vec::new();
    let mut batches: Vec<u64> = Vec::new();
    let mut killed = false;
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        if let Some(id) = line.strip_prefix("committed ") {
            committed.push(id.trim().parse().unwrap());
        } else if let Some(n) = line.strip_prefix("batch ") {
            batches.push(n.trim().parse().unwrap());
        }
        if !killed && committed.len() >= 300 {
            // SIGKILL; lines already in the pipe are still read below.
            child.0.kill().unwrap();
            killed = true;
        }
    }
    let status = child.0.wait().unwrap();
    assert!(killed, "the writer stopped before 300 commits: {status:?}");
    {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(status.signal(), Some(9), "{status:?}");
    }

    let store = open_sqlite(&path).await.unwrap();
    let lines = store.load_lines().await.unwrap();
    let present: std::collections::HashSet<i64> = lines.iter().map(|a| a.id.0).collect();
    let lost: Vec<_> = committed
        .iter()
        .filter(|id| !present.contains(id))
        .collect();
    assert!(
        lost.is_empty(),
        "committed lines lost after SIGKILL: {lost:?}"
    );
    for n in batches {
        let prefix = format!("batch{n}-");
        let count = lines
            .iter()
            .filter(|a| a.username.starts_with(&prefix))
            .count();
        assert_eq!(count, 200, "batch {n} is not whole");
    }
    // Nothing half-written either: every batch is whole or absent.
    let mut per_batch: std::collections::HashMap<&str, usize> = Default::default();
    for a in &lines {
        if let Some(rest) = a.username.strip_prefix("batch") {
            *per_batch
                .entry(rest.split('-').next().unwrap())
                .or_default() += 1;
        }
    }
    assert!(per_batch.values().all(|&c| c == 200), "{per_batch:?}");
}

// ----- bulk timings -----

/// Prints how long the bulk operations take, on SQLite and on PostgreSQL.
/// Slow in debug builds; run with
/// `TVGATE_STORE_BENCH=1 cargo test --release -p tvgate-store --test conformance bulk -- --nocapture`.
#[tokio::test]
async fn bulk_timings() {
    if std::env::var_os("TVGATE_STORE_BENCH").is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    if std::env::var_os("TVGATE_STORE_BENCH_MEMORY").is_some() {
        eprintln!("in memory:");
        bulk(&open_in_memory().unwrap()).await;
    }
    eprintln!("in a file:");
    bulk(&open_sqlite(&dir.path().join("bench.db")).await.unwrap()).await;
    eprintln!("on PostgreSQL:");
    let db = TestDatabase::create().await;
    bulk(&open_postgres(&db.url, 4).await.unwrap()).await;
}

/// Wall and process CPU time since `since`.
fn took(since: (Instant, Duration)) -> String {
    format!(
        "{:.2?} wall, {:.2?} cpu",
        since.0.elapsed(),
        cpu_time().saturating_sub(since.1)
    )
}

fn start() -> (Instant, Duration) {
    (Instant::now(), cpu_time())
}

/// User + system time of this process (Linux), zero elsewhere.
fn cpu_time() -> Duration {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return Duration::ZERO;
    };
    // Fields after the command name (which may hold spaces) start after ')'.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    let ticks: u64 = [11, 12]
        .iter()
        .filter_map(|&i| fields.get(i)?.parse::<u64>().ok())
        .sum();
    // USER_HZ is 100 on every Linux configuration that matters here.
    Duration::from_millis(ticks * 10)
}

async fn bulk(store: &dyn Store) {
    let rows = |salt: &str| -> Vec<_> {
        (0..100_000)
            .map(|i| {
                let name = format!("user{i:06}");
                let mut a = new_line(&name);
                a.password_hash = format!("$argon2id$v=19$m=19456,t=2,p=1${salt}{i}").into();
                let flags = UpsertFields {
                    password: true,
                    max_connections: true,
                    ..Default::default()
                };
                (a, name, flags)
            })
            .collect()
    };
    let t = start();
    let c = store.upsert_lines(rows("a")).await.unwrap();
    eprintln!("upsert 100,000 new lines: {} ({c:?})", took(t));
    let t = start();
    let c = store.upsert_lines(rows("b")).await.unwrap();
    eprintln!("upsert 100,000 existing lines: {} ({c:?})", took(t));
    let t = start();
    let n = store.load_lines().await.unwrap().len();
    eprintln!("load {n} lines: {}", took(t));

    let src = store
        .insert_source(NewSource {
            kind: SourceKind::Xmltv,
            location: "epg.xml".into(),
            name: "EPG".into(),
            created_at: 0,
            max_connections: 0,
            delivery: Delivery::Proxy,
        })
        .await
        .unwrap()
        .id;
    // Planned inside the timings, as the store sorted and filled stops
    // itself before the plan came from core.
    let guide = || {
        let channels: Vec<_> = (0..1000)
            .map(|c| xmltv::Channel {
                id: format!("channel{c}.tv"),
                display_names: vec![format!("Channel {c}")],
                icon: None,
            })
            .collect();
        let programmes: Vec<_> = (0..1_000_000i64)
            .map(|i| {
                let mut p = programme(
                    &format!("channel{}.tv", i % 1000),
                    1_700_000_000 + (i / 1000) * 1800,
                    None,
                    &format!("Programme {i}"),
                );
                p.desc = Some(
                    "A description of a typical length for a programme, some eighty characters."
                        .into(),
                );
                p
            })
            .collect();
        (channels, programmes)
    };
    let (channels, programmes) = guide();
    let t = start();
    let n = store
        .replace_guide(src, guide_plan(channels, programmes))
        .await
        .unwrap();
    eprintln!("replace_guide {n} programmes (empty before): {}", took(t));
    let (channels, programmes) = guide();
    let t = start();
    store
        .replace_guide(src, guide_plan(channels, programmes))
        .await
        .unwrap();
    eprintln!("replace_guide {n} programmes (replacing): {}", took(t));

    let items: Vec<_> = (0..100_000)
        .map(|i| {
            live(
                &format!("Channel {i}"),
                &format!("http://up/{i}.ts"),
                &format!("Group {}", i % 50),
            )
        })
        .collect();
    let t = start();
    store
        .replace_items(src, plan(items.clone()), 1)
        .await
        .unwrap();
    eprintln!("replace_items 100,000 new: {}", took(t));
    let t = start();
    store.replace_items(src, plan(items), 2).await.unwrap();
    eprintln!("replace_items 100,000 unchanged: {}", took(t));
    let t = start();
    let data = store.load_catalog().await.unwrap();
    eprintln!(
        "load_catalog ({} live, {} programmes): {}",
        data.live.len(),
        data.programmes.len(),
        took(t)
    );
    let t = start();
    store.delete_source(src).await.unwrap();
    eprintln!("delete_source with 1M programmes: {}", took(t));
}

/// PostgreSQL's text cannot hold NUL: a NUL in text from outside (a name in
/// a playlist, a username a player sent) is kept as U+FFFD instead of
/// failing the whole write, so a player cannot keep its refusals, or a
/// provider its playlist, out of the store with one character. Nor does a
/// URL longer than an index entry fail an import.
#[tokio::test]
async fn postgres_keeps_text_with_a_nul_in_it() {
    let db = TestDatabase::create().await;
    let store = open_postgres(&db.url, 2).await.unwrap();
    store
        .insert_refusals(vec![
            refusal(1, "invalid_credentials", None, "a\0b", [10, 0, 0, 1]),
            refusal(2, "expired", None, "dora", [10, 0, 0, 1]),
        ])
        .await
        .unwrap();
    let logged = store
        .refusals(RefusalFilter {
            username: Some("a\0b".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(logged.len(), 1);
    assert_eq!(logged[0].refusal.username, "a\u{FFFD}b");
    let src = store
        .insert_source(NewSource {
            kind: SourceKind::M3u,
            location: "/srv/nul.m3u".into(),
            name: "nul".into(),
            created_at: 0,
            max_connections: 0,
            delivery: Delivery::Proxy,
        })
        .await
        .unwrap();
    // A key (a URL) longer than a B-tree entry holds is fine too.
    let long = format!("http://up/long.ts?token={}", "x".repeat(5000));
    let items = vec![
        live("Bad\0Name", "http://up/\0.ts", "Gro\0up"),
        episode("Se\0ries", 1, 1, Some("Shows")),
        live("Long", &long, "General"),
    ];
    store
        .replace_items(src.id, plan(items.clone()), 1)
        .await
        .unwrap();
    store.replace_items(src.id, plan(items), 2).await.unwrap();
    let data = store.load_catalog().await.unwrap();
    assert_eq!(names(&data.live, |c| c.name()), ["Bad\u{FFFD}Name", "Long"]);
    assert_eq!(data.live[1].url(), long);
    assert_eq!(data.live[0].added, 1, "the same key the second time");
    assert_eq!(names(&data.series, |s| &s.name), ["Se\u{FFFD}ries"]);
    store
        .replace_guide(
            src.id,
            guide_plan(vec![], vec![programme("c\0", 0, Some(1), "T\0")]),
        )
        .await
        .unwrap();
}
