//! Reading an Xtream provider's answers: the other side of this module's
//! writers, for importing an account (`tvgate source add xtream`).
//!
//! Providers are lenient writers, so these are lenient readers: a number
//! may come as a number, a numeric string (`"12"`, `" 3 "`, `"7.0"`) or a
//! boolean; a string may be null or missing; a list may be a JSON array, an
//! object of entries keyed by anything, `null` or `[]`; `get_series_info`
//! lists its episodes by season in an object or as an array of arrays.
//! What is wrong with one entry becomes a [`Diagnostic`] naming the list,
//! the entry's position and its id, and the rest of the list is read. Only
//! an answer that is not JSON at all (an HTML page, an empty body, a list
//! cut off mid-way) is an error, since nothing of it can be trusted.
//!
//! Lists are read one entry at a time from a reader, so a list of a
//! million entries never exists whole in memory as a JSON tree: only the
//! entry being read does. Diagnostics have no line (line 0): a JSON answer
//! is often one line; the position in the list names the entry instead.

use crate::Diagnostic;
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use std::fmt;
use std::io::{BufRead, BufReader, Read};

/// The account, as the provider's login answer (`player_api.php` without
/// an action) describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// `auth: 1`.
    pub auth: bool,
    /// `Active`, `Expired`, `Banned`, `Disabled`, as the provider wrote it
    /// (empty when absent).
    pub status: String,
    /// Unix seconds; `None`: never, or not said.
    pub exp_date: Option<i64>,
    /// The account's cap on simultaneous connections; `None` when absent
    /// or not a number, `Some(0)` for unlimited.
    pub max_connections: Option<u32>,
    /// The provider's own message (often empty).
    pub message: String,
    /// `server_info.timezone`, when given.
    pub timezone: Option<String>,
}

impl Account {
    /// Why this account cannot be imported, in plain words; `None` when it
    /// can (authorised and active).
    pub fn refusal(&self) -> Option<String> {
        let said = if self.message.trim().is_empty() {
            String::new()
        } else {
            format!(" (the provider says: {})", self.message.trim())
        };
        if !self.auth {
            return Some(format!(
                "the provider refused the account (auth: 0): wrong username or password, or the account is gone{said}"
            ));
        }
        if !self.status.is_empty() && !self.status.eq_ignore_ascii_case("active") {
            return Some(format!(
                "the provider says the account is {}{said}",
                self.status
            ));
        }
        None
    }
}

/// Describes an answer that is not JSON, for an error message: an HTML
/// page, an empty body, or the first characters of whatever it is.
pub fn not_json(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(200)]);
    let text = text.trim_start_matches('\u{feff}').trim();
    if text.is_empty() {
        return "the answer is empty".to_string();
    }
    let lower = text.to_ascii_lowercase();
    if lower.starts_with('<') {
        let title = lower
            .find("<title>")
            .and_then(|at| {
                let rest = &text[at + 7..];
                rest.find('<').map(|end| rest[..end].trim().to_string())
            })
            .filter(|t| !t.is_empty());
        return match title {
            Some(t) => format!("the answer is an HTML page ({t:?}), not JSON"),
            None => "the answer is an HTML page, not JSON".to_string(),
        };
    }
    let start: String = text.chars().take(40).collect();
    format!("the answer is not JSON (it starts with {start:?})")
}

/// Reads the login answer.
pub fn read_account(body: &[u8]) -> Result<Account, String> {
    let value: Value = serde_json::from_slice(body).map_err(|_| not_json(body))?;
    let Some(info) = value.get("user_info").and_then(Value::as_object) else {
        return Err("the answer has no user_info: this is not an Xtream login answer".into());
    };
    let timezone = value
        .get("server_info")
        .and_then(|s| s.get("timezone"))
        .and_then(text)
        .filter(|t| !t.is_empty());
    Ok(Account {
        auth: info.get("auth").is_some_and(flag),
        status: info.get("status").and_then(text).unwrap_or_default(),
        exp_date: info.get("exp_date").and_then(int).filter(|t| *t > 0),
        max_connections: info
            .get("max_connections")
            .and_then(int)
            .and_then(|n| u32::try_from(n).ok()),
        message: info.get("message").and_then(text).unwrap_or_default(),
        timezone,
    })
}

/// A category of `get_live_categories`, `get_vod_categories` or
/// `get_series_categories`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Category {
    /// As the provider wrote it, a number as text.
    pub id: String,
    pub name: String,
}

/// An entry of `get_live_streams`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Live {
    pub id: u64,
    pub name: String,
    pub icon: String,
    pub epg_channel_id: Option<String>,
    pub category_id: Option<String>,
    /// Days of archive: `tv_archive_duration` when `tv_archive` is 1, else 0.
    pub archive_days: u16,
    pub is_adult: bool,
}

/// An entry of `get_vod_streams`.
#[derive(Debug, Clone, PartialEq)]
pub struct Vod {
    pub id: u64,
    pub name: String,
    pub icon: String,
    pub category_id: Option<String>,
    /// `mp4`, `mkv`...; `None` when absent.
    pub container: Option<String>,
    pub is_adult: bool,
    /// Out of 10.
    pub rating: Option<f32>,
    pub year: Option<u16>,
}

/// An entry of `get_series`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Series {
    pub id: u64,
    pub name: String,
    pub cover: String,
    pub category_id: Option<String>,
    pub plot: String,
}

/// An episode of `get_series_info`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Episode {
    pub id: u64,
    pub season: u32,
    pub episode: u32,
    pub title: String,
    pub container: Option<String>,
}

/// Reads a list answer entry by entry: `each` gets the entry's 1-based
/// position and its JSON. Accepts an array, an object of entries (its
/// values, in order), `null` or an empty body-less `[]`/`{}`. Returns how
/// many entries there were; an error when the answer is not JSON or ends
/// before the list does.
pub fn read_list<R: Read>(reader: R, mut each: impl FnMut(u64, Value)) -> Result<u64, String> {
    let mut reader = BufReader::with_capacity(64 * 1024, reader);
    // An HTML page (a login form, a 404 page with status 200) is said as
    // such, rather than as a syntax error at its first character.
    let head = reader
        .fill_buf()
        .map_err(|e| format!("reading the answer: {e}"))?;
    let bom = if head.starts_with(b"\xef\xbb\xbf") {
        3
    } else {
        0
    };
    if head[bom..]
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|b| {
            !matches!(
                b,
                b'[' | b'{' | b'n' | b't' | b'f' | b'"' | b'-' | b'0'..=b'9'
            )
        })
    {
        return Err(not_json(head));
    }
    reader.consume(bom);
    let mut de = serde_json::Deserializer::from_reader(reader);
    let count = ListSeed { each: &mut each }
        .deserialize(&mut de)
        .map_err(describe_error)?;
    de.end().map_err(describe_error)?;
    Ok(count)
}

fn describe_error(e: serde_json::Error) -> String {
    use serde_json::error::Category as C;
    match e.classify() {
        C::Eof => "the answer ends before the list does (the provider cut it off)".to_string(),
        C::Io => format!("reading the answer: {e}"),
        C::Syntax | C::Data => format!("the answer is not valid JSON ({e})"),
    }
}

/// Reads `get_live_categories` (and the two others), one category at a
/// time into `each`.
pub fn read_categories<R: Read>(
    reader: R,
    action: &str,
    mut each: impl FnMut(Category),
) -> Result<Vec<Diagnostic>, String> {
    read_entries(reader, action, "category_id", category, |c, _| each(c))
}

/// Reads `get_live_streams`.
pub fn read_live<R: Read>(reader: R, each: impl FnMut(Live)) -> Result<Vec<Diagnostic>, String> {
    let mut each = each;
    read_entries(reader, "get_live_streams", "stream_id", live, |l, _| {
        each(l)
    })
}

/// Reads `get_vod_streams`.
pub fn read_vod<R: Read>(reader: R, each: impl FnMut(Vod)) -> Result<Vec<Diagnostic>, String> {
    let mut each = each;
    read_entries(reader, "get_vod_streams", "stream_id", vod, |v, _| each(v))
}

/// Reads `get_series`.
pub fn read_series<R: Read>(
    reader: R,
    each: impl FnMut(Series),
) -> Result<Vec<Diagnostic>, String> {
    let mut each = each;
    read_entries(reader, "get_series", "series_id", series, |s, _| each(s))
}

/// Reads `get_series_info` of series `series_id`: its episodes, in the
/// provider's order, and what was wrong with some of them.
pub fn read_series_info(
    body: &[u8],
    series_id: u64,
) -> Result<(Vec<Episode>, Vec<Diagnostic>), String> {
    let value: Value = serde_json::from_slice(body).map_err(|_| not_json(body))?;
    let what = format!("get_series_info of series {series_id}");
    let mut episodes = Vec::new();
    let mut problems = Vec::new();
    // The season a list of episodes is filed under, for episodes that do
    // not say theirs.
    let mut take = |season_hint: Option<u32>, list: &Value| {
        let Some(list) = list.as_array() else {
            problems.push(Diagnostic::new(
                0,
                format!("{what}: a season's episodes are not a list"),
            ));
            return;
        };
        for (i, v) in list.iter().enumerate() {
            match episode(v, season_hint) {
                Ok(e) => episodes.push(e),
                Err(why) => problems.push(Diagnostic::new(
                    0,
                    format!("{what}: episode {} ({}): {why}", i + 1, id_of(v, "id")),
                )),
            }
        }
    };
    match value.get("episodes") {
        Some(Value::Object(seasons)) => {
            for (season, list) in seasons {
                take(season.trim().parse().ok(), list);
            }
        }
        Some(Value::Array(seasons)) => {
            for list in seasons {
                match list {
                    // A flat list of episodes rather than one per season.
                    Value::Object(_) => take(None, &Value::Array(vec![list.clone()])),
                    _ => take(None, list),
                }
            }
        }
        Some(Value::Null) | None => {
            if !value.is_object() {
                return Err(format!("{what}: the answer is not an object"));
            }
        }
        Some(_) => problems.push(Diagnostic::new(
            0,
            format!("{what}: `episodes` is neither an object nor a list"),
        )),
    }
    Ok((episodes, problems))
}

/// Reads a list whose entries `parse` turns into `T`; an entry it refuses
/// becomes a diagnostic naming `action`, its position and its `id_key`.
fn read_entries<R: Read, T>(
    reader: R,
    action: &str,
    id_key: &str,
    parse: fn(&Value) -> Result<T, String>,
    mut each: impl FnMut(T, u64),
) -> Result<Vec<Diagnostic>, String> {
    let mut problems = Vec::new();
    read_list(reader, |position, v| match parse(&v) {
        Ok(t) => each(t, position),
        Err(why) => problems.push(Diagnostic::new(
            0,
            format!(
                "{action}: entry {position} ({}): {why}; skipped",
                id_of(&v, id_key)
            ),
        )),
    })?;
    Ok(problems)
}

/// `stream_id 12`, `stream_id "abc"` or `no stream_id`, for a diagnostic.
fn id_of(v: &Value, key: &str) -> String {
    match v.get(key) {
        None | Some(Value::Null) => format!("no {key}"),
        Some(Value::String(s)) => format!("{key} {:?}", truncated(s)),
        Some(Value::Number(n)) => format!("{key} {n}"),
        Some(other) => format!("{key} {}", truncated(&other.to_string())),
    }
}

fn truncated(s: &str) -> String {
    if s.chars().count() > 40 {
        let head: String = s.chars().take(40).collect();
        format!("{head}...")
    } else {
        s.to_string()
    }
}

fn object(v: &Value) -> Result<&Map<String, Value>, String> {
    v.as_object().ok_or_else(|| "not an object".to_string())
}

/// The entry's id under `key`: a whole number, given as one or as text.
fn id(o: &Map<String, Value>, key: &str) -> Result<u64, String> {
    match o.get(key) {
        None | Some(Value::Null) => Err(format!("{key} is missing")),
        Some(v) => int(v)
            .and_then(|n| u64::try_from(n).ok())
            .ok_or_else(|| format!("{key} is not a number")),
    }
}

/// The longest name kept, in bytes: a longer one is not a name but a
/// provider's garbage (a 10 MB line), and its entry is skipped.
pub const MAX_NAME_BYTES: usize = 1024;

/// The longest optional text kept (a logo URL, a plot), in bytes; a
/// longer one is dropped and the entry kept without it.
pub const MAX_TEXT_BYTES: usize = 16 * 1024;

/// The entry's name under `key`, trimmed; an error when missing, empty or
/// longer than [`MAX_NAME_BYTES`].
fn name(o: &Map<String, Value>, key: &str) -> Result<String, String> {
    let name = o
        .get(key)
        .and_then(text)
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| format!("{key} is missing"))?;
    if name.len() > MAX_NAME_BYTES {
        return Err(format!(
            "{key} is {} bytes long (at most {MAX_NAME_BYTES})",
            name.len()
        ));
    }
    Ok(name)
}

/// Optional text: empty when missing, null or longer than
/// [`MAX_TEXT_BYTES`].
fn opt_text(o: &Map<String, Value>, key: &str) -> String {
    o.get(key)
        .and_then(text)
        .map(|s| s.trim().to_string())
        .filter(|s| s.len() <= MAX_TEXT_BYTES)
        .unwrap_or_default()
}

/// A category id: the text of a number or string; `None` for null, empty,
/// `0`-less absence.
fn category_id(o: &Map<String, Value>) -> Option<String> {
    o.get("category_id")
        .and_then(text)
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

fn category(v: &Value) -> Result<Category, String> {
    let o = object(v)?;
    let id = o
        .get("category_id")
        .and_then(text)
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| "category_id is missing".to_string())?;
    Ok(Category {
        id,
        name: name(o, "category_name")?,
    })
}

fn live(v: &Value) -> Result<Live, String> {
    let o = object(v)?;
    let archive = o.get("tv_archive").is_some_and(flag);
    let days = o
        .get("tv_archive_duration")
        .and_then(int)
        .map_or(0, |d| d.clamp(0, i64::from(u16::MAX)) as u16);
    Ok(Live {
        id: id(o, "stream_id")?,
        name: name(o, "name")?,
        icon: opt_text(o, "stream_icon"),
        epg_channel_id: Some(opt_text(o, "epg_channel_id")).filter(|s| !s.is_empty()),
        category_id: category_id(o),
        archive_days: if archive { days } else { 0 },
        is_adult: o.get("is_adult").is_some_and(flag),
    })
}

fn vod(v: &Value) -> Result<Vod, String> {
    let o = object(v)?;
    let rating = o.get("rating").and_then(|r| match r {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    });
    Ok(Vod {
        id: id(o, "stream_id")?,
        name: name(o, "name")?,
        icon: opt_text(o, "stream_icon"),
        category_id: category_id(o),
        container: container(o),
        is_adult: o.get("is_adult").is_some_and(flag),
        rating: rating
            .filter(|r| r.is_finite() && (0.0..=10.0).contains(r))
            .map(|r| r as f32),
        year: o
            .get("year")
            .and_then(int)
            .and_then(|y| u16::try_from(y).ok())
            .filter(|y| *y > 0),
    })
}

fn series(v: &Value) -> Result<Series, String> {
    let o = object(v)?;
    Ok(Series {
        id: id(o, "series_id")?,
        name: name(o, "name")?,
        cover: opt_text(o, "cover"),
        category_id: category_id(o),
        plot: opt_text(o, "plot"),
    })
}

fn episode(v: &Value, season_hint: Option<u32>) -> Result<Episode, String> {
    let o = object(v)?;
    let number = |key: &str| o.get(key).and_then(int).and_then(|n| u32::try_from(n).ok());
    let id = id(o, "id")?;
    let season = number("season").or(season_hint).unwrap_or(1);
    let episode = number("episode_num").unwrap_or(1);
    let title = o
        .get("title")
        .and_then(text)
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty() && s.len() <= MAX_NAME_BYTES)
        .unwrap_or_else(|| format!("S{season:02}E{episode:02}"));
    Ok(Episode {
        id,
        season,
        episode,
        title,
        container: container(o),
    })
}

/// `container_extension`, lower-case, when it is a plausible extension.
fn container(o: &Map<String, Value>) -> Option<String> {
    o.get("container_extension")
        .and_then(text)
        .map(|s| s.trim().trim_start_matches('.').to_ascii_lowercase())
        .filter(|s| !s.is_empty() && s.len() <= 8 && s.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// A whole number given as a number, numeric text or a boolean.
pub fn int(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.is_finite()).map(|f| f as i64)),
        Value::String(s) => {
            let s = s.trim();
            s.parse::<i64>().ok().or_else(|| {
                s.parse::<f64>()
                    .ok()
                    .filter(|f| f.is_finite())
                    .map(|f| f as i64)
            })
        }
        Value::Bool(b) => Some(i64::from(*b)),
        _ => None,
    }
}

/// Text given as a string or a number; `None` for null and the rest.
pub fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A yes/no given as `1`, `"1"`, `true` or `"true"`.
pub fn flag(v: &Value) -> bool {
    match v {
        Value::String(s) if s.trim().eq_ignore_ascii_case("true") => true,
        _ => int(v) == Some(1),
    }
}

/// Hands each entry of a list to a callback as it is parsed.
struct ListSeed<'f, F> {
    each: &'f mut F,
}

impl<'de, F: FnMut(u64, Value)> DeserializeSeed<'de> for ListSeed<'_, F> {
    type Value = u64;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<u64, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, F: FnMut(u64, Value)> Visitor<'de> for ListSeed<'_, F> {
    type Value = u64;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of entries")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<u64, A::Error> {
        let mut n = 0;
        while let Some(v) = seq.next_element::<Value>()? {
            n += 1;
            (self.each)(n, v);
        }
        Ok(n)
    }

    /// Some providers answer an object keyed by id (or by position).
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<u64, A::Error> {
        let mut n = 0;
        while let Some((_, v)) = map.next_entry::<IgnoredAny, Value>()? {
            n += 1;
            (self.each)(n, v);
        }
        Ok(n)
    }

    fn visit_unit<E>(self) -> Result<u64, E> {
        Ok(0)
    }

    fn visit_none<E>(self) -> Result<u64, E> {
        Ok(0)
    }

    /// `false` or a number where a list belongs: nothing to read, said as
    /// an empty list (some panels answer `false` for an empty category).
    fn visit_bool<E>(self, _: bool) -> Result<u64, E> {
        Ok(0)
    }

    fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<u64, E> {
        Err(E::custom(format!(
            "a string where the list belongs: {:?}",
            truncated(s)
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lives(json: &str) -> (Vec<Live>, Vec<String>) {
        let mut out = Vec::new();
        let problems = read_live(json.as_bytes(), |l| out.push(l)).expect("readable");
        (out, problems.into_iter().map(|d| d.to_string()).collect())
    }

    #[test]
    fn numbers_as_strings_nulls_and_bad_entries() {
        let (list, problems) = lives(
            r#"[
            {"stream_id": "12", "name": "News", "stream_icon": null, "epg_channel_id": "news.uk",
             "category_id": 3, "tv_archive": "1", "tv_archive_duration": "7", "is_adult": "0"},
            {"stream_id": 13.0, "name": " Sport ", "tv_archive": 0, "tv_archive_duration": 5},
            {"stream_id": "abc", "name": "Bad"},
            {"name": "No id"},
            {"stream_id": 15, "name": null},
            "junk",
            {"stream_id": 16, "name": "Adult", "is_adult": true, "category_id": null}
        ]"#,
        );
        assert_eq!(
            list[0],
            Live {
                id: 12,
                name: "News".into(),
                icon: String::new(),
                epg_channel_id: Some("news.uk".into()),
                category_id: Some("3".into()),
                archive_days: 7,
                is_adult: false,
            }
        );
        assert_eq!(
            (list[1].id, list[1].name.as_str(), list[1].archive_days),
            (13, "Sport", 0)
        );
        assert_eq!(
            (list[2].id, list[2].is_adult, list[2].category_id.clone()),
            (16, true, None)
        );
        assert_eq!(
            problems,
            [
                "get_live_streams: entry 3 (stream_id \"abc\"): stream_id is not a number; skipped",
                "get_live_streams: entry 4 (no stream_id): stream_id is missing; skipped",
                "get_live_streams: entry 5 (stream_id 15): name is missing; skipped",
                "get_live_streams: entry 6 (no stream_id): not an object; skipped",
            ]
        );
    }

    #[test]
    fn lists_may_be_objects_null_or_empty() {
        let (list, _) =
            lives(r#"{"a": {"stream_id": 1, "name": "A"}, "b": {"stream_id": 2, "name": "B"}}"#);
        assert_eq!(list.iter().map(|l| l.id).collect::<Vec<_>>(), [1, 2]);
        for empty in ["null", "[]", "{}", " [ ] ", "false", "\u{feff}[]"] {
            assert!(lives(empty).0.is_empty(), "{empty}");
        }
    }

    #[test]
    fn html_cut_off_and_garbage_are_errors() {
        let err = |body: &str| read_live(body.as_bytes(), |_| {}).unwrap_err();
        assert!(err("<html><title>404 Not Found</title></html>")
            .contains("HTML page (\"404 Not Found\")"));
        assert!(err("Access denied").contains("not JSON"));
        assert!(
            err(r#"[{"stream_id": 1, "name": "A"}, {"stream_id": 2, "na"#).contains("cut it off")
        );
        assert!(err("").contains("cut it off"));
        assert!(err(r#""nope""#).contains("string where the list belongs"));
        assert!(err("[1] trailing").contains("not valid JSON"));
    }

    #[test]
    fn a_huge_name_is_a_diagnostic_and_the_rest_is_read() {
        let big = "x".repeat(10 << 20);
        let json = format!(
            r#"[{{"stream_id": 1, "name": "{big}"}}, {{"stream_id": 2, "name": "Two", "stream_icon": "{big}"}}]"#
        );
        let (list, problems) = lives(&json);
        assert_eq!(list.len(), 1);
        assert_eq!(
            (list[0].id, list[0].icon.as_str()),
            (2, ""),
            "the icon dropped"
        );
        assert_eq!(problems.len(), 1);
        assert_eq!(
            problems[0],
            "get_live_streams: entry 1 (stream_id 1): name is 10485760 bytes long (at most 1024); skipped"
        );
    }

    #[test]
    fn accounts() {
        let ok = read_account(
            br#"{"user_info": {"auth": 1, "status": "Active", "exp_date": "1900000000",
                 "max_connections": "2", "message": ""},
                 "server_info": {"timezone": "Europe/Paris"}}"#,
        )
        .unwrap();
        assert_eq!(
            ok,
            Account {
                auth: true,
                status: "Active".into(),
                exp_date: Some(1_900_000_000),
                max_connections: Some(2),
                message: String::new(),
                timezone: Some("Europe/Paris".into()),
            }
        );
        assert_eq!(ok.refusal(), None);
        let denied = read_account(br#"{"user_info": {"auth": 0}}"#).unwrap();
        assert!(denied.refusal().unwrap().contains("auth: 0"));
        let expired = read_account(
            br#"{"user_info": {"auth": "1", "status": "Expired", "exp_date": null, "max_connections": null, "message": "Renew"}}"#,
        )
        .unwrap();
        assert_eq!((expired.exp_date, expired.max_connections), (None, None));
        let why = expired.refusal().unwrap();
        assert!(why.contains("Expired") && why.contains("Renew"), "{why}");
        assert!(read_account(b"<html><head><title>404 Not Found</title>")
            .unwrap_err()
            .contains("HTML page (\"404 Not Found\")"));
        assert!(read_account(b"").unwrap_err().contains("empty"));
        assert!(read_account(b"[]").unwrap_err().contains("no user_info"));
    }

    #[test]
    fn series_info_by_season_object_or_array() {
        let (eps, problems) = read_series_info(
            br#"{"info": {}, "episodes": {
                "1": [{"id": "101", "episode_num": "1", "title": "Pilot", "container_extension": "MKV", "season": 1},
                      {"id": "102", "episode_num": 2, "title": null}],
                "2": [{"id": "bad"}, {"id": 201, "episode_num": 1, "container_extension": ".mp4"}]
            }}"#,
            7,
        )
        .unwrap();
        let got: Vec<_> = eps
            .iter()
            .map(|e| {
                (
                    e.id,
                    e.season,
                    e.episode,
                    e.title.as_str(),
                    e.container.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                (101, 1, 1, "Pilot", Some("mkv")),
                (102, 1, 2, "S01E02", None),
                (201, 2, 1, "S02E01", Some("mp4")),
            ]
        );
        assert_eq!(problems.len(), 1);
        assert_eq!(
            problems[0].to_string(),
            "get_series_info of series 7: episode 1 (id \"bad\"): id is not a number"
        );
        let (eps, _) = read_series_info(
            br#"{"episodes": [[{"id": 1, "season": 3, "episode_num": 4}]]}"#,
            1,
        )
        .unwrap();
        assert_eq!((eps[0].season, eps[0].episode), (3, 4));
        let (eps, problems) = read_series_info(br#"{"episodes": null}"#, 1).unwrap();
        assert!(eps.is_empty() && problems.is_empty());
        assert!(read_series_info(b"<html>", 1).unwrap_err().contains("HTML"));
    }

    #[test]
    fn categories_and_vod() {
        let mut cats = Vec::new();
        let problems = read_categories(
            br#"[{"category_id": "1", "category_name": "News", "parent_id": 0},
                 {"category_id": 2, "category_name": "Films"},
                 {"category_id": "3"}]"#
                .as_slice(),
            "get_live_categories",
            |c| cats.push(c),
        )
        .unwrap();
        assert_eq!(cats.len(), 2);
        assert_eq!(cats[1].id, "2");
        assert_eq!(problems.len(), 1);
        let mut films = Vec::new();
        read_vod(
            br#"[{"stream_id": 5, "name": "Film", "container_extension": "mkv", "rating": "7.5", "year": "1999"},
                 {"stream_id": 6, "name": "Other", "rating": "", "year": null}]"#
                .as_slice(),
            |v| films.push(v),
        )
        .unwrap();
        assert_eq!(films[0].container.as_deref(), Some("mkv"));
        assert_eq!((films[0].rating, films[0].year), (Some(7.5), Some(1999)));
        assert_eq!(
            (films[1].rating, films[1].year, films[1].container.clone()),
            (None, None, None)
        );
    }
}
