//! `tvgate line|source|channel ...`: administration from the command line.
//! Every command calls the same gate operation the admin API calls; this
//! file only parses arguments and prints tables or JSON. A line is shown
//! through `tvgate_http::present::line` (its state word, and the admin
//! API's JSON object for `--json`), so the CLI and the API read alike.

use crate::cli::{
    AdminCommand, ChannelCommand, DeviceCommand, LineCommand, LineFields, SourceCommand,
};
use crate::settings::Settings;
use crate::{import, sources, startup};
use anyhow::{bail, Context, Result};
use chrono::{TimeZone, Utc};
use serde_json::json;
use std::io::IsTerminal;
use std::sync::Arc;
use tvgate_core::access::device::{Binding, DeviceAudit, DeviceKind, Enrolment, IpRange};
use tvgate_core::access::{Line, LinePatch, OutputFormats, Status};
use tvgate_core::catalog::{
    Catalog, CategoryKind, Delivery, Source, SourceKind, StreamRef, XtreamAccount,
};
use tvgate_core::gate::{DevicePolicyPatch, Gate, LineSpec};
use tvgate_core::ids::{CategoryId, SourceId, StreamId};
use tvgate_core::ledger::LimitPolicy;
use tvgate_core::ports::{NewSource, SourcePatch, StreamQuery};
use tvgate_core::UnixTime;
use tvgate_formats::{redact_location, redact_url};
use tvgate_http::present::line::{self, LineState};

fn now() -> UnixTime {
    Utc::now().timestamp()
}

/// `YYYY-MM-DD` (valid through the end of that day, UTC), an RFC 3339 time,
/// or `never`.
pub fn parse_expiry(s: &str) -> Result<Option<UnixTime>> {
    tvgate_core::access::lines_csv::parse_expiry(s).map_err(anyhow::Error::msg)
}

pub fn format_time(t: Option<UnixTime>) -> String {
    match t.and_then(|t| Utc.timestamp_opt(t, 0).single()) {
        Some(t) => t.format("%Y-%m-%d %H:%M UTC").to_string(),
        None => "never".to_string(),
    }
}

fn parse_package(gate: &Gate, list: &str) -> Result<Option<Vec<CategoryId>>> {
    if list.trim().eq_ignore_ascii_case("all") || list.trim().is_empty() {
        return Ok(None);
    }
    let catalog = gate.catalog();
    let mut ids = Vec::new();
    for part in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let found = match part.parse::<u32>() {
            Ok(n) => catalog.category(CategoryId(n)).map(|c| c.id),
            Err(_) => catalog
                .categories
                .iter()
                .find(|c| c.name.eq_ignore_ascii_case(part))
                .map(|c| c.id),
        };
        ids.push(
            found.with_context(|| format!("no category {part:?} (see `tvgate channel list`)"))?,
        );
    }
    Ok(Some(ids))
}

fn patch_from(gate: &Gate, f: &LineFields) -> Result<LinePatch> {
    Ok(LinePatch {
        status: f
            .status
            .as_deref()
            .map(str::parse::<Status>)
            .transpose()
            .map_err(anyhow::Error::msg)?,
        expires_at: f.expires.as_deref().map(parse_expiry).transpose()?,
        is_trial: f.trial,
        max_connections: f.max_connections,
        limit_policy: f
            .limit_policy
            .as_deref()
            .map(LimitPolicy::parse_for_line)
            .transpose()
            .map_err(anyhow::Error::msg)?,
        allowed_formats: f
            .formats
            .as_deref()
            .map(OutputFormats::parse_list)
            .transpose()
            .map_err(anyhow::Error::msg)?,
        note: f.note.clone(),
        package: f
            .package
            .as_deref()
            .map(|p| parse_package(gate, p))
            .transpose()?,
        password: None,
    })
}

/// The device flags of `line add` / `line set`.
fn device_patch_from(f: &LineFields) -> Result<DevicePolicyPatch> {
    Ok(DevicePolicyPatch {
        limit: f.device_limit,
        enrolment: f
            .device_enrolment
            .as_deref()
            .map(|e| {
                Enrolment::parse(e)
                    .with_context(|| format!("device enrolment {e:?}: use auto or operator"))
            })
            .transpose()?,
        ip_lock: f
            .ip_lock
            .as_deref()
            .map(|l| {
                if l.trim().eq_ignore_ascii_case("none") {
                    Ok(Vec::new())
                } else {
                    IpRange::parse_list(l).map_err(anyhow::Error::msg)
                }
            })
            .transpose()?,
    })
}

fn print_table(header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }
    let line = |cells: Vec<String>| {
        let parts: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{:<w$}", c, w = widths.get(i).copied().unwrap_or(0)))
            .collect();
        println!("{}", parts.join("  ").trim_end());
    };
    line(header.iter().map(|h| h.to_string()).collect());
    line(widths.iter().map(|w| "-".repeat(*w)).collect());
    for row in rows {
        line(row.clone());
    }
}

/// A line's device rules in one line of text.
fn device_rules(binding: Option<&Binding>) -> String {
    let Some(b) = binding.filter(|b| b.policy.is_on()) else {
        return "binding off".to_string();
    };
    let p = &b.policy;
    let mut parts = Vec::new();
    if p.limit > 0 {
        parts.push(format!(
            "{} of {} bound, enrolment {}",
            b.devices.len(),
            p.limit,
            p.enrolment
        ));
    }
    if !p.ip_lock.is_empty() {
        let ranges: Vec<String> = p.ip_lock.iter().map(ToString::to_string).collect();
        parts.push(format!("ip lock {}", ranges.join(",")));
    }
    parts.join("; ")
}

/// "0" reads as "none allowed"; say what it means.
fn cap_text(n: u32) -> String {
    if n == 0 {
        "unlimited".to_string()
    } else {
        n.to_string()
    }
}

/// Shows a line. `default_policy` names the server-wide limit policy, for
/// a line that follows it.
fn show_line(
    a: &Line,
    catalog: &Catalog,
    password: Option<&str>,
    default_policy: &str,
    binding: Option<&Binding>,
    as_json: bool,
) {
    if as_json {
        // The API's `Line` (`CreatedLine` with a generated password); the
        // connections in use are a running server's, unknown here.
        println!("{}", line::created_line_json(a, None, binding, password));
        return;
    }
    let status = match LineState::of(a, now()) {
        LineState::Expired => "active (expired)".to_string(),
        _ => a.status.to_string(),
    };
    println!("username         {}", a.username);
    if let Some(p) = password {
        println!("password         {p}    (shown once; only a hash is stored)");
    }
    println!("status           {status}");
    println!("expires          {}", format_time(a.expires_at));
    println!("trial            {}", if a.is_trial { "yes" } else { "no" });
    println!("max connections  {}", cap_text(a.max_connections));
    match a.limit_policy {
        Some(p) => println!("limit policy     {p}"),
        None => println!("limit policy     server default ({default_policy})"),
    }
    println!("output formats   {}", a.allowed_formats);
    let package = match &a.package {
        None => "all categories".to_string(),
        Some(p) => p
            .iter()
            .map(|c| {
                catalog
                    .category(*c)
                    .map(|c| c.name.to_string())
                    .unwrap_or_else(|| c.to_string())
            })
            .collect::<Vec<_>>()
            .join(", "),
    };
    println!("package          {package}");
    println!("devices          {}", device_rules(binding));
    println!("created          {}", format_time(Some(a.created_at)));
    if !a.note.is_empty() {
        println!("note             {}", a.note);
    }
}

pub async fn line(settings: &Settings, cmd: LineCommand) -> Result<()> {
    let gate = startup::open_gate(settings).await?;
    let default_policy = settings.connection_limit_policy.as_str();
    match cmd {
        LineCommand::Add {
            username,
            password,
            fields,
            json,
        } => {
            let patch = patch_from(&gate, &fields)?;
            let mut spec = LineSpec::new(username);
            spec.password = password;
            spec.status = patch.status.unwrap_or(Status::Active);
            spec.expires_at = patch.expires_at.flatten();
            spec.is_trial = patch.is_trial.unwrap_or(false);
            spec.max_connections = patch.max_connections.unwrap_or(1);
            spec.limit_policy = patch.limit_policy.flatten();
            spec.allowed_formats = patch.allowed_formats.unwrap_or(OutputFormats::DEFAULT);
            spec.note = patch.note.unwrap_or_default();
            spec.package = patch.package.flatten();
            let device_patch = device_patch_from(&fields)?;
            let (line, generated) = gate.create_line(spec, now()).await?;
            if !device_patch.is_empty() {
                gate.set_device_policy(&line.username, device_patch, now())
                    .await?;
            }
            show_line(
                &line,
                &gate.catalog(),
                generated.as_deref(),
                default_policy,
                gate.binding(line.id).as_deref(),
                json,
            );
        }
        LineCommand::List { json } => {
            let lines = gate.lines();
            if json {
                let list: Vec<_> = lines
                    .iter()
                    .map(|a| line::line_json(a, None, gate.binding(a.id).as_deref()))
                    .collect();
                println!("{}", serde_json::Value::Array(list));
            } else {
                let rows: Vec<Vec<String>> = lines
                    .iter()
                    .map(|a| {
                        vec![
                            a.username.to_string(),
                            LineState::of(a, now()).as_str().to_string(),
                            format_time(a.expires_at),
                            a.max_connections.to_string(),
                            a.allowed_formats.to_string(),
                            a.note.to_string(),
                        ]
                    })
                    .collect();
                print_table(
                    &[
                        "USERNAME", "STATUS", "EXPIRES", "MAX CONN", "FORMATS", "NOTE",
                    ],
                    &rows,
                );
                println!("{} lines", rows.len());
            }
        }
        LineCommand::Show { username, json } => {
            let a = gate
                .find_line(&username)
                .with_context(|| format!("no line named {username:?}"))?;
            show_line(
                &a,
                &gate.catalog(),
                None,
                default_policy,
                gate.binding(a.id).as_deref(),
                json,
            );
        }
        LineCommand::Set {
            username,
            fields,
            json,
        } => {
            let patch = patch_from(&gate, &fields)?;
            let device_patch = device_patch_from(&fields)?;
            let a = if patch == LinePatch::default() && !device_patch.is_empty() {
                gate.find_line(&username)
                    .with_context(|| format!("no line named {username:?}"))?
                    .as_ref()
                    .clone()
            } else {
                gate.update_line(&username, patch).await?
            };
            if !device_patch.is_empty() {
                gate.set_device_policy(&username, device_patch, now())
                    .await?;
            }
            show_line(
                &a,
                &gate.catalog(),
                None,
                default_policy,
                gate.binding(a.id).as_deref(),
                json,
            );
        }
        LineCommand::Passwd { username, password } => {
            let generated = password.is_none();
            let (a, password) = gate.set_password(&username, password).await?;
            if generated {
                println!(
                    "new password for {}: {password}    (shown once; only a hash is stored)",
                    a.username
                );
            } else {
                println!("password of {} changed", a.username);
            }
        }
        LineCommand::Disable { username } => set_status(&gate, &username, Status::Disabled).await?,
        LineCommand::Enable { username } => set_status(&gate, &username, Status::Active).await?,
        LineCommand::Ban { username } => set_status(&gate, &username, Status::Banned).await?,
        LineCommand::Extend {
            username,
            days,
            until,
        } => {
            let current = gate
                .find_line(&username)
                .with_context(|| format!("no line named {username:?}"))?;
            let expires = match (days, until) {
                (_, Some(date)) => parse_expiry(&date)?,
                (Some(days), None) => {
                    let from = current
                        .expires_at
                        .filter(|t| *t > now())
                        .unwrap_or_else(now);
                    Some(from + i64::from(days) * 86_400)
                }
                (None, None) => bail!("say how long: --days N or --until YYYY-MM-DD"),
            };
            let a = gate
                .update_line(
                    &username,
                    LinePatch {
                        expires_at: Some(expires),
                        ..Default::default()
                    },
                )
                .await?;
            println!("{} now expires {}", a.username, format_time(a.expires_at));
        }
        LineCommand::Delete { username } => {
            let a = gate.delete_line(&username).await?;
            println!("deleted {}", a.username);
        }
        LineCommand::Import {
            file,
            passwords_out,
        } => import::run(&gate, &file, passwords_out.as_deref()).await?,
        LineCommand::Export { file } => import::export(&gate, file.as_deref())?,
        LineCommand::Bulk {
            count,
            prefix,
            days,
            max_connections,
            trial,
            note,
        } => {
            let spec = tvgate_core::gate::BulkSpec {
                count,
                prefix,
                expires_at: days.map(|d| now() + i64::from(d) * 86_400),
                max_connections,
                is_trial: trial,
                note,
            };
            import::bulk(&gate, spec).await?
        }
    }
    Ok(())
}

async fn set_status(gate: &Gate, username: &str, status: Status) -> Result<()> {
    let a = gate
        .update_line(
            username,
            LinePatch {
                status: Some(status),
                ..Default::default()
            },
        )
        .await?;
    println!("{} is now {}", a.username, a.status);
    Ok(())
}

fn source_json(s: &Source) -> serde_json::Value {
    let mut v = json!({
        "id": s.id.0, "kind": s.kind.as_str(), "name": s.name, "location": redact_location(&s.location),
        "created_at": s.created_at, "last_refresh": s.last_refresh, "item_count": s.item_count,
        "last_error": s.last_error, "enabled": s.enabled,
        "diagnostics": s.diagnostic_rows().map(|d| d.to_string()).collect::<Vec<_>>(),
        "max_connections": s.max_connections, "delivery": s.delivery.as_str(),
        "user_agent": s.identity.user_agent, "headers": s.identity.shown_headers(),
        "held": s.held.as_ref().map(|h| json!({
            "at": h.at, "before": h.before, "after": h.after, "reason": h.reason,
        })),
    });
    // The password is never shown; the account's own cap is.
    if let Some(a) = &s.account {
        v["account"] = json!({"username": a.username, "max_connections": a.max_connections});
    }
    v
}

/// The headers `tvgate source set` was given: `--header` lines, a
/// `--header-file`, or `--clear-headers` (`Some(empty)`); `None` for no
/// change. An error names the header, never its value.
fn source_headers(
    given: Vec<String>,
    file: Option<&std::path::Path>,
    clear: bool,
) -> Result<Option<Vec<tvgate_core::catalog::UpstreamHeader>>> {
    if clear {
        return Ok(Some(Vec::new()));
    }
    let lines: Vec<String> = match file {
        Some(path) => std::fs::read_to_string(path)
            .with_context(|| format!("reading {}", path.display()))?
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(str::to_string)
            .collect(),
        None if given.is_empty() => return Ok(None),
        None => given,
    };
    lines
        .iter()
        .map(|l| tvgate_core::catalog::UpstreamHeader::parse(l).map_err(anyhow::Error::msg))
        .collect::<Result<Vec<_>>>()
        .map(Some)
}

/// A source's cap as the list shows it: the operator's, or the account's.
fn source_cap_text(s: &Source) -> String {
    match &s.account {
        Some(a) if s.max_connections == 0 && a.max_connections > 0 => {
            format!("{} (account)", a.max_connections)
        }
        _ => cap_text(s.max_connections),
    }
}

pub async fn source(settings: &Settings, cmd: SourceCommand) -> Result<()> {
    let gate = startup::open_gate(settings).await?;
    let show = std::io::stderr().is_terminal();
    match cmd {
        SourceCommand::Add {
            kind,
            location,
            name,
            max_connections,
            redirect,
            username,
            password,
        } => {
            let kind = SourceKind::parse(&kind)
                .with_context(|| format!("source kind {kind:?}: use m3u, xmltv or xtream"))?;
            let delivery = if redirect {
                Delivery::Redirect
            } else {
                Delivery::Proxy
            };
            if kind == SourceKind::Xtream {
                let source = gate
                    .add_account_source(
                        NewSource {
                            kind,
                            location,
                            name: name.unwrap_or_default(),
                            created_at: now(),
                            max_connections,
                            delivery,
                        },
                        XtreamAccount {
                            username: username.unwrap_or_default(),
                            password: password.unwrap_or_default(),
                            max_connections: 0,
                        },
                    )
                    .await?;
                println!(
                    "added source {} (xtream, {}, {})",
                    source.id,
                    redact_location(&source.location),
                    source.delivery
                );
                refresh_one(&gate, settings, &source, show).await?;
                return Ok(());
            }
            if username.is_some() || password.is_some() {
                bail!("--username and --password are for an xtream source");
            }
            let is_url = location.starts_with("http://") || location.starts_with("https://");
            let location = if is_url {
                location
            } else {
                let path = std::path::Path::new(&location);
                let abs = std::fs::canonicalize(path)
                    .with_context(|| format!("{location}: no such file"))?;
                abs.to_string_lossy().into_owned()
            };
            let source = gate
                .add_source(NewSource {
                    kind,
                    location,
                    // Empty: the gate names it after the location.
                    name: name.unwrap_or_default(),
                    created_at: now(),
                    max_connections,
                    delivery,
                })
                .await?;
            println!(
                "added source {} ({}, {}, connections: {})",
                source.id,
                source.kind.as_str(),
                source.delivery,
                cap_text(source.max_connections)
            );
            refresh_one(&gate, settings, &source, show).await?;
        }
        SourceCommand::List { json } => {
            let list = gate.sources().await?;
            if json {
                println!(
                    "{}",
                    serde_json::Value::Array(list.iter().map(source_json).collect())
                );
            } else {
                let rows: Vec<Vec<String>> = list
                    .iter()
                    .map(|s| {
                        let state = match (&s.held, &s.last_error) {
                            (Some(h), _) => format!(
                                "held since {}: {} (apply: tvgate source refresh {} --accept-shrink)",
                                format_time(Some(h.at)),
                                h.reason,
                                s.id
                            ),
                            (None, Some(e)) => format!("failed: {e}"),
                            (None, None) if !s.diagnostics.is_empty() => {
                                format!("ok, {} lines skipped", s.diagnostic_rows().count())
                            }
                            (None, None) => "ok".to_string(),
                        };
                        vec![
                            s.id.to_string(),
                            s.kind.as_str().to_string(),
                            s.name.clone(),
                            if s.enabled { "yes" } else { "no" }.to_string(),
                            s.item_count.to_string(),
                            source_cap_text(s),
                            s.delivery.to_string(),
                            format_time(s.last_refresh),
                            state,
                        ]
                    })
                    .collect();
                print_table(
                    &[
                        "ID",
                        "KIND",
                        "NAME",
                        "ENABLED",
                        "ITEMS",
                        "MAX CONN",
                        "DELIVERY",
                        "REFRESHED",
                        "STATE",
                    ],
                    &rows,
                );
            }
        }
        SourceCommand::Refresh { id, accept_shrink } => {
            let list = gate.sources().await?;
            let chosen: Vec<_> = list
                .into_iter()
                .filter(|s| id.is_none_or(|i| s.id == SourceId(i)))
                .collect();
            if chosen.is_empty() {
                bail!("no such source (see `tvgate source list`)");
            }
            let mut failed = 0;
            for s in &chosen {
                if let Err(e) = refresh_one_with(&gate, settings, s, show, accept_shrink).await {
                    eprintln!("error: {e:#}");
                    failed += 1;
                }
            }
            if failed > 0 {
                bail!("{failed} of {} sources failed", chosen.len());
            }
        }
        SourceCommand::Set {
            id,
            max_connections,
            delivery,
            username,
            password,
            user_agent,
            headers,
            header_file,
            clear_headers,
        } => {
            let user_agent = user_agent.map(|ua| Some(ua).filter(|ua| !ua.trim().is_empty()));
            let headers = source_headers(headers, header_file.as_deref(), clear_headers)?;
            let delivery = delivery
                .as_deref()
                .map(|d| {
                    Delivery::parse(d)
                        .with_context(|| format!("delivery {d:?}: use proxy or redirect"))
                })
                .transpose()?;
            if username.is_some() || password.is_some() {
                let s = gate
                    .set_source_credentials(SourceId(id), username, password)
                    .await?;
                println!(
                    "source {} ({}): the account's credentials are changed; `tvgate source refresh {}` uses them",
                    s.id, s.name, s.id
                );
                if max_connections.is_none()
                    && delivery.is_none()
                    && user_agent.is_none()
                    && headers.is_none()
                {
                    return Ok(());
                }
            }
            let patch = SourcePatch {
                max_connections,
                delivery,
                enabled: None,
                user_agent,
                headers,
            };
            if patch.is_empty() {
                bail!("nothing to change: give --max-connections N, --delivery proxy|redirect, --user-agent UA, --header 'Name: value' (or --header-file FILE, --clear-headers), or an Xtream account's --username/--password");
            }
            let s = gate.update_source(SourceId(id), patch).await?;
            println!(
                "source {} ({}): {}, connections: {}, user agent: {}, headers: {}",
                s.id,
                s.name,
                s.delivery,
                cap_text(s.max_connections),
                s.identity.user_agent.as_deref().unwrap_or("tvgate's own"),
                if s.identity.headers.is_empty() {
                    "none".to_string()
                } else {
                    s.identity.shown_headers().join(", ")
                }
            );
        }
        SourceCommand::Enable { id } | SourceCommand::Disable { id } => {
            let enabled = matches!(cmd, SourceCommand::Enable { .. });
            let s = gate.set_source_enabled(SourceId(id), enabled).await?;
            println!(
                "source {} ({}) is now {}",
                s.id,
                s.name,
                if s.enabled { "enabled" } else { "disabled" }
            );
        }
        SourceCommand::Remove { id } => {
            gate.remove_source(SourceId(id)).await?;
            println!("removed source {id}");
        }
    }
    Ok(())
}

async fn refresh_one(
    gate: &Arc<Gate>,
    settings: &Settings,
    source: &Source,
    show: bool,
) -> Result<()> {
    refresh_one_with(gate, settings, source, show, false).await
}

async fn refresh_one_with(
    gate: &Arc<Gate>,
    settings: &Settings,
    source: &Source,
    show: bool,
    accept_shrink: bool,
) -> Result<()> {
    let report = sources::refresh_with(
        gate,
        source,
        &settings.data_dir,
        sources::TerminalProgress::new(show),
        accept_shrink,
        // The CLI is trusted: its operator may name any address.
        &tvgate_relay::EgressGuard::unrestricted(),
    )
    .await?;
    println!("source {}: {}", source.id, report.summary(source.kind));
    for d in report.diagnostics.iter().take(20) {
        println!("  {}: {d}", source.name);
    }
    if report.diagnostics.len() > 20 {
        println!(
            "  ... {} more (see `tvgate source list --json`)",
            report.diagnostics.len() - 20
        );
    }
    Ok(())
}

pub async fn channel(settings: &Settings, cmd: ChannelCommand) -> Result<()> {
    let gate = startup::open_gate(settings).await?;
    let catalog = gate.catalog();
    let cat_name = |c: Option<CategoryId>| {
        c.and_then(|c| catalog.category(c))
            .map(|c| c.name.to_string())
            .unwrap_or_default()
    };
    match cmd {
        ChannelCommand::Enable { id } | ChannelCommand::Disable { id } => {
            let enabled = matches!(cmd, ChannelCommand::Enable { .. });
            gate.set_stream_enabled(StreamId(id), enabled).await?;
            println!(
                "stream {id} is now {}",
                if enabled { "enabled" } else { "disabled" }
            );
        }
        ChannelCommand::List {
            json,
            disabled: true,
        } => {
            let mut all = Vec::new();
            loop {
                let page = gate
                    .streams(StreamQuery {
                        enabled: Some(false),
                        offset: u32::try_from(all.len()).unwrap_or(u32::MAX),
                        limit: tvgate_core::gate::MAX_STREAM_PAGE,
                        ..Default::default()
                    })
                    .await?;
                let done =
                    page.items.is_empty() || all.len() + page.items.len() >= page.total as usize;
                all.extend(page.items);
                if done {
                    break;
                }
            }
            if json {
                let list: Vec<_> = all
                    .iter()
                    .map(|r| json!({"stream_id": r.id.0, "source": r.source.0, "kind": r.kind, "name": r.name, "category": r.category}))
                    .collect();
                println!("{}", json!({"disabled": list}));
            } else {
                let table: Vec<Vec<String>> = all
                    .iter()
                    .map(|r| {
                        vec![
                            r.id.to_string(),
                            r.kind.clone(),
                            r.name.clone(),
                            r.category.clone().unwrap_or_default(),
                            r.source.to_string(),
                        ]
                    })
                    .collect();
                print_table(&["ID", "KIND", "NAME", "CATEGORY", "SOURCE"], &table);
                println!("{} disabled", all.len());
            }
        }
        ChannelCommand::List { json, .. } => {
            let mut rows: Vec<(u32, &'static str, String, String, String, usize)> = Vec::new();
            for c in &catalog.live {
                rows.push((
                    c.id.0,
                    "live",
                    c.name().to_string(),
                    cat_name(c.category),
                    c.epg_id().unwrap_or("").to_string(),
                    catalog.backups(c.id).len(),
                ));
            }
            for m in &catalog.movies {
                rows.push((
                    m.id.0,
                    "movie",
                    m.name.to_string(),
                    cat_name(m.category),
                    String::new(),
                    0,
                ));
            }
            for s in &catalog.series {
                for e in &s.episodes {
                    rows.push((
                        e.id.0,
                        "episode",
                        e.title.to_string(),
                        cat_name(s.category),
                        String::new(),
                        0,
                    ));
                }
            }
            if json {
                let list: Vec<_> = rows.iter().map(|(id, kind, name, cat, epg, backups)| json!({"stream_id": id, "kind": kind, "name": name, "category": cat, "epg_id": epg, "backups": backups})).collect();
                let categories: Vec<_> = catalog
                    .categories
                    .iter()
                    .map(|c| json!({"id": c.id.0, "kind": c.kind.as_str(), "name": &*c.name}))
                    .collect();
                println!("{}", json!({"streams": list, "categories": categories}));
            } else {
                let table: Vec<Vec<String>> = rows
                    .iter()
                    .map(|(id, kind, name, cat, epg, backups)| {
                        vec![
                            id.to_string(),
                            kind.to_string(),
                            name.clone(),
                            cat.clone(),
                            epg.clone(),
                            if *kind == "live" {
                                backups.to_string()
                            } else {
                                String::new()
                            },
                        ]
                    })
                    .collect();
                print_table(
                    &["ID", "KIND", "NAME", "CATEGORY", "EPG ID", "BACKUPS"],
                    &table,
                );
                let n = |k: CategoryKind| catalog.categories.iter().filter(|c| c.kind == k).count();
                println!(
                    "{} live, {} movies, {} series; categories: {} live, {} movie, {} series",
                    catalog.live.len(),
                    catalog.movies.len(),
                    catalog.series.len(),
                    n(CategoryKind::Live),
                    n(CategoryKind::Movie),
                    n(CategoryKind::Series)
                );
            }
        }
        ChannelCommand::Backup {
            id,
            urls,
            clear,
            json,
        } => {
            let stream = StreamId(id);
            let name = match catalog.stream(stream) {
                Some(StreamRef::Live(i)) => catalog.live[i].name().to_string(),
                Some(_) => {
                    bail!("stream {id} is not a live channel; backups are for live channels")
                }
                None => bail!("no stream {id} (see `tvgate channel list`)"),
            };
            let current = if clear || !urls.is_empty() {
                gate.set_backups(stream, urls).await?;
                gate.catalog()
            } else {
                catalog.clone()
            };
            let backups = current.backups(stream);
            if json {
                // Redacted like source locations: output ends up in logs.
                let list: Vec<String> = backups.iter().map(|b| redact_url(b)).collect();
                println!(
                    "{}",
                    json!({"stream_id": id, "name": name, "backups": list})
                );
            } else if backups.is_empty() {
                println!("channel {id} ({name}): no backups");
            } else {
                println!(
                    "channel {id} ({name}): {} backups, tried in order",
                    backups.len()
                );
                for (i, url) in backups.iter().enumerate() {
                    println!("  {}. {}", i + 1, redact_url(url));
                }
            }
        }
    }
    Ok(())
}

fn audit_json(e: &DeviceAudit) -> serde_json::Value {
    json!({
        "at": e.at, "time": format_time(Some(e.at)), "username": e.username,
        "actor": e.actor.as_str(), "action": e.action.as_str(),
        "ip": e.ip.map(|ip| ip.to_string()), "old_device": e.old_device,
        "new_device": e.new_device, "detail": e.detail,
    })
}

/// `tvgate device ...`: a line's bound devices, reset and audit log.
pub async fn device(settings: &Settings, cmd: DeviceCommand) -> Result<()> {
    let gate = startup::open_gate(settings).await?;
    let line = |username: &str| {
        gate.find_line(username)
            .with_context(|| format!("no line named {username:?}"))
    };
    match cmd {
        DeviceCommand::List { username, json } => {
            let line = line(&username)?;
            let binding = gate.binding(line.id);
            let devices = binding
                .as_ref()
                .map(|b| b.devices.clone())
                .unwrap_or_default();
            if json {
                let policy = binding
                    .as_ref()
                    .map(|b| b.policy.clone())
                    .unwrap_or_default();
                let list: Vec<_> = devices
                    .iter()
                    .map(|d| {
                        json!({
                            "id": d.id.0, "kind": d.kind.as_str(), "identifier": d.identifier,
                            "label": d.label, "serial": d.serial, "device_id": d.device_id,
                            "device_id2": d.device_id2, "first_seen": d.first_seen,
                            "last_seen": (d.last_seen > 0).then_some(d.last_seen),
                            "last_ip": d.last_ip.map(|ip| ip.to_string()),
                        })
                    })
                    .collect();
                println!(
                    "{}",
                    json!({
                        "username": line.username, "device_limit": policy.limit,
                        "device_enrolment": policy.enrolment.as_str(),
                        "ip_lock": policy.ip_lock.iter().map(ToString::to_string).collect::<Vec<_>>(),
                        "last_self_reset": binding.as_ref().and_then(|b| b.last_self_reset),
                        "devices": list,
                    })
                );
                return Ok(());
            }
            println!("{}: {}", line.username, device_rules(binding.as_deref()));
            if binding.as_ref().is_some_and(|b| b.policy.limit == 0) && !devices.is_empty() {
                println!(
                    "(binding is off: these devices are not checked until --device-limit is set)"
                );
            }
            let rows: Vec<Vec<String>> = devices
                .iter()
                .map(|d| {
                    vec![
                        d.id.to_string(),
                        d.kind.to_string(),
                        d.identifier.to_string(),
                        d.label.to_string(),
                        format_time(Some(d.first_seen)),
                        if d.last_seen > 0 {
                            format_time(Some(d.last_seen))
                        } else {
                            "not yet".to_string()
                        },
                        d.last_ip.map(|ip| ip.to_string()).unwrap_or_default(),
                    ]
                })
                .collect();
            print_table(
                &[
                    "ID",
                    "KIND",
                    "IDENTIFIER",
                    "LABEL",
                    "FIRST SEEN",
                    "LAST SEEN",
                    "IP",
                ],
                &rows,
            );
            println!("{} devices", rows.len());
        }
        DeviceCommand::Add {
            username,
            mac,
            serial,
            player_id,
            label,
            json,
        } => {
            let (kind, identifier) = match (mac, serial, player_id) {
                (Some(m), None, None) => (DeviceKind::Mac, m),
                (None, Some(s), None) => (DeviceKind::Stb, s),
                (None, None, Some(p)) => (DeviceKind::Player, p),
                _ => bail!("give exactly one of --mac, --serial or --player-id"),
            };
            let line = line(&username)?;
            let d = gate
                .add_device(&line.username, kind, &identifier, &label, now())
                .await?;
            if json {
                println!(
                    "{}",
                    json!({"id": d.id.0, "kind": d.kind.as_str(), "identifier": d.identifier, "label": d.label})
                );
            } else {
                println!(
                    "added device {} to {}: {}",
                    d.id,
                    line.username,
                    d.describe()
                );
                if gate.binding(line.id).is_some_and(|b| b.policy.limit == 0) {
                    println!(
                        "note: binding is off for this line (a MAG box is still found by this MAC); enforce it with `tvgate line set {} --device-limit N`",
                        line.username
                    );
                }
            }
        }
        DeviceCommand::Remove { username, id } => {
            let d = gate
                .remove_device(&username, tvgate_core::ids::DeviceId(id), now())
                .await?;
            println!("removed device {} from {username}: {}", d.id, d.describe());
        }
        DeviceCommand::Reset { username } => {
            let line = line(&username)?;
            let n = gate.reset_devices(&line.username, now()).await?;
            println!(
                "unbound {n} devices of {}; the next device binds on its next contact",
                line.username
            );
        }
        DeviceCommand::Audit {
            username,
            limit,
            json,
        } => {
            let entries = gate.device_audit(username.as_deref(), limit).await?;
            if json {
                let list: Vec<_> = entries.iter().map(audit_json).collect();
                println!("{}", serde_json::Value::Array(list));
                return Ok(());
            }
            let rows: Vec<Vec<String>> = entries
                .iter()
                .map(|e| {
                    vec![
                        format_time(Some(e.at)),
                        e.username.clone(),
                        e.actor.as_str().to_string(),
                        e.action.as_str().to_string(),
                        e.ip.map(|ip| ip.to_string()).unwrap_or_default(),
                        e.old_device.clone().unwrap_or_default(),
                        e.new_device.clone().unwrap_or_default(),
                        e.detail.clone(),
                    ]
                })
                .collect();
            print_table(
                &[
                    "WHEN",
                    "LINE",
                    "WHO",
                    "ACTION",
                    "IP",
                    "OLD DEVICE",
                    "NEW DEVICE",
                    "DETAIL",
                ],
                &rows,
            );
            println!("{} entries", rows.len());
        }
    }
    Ok(())
}

/// `tvgate admin ...`: operators and API tokens. Secrets are printed once,
/// alone on their line, and never again: only hashes are stored.
pub async fn admin(settings: &Settings, cmd: AdminCommand) -> Result<()> {
    let gate = startup::open_gate(settings).await?;
    match cmd {
        AdminCommand::Add { name } => {
            let (admin, password) = gate.create_admin(&name, now()).await?;
            println!("created operator {}; password (shown once):", admin.name);
            println!("{password}");
        }
        AdminCommand::Passwd { name } => {
            let password = gate.reset_admin_password(&name).await?;
            println!("new password for {name} (shown once):");
            println!("{password}");
        }
        AdminCommand::Token { name, label } => {
            let (token, secret) = gate.create_api_token(&name, &label, now()).await?;
            eprintln!(
                "API token {} ({}) for {}; shown once:",
                token.id, token.name, token.admin_name
            );
            println!("{secret}");
        }
        AdminCommand::Revoke { id } => {
            gate.revoke_api_token(id, now()).await?;
            println!("revoked API token {id}");
        }
        AdminCommand::List { json } => {
            let admins = gate.admins().await?;
            let tokens = gate.api_tokens().await?;
            if json {
                let list = json!({
                    "admins": admins.iter().map(|a| json!({
                        "name": a.name,
                        "created_at": a.created_at,
                    })).collect::<Vec<_>>(),
                    "tokens": tokens.iter().map(|t| json!({
                        "id": t.id,
                        "admin": t.admin_name,
                        "name": t.name,
                        "created_at": t.created_at,
                        "revoked_at": t.revoked_at,
                    })).collect::<Vec<_>>(),
                });
                println!("{list:#}");
                return Ok(());
            }
            for a in &admins {
                println!(
                    "operator {:<20} created {}",
                    a.name,
                    format_time(Some(a.created_at))
                );
                for t in tokens.iter().filter(|t| t.admin == a.id) {
                    let state = match t.revoked_at {
                        Some(at) => format!("revoked {}", format_time(Some(at))),
                        None => "active".to_string(),
                    };
                    println!("  token {:>4} {:<20} {state}", t.id, t.name);
                }
            }
            if admins.is_empty() {
                println!("no operators yet: create one with `tvgate admin add NAME`");
            }
        }
    }
    Ok(())
}
