//! The strings of a live channel in one allocation, with what the writers
//! need to know about them computed once, when the snapshot is built.
//!
//! A channel has four strings (name, logo, URL, guide id). Four `Box<str>`
//! cost 64 bytes of pointers and four heap blocks (each with its allocator
//! header and rounding); one `Box<str>` and three `u32` end offsets cost 28
//! bytes and one block.

use std::fmt;

/// True when `s` can be written as is everywhere a face writes it: no ASCII
/// control character (CR, LF, tab and DEL included), no `"` and no `\`. Such
/// a string needs no cleaning in an M3U attribute or title and no escaping
/// in a JSON string, so writers take a plain copy.
pub fn is_plain(s: &str) -> bool {
    // No early exit: the loop is a branch-free reduction the compiler
    // vectorises.
    s.bytes().fold(true, |ok, b| {
        ok & (b >= 0x20 && b != 0x7f && b != b'"' && b != b'\\')
    })
}

const HAS_EPG: u8 = 1;
const NAME_PLAIN: u8 = 1 << 1;
const LOGO_PLAIN: u8 = 1 << 2;
const URL_PLAIN: u8 = 1 << 3;
const EPG_PLAIN: u8 = 1 << 4;

/// Longest string kept (1 GiB, SQLite's own limit), so that the four ends
/// always fit in a `u32`.
const MAX_LEN: usize = (1 << 30) - 1;

/// Name, logo, URL and guide id of a live channel, packed.
#[derive(Clone, PartialEq, Eq)]
pub struct LiveText {
    /// `name ‖ logo ‖ url ‖ epg_id`.
    text: Box<str>,
    name_end: u32,
    logo_end: u32,
    url_end: u32,
    flags: u8,
}

impl LiveText {
    /// `logo` is empty when there is none; `epg_id` is `None` when the
    /// channel has no guide id (`Some("")` is kept as given). A string
    /// longer than 1 GiB is cut at a character boundary.
    pub fn new(name: &str, logo: &str, url: &str, epg_id: Option<&str>) -> LiveText {
        let (name, logo, url) = (clip(name), clip(logo), clip(url));
        let epg = clip(epg_id.unwrap_or(""));
        let mut text = String::with_capacity(name.len() + logo.len() + url.len() + epg.len());
        let mut flags = 0;
        for (s, plain) in [
            (name, NAME_PLAIN),
            (logo, LOGO_PLAIN),
            (url, URL_PLAIN),
            (epg, EPG_PLAIN),
        ] {
            text.push_str(s);
            if is_plain(s) {
                flags |= plain;
            }
        }
        if epg_id.is_some() {
            flags |= HAS_EPG;
        }
        // Each part is at most MAX_LEN, so every end fits in a u32.
        let name_end = name.len() as u32;
        let logo_end = name_end + logo.len() as u32;
        let url_end = logo_end + url.len() as u32;
        LiveText {
            text: text.into_boxed_str(),
            name_end,
            logo_end,
            url_end,
            flags,
        }
    }

    pub fn name(&self) -> &str {
        &self.text[..self.name_end as usize]
    }

    /// Empty when none.
    pub fn logo(&self) -> &str {
        &self.text[self.name_end as usize..self.logo_end as usize]
    }

    pub fn url(&self) -> &str {
        &self.text[self.logo_end as usize..self.url_end as usize]
    }

    pub fn epg_id(&self) -> Option<&str> {
        (self.flags & HAS_EPG != 0).then(|| &self.text[self.url_end as usize..])
    }

    /// [`is_plain`] of the name.
    pub fn name_is_plain(&self) -> bool {
        self.flags & NAME_PLAIN != 0
    }

    /// [`is_plain`] of the logo.
    pub fn logo_is_plain(&self) -> bool {
        self.flags & LOGO_PLAIN != 0
    }

    /// [`is_plain`] of the URL.
    pub fn url_is_plain(&self) -> bool {
        self.flags & URL_PLAIN != 0
    }

    /// [`is_plain`] of the guide id (true when there is none).
    pub fn epg_id_is_plain(&self) -> bool {
        self.flags & EPG_PLAIN != 0
    }
}

impl fmt::Debug for LiveText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LiveText")
            .field("name", &self.name())
            .field("logo", &self.logo())
            .field("url", &self.url())
            .field("epg_id", &self.epg_id())
            .finish()
    }
}

fn clip(s: &str) -> &str {
    if s.len() <= MAX_LEN {
        return s;
    }
    let mut end = MAX_LEN;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_and_flags() {
        let t = LiveText::new("Ünï \"Q\"", "", "http://up/1.ts", Some("news.uk"));
        assert_eq!(t.name(), "Ünï \"Q\"");
        assert_eq!(t.logo(), "");
        assert_eq!(t.url(), "http://up/1.ts");
        assert_eq!(t.epg_id(), Some("news.uk"));
        assert!(!t.name_is_plain());
        assert!(t.logo_is_plain() && t.url_is_plain() && t.epg_id_is_plain());

        let t = LiveText::new("", "l\\", "u\n", None);
        assert_eq!(
            (t.name(), t.logo(), t.url(), t.epg_id()),
            ("", "l\\", "u\n", None)
        );
        assert!(t.name_is_plain() && !t.logo_is_plain() && !t.url_is_plain());
        assert_eq!(LiveText::new("a", "", "", Some("")).epg_id(), Some(""));
    }

    #[test]
    fn plain_means_no_control_quote_or_backslash() {
        assert!(is_plain("News HD: 日本 'x' <b> & /"));
        for bad in ["\"", "\\", "\t", "\r", "\n", "\u{7f}", "\u{0}", "a\u{1f}b"] {
            assert!(!is_plain(bad), "{bad:?}");
        }
    }

    #[test]
    fn one_allocation_and_small() {
        assert!(std::mem::size_of::<LiveText>() <= 32);
    }
}
