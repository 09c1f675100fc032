//! The command line, run as a real process.

use crate::harness::tvgate;
use std::process::Command;

/// A line's life through `tvgate line ...`; the first step uses `user`, the
/// command's old name, which stays an alias so existing scripts keep working.
#[test]
fn line_lifecycle_from_the_command_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let (code, out, err) = tvgate(
        d,
        &[
            "user",
            "add",
            "erin",
            "--max-connections",
            "2",
            "--expires",
            "2030-01-31",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let password = out
        .lines()
        .find_map(|l| l.strip_prefix("password"))
        .map(|p| p.split_whitespace().next().unwrap_or("").to_string())
        .expect("generated password shown");
    assert_eq!(password.len(), 12);
    assert!(!password.chars().any(|c| "0O1lI".contains(c)));
    let (code, _, err) = tvgate(d, &["line", "add", "Erin", "--password", "x"]);
    assert_ne!(code, 0);
    assert!(err.contains("already exists"), "{err}");
    let (code, _, err) = tvgate(d, &["line", "add", "frank", "--password", "bad pass"]);
    assert_ne!(code, 0);
    assert!(err.contains("white space"), "{err}");
    let (code, out, _) = tvgate(d, &["line", "show", "ERIN", "--json"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["max_connections"], 2);
    // The admin API's `Line` (2030-01-31 23:59:59 UTC); the connections in
    // use are a running server's, unknown to the command.
    assert_eq!(v["expires_at"], 1_896_134_399);
    assert_eq!(v["device_policy"]["limit"], 0);
    assert!(v["active_connections"].is_null(), "{out}");
    assert!(!out.contains("argon2"), "no hash in the output");
    for args in [
        &["line", "ban", "erin"][..],
        &["line", "enable", "erin"],
        &["line", "extend", "erin", "--days", "10"],
        &["line", "passwd", "erin", "--password", "new-pw"],
    ] {
        let (code, _, err) = tvgate(d, args);
        assert_eq!(code, 0, "{args:?}: {err}");
    }
    let (_, out, _) = tvgate(d, &["line", "show", "erin", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["expires_at"], 1_896_998_399, "2030-02-10 23:59:59 UTC");
    assert_eq!(v["status"], "active");
    let (code, out, _) = tvgate(d, &["line", "list"]);
    assert_eq!(code, 0);
    assert!(out.contains("erin") && out.contains("1 lines"));
    let (code, out, _) = tvgate(d, &["line", "list", "--json"]);
    assert_eq!(code, 0);
    let list: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(
        list,
        serde_json::json!([v]),
        "list and show print the same line"
    );
    let (code, _, _) = tvgate(d, &["line", "delete", "erin"]);
    assert_eq!(code, 0);
    let (code, _, err) = tvgate(d, &["line", "show", "erin"]);
    assert_ne!(code, 0);
    assert!(err.contains("no line named"));
    let (code, _, err) = tvgate(d, &["line", "add", "gina", "--expires", "next week"]);
    assert_ne!(code, 0);
    assert!(err.contains("YYYY-MM-DD"), "{err}");
}

#[test]
fn csv_import_reports_bad_rows_by_line_and_keeps_the_rest() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let csv = d.join("lines.csv");
    std::fs::write(
        &csv,
        "username,password,max_connections,expires,status\n\
         u1,pass-1,2,2030-01-01,active\n\
         u2,,1,never,\n\
         u3,bad pass,1,,\n\
         u4,pass-4,lots,,\n\
         u5,pass-5,1,2030-13-45,\n\
         u6,pass-6,,,banned\n\
         U1,again,1,,\n",
    )
    .expect("csv");
    let (code, out, err) = tvgate(d, &["line", "import", csv.to_str().expect("utf8")]);
    assert_eq!(code, 0, "{err}");
    for line in ["line 4", "line 5", "line 6", "line 8"] {
        assert!(err.contains(line), "{line} reported: {err}");
    }
    assert!(out.contains("3 created"), "{out}");
    assert!(
        out.lines().any(|l| l.starts_with("u2,")),
        "generated password printed: {out}"
    );
    // Updating: only the given fields change.
    std::fs::write(&csv, "username,max_connections\nu1,5\n").expect("csv");
    let (code, out, err) = tvgate(d, &["line", "import", csv.to_str().expect("utf8")]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("1 updated"), "{out}");
    let (_, out, _) = tvgate(d, &["line", "show", "u1", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["max_connections"], 5);
    assert_eq!(v["expires_at"], 1_893_542_399, "2030-01-01 23:59:59 UTC");

    // The export is the same CSV, without passwords, and re-imports as is.
    let (code, exported, err) = tvgate(d, &["line", "export"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        exported.starts_with("username,status,expires,"),
        "{exported}"
    );
    assert!(
        exported.contains("u1,active,2030-01-01T23:59:59Z,5,default,false,"),
        "{exported}"
    );
    assert!(!exported.contains("pass-1") && !exported.contains("argon2"));
    let out_file = d.join("out.csv");
    let (code, _, err) = tvgate(d, &["line", "export", out_file.to_str().expect("utf8")]);
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = tvgate(d, &["line", "import", out_file.to_str().expect("utf8")]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("0 created, 3 updated, 0 refused"), "{out}");
    assert_eq!(tvgate(d, &["line", "export"]).1, exported);

    // Bulk: the same gate operation as the console's and the API's.
    let (code, out, err) = tvgate(
        d,
        &["line", "bulk", "--count", "2", "--prefix", "u", "--trial"],
    );
    assert_eq!(code, 0, "{err}");
    let made: Vec<&str> = out
        .lines()
        .skip(1)
        .filter_map(|l| l.split(',').next())
        .collect();
    assert_eq!(made, ["u001", "u002"], "{out}");
}

#[test]
fn sources_and_channels_from_the_command_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let m3u = d.join("p.m3u");
    std::fs::write(
        &m3u,
        "#EXTM3U\n#EXTINF:-1 group-title=\"G\",One\nhttp://127.0.0.1:9/1.ts\nnot a url\n",
    )
    .expect("m3u");
    let (code, out, err) = tvgate(d, &["source", "add", "m3u", m3u.to_str().expect("utf8")]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("1 live channels"), "{out}");
    assert!(out.contains("line 4"), "{out}");
    let (code, out, _) = tvgate(d, &["channel", "list", "--json"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["streams"][0]["name"], "One");
    let (code, _, _) = tvgate(d, &["source", "refresh"]);
    assert_eq!(code, 0);
    let (code, out, _) = tvgate(d, &["source", "list"]);
    assert_eq!(code, 0);
    assert!(out.contains("1 lines skipped"), "{out}");
    let (code, _, err) = tvgate(d, &["source", "add", "m3u", "/nonexistent.m3u"]);
    assert_ne!(code, 0);
    assert!(err.contains("no such file"), "{err}");
}

fn json_of(out: &str) -> serde_json::Value {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

/// A provider URL's credentials (user info, Xtream path, query) never show
/// in what the command line prints about its source, also when the fetch
/// fails before an answer (reqwest's own error names the whole URL).
#[test]
fn a_failed_source_shows_its_url_without_credentials() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    // A loopback port nobody listens on: the connection is refused.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let url = format!("http://user:secret@127.0.0.1:{port}/live/user/secret/1.m3u?token=abc");
    let (code, out, err) = tvgate(d, &["source", "add", "m3u", &url]);
    assert_ne!(code, 0, "{out}");
    let (_, list, _) = tvgate(d, &["source", "list"]);
    let (_, json, _) = tvgate(d, &["source", "list", "--json"]);
    assert!(list.contains("failed: fetching"), "{list}");
    for text in [&out, &err, &list, &json] {
        assert!(
            !text.contains("secret") && !text.contains("token"),
            "redacted: {text}"
        );
    }
    assert!(
        json_of(&json)[0]["location"]
            .as_str()
            .is_some_and(|l| l.ends_with("/live/***/***/1.m3u?redacted")),
        "{json}"
    );
}

#[test]
fn source_cap_and_delivery_from_the_command_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let m3u = d.join("p.m3u");
    std::fs::write(&m3u, "#EXTM3U\n#EXTINF:-1,One\nhttp://127.0.0.1:9/1.ts\n").expect("m3u");
    let path = m3u.to_str().expect("utf8");
    let (code, out, err) = tvgate(
        d,
        &[
            "source",
            "add",
            "m3u",
            path,
            "--max-connections",
            "4",
            "--redirect",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("redirect, connections: 4"), "{out}");
    let (code, out, err) = tvgate(d, &["source", "add", "m3u", path, "--name", "second"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("proxy, connections: unlimited"), "{out}");

    let (_, out, _) = tvgate(d, &["source", "list", "--json"]);
    let v = json_of(&out);
    assert_eq!(v[0]["max_connections"], 4);
    assert_eq!(v[0]["delivery"], "redirect");
    assert_eq!(v[1]["max_connections"], 0);
    assert_eq!(v[1]["delivery"], "proxy", "proxied by default");

    let (code, out, err) = tvgate(d, &["source", "set", "1", "--delivery", "proxy"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("proxy, connections: 4"), "{out}");
    let (code, _, err) = tvgate(d, &["source", "set", "1", "--max-connections", "0"]);
    assert_eq!(code, 0, "{err}");
    let (code, out, _) = tvgate(d, &["source", "list"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("MAX CONN") && out.contains("DELIVERY"),
        "{out}"
    );
    let (_, out, _) = tvgate(d, &["source", "list", "--json"]);
    let v = json_of(&out);
    assert_eq!(
        (v[0]["max_connections"].clone(), v[0]["delivery"].clone()),
        (0.into(), "proxy".into())
    );

    for (args, expect) in [
        (&["source", "set", "1"][..], "nothing to change"),
        (
            &["source", "set", "1", "--delivery", "tunnel"],
            "use proxy or redirect",
        ),
        (
            &["source", "set", "99", "--delivery", "proxy"],
            "source 99 not found",
        ),
        (
            &["source", "set", "1", "--max-connections", "lots"],
            "invalid value",
        ),
    ] {
        let (code, _, err) = tvgate(d, args);
        assert_ne!(code, 0, "{args:?}");
        assert!(err.contains(expect), "{args:?}: {err}");
    }
}

#[test]
fn channel_backups_from_the_command_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let m3u = d.join("p.m3u");
    std::fs::write(
        &m3u,
        "#EXTM3U\n#EXTINF:-1,One\nhttp://127.0.0.1:9/1.ts\n\
         #EXTINF:-1,Film\nhttp://127.0.0.1:9/movie/film.mkv\n",
    )
    .expect("m3u");
    let (code, _, err) = tvgate(d, &["source", "add", "m3u", m3u.to_str().expect("utf8")]);
    assert_eq!(code, 0, "{err}");
    let (_, out, _) = tvgate(d, &["channel", "list", "--json"]);
    let v = json_of(&out);
    let streams = v["streams"].as_array().expect("streams");
    let id_of = |kind: &str| {
        streams
            .iter()
            .find(|s| s["kind"] == kind)
            .and_then(|s| s["stream_id"].as_u64())
            .unwrap_or_else(|| panic!("no {kind} in {out}"))
            .to_string()
    };
    let (live, movie) = (id_of("live"), id_of("movie"));
    assert_eq!(streams[0]["backups"], 0);

    let (code, out, err) = tvgate(
        d,
        &[
            "channel",
            "backup",
            &live,
            "http://127.0.0.2:9/1.ts",
            "http://user:secret@127.0.0.3:9/1.ts?token=t",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("2 backups"), "{out}");
    assert!(
        !out.contains("secret") && !out.contains("token"),
        "redacted: {out}"
    );

    // A refresh keeps them.
    let (code, _, err) = tvgate(d, &["source", "refresh"]);
    assert_eq!(code, 0, "{err}");
    let (_, out, _) = tvgate(d, &["channel", "list", "--json"]);
    assert_eq!(json_of(&out)["streams"][0]["backups"], 2);
    let (code, out, _) = tvgate(d, &["channel", "list"]);
    assert_eq!(code, 0);
    assert!(out.contains("BACKUPS"), "{out}");
    let (code, out, _) = tvgate(d, &["channel", "backup", &live, "--json"]);
    assert_eq!(code, 0);
    let v = json_of(&out);
    assert_eq!(v["backups"][0], "http://127.0.0.2:9/1.ts");
    assert_eq!(v["name"], "One");

    // Replace, then clear.
    let (code, out, err) = tvgate(d, &["channel", "backup", &live, "http://127.0.0.4:9/1.ts"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("1 backups") && out.contains("127.0.0.4"),
        "{out}"
    );
    let (code, out, err) = tvgate(d, &["channel", "backup", &live, "--clear"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("no backups"), "{out}");

    for (args, expect) in [
        (
            vec!["channel", "backup", &live, "ftp://127.0.0.2/1.ts"],
            "not an http",
        ),
        (
            vec!["channel", "backup", &live, "http://127.0.0.1:9/1.ts"],
            "own URL",
        ),
        (
            vec!["channel", "backup", &movie, "http://127.0.0.2/1.ts"],
            "not a live channel",
        ),
        (
            vec!["channel", "backup", "999999", "http://127.0.0.2/1.ts"],
            "no stream 999999",
        ),
        (
            vec![
                "channel",
                "backup",
                &live,
                "--clear",
                "http://127.0.0.2/1.ts",
            ],
            "cannot be used with",
        ),
    ] {
        let (code, _, err) = tvgate(d, &args);
        assert_ne!(code, 0, "{args:?}");
        assert!(err.contains(expect), "{args:?}: {err}");
    }
}

#[test]
fn line_limit_policy_from_the_command_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let (code, out, err) = tvgate(
        d,
        &[
            "user",
            "add",
            "hal",
            "--password",
            "pw-hal",
            "--limit-policy",
            "newest-wins",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("limit policy     newest_wins"), "{out}");
    let (_, out, _) = tvgate(d, &["line", "show", "hal", "--json"]);
    assert_eq!(json_of(&out)["limit_policy"], "newest_wins");
    let (code, _, err) = tvgate(d, &["line", "set", "hal", "--limit-policy", "default"]);
    assert_eq!(code, 0, "{err}");
    let (_, out, _) = tvgate(d, &["line", "show", "hal", "--json"]);
    assert_eq!(json_of(&out)["limit_policy"], serde_json::Value::Null);
    let (_, out, _) = tvgate(d, &["line", "show", "hal"]);
    assert!(out.contains("server default (refuse)"), "{out}");
    let (code, _, err) = tvgate(d, &["line", "set", "hal", "--limit-policy", "REFUSE"]);
    assert_eq!(code, 0, "{err}");
    let (_, out, _) = tvgate(d, &["line", "show", "hal", "--json"]);
    assert_eq!(json_of(&out)["limit_policy"], "refuse");
    let (code, _, err) = tvgate(d, &["line", "set", "hal", "--limit-policy", "oldest-wins"]);
    assert_ne!(code, 0);
    assert!(err.contains("unknown limit policy"), "{err}");

    // The CSV import takes the column; an empty cell changes nothing.
    let csv = d.join("lines.csv");
    std::fs::write(
        &csv,
        "username,password,limit_policy\n\
         hal,,newest-wins\n\
         ivy,pw-ivy,\n\
         joe,pw-joe,sometimes\n",
    )
    .expect("csv");
    let (code, out, err) = tvgate(d, &["line", "import", csv.to_str().expect("utf8")]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("line 4") && err.contains("unknown limit policy"),
        "{err}"
    );
    assert!(out.contains("1 created, 1 updated"), "{out}");
    let (_, out, _) = tvgate(d, &["line", "show", "hal", "--json"]);
    assert_eq!(json_of(&out)["limit_policy"], "newest_wins");
    let (_, out, _) = tvgate(d, &["line", "show", "ivy", "--json"]);
    assert_eq!(json_of(&out)["limit_policy"], serde_json::Value::Null);
}

/// A running `tvgate serve` picks up what the CLI writes to the same data
/// directory within a couple of seconds.
#[test]
fn a_running_server_sees_lines_the_cli_adds() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let mut child = Command::new(env!("CARGO_BIN_EXE_tvgate"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(d)
        .env("TVGATE_LOG_FORMAT", "json")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn serve");
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let stderr = child.stderr.take().expect("stderr");
    let mut guard = Kill(child);
    let mut addr = None;
    for line in BufReader::new(stderr).lines() {
        let line = line.expect("log line");
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) {
            if let Some(a) = v["fields"]["addr"].as_str() {
                addr = Some(a.to_string());
                break;
            }
        }
    }
    let addr = addr.expect("the server logs its address");
    let (code, _, err) = tvgate(d, &["line", "add", "late", "--password", "pw-late"]);
    assert_eq!(code, 0, "{err}");
    let url = format!("http://{addr}/player_api.php?username=late&password=pw-late");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut seen = false;
    while std::time::Instant::now() < deadline {
        let body = reqwest::blocking_get(&url);
        if body.contains("\"auth\":1") {
            seen = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(seen, "the new line works on the running server");
    let _ = guard.0.kill();
}

mod reqwest {
    /// A tiny blocking GET over a std TcpStream (the test is synchronous).
    pub fn blocking_get(url: &str) -> String {
        use std::io::{Read, Write};
        let rest = url.strip_prefix("http://").unwrap_or(url);
        let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
        let Ok(mut s) = std::net::TcpStream::connect(host) else {
            return String::new();
        };
        let _ = write!(
            s,
            "GET /{path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
        );
        let mut out = String::new();
        let _ = s.read_to_string(&mut out);
        out
    }
}
