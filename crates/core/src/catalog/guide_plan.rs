//! Planning a guide import: from an XMLTV guide's channels and programmes
//! to what a store writes, with every rule about them decided here and not
//! in SQL.
//!
//! The rules:
//! - A channel is known by its id. The first `<channel>` of a repeated id
//!   wins, whole (its name and icon); channels keep the order in which
//!   their ids first appear.
//! - A channel's name is its first display name, else its id; its icon is
//!   its first icon, if any.
//! - Programmes are ordered by (channel, start); programmes with the same
//!   channel and start keep their order in the guide. A programme naming a
//!   channel the guide does not list is kept (players look programmes up
//!   by the channel's guide id, not through the channel list).
//! - XMLTV makes `stop` optional; the catalog needs one. A programme
//!   without a stop ends when the next later programme on its channel
//!   starts, and one with no later programme on its channel lasts
//!   [`LAST_PROGRAMME_SECS`].
//!
//! [`GuidePlanner`] takes channels and programmes one at a time as the
//! XMLTV reader produces them. A guide is the largest thing an import
//! holds (a million programmes is common). Two ways to hold them:
//!
//! - In memory ([`GuidePlanner::default`], tests and small guides): the
//!   plan keeps them in the one vector they were pushed into;
//!   [`GuidePlanner::finish`] sorts it in place, without the scratch buffer
//!   of a stable sort (a programme carries its position in the guide as
//!   the tie-breaker, in space its layout pads anyway), and fills the
//!   missing stops in the same vector.
//! - Spooled ([`GuidePlanner::spooled`], every file or URL import): each
//!   programme goes to a [`ProgrammeSpool`] (a file the caller hands over)
//!   as it is read, and the store reads them back one at a time, so memory
//!   stays bounded whatever the guide's size. They stay in guide order
//!   (the catalog orders each channel's programmes by start, stably, when
//!   a snapshot is built, which gives the order the rules above give); the
//!   only thing kept in memory is what filling the missing stops needs:
//!   the starts of the programmes without a stop, per channel (none for a
//!   guide that gives every stop), whose next later starts are found in
//!   one more pass over the spool before the store reads it.
//!
//! No I/O beyond the spool's backing the caller hands over.

use std::collections::{BTreeMap, HashMap};
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use tvgate_formats::xmltv;

/// How long the last programme of a channel lasts when the guide gives no
/// stop.
pub const LAST_PROGRAMME_SECS: i64 = 3600;

/// A guide channel as a store writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedGuideChannel {
    /// Unique within the plan.
    pub id: String,
    pub name: String,
    pub icon: Option<String>,
}

/// A programme as a store writes it, its stop settled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedProgramme {
    /// The guide id of its channel.
    pub channel: String,
    pub start: i64,
    /// The guide's stop, or the one the rules give (see the module doc).
    pub stop: i64,
    pub title: String,
    pub desc: Option<String>,
    pub lang: Option<String>,
    /// Its position in the guide, which orders programmes with the same
    /// channel and start. A `u32` fits in the padding after `stop_given`;
    /// past 2^32 programmes (more than a store takes from one guide) it
    /// wraps and only the order of such ties could differ.
    position: u32,
    /// Whether the guide gave `stop`; [`GuidePlanner::finish`] fills the
    /// others once the programmes are sorted.
    stop_given: bool,
}

/// A source's guide as a store writes it: channels unique in order of
/// first appearance, programmes with every stop filled, either sorted by
/// (channel, start) in memory or, spooled, in guide order (see the module
/// doc).
///
/// Only [`GuidePlanner`] makes one, so a store is never handed repeated
/// channel ids or a programme without a stop.
#[derive(Default)]
pub struct GuidePlan {
    channels: Vec<PlannedGuideChannel>,
    programmes: Programmes,
    /// How many programmes the plan holds.
    count: u64,
}

enum Programmes {
    Memory(Vec<PlannedProgramme>),
    Spooled {
        spool: Box<dyn ProgrammeSpool>,
        fill: StopFill,
    },
    /// The spool failed while the guide was read: storing fails with this.
    Failed(String),
}

impl Default for Programmes {
    fn default() -> Self {
        Programmes::Memory(Vec::new())
    }
}

impl std::fmt::Debug for GuidePlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let how = match &self.programmes {
            Programmes::Memory(_) => "memory",
            Programmes::Spooled { .. } => "spooled",
            Programmes::Failed(_) => "failed",
        };
        f.debug_struct("GuidePlan")
            .field("channels", &self.channels.len())
            .field("programmes", &self.count)
            .field("held", &how)
            .finish()
    }
}

impl GuidePlan {
    /// Plans a whole guide at once (tests, small imports).
    pub fn from_guide(
        channels: impl IntoIterator<Item = xmltv::Channel>,
        programmes: impl IntoIterator<Item = xmltv::Programme>,
    ) -> GuidePlan {
        let mut planner = GuidePlanner::default();
        for channel in channels {
            planner.push_channel(channel);
        }
        for programme in programmes {
            planner.push_programme(programme);
        }
        planner.finish()
    }

    /// Every channel, in order of first appearance.
    pub fn channels(&self) -> &[PlannedGuideChannel] {
        &self.channels
    }

    /// How many programmes the plan holds.
    pub fn len(&self) -> u64 {
        self.count
    }

    /// Whether the plan holds no programme.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The programmes, taken out of the plan one at a time with their
    /// stops filled: in (channel, start) order from memory, in guide order
    /// from a spool. An error (the spool's backing failed) ends the
    /// import; a store writes nothing of it.
    pub fn take_programmes(
        &mut self,
    ) -> Result<Box<dyn Iterator<Item = Result<PlannedProgramme, String>> + Send + '_>, String>
    {
        match &mut self.programmes {
            Programmes::Memory(list) => Ok(Box::new(std::mem::take(list).into_iter().map(Ok))),
            Programmes::Failed(e) => Err(e.clone()),
            Programmes::Spooled { spool, fill } => {
                let error = |e: io::Error| format!("reading the spooled guide back: {e}");
                if !fill.is_empty() {
                    // One pass to find the next later start of each
                    // programme without a stop (the only ones held).
                    for p in spool.read().map_err(error)? {
                        let p = p.map_err(error)?;
                        fill.saw(&p.channel, p.start);
                    }
                }
                let fill = &*fill;
                let programmes = spool.read().map_err(error)?;
                Ok(Box::new(programmes.map(move |p| {
                    let mut p = p.map_err(error)?;
                    if !p.stop_given {
                        p.stop = fill.stop(&p.channel, p.start);
                        p.stop_given = true;
                    }
                    Ok(p)
                })))
            }
        }
    }
}

/// Where a spooled plan's programmes wait between reading and storing: a
/// sequence written once, then read back from its start (more than once).
/// [`FileSpool`] is the one implementation, over a file the caller opens.
pub trait ProgrammeSpool: Send {
    /// Appends one programme.
    fn write(&mut self, p: &PlannedProgramme) -> io::Result<()>;
    /// Every programme written, in order; writing has ended.
    #[allow(clippy::type_complexity)]
    fn read(
        &mut self,
    ) -> io::Result<Box<dyn Iterator<Item = io::Result<PlannedProgramme>> + Send + '_>>;
}

/// The starts of a spooled guide's programmes without a stop, per channel,
/// each with the next later start on its channel found so far.
#[derive(Debug, Default)]
struct StopFill {
    /// Channel id → (start → the nearest later start seen on the channel).
    /// For two starts `a < b` of a channel, `next(a) <= next(b)` always
    /// holds (a start later than `b` is later than `a`), which is what
    /// keeps [`StopFill::saw`] to the few entries it changes.
    starts: HashMap<String, BTreeMap<i64, Option<i64>>>,
}

impl StopFill {
    fn is_empty(&self) -> bool {
        self.starts.is_empty()
    }

    fn needs(&mut self, channel: &str, start: i64) {
        match self.starts.get_mut(channel) {
            Some(starts) => {
                starts.entry(start).or_insert(None);
            }
            None => {
                self.starts
                    .insert(channel.to_string(), BTreeMap::from([(start, None)]));
            }
        }
    }

    /// A programme at `start` is on `channel`: it is the next later start
    /// of the held starts before it whose nearest is later still.
    fn saw(&mut self, channel: &str, start: i64) {
        let Some(starts) = self.starts.get_mut(channel) else {
            return;
        };
        for (_, next) in starts.range_mut(..start).rev() {
            match next {
                Some(n) if *n <= start => break,
                _ => *next = Some(start),
            }
        }
    }

    fn stop(&self, channel: &str, start: i64) -> i64 {
        self.starts
            .get(channel)
            .and_then(|s| s.get(&start).copied().flatten())
            .unwrap_or(start.saturating_add(LAST_PROGRAMME_SECS))
    }
}

/// Builds a [`GuidePlan`] from a guide's items pushed in document order.
#[derive(Default)]
pub struct GuidePlanner {
    channels: Vec<PlannedGuideChannel>,
    /// The ids in `channels`. A guide has thousands of channels at most,
    /// so the copies cost little.
    channel_ids: std::collections::HashSet<String>,
    programmes: Programmes,
    count: u64,
    fill: StopFill,
}

impl GuidePlanner {
    /// A planner that writes each programme to `spool` as it comes rather
    /// than holding it (see the module doc).
    pub fn spooled(spool: Box<dyn ProgrammeSpool>) -> GuidePlanner {
        GuidePlanner {
            programmes: Programmes::Spooled {
                spool,
                fill: StopFill::default(),
            },
            ..GuidePlanner::default()
        }
    }

    /// Adds the next item of the guide.
    pub fn push(&mut self, item: xmltv::Item) {
        match item {
            xmltv::Item::Channel(channel) => self.push_channel(channel),
            xmltv::Item::Programme(programme) => self.push_programme(programme),
        }
    }

    /// Adds the next `<channel>`; a repeated id is left out (the first
    /// wins).
    pub fn push_channel(&mut self, channel: xmltv::Channel) {
        let xmltv::Channel {
            id,
            display_names,
            icon,
        } = channel;
        if self.channel_ids.contains(&id) {
            return;
        }
        self.channel_ids.insert(id.clone());
        let name = display_names
            .into_iter()
            .next()
            .unwrap_or_else(|| id.clone());
        self.channels.push(PlannedGuideChannel { id, name, icon });
    }

    /// Adds the next `<programme>`.
    pub fn push_programme(&mut self, programme: xmltv::Programme) {
        let xmltv::Programme {
            line: _,
            channel,
            start,
            stop,
            title,
            desc,
            lang,
        } = programme;
        let planned = PlannedProgramme {
            channel,
            start,
            stop: stop.unwrap_or(0),
            title,
            desc,
            lang,
            position: self.count as u32,
            stop_given: stop.is_some(),
        };
        match &mut self.programmes {
            Programmes::Memory(list) => list.push(planned),
            Programmes::Spooled { spool, .. } => {
                if let Err(e) = spool.write(&planned) {
                    self.programmes = Programmes::Failed(format!("spooling the guide: {e}"));
                    return;
                }
                if !planned.stop_given {
                    self.fill.needs(&planned.channel, planned.start);
                }
            }
            Programmes::Failed(_) => return,
        }
        self.count += 1;
    }

    /// The plan: programmes sorted (in memory), their stops filled (or
    /// ready to be, spooled).
    pub fn finish(self) -> GuidePlan {
        let GuidePlanner {
            channels,
            programmes,
            count,
            fill,
            ..
        } = self;
        let programmes = match programmes {
            Programmes::Memory(mut programmes) => {
                programmes.sort_unstable_by(|a, b| {
                    (&a.channel, a.start, a.position).cmp(&(&b.channel, b.start, b.position))
                });
                fill_stops(&mut programmes);
                Programmes::Memory(programmes)
            }
            Programmes::Spooled { spool, .. } => Programmes::Spooled { spool, fill },
            failed @ Programmes::Failed(_) => failed,
        };
        GuidePlan {
            channels,
            programmes,
            count,
        }
    }
}

/// A [`ProgrammeSpool`] over a file (or anything read, written and
/// sought) the caller opened, typically an unnamed temporary file beside
/// the data: each programme in a few length-prefixed fields, the channel
/// id written only when it changes (guides list a channel's programmes
/// together).
pub struct FileSpool<F: Write> {
    state: SpoolState<F>,
    /// The channel of the last programme written.
    last_channel: String,
}

enum SpoolState<F: Write> {
    Writing(BufWriter<F>),
    Reading(F),
    Broken,
}

/// Marks a field as absent (`None`), or a channel as the previous one.
const ABSENT: u32 = u32::MAX;

impl<F: Read + Write + Seek + Send> FileSpool<F> {
    pub fn new(file: F) -> FileSpool<F> {
        FileSpool {
            state: SpoolState::Writing(BufWriter::with_capacity(1 << 16, file)),
            last_channel: String::new(),
        }
    }
}

fn put_str(out: &mut impl Write, s: Option<&str>) -> io::Result<()> {
    match s {
        None => out.write_all(&ABSENT.to_le_bytes()),
        Some(s) => {
            let len = u32::try_from(s.len())
                .ok()
                .filter(|&n| n != ABSENT)
                .ok_or_else(|| {
                    io::Error::new(io::ErrorKind::InvalidInput, "a text too long to spool")
                })?;
            out.write_all(&len.to_le_bytes())?;
            out.write_all(s.as_bytes())
        }
    }
}

fn get_u32(input: &mut impl Read) -> io::Result<u32> {
    let mut b = [0; 4];
    input.read_exact(&mut b)?;
    Ok(u32::from_le_bytes(b))
}

fn get_i64(input: &mut impl Read) -> io::Result<i64> {
    let mut b = [0; 8];
    input.read_exact(&mut b)?;
    Ok(i64::from_le_bytes(b))
}

fn get_str(input: &mut impl Read) -> io::Result<Option<String>> {
    let len = get_u32(input)?;
    if len == ABSENT {
        return Ok(None);
    }
    let mut bytes = vec![0; len as usize];
    input.read_exact(&mut bytes)?;
    String::from_utf8(bytes)
        .map(Some)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

impl<F: Read + Write + Seek + Send> ProgrammeSpool for FileSpool<F> {
    fn write(&mut self, p: &PlannedProgramme) -> io::Result<()> {
        let SpoolState::Writing(out) = &mut self.state else {
            return Err(io::Error::other("the spool is no longer written"));
        };
        if p.channel == self.last_channel {
            put_str(out, None)?;
        } else {
            put_str(out, Some(&p.channel))?;
            self.last_channel.clone_from(&p.channel);
        }
        out.write_all(&p.start.to_le_bytes())?;
        out.write_all(&p.stop.to_le_bytes())?;
        out.write_all(&[u8::from(p.stop_given)])?;
        put_str(out, Some(&p.title))?;
        put_str(out, p.desc.as_deref())?;
        put_str(out, p.lang.as_deref())
    }

    fn read(
        &mut self,
    ) -> io::Result<Box<dyn Iterator<Item = io::Result<PlannedProgramme>> + Send + '_>> {
        let mut file = match std::mem::replace(&mut self.state, SpoolState::Broken) {
            SpoolState::Writing(out) => out.into_inner().map_err(|e| e.into_error())?,
            SpoolState::Reading(file) => file,
            SpoolState::Broken => return Err(io::Error::other("the spool failed before")),
        };
        let len = file.stream_position()?;
        file.seek(SeekFrom::Start(0))?;
        self.state = SpoolState::Reading(file);
        let SpoolState::Reading(file) = &mut self.state else {
            return Err(io::Error::other("the spool failed before"));
        };
        let input = BufReader::with_capacity(1 << 16, file).take(len);
        Ok(Box::new(SpoolReader {
            input,
            channel: String::new(),
        }))
    }
}

struct SpoolReader<R> {
    input: R,
    channel: String,
}

impl<R: Read> SpoolReader<R> {
    fn next_programme(&mut self) -> io::Result<Option<PlannedProgramme>> {
        let mut b = [0; 4];
        // The end of the spool falls between two programmes.
        let mut got = 0;
        while got < 4 {
            match self.input.read(&mut b[got..])? {
                0 if got == 0 => return Ok(None),
                0 => return Err(io::ErrorKind::UnexpectedEof.into()),
                n => got += n,
            }
        }
        let len = u32::from_le_bytes(b);
        if len != ABSENT {
            let mut bytes = vec![0; len as usize];
            self.input.read_exact(&mut bytes)?;
            self.channel = String::from_utf8(bytes)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        }
        let input = &mut self.input;
        let start = get_i64(input)?;
        let stop = get_i64(input)?;
        let mut given = [0; 1];
        input.read_exact(&mut given)?;
        let title = get_str(input)?.unwrap_or_default();
        let desc = get_str(input)?;
        let lang = get_str(input)?;
        Ok(Some(PlannedProgramme {
            channel: self.channel.clone(),
            start,
            stop,
            title,
            desc,
            lang,
            position: 0,
            stop_given: given[0] != 0,
        }))
    }
}

impl<R: Read> Iterator for SpoolReader<R> {
    type Item = io::Result<PlannedProgramme>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_programme().transpose()
    }
}

/// Gives each programme of a list sorted by (channel, start) that has no
/// stop the next later start on its channel, else its start plus
/// [`LAST_PROGRAMME_SECS`].
fn fill_stops(sorted: &mut [PlannedProgramme]) {
    // Walking backwards: the nearest start on the current channel strictly
    // after the current programme's.
    let mut next_later: Option<i64> = None;
    for i in (0..sorted.len()).rev() {
        let following = sorted.get(i + 1).map(|f| (f.channel.as_str(), f.start));
        let p = &sorted[i];
        next_later = match following {
            Some((channel, start)) if channel == p.channel => {
                if start > p.start {
                    Some(start)
                } else {
                    next_later
                }
            }
            _ => None,
        };
        let p = &mut sorted[i];
        if !p.stop_given {
            p.stop = next_later.unwrap_or(p.start.saturating_add(LAST_PROGRAMME_SECS));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn programme(channel: &str, start: i64, stop: Option<i64>, title: &str) -> xmltv::Programme {
        xmltv::Programme {
            channel: channel.into(),
            start,
            stop,
            title: title.into(),
            ..Default::default()
        }
    }

    fn channel(id: &str, names: &[&str], icon: Option<&str>) -> xmltv::Channel {
        xmltv::Channel {
            id: id.into(),
            display_names: names.iter().map(|n| n.to_string()).collect(),
            icon: icon.map(str::to_string),
        }
    }

    impl GuidePlan {
        /// The programmes of a plan held in memory.
        fn programmes(&self) -> &[PlannedProgramme] {
            match &self.programmes {
                Programmes::Memory(list) => list,
                _ => panic!("not a plan in memory"),
            }
        }
    }

    fn rows(plan: &GuidePlan) -> Vec<(&str, i64, i64, &str)> {
        plan.programmes()
            .iter()
            .map(|p| (p.channel.as_str(), p.start, p.stop, p.title.as_str()))
            .collect()
    }

    type Row = (String, i64, i64, String, Option<String>, Option<String>);

    fn owned_rows(programmes: impl Iterator<Item = PlannedProgramme>) -> Vec<Row> {
        programmes
            .map(|p| (p.channel, p.start, p.stop, p.title, p.desc, p.lang))
            .collect()
    }

    /// The same guide planned in memory and spooled: the spooled plan in
    /// guide order, each channel's programmes then ordered by start
    /// stably (as the catalog does), gives the memory plan's rows.
    fn spooled_matches_memory(channels: Vec<xmltv::Channel>, programmes: Vec<xmltv::Programme>) {
        let mut memory = GuidePlan::from_guide(channels.clone(), programmes.clone());
        let mut planner =
            GuidePlanner::spooled(Box::new(FileSpool::new(io::Cursor::new(Vec::new()))));
        for c in channels {
            planner.push_channel(c);
        }
        let n = programmes.len();
        for p in programmes {
            planner.push_programme(p);
        }
        let mut spooled = planner.finish();
        assert_eq!(spooled.len(), n as u64);
        assert_eq!(spooled.channels(), memory.channels());
        let expected = owned_rows(memory.take_programmes().unwrap().map(Result::unwrap));
        let read = spooled.take_programmes().unwrap();
        let mut got = owned_rows(read.map(Result::unwrap));
        got.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
        assert_eq!(got, expected);
        // Read again: the same.
        let again = owned_rows(spooled.take_programmes().unwrap().map(Result::unwrap));
        assert_eq!(again.len(), n);
    }

    #[test]
    fn a_spooled_plan_stores_what_a_plan_in_memory_does() {
        let mut p = programme("a", 200, None, "third");
        p.desc = Some("about".into());
        p.lang = Some("en".into());
        spooled_matches_memory(
            vec![channel("a", &["A"], None), channel("a", &["again"], None)],
            vec![
                p,
                programme("a", 0, None, "first"),
                programme("b", 0, None, "other channel"),
                programme("a", 100, Some(150), "second"),
                programme("a", 200, None, "third again"),
                programme("a", 300, None, "last"),
                programme("", 5, None, "no channel"),
                programme("a", 250, Some(260), "late in the file"),
                programme("c", i64::MAX - 1, None, "edge"),
            ],
        );
        spooled_matches_memory(vec![], vec![]);
    }

    #[test]
    fn a_spooled_plan_fills_stops_in_any_order() {
        // A seeded walk over starts in any order, some stops missing,
        // ties included.
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move |m: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % m
        };
        let programmes = (0..2000)
            .map(|i| {
                let channel = ["x", "y", "z"][next(3) as usize];
                let start = next(400) as i64 * 10;
                let stop = (next(3) == 0).then(|| start + next(50) as i64);
                programme(channel, start, stop, &format!("p{i}"))
            })
            .collect();
        spooled_matches_memory(vec![], programmes);
    }

    #[test]
    fn a_spool_that_fails_fails_the_plan() {
        struct Full;
        impl ProgrammeSpool for Full {
            fn write(&mut self, _: &PlannedProgramme) -> io::Result<()> {
                Err(io::Error::other("disk full"))
            }
            fn read(
                &mut self,
            ) -> io::Result<Box<dyn Iterator<Item = io::Result<PlannedProgramme>> + Send + '_>>
            {
                Ok(Box::new(std::iter::empty()))
            }
        }
        let mut planner = GuidePlanner::spooled(Box::new(Full));
        planner.push_programme(programme("a", 0, None, "P"));
        let mut plan = planner.finish();
        assert!(plan.is_empty());
        let error = plan.take_programmes().err();
        assert_eq!(error.as_deref(), Some("spooling the guide: disk full"));
    }

    #[test]
    fn programmes_are_sorted_by_channel_then_start_ties_in_guide_order() {
        let plan = GuidePlan::from_guide(
            [],
            [
                programme("b", 100, Some(200), "B1"),
                programme("a", 200, Some(300), "A2"),
                programme("a", 100, Some(200), "A1"),
                programme("a", 200, Some(250), "A2 again"),
                programme("a", 200, Some(260), "A2 thrice"),
            ],
        );
        assert_eq!(
            rows(&plan),
            [
                ("a", 100, 200, "A1"),
                ("a", 200, 300, "A2"),
                ("a", 200, 250, "A2 again"),
                ("a", 200, 260, "A2 thrice"),
                ("b", 100, 200, "B1"),
            ]
        );
    }

    #[test]
    fn a_missing_stop_runs_to_the_next_later_start_on_its_channel() {
        let plan = GuidePlan::from_guide(
            [],
            [
                programme("a", 200, None, "third"),
                programme("a", 0, None, "first"),
                programme("a", 100, Some(150), "second"),
                programme("a", 200, None, "third again"),
                programme("a", 300, None, "last"),
                programme("b", 0, None, "other channel"),
            ],
        );
        assert_eq!(
            rows(&plan),
            [
                ("a", 0, 100, "first"),
                // A given stop is kept, even short of the next start.
                ("a", 100, 150, "second"),
                // A programme at the same start is not "later".
                ("a", 200, 300, "third"),
                ("a", 200, 300, "third again"),
                ("a", 300, 300 + LAST_PROGRAMME_SECS, "last"),
                // The next channel's programmes do not end this one's.
                ("b", 0, LAST_PROGRAMME_SECS, "other channel"),
            ]
        );
    }

    #[test]
    fn the_last_programme_of_a_channel_lasts_the_default_even_at_the_end_of_time() {
        let plan = GuidePlan::from_guide([], [programme("a", i64::MAX - 1, None, "edge")]);
        assert_eq!(plan.programmes()[0].stop, i64::MAX);
    }

    #[test]
    fn a_given_stop_is_kept_as_it_is() {
        // Even one before its start: the guide said so, and faces cope.
        let plan = GuidePlan::from_guide(
            [],
            [
                programme("a", 100, Some(50), "odd"),
                programme("a", 200, None, "next"),
            ],
        );
        assert_eq!(
            rows(&plan),
            [
                ("a", 100, 50, "odd"),
                ("a", 200, 200 + LAST_PROGRAMME_SECS, "next")
            ]
        );
    }

    #[test]
    fn the_first_of_a_repeated_channel_id_wins_whole() {
        let plan = GuidePlan::from_guide(
            [
                channel("news.tv", &["News"], None),
                channel("music.tv", &["Music"], Some("http://logo/music.png")),
                channel("news.tv", &["News again"], Some("http://logo/news.png")),
            ],
            [],
        );
        assert_eq!(
            plan.channels(),
            [
                PlannedGuideChannel {
                    id: "news.tv".into(),
                    name: "News".into(),
                    icon: None,
                },
                PlannedGuideChannel {
                    id: "music.tv".into(),
                    name: "Music".into(),
                    icon: Some("http://logo/music.png".into()),
                },
            ]
        );
    }

    #[test]
    fn a_channel_is_named_by_its_first_display_name_else_its_id() {
        let plan = GuidePlan::from_guide(
            [
                channel("news.tv", &["News", "News HD"], None),
                channel("music.tv", &[], None),
            ],
            [],
        );
        let names: Vec<_> = plan.channels().iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["News", "music.tv"]);
    }

    #[test]
    fn programmes_of_unlisted_channels_are_kept_with_their_text() {
        let mut p = programme("elsewhere.tv", 0, Some(1), "Kept");
        p.desc = Some("about".into());
        p.lang = Some("en".into());
        let plan = GuidePlan::from_guide([channel("news.tv", &[], None)], [p]);
        let kept = &plan.programmes()[0];
        assert_eq!(kept.channel, "elsewhere.tv");
        assert_eq!(kept.desc.as_deref(), Some("about"));
        assert_eq!(kept.lang.as_deref(), Some("en"));
    }

    #[test]
    fn items_are_fed_in_document_order() {
        let mut planner = GuidePlanner::default();
        planner.push(xmltv::Item::Programme(programme("a", 0, None, "P")));
        planner.push(xmltv::Item::Channel(channel("a", &["A"], None)));
        let plan = planner.finish();
        assert_eq!(plan.channels().len(), 1);
        assert_eq!(rows(&plan), [("a", 0, LAST_PROGRAMME_SECS, "P")]);
    }

    #[test]
    fn a_planned_programme_is_no_larger_than_a_parsed_one() {
        // The plan holds every programme of the guide, so it must not cost
        // more than the parser's own value did.
        assert!(std::mem::size_of::<PlannedProgramme>() <= std::mem::size_of::<xmltv::Programme>());
    }
}
