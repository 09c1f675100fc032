use super::*;
use std::fmt::Write as _;
use std::path::Path;

/// One line per item (`channel ID [names] icon` / `LINE: CHANNEL START-STOP
/// TITLE (lang) | desc`, times as written by `format_time`), then one line
/// per diagnostic.
fn dump(input: &[u8]) -> String {
    let mut out = String::new();
    let diagnostics = read(input, |item| {
        let _ = match item {
            Item::Channel(c) => writeln!(
                out,
                "channel {:?} {:?}{}",
                c.id,
                c.display_names,
                c.icon.map(|i| format!(" icon={i}")).unwrap_or_default()
            ),
            Item::Programme(p) => writeln!(
                out,
                "{}: {} {}-{} {:?}{}{}",
                p.line,
                p.channel,
                format_time(p.start, 0).trim_end_matches(" +0000"),
                p.stop
                    .map(|s| format_time(s, 0))
                    .unwrap_or_default()
                    .trim_end_matches(" +0000"),
                p.title,
                p.lang.map(|l| format!(" ({l})")).unwrap_or_default(),
                p.desc.map(|d| format!(" | {d}")).unwrap_or_default(),
            ),
        };
    })
    .expect("reading a slice cannot fail");
    for d in diagnostics {
        let _ = writeln!(out, "{d}");
    }
    out
}

#[track_caller]
fn check(input: &str, want: &str) {
    let got = dump(input.as_bytes());
    assert_eq!(got, want, "\ngot:\n{got}");
}

const HEAD: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<tv>\n";

#[test]
fn channels_and_programmes() {
    check(
        &format!(
            "{HEAD}<channel id=\"news uk\">\n  <display-name lang=\"en\">News</display-name>\n  \
             <display-name> News HD </display-name><icon src=\"http://i/1.png\"/><icon src=\"http://i/2.png\"/>\n</channel>\n\
             <programme start=\"20250101120000 +0100\" stop=\"20250101130000 +0100\" channel=\"news uk\">\n\
             <title lang=\"en\">Tom &amp; Jerry</title><title lang=\"fr\">Tom et Jerry</title>\n\
             <sub-title>x</sub-title><desc lang=\"en\"><![CDATA[<b>bold</b> & more]]></desc><desc>second</desc>\n\
             <credits><actor>A</actor></credits><category>Kids</category>\n</programme>\n</tv>\n"
        ),
        "channel \"news uk\" [\"News\", \"News HD\"] icon=http://i/1.png\n\
         7: news uk 20250101110000-20250101120000 \"Tom & Jerry\" (en) | <b>bold</b> & more\n",
    );
}

#[test]
fn single_quotes_empty_elements_and_entities() {
    check(
        &format!(
            "{HEAD}<channel id='17'/>\n<programme channel='17' start='20250216080000 -0500'/>\n\
             <programme channel=\"17\" start=\"20250216090000\"><title/><desc>AT&T &nbsp;&#233;&#xE9; &bogus; &amp</desc></programme>\n</tv>"
        ),
        "channel \"17\" []\n\
         4: 17 20250216130000- \"\"\n\
         5: 17 20250216090000- \"\" | AT&T \u{a0}\u{e9}\u{e9} &bogus; &amp\n",
    );
}

#[test]
fn unusable_programmes_are_skipped_with_their_line() {
    check(
        &format!(
            "{HEAD}<channel><display-name>no id</display-name></channel>\n\
             <programme channel=\"a\"><title>no start</title></programme>\n\
             <programme\n  start=\"yesterday\" channel=\"a\"><title>bad start</title></programme>\n\
             <programme start=\"20250101000000\"><title>no channel</title></programme>\n\
             <programme start=\"20250101000000\" stop=\"soon\" channel=\"a\"><title>bad stop</title></programme>\n\
             <programme start=\"20250101010000\" channel=\"a\"><title>fine</title></programme>\n</tv>\n"
        ),
        "8: a 20250101000000- \"bad stop\"\n\
         9: a 20250101010000- \"fine\"\n\
         line 3: channel without an id; skipped\n\
         line 4: programme without a start time; skipped\n\
         line 5: programme start \"yesterday\" is not an XMLTV time; skipped\n\
         line 7: programme without a channel; skipped\n\
         line 8: programme stop \"soon\" is not an XMLTV time; left out\n",
    );
}

#[test]
fn malformed_xml_mid_file_stops_and_keeps_what_was_read() {
    check(
        &format!(
            "{HEAD}<programme start=\"20250101000000\" channel=\"a\"><title>one</title></programme>\n\
             <!-- a comment\n over two lines -->\n\
             <programme start=\"20250101010000\" channel=\"a\">\n<title>two</titel>\n</programme>\n\
             <programme start=\"20250101020000\" channel=\"a\"><title>three</title></programme>\n</tv>\n"
        ),
        "3: a 20250101000000- \"one\"\n\
         line 7: malformed XML (ill-formed document: expected `</title>`, but `</titel>` was found); stopped reading here\n\
         line 7: the programme opened on line 6 is not closed; skipped\n",
    );
}

#[test]
fn truncated_file_keeps_the_complete_items() {
    check(
        &format!(
            "{HEAD}<programme start=\"20250101000000\" channel=\"a\"><title>one</title></programme>\n\
             <programme start=\"20250101010000\" channel=\"a\"><title>tw"
        ),
        "3: a 20250101000000- \"one\"\n\
         line 4: the programme opened on line 4 is not closed; skipped\n",
    );
}

#[test]
fn zones_and_short_times() {
    check(
        &format!(
            "{HEAD}<programme start=\"20250101120000+0100\" stop=\"20250101130000 -0030\" channel=\"a\"><title>z</title></programme>\n\
             <programme start=\"200007281733 BST\" channel=\"a\"><title>dtd</title></programme>\n\
             <programme start=\"20250101\" channel=\"a\"><title>day</title></programme>\n</tv>\n"
        ),
        "3: a 20250101110000-20250101133000 \"z\"\n\
         4: a 20000728163300- \"dtd\"\n\
         5: a 20250101000000- \"day\"\n",
    );
}

#[test]
fn latin1_declared_and_invalid_utf8() {
    let latin1 = b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>\n<tv><channel id=\"c\"><display-name>T\xe9l\xe9</display-name></channel></tv>\n";
    assert_eq!(dump(latin1), "channel \"c\" [\"T\u{e9}l\u{e9}\"]\n");
    let broken =
        b"<tv>\n<channel id=\"c\"><display-name>T\xe9l\xe9</display-name></channel></tv>\n";
    assert_eq!(
        dump(broken),
        "channel \"c\" [\"T\u{fffd}l\u{fffd}\"]\n\
         line 2: invalid UTF-8: bad bytes replaced with U+FFFD; later ones are not reported\n"
    );
}

#[test]
fn bom_doctype_and_no_declaration() {
    check(
        "\u{feff}<!DOCTYPE tv SYSTEM \"xmltv.dtd\" [\n<!ENTITY x \"y\">\n]>\n<tv><channel id=\"a\"><display-name>A</display-name></channel></tv>",
        "channel \"a\" [\"A\"]\n",
    );
}

fn testdata(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/xmltv")
        .join(name)
}

#[test]
fn real_samples_parse() {
    let dir = testdata("");
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .expect("testdata/xmltv")
        .map(|e| e.expect("dir entry").path())
        .collect();
    names.sort();
    assert_eq!(names.len(), 8, "{names:?}");
    let mut total = 0;
    for path in names {
        let file = std::fs::File::open(&path).expect("open sample");
        let input = crate::gzip::maybe_gunzip(file).expect("gunzip");
        let (mut channels, mut programmes) = (0, 0);
        let diagnostics = read(input, |item| match item {
            Item::Channel(c) => {
                assert!(!c.id.is_empty());
                channels += 1;
            }
            Item::Programme(p) => {
                assert!(p.stop.is_none_or(|s| s >= p.start), "{path:?} {p:?}");
                assert!(p.start > 1_600_000_000, "{path:?} {p:?}");
                programmes += 1;
            }
        })
        .expect("read sample");
        assert!(
            channels > 0 && programmes > 0,
            "{path:?}: {channels} channels, {programmes} programmes"
        );
        assert_eq!(diagnostics, vec![], "{path:?}");
        total += programmes;
    }
    assert_eq!(total, 1536);
}

#[test]
fn sample_details() {
    let file = std::fs::File::open(testdata("energeek.cl.xml.gz")).expect("open");
    let mut items = Vec::new();
    read(crate::gzip::maybe_gunzip(file).expect("gunzip"), |i| {
        items.push(i)
    })
    .expect("read");
    assert_eq!(
        items[0],
        Item::Channel(Channel {
            id: "EnerGeek Retro".into(),
            display_names: vec!["EnerGeek Retro".into()],
            icon: Some("https://i.imgur.com/PzEK6DI.png".into()),
        })
    );
}

/// Writes a small guide with awkward text, checks the bytes, reads it back,
/// and validates it against the DTD when xmllint and the DTD are installed.
#[test]
fn written_guide_is_valid_and_reads_back() {
    let channels = [
        Channel {
            id: "news uk".into(),
            display_names: vec!["News & \"Views\" <HD>".into(), "News".into()],
            icon: Some("http://i/a.png?x=1&y=2".into()),
        },
        Channel {
            id: "bare".into(),
            ..Channel::default()
        },
    ];
    let programmes = [
        Programme {
            line: 0,
            channel: "news uk".into(),
            start: 1_735_732_800,
            stop: Some(1_735_736_400),
            title: "Bell\u{7}s\r\nand \u{fffe}whistles".into(),
            desc: Some("Line one\nline\ttwo\u{1b}.".into()),
            lang: Some("en".into()),
        },
        Programme {
            line: 0,
            channel: "bare".into(),
            start: 1_735_736_400,
            stop: None,
            title: String::new(),
            desc: None,
            lang: None,
        },
    ];
    let mut writer = Writer::new(Vec::new());
    for c in &channels {
        writer.channel(c).expect("channel");
    }
    for p in &programmes {
        writer.programme(p).expect("programme");
    }
    assert_eq!(
        writer.channel(&channels[0]).map_err(|e| e.kind()),
        Err(std::io::ErrorKind::InvalidInput)
    );
    let doc = writer.finish().expect("finish");
    let text = String::from_utf8(doc.clone()).expect("utf-8");
    assert_eq!(
        text,
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<!DOCTYPE tv SYSTEM \"xmltv.dtd\">\n<tv generator-info-name=\"tvgate\">\n\
         \x20 <channel id=\"news uk\"><display-name>News &amp; &quot;Views&quot; &lt;HD&gt;</display-name><display-name>News</display-name><icon src=\"http://i/a.png?x=1&amp;y=2\"/></channel>\n\
         \x20 <channel id=\"bare\"><display-name>bare</display-name></channel>\n\
         \x20 <programme start=\"20250101120000 +0000\" stop=\"20250101130000 +0000\" channel=\"news uk\"><title lang=\"en\">Bells  and whistles</title><desc>Line one\nline\ttwo.</desc></programme>\n\
         \x20 <programme start=\"20250101130000 +0000\" channel=\"bare\"><title></title></programme>\n\
         </tv>\n"
    );

    let mut back = Vec::new();
    let diagnostics = read(&doc[..], |i| back.push(i)).expect("read back");
    assert_eq!(diagnostics, vec![]);
    assert_eq!(back.len(), 4);
    assert_eq!(back[0], Item::Channel(channels[0].clone()));
    match &back[2] {
        Item::Programme(p) => {
            assert_eq!(
                (p.line, p.start, p.stop),
                (6, 1_735_732_800, Some(1_735_736_400))
            );
            assert_eq!(p.title, "Bells  and whistles");
            assert_eq!(p.desc.as_deref(), Some("Line one\nline\ttwo."));
        }
        other => panic!("expected a programme, got {other:?}"),
    }

    validate_with_xmllint(&doc);
}

fn validate_with_xmllint(doc: &[u8]) {
    let dtd = Path::new("/usr/share/xmltv/xmltv.dtd");
    let xmllint = std::process::Command::new("xmllint")
        .arg("--version")
        .output();
    if !dtd.exists() || xmllint.is_err() {
        eprintln!(
            "note: xmllint or {} missing; DTD validation skipped",
            dtd.display()
        );
        return;
    }
    let path =
        std::env::temp_dir().join(format!("tvgate-formats-xmltv-{}.xml", std::process::id()));
    std::fs::write(&path, doc).expect("write temp file");
    let out = std::process::Command::new("xmllint")
        .args(["--noout", "--dtdvalid"])
        .arg(dtd)
        .arg(&path)
        .output()
        .expect("run xmllint");
    let _ = std::fs::remove_file(&path);
    assert!(
        out.status.success(),
        "xmllint: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Pieces of real guides glued at random: nothing panics.
#[test]
fn random_input_never_panics() {
    const PIECES: &[&str] = &[
        "<tv>",
        "</tv>",
        "<channel id=\"a\">",
        "</channel>",
        "<display-name>",
        "</display-name>",
        "<programme start=\"20250101000000 +0100\" channel=\"a\">",
        "<programme start=\"x\">",
        "</programme>",
        "<title lang=\"en\">",
        "</title>",
        "<desc>",
        "</desc>",
        "<icon src='i'/>",
        "&amp;",
        "&#xD800;",
        "&#99999999;",
        "&",
        ";",
        "<![CDATA[x]]>",
        "<!-- c -->",
        "\n",
        "text",
        "<",
        ">",
        "\"",
        "<?xml version=\"1.0\"?>",
        "\u{e9}",
    ];
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for _ in 0..3000 {
        let mut input = String::new();
        for _ in 0..next() % 40 {
            input.push_str(PIECES[(next() % PIECES.len() as u64) as usize]);
        }
        read(input.as_bytes(), |_| {}).unwrap();
    }
}
