//! Backup URLs of a live channel: where the relay turns, in order, when the
//! channel's own URL fails.
//!
//! Backups are the operator's, not the playlist's: they are set by hand
//! (`tvgate channel backup`) and kept by stream id, which survives source
//! refreshes, so a refresh never drops them. They are checked here, once,
//! when they are set, so the relay can take every stored URL as usable.

/// Most backups one channel may have. A relay tries them one after the
/// other; past a handful, a viewer would wait through minutes of failures.
pub const MAX_BACKUPS: usize = 16;

/// Longest backup URL accepted (bytes).
pub const MAX_URL_LEN: usize = 4096;

/// Checks a channel's new backup list: http(s) URLs with a host, no white
/// space or control characters, none repeated, none equal to the channel's
/// own URL, at most [`MAX_BACKUPS`]. The message names the offending URL.
pub fn check_backup_urls(own_url: &str, urls: &[String]) -> Result<(), String> {
    if urls.len() > MAX_BACKUPS {
        return Err(format!(
            "{} backup URLs given; a channel may have at most {MAX_BACKUPS}",
            urls.len()
        ));
    }
    for (i, url) in urls.iter().enumerate() {
        check_url(url)?;
        if url == own_url {
            return Err(format!("{url:?} is the channel's own URL, not a backup"));
        }
        if urls[..i].contains(url) {
            return Err(format!("{url:?} is listed twice"));
        }
    }
    Ok(())
}

fn check_url(url: &str) -> Result<(), String> {
    if url.len() > MAX_URL_LEN {
        return Err(format!(
            "a backup URL is {} bytes long; at most {MAX_URL_LEN} are accepted",
            url.len()
        ));
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "{url:?} contains white space or a control character"
        ));
    }
    let lower = url.to_ascii_lowercase();
    let rest = ["http://", "https://"]
        .iter()
        .find_map(|scheme| lower.strip_prefix(scheme))
        .ok_or_else(|| format!("{url:?} is not an http:// or https:// URL"))?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = authority.rsplit('@').next().unwrap_or("");
    if host.is_empty() || host.starts_with(':') {
        return Err(format!("{url:?} has no host"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn urls(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn good_lists_pass() {
        let own = "http://a.example/1.ts";
        assert_eq!(check_backup_urls(own, &[]), Ok(()));
        assert_eq!(
            check_backup_urls(
                own,
                &urls(&[
                    "http://b.example:8080/1.ts",
                    "HTTPS://user:pw@c.example/live/1.m3u8?token=x"
                ])
            ),
            Ok(())
        );
    }

    #[test]
    fn bad_lists_are_refused_with_the_url_named() {
        let own = "http://a.example/1.ts";
        for (list, expect) in [
            (vec!["ftp://b.example/1.ts"], "not an http"),
            (vec!["b.example/1.ts"], "not an http"),
            (vec!["http:///1.ts"], "no host"),
            (vec!["http://user@/1.ts"], "no host"),
            (vec!["http://:80/1.ts"], "no host"),
            (vec!["http://b.example/a b.ts"], "white space"),
            (vec!["http://b.example/1.ts\n"], "white space"),
            (vec![own], "own URL"),
            (
                vec!["http://b.example/1.ts", "http://b.example/1.ts"],
                "listed twice",
            ),
        ] {
            let err = check_backup_urls(own, &urls(&list)).unwrap_err();
            assert!(err.contains(expect), "{list:?}: {err}");
        }
        let many: Vec<String> = (0..=MAX_BACKUPS)
            .map(|i| format!("http://b.example/{i}.ts"))
            .collect();
        assert!(check_backup_urls(own, &many)
            .unwrap_err()
            .contains("at most"));
        let long = format!("http://b.example/{}", "x".repeat(MAX_URL_LEN));
        assert!(check_backup_urls(own, &[long])
            .unwrap_err()
            .contains("bytes long"));
    }
}
