//! Credential hygiene: what players and copy-paste add never turns a real
//! password into a wrong one.

use crate::harness::*;

#[tokio::test]
async fn pasted_spaces_invisible_characters_and_username_case() {
    let srv = TestServer::start().await;
    srv.add_line("Alice", "Secret-9", |_| {}).await;
    for (user, pass) in [
        ("Alice", "Secret-9%20"),
        ("%20Alice", "Secret-9"),
        ("Alice", "Secret-9%E2%80%8B"),
        ("alice", "Secret-9"),
        ("ALICE%C2%A0", "%EF%BB%BFSecret-9"),
    ] {
        let v =
            get_json(&srv.url(&format!("/player_api.php?username={user}&password={pass}"))).await;
        assert_eq!(v["user_info"]["auth"], 1, "{user} / {pass}");
        assert_eq!(
            v["user_info"]["password"], "Secret-9",
            "the clean password is echoed for stream URLs"
        );
    }
    let v = get_json(&srv.url("/player_api.php?username=alice&password=secret-9")).await;
    assert_eq!(v["user_info"]["auth"], 0, "passwords match exactly");
    let (status, _) = get(&srv.url("/live/alice/Secret-9%20/1.ts")).await;
    assert_ne!(status, 401, "stream URLs clean too");
}

#[tokio::test]
async fn the_case_policy_can_be_turned_off() {
    let dir = tempfile::tempdir().expect("tempdir");
    let srv = TestServer::start_in(dir, |_| {}, false).await;
    srv.add_line("Alice", "Secret-9", |_| {}).await;
    let v = get_json(&srv.url("/player_api.php?username=alice&password=Secret-9")).await;
    assert_eq!(v["user_info"]["auth"], 0);
    let v = get_json(&srv.url("/player_api.php?username=Alice&password=Secret-9")).await;
    assert_eq!(v["user_info"]["auth"], 1);
}

#[tokio::test]
async fn creation_refuses_what_would_break_later() {
    let srv = TestServer::start().await;
    for (user, pass) in [
        ("bob", "trailing "),
        ("bob", "a/b"),
        ("bob", "zero\u{200b}width"),
        ("bo b", "fine"),
        ("bob", "has:colon"),
    ] {
        let mut spec = tvgate_core::gate::LineSpec::new(user);
        spec.password = Some(pass.to_string());
        let err = srv.gate.create_line(spec, NOW).await.expect_err("refused");
        assert!(!err.to_string().is_empty());
    }
    srv.add_line("bob", "ok-pass", |_| {}).await;
    let mut spec = tvgate_core::gate::LineSpec::new("BOB");
    spec.password = Some("other".into());
    let err = srv
        .gate
        .create_line(spec, NOW)
        .await
        .expect_err("case-folded duplicate");
    assert!(err.to_string().contains("already exists"), "{err}");
}

#[tokio::test]
async fn proven_credentials_survive_a_restart_without_the_kdf() {
    {
        let srv = TestServer::start().await;
        srv.add_line("dave", "pw-8", |_| {}).await;
        let v = get_json(&srv.url("/player_api.php?username=dave&password=pw-8")).await;
        assert_eq!(v["user_info"]["auth"], 1);
        let stored = srv.gate.find_line("dave").expect("line");
        assert!(
            stored.verifier.is_some(),
            "a verifier was stored at creation"
        );
        // Re-open the same store with a KDF that refuses to run.
        let store = tvgate::startup::open_store(&srv.settings)
            .await
            .expect("store");
        let key =
            tvgate::startup::load_or_create_key(&srv.settings.verifier_key_path()).expect("key");
        let gate = tvgate_core::gate::Gate::open(
            store,
            key,
            std::sync::Arc::new(NoKdf),
            tvgate::startup::gate_settings(&srv.settings),
        )
        .await
        .expect("gate");
        let ip = "127.0.0.1".parse().expect("ip");
        assert!(matches!(
            gate.authenticate("dave", "pw-8", ip, NOW).await,
            tvgate_core::gate::Authn::Proven { .. }
        ));
        assert!(matches!(
            gate.authenticate("dave", "pw-9", ip, NOW).await,
            tvgate_core::gate::Authn::NotProven
        ));
    }
}

/// A KDF that must not be called: logins after a restart use the verifier.
struct NoKdf;

#[async_trait::async_trait]
impl tvgate_core::gate::Kdf for NoKdf {
    async fn hash(
        &self,
        _: String,
        _: tvgate_core::access::secrets::KdfParams,
    ) -> Result<String, tvgate_core::access::secrets::KdfError> {
        panic!("the KDF ran");
    }
    async fn verify(&self, _: String, _: String) -> bool {
        panic!("the KDF ran");
    }
}

#[tokio::test]
async fn imported_lines_are_rehashed_at_full_cost_after_their_first_login() {
    let srv = TestServer::start().await;
    let rows = vec![tvgate_core::gate::ImportRow {
        line: 2,
        username: "imported".into(),
        password: "pw-10".into(),
        max_connections: None,
        expires_at: None,
        ..Default::default()
    }];
    let weak = tvgate_core::access::secrets::KdfParams {
        memory_kib: 32,
        iterations: 1,
        parallelism: 1,
    };
    let report = srv
        .gate
        .import_lines(rows, NOW, |pws, _| async move {
            pws.iter()
                .map(|p| tvgate_core::access::secrets::hash_password(p, weak))
                .collect()
        })
        .await
        .expect("import");
    assert_eq!(report.counts.created, 1);
    let before = srv
        .gate
        .find_line("imported")
        .expect("line")
        .password_hash
        .clone();
    assert!(before.contains("m=32,"), "{before}");
    let v = get_json(&srv.url("/player_api.php?username=imported&password=pw-10")).await;
    assert_eq!(
        v["user_info"]["auth"], 1,
        "the verifier made at import works at once"
    );
    assert_eq!(srv.gate.pending_upgrades(), 1);
    assert!(srv.gate.upgrade_next().await.expect("upgrade"));
    let after = srv
        .gate
        .find_line("imported")
        .expect("line")
        .password_hash
        .clone();
    assert!(after.contains("m=64,t=1,p=1"), "{after}");
    let v = get_json(&srv.url("/player_api.php?username=imported&password=pw-10")).await;
    assert_eq!(v["user_info"]["auth"], 1, "still works after the upgrade");
    assert_eq!(srv.gate.pending_upgrades(), 0);
}
