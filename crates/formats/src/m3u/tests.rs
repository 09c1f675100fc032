use super::*;
use std::fmt::Write as _;
use std::io::BufReader;

/// One line per entry (`LINE: TITLE -> URL` then its attributes, group and
/// VLC options), then one line per diagnostic.
fn dump(input: &[u8]) -> String {
    let mut entries = Vec::new();
    let summary = read(input, |e| entries.push(e)).expect("reading a slice cannot fail");
    render(&summary, &entries)
}

fn render(summary: &ReadSummary, entries: &[Entry]) -> String {
    let mut out = String::new();
    for (k, v) in &summary.header.attrs {
        let _ = writeln!(out, "header {k}={v}");
    }
    for e in entries {
        let _ = write!(out, "{}: {} -> {}", e.line, e.title, e.url);
        if e.duration != "-1" {
            let _ = write!(out, " dur={}", e.duration);
        }
        for (k, v) in &e.attrs {
            let _ = write!(out, " [{k}={v}]");
        }
        if let Some(g) = &e.group {
            let _ = write!(out, " grp={g}");
        }
        for (k, v) in &e.vlc_opts {
            let _ = write!(out, " vlc:{k}={v}");
        }
        out.push('\n');
    }
    assert_eq!(summary.entries, entries.len() as u64);
    for d in &summary.diagnostics {
        let _ = writeln!(out, "{d}");
    }
    out
}

#[track_caller]
fn check(input: &str, want: &str) {
    check_bytes(input.as_bytes(), want);
}

#[track_caller]
fn check_bytes(input: &[u8], want: &str) {
    let got = dump(input);
    assert_eq!(
        got,
        want,
        "\ninput: {:?}\ngot:\n{got}",
        String::from_utf8_lossy(input)
    );
    // The same through a 1-byte buffer: lines straddling fills, CRLF split.
    let mut entries = Vec::new();
    let summary = read(BufReader::with_capacity(1, input), |e| entries.push(e)).unwrap();
    assert_eq!(render(&summary, &entries), want, "with a 1-byte buffer");
}

#[test]
fn plain_playlist() {
    check(
        "#EXTM3U x-tvg-url=\"http://g/x.xml\" url-tvg=\"http://g/x.xml\"\n\
         #EXTINF:-1 tvg-id=\"news.uk\" tvg-name=\"News HD\" group-title=\"News\",News HD\n\
         http://h/live/a/b/1.ts\n",
        "header x-tvg-url=http://g/x.xml\n\
         header url-tvg=http://g/x.xml\n\
         2: News HD -> http://h/live/a/b/1.ts [tvg-id=news.uk] [tvg-name=News HD] [group-title=News]\n",
    );
}

#[test]
fn bom_crlf_and_a_stray_url() {
    check(
        "\u{feff}#EXTM3U\r\n#EXTINF:-1 tvg-id=\"a\",News\r\nhttp://x/1.ts\r\nhttp://x/2.ts\r\n",
        "2: News -> http://x/1.ts [tvg-id=a]\n\
         line 4: URL without a preceding #EXTINF; skipped\n",
    );
}

#[test]
fn bare_cr_line_ends_and_no_final_newline() {
    check(
        "#EXTM3U\r#EXTINF:-1,A\rhttp://x/1\r\r#EXTINF:0,B\rhttp://x/2",
        "2: A -> http://x/1\n5: B -> http://x/2 dur=0\n",
    );
}

#[test]
fn missing_header_is_reported_and_read_anyway() {
    check(
        "\n#EXTINF:-1,A\nhttp://x/1\n",
        "2: A -> http://x/1\nline 2: no #EXTM3U header before the first entry; reading on\n",
    );
    // A comment before the header is fine.
    check(
        "# made by hand\n#EXTM3U\n#EXTINF:-1,A\nhttp://x/1\n",
        "3: A -> http://x/1\n",
    );
    // A second header (two playlists glued together) is ignored.
    check(
        "#EXTM3U a=\"1\"\n#EXTINF:-1,A\nhttp://x/1\n#EXTM3U a=\"2\"\n#EXTINF:-1,B\nhttp://x/2\n",
        "header a=1\n2: A -> http://x/1\n5: B -> http://x/2\n",
    );
}

#[test]
fn attribute_quoting() {
    check(
        "#EXTM3U\n#EXTINF:-1 tvg-shift=+1 tvg-id='x.y' radio=true,R\nhttp://x/1\n",
        "2: R -> http://x/1 [tvg-shift=+1] [tvg-id=x.y] [radio=true]\n",
    );
    // A bare value ends at the title comma; bare words are not attributes.
    check(
        "#EXTM3U\n#EXTINF:-1 tvg-chno=7,Seven\nhttp://x/1\n#EXTINF:-1 junk tvg-id=\"a\" ,  Spaced  \nhttp://x/2\n",
        "2: Seven -> http://x/1 [tvg-chno=7]\n4: Spaced -> http://x/2 [tvg-id=a]\n",
    );
    // No space between attributes, an empty value, keys in any case.
    check(
        "#EXTM3U\n#EXTINF:-1 tvg-ID=\"a\"tvg-logo=\"\" group-title=\"G\",T\nhttp://x/1\n",
        "2: T -> http://x/1 [tvg-ID=a] [tvg-logo=] [group-title=G]\n",
    );
}

#[test]
fn commas_and_quotes_in_names() {
    check(
        "#EXTM3U\n\
         #EXTINF:-1 tvg-name=\"The Good, the Bad\",The Good, the Bad\nhttp://x/1\n\
         #EXTINF:-1,Name, With Comma\nhttp://x/2\n\
         #EXTINF:-1 tvg-name='It''s',Say \"hi\"\nhttp://x/3\n",
        "2: The Good, the Bad -> http://x/1 [tvg-name=The Good, the Bad]\n\
         4: Name, With Comma -> http://x/2\n\
         6: Say \"hi\" -> http://x/3 [tvg-name=It]\n",
    );
}

#[test]
fn unterminated_quote_ends_at_the_last_comma() {
    check(
        "#EXTM3U\n#EXTINF:-1 tvg-id=\"a\" tvg-name=\"News, HD,News HD\nhttp://x/1\n",
        "2: News HD -> http://x/1 [tvg-id=a] [tvg-name=News, HD]\n\
         line 2: unterminated quote in the value of tvg-name; it ends at the last comma\n",
    );
    check(
        "#EXTM3U\n#EXTINF:-1 tvg-name=\"News HD\nhttp://x/1\n",
        "2: News HD -> http://x/1 [tvg-name=News HD]\n\
         line 2: unterminated quote in the value of tvg-name; it ends at the last comma\n",
    );
}

#[test]
fn extinf_without_comma_takes_tvg_name() {
    check(
        "#EXTM3U\n#EXTINF:-1 tvg-name=\"Fallback\"\nhttp://x/1\n#EXTINF:-1\nhttp://x/2\n",
        "2: Fallback -> http://x/1 [tvg-name=Fallback]\n\
         4:  -> http://x/2\n\
         line 2: #EXTINF has no comma before the title; using tvg-name\n\
         line 4: #EXTINF has no comma before the title; using tvg-name\n",
    );
}

#[test]
fn odd_durations() {
    check(
        "#EXTM3U\n#EXTINF: 555 tvg-id=\"a\",A\nhttp://x/1\n#EXTINF:tvg-id=\"b\",B\nhttp://x/2\n",
        "2: A -> http://x/1 dur=555 [tvg-id=a]\n4: B -> http://x/2 dur= [tvg-id=b]\n",
    );
}

#[test]
fn dangling_extinf_and_name_broken_over_two_lines() {
    check(
        "#EXTM3U\n#EXTINF:-1,Lost\n#EXTINF:-1,News\nHD\nhttp://x/1\n#EXTINF:-1,Last\n",
        "3: News -> http://x/1\n\
         line 2: #EXTINF without a URL after it; skipped\n\
         line 4: line is neither a directive nor a URL; skipped\n\
         line 6: #EXTINF without a URL after it; skipped\n",
    );
}

#[test]
fn directives() {
    check(
        "#EXTM3U\n\
         #EXTINF:-1,A\n#EXTGRP:Sport\n#EXTVLCOPT:http-user-agent=P/1.0\n#KODIPROP:k=v\nhttp://x/1|User-Agent=Foo Bar&Referer=r\n\
         #EXTVLCOPT:http-referrer=http://r/\n#EXTGRP: Before \n#EXTINF:-1,B\nhttp://x/2\n\
         #EXTINF:-1,C\nhttp://x/3\n",
        "2: A -> http://x/1 grp=Sport vlc:http-user-agent=P/1.0\n\
         9: B -> http://x/2 grp=Before vlc:http-referrer=http://r/\n\
         11: C -> http://x/3\n",
    );
}

#[test]
fn relative_paths_and_other_schemes_are_urls() {
    check(
        "#EXTM3U\n#EXTINF:-1,A\nchannels/a.ts\n#EXTINF:-1,B\nudp://@239.0.0.1:1234\n#EXTINF:-1,C\nrtp:239.0.0.2\n",
        "2: A -> channels/a.ts\n4: B -> udp://@239.0.0.1:1234\n6: C -> rtp:239.0.0.2\n",
    );
}

#[test]
fn duplicate_tvg_ids_are_all_kept() {
    check(
        "#EXTM3U\n#EXTINF:-1 tvg-id=\"a\",A HD\nhttp://x/1\n#EXTINF:-1 tvg-id=\"a\",A SD\nhttp://x/2\n",
        "2: A HD -> http://x/1 [tvg-id=a]\n4: A SD -> http://x/2 [tvg-id=a]\n",
    );
}

#[test]
fn latin1_bytes_do_not_stop_the_read() {
    check_bytes(
        b"#EXTM3U\n#EXTINF:-1,T\xe9l\xe9\nhttp://x/1\n#EXTINF:-1 tvg-name=\"Fran\xe7ais\",F\nhttp://x/2\n#EXTINF:-1,\xc3\xa9t\xc3\xa9\nhttp://x/3\n",
        "2: T\u{fffd}l\u{fffd} -> http://x/1\n\
         4: F -> http://x/2 [tvg-name=Fran\u{fffd}ais]\n\
         6: \u{e9}t\u{e9} -> http://x/3\n\
         line 2: invalid UTF-8 (a Latin-1 playlist?): bad bytes replaced with U+FFFD; later lines with bad bytes are not reported\n",
    );
}

#[test]
fn hls_media_playlist_is_refused() {
    check(
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:6\n#EXTINF:6.0,\nseg1.ts\n",
        "line 3: this is an HLS media playlist, not a channel list\n",
    );
}

#[test]
fn empty_and_blank_inputs() {
    check("", "");
    check("\n\n  \r\n", "");
    check("#EXTM3U", "");
}

#[test]
fn header_helpers() {
    let input = "#EXTM3U url-tvg=\"http://a/1.xml, http://b/2.xml\" tvg-shift=2\n";
    let header = read(input.as_bytes(), |_| {}).unwrap().header;
    assert_eq!(header.epg_url(), Some("http://a/1.xml"));
    assert_eq!(header.attr("TVG-SHIFT"), Some("2"));
}

#[test]
fn written_entries_read_back() {
    let mut out = Vec::new();
    write_header(&mut out, Some("http://h/xmltv.php?username=a&password=b"));
    push_extinf(&mut out);
    push_attr(&mut out, "tvg-id", "good.bad");
    push_attr(
        &mut out,
        "tvg-name",
        "The Good, the \"Bad\"\r\nand\tthe rest",
    );
    push_attr(&mut out, "group-title", "Films");
    push_title(&mut out, "The Good, the \"Bad\"\nand the rest");
    push_url(&mut out, "http://h/live/a/b/7.ts\r\n");
    push_entry(
        &mut out,
        &[],
        "Bare, no attributes",
        "http://h/live/a/b/8.ts",
    );
    let text = String::from_utf8(out).unwrap();
    assert_eq!(
        text,
        "#EXTM3U x-tvg-url=\"http://h/xmltv.php?username=a&password=b\" url-tvg=\"http://h/xmltv.php?username=a&password=b\"\n\
         #EXTINF:-1 tvg-id=\"good.bad\" tvg-name=\"The Good, the 'Bad'  and the rest\" group-title=\"Films\",The Good, the \"Bad\" and the rest\n\
         http://h/live/a/b/7.ts\n\
         #EXTINF:-1 tvg-id=\"\",Bare, no attributes\n\
         http://h/live/a/b/8.ts\n"
    );
    check(
        &text,
        "header x-tvg-url=http://h/xmltv.php?username=a&password=b\n\
         header url-tvg=http://h/xmltv.php?username=a&password=b\n\
         2: The Good, the \"Bad\" and the rest -> http://h/live/a/b/7.ts [tvg-id=good.bad] [tvg-name=The Good, the 'Bad'  and the rest] [group-title=Films]\n\
         4: Bare, no attributes -> http://h/live/a/b/8.ts [tvg-id=]\n",
    );
}

#[test]
fn long_lines_and_many_entries_stream() {
    let mut out = Vec::new();
    write_header(&mut out, None);
    let long = "x".repeat(100_000);
    for i in 0..1000 {
        push_entry(
            &mut out,
            &[("tvg-id", &long)],
            &format!("N{i}"),
            &format!("http://h/{i}"),
        );
    }
    let mut n = 0;
    let summary = read(BufReader::with_capacity(4096, &out[..]), |e| {
        assert_eq!(e.attr("tvg-id").map(str::len), Some(100_000));
        assert_eq!(e.title, format!("N{n}"));
        n += 1;
    })
    .unwrap();
    assert_eq!((n, summary.entries), (1000, 1000));
    assert!(summary.diagnostics.is_empty());
}

/// Pieces of real playlists glued at random: nothing panics, and every
/// entry read has a URL.
#[test]
fn random_input_never_panics() {
    const PIECES: &[&[u8]] = &[
        b"#EXTM3U",
        b"#EXTINF:",
        b"-1",
        b" ",
        b",",
        b"\"",
        b"'",
        b"=",
        b"tvg-id",
        b"\n",
        b"\r",
        b"\r\n",
        b"http://x/1",
        b"|",
        b"#EXTGRP:",
        b"#EXTVLCOPT:",
        b"\xef\xbb\xbf",
        b"\xe9",
        b"\xc3",
        b"#",
        b"#EXT-X-TARGETDURATION:5",
        b"a b",
        b"\t",
        b"/",
        b"\xff\xfe",
    ];
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for _ in 0..3000 {
        let mut input = Vec::new();
        for _ in 0..next() % 40 {
            input.extend_from_slice(PIECES[(next() % PIECES.len() as u64) as usize]);
        }
        let cap = 1 + (next() % 16) as usize;
        let summary = read(BufReader::with_capacity(cap, &input[..]), |e| {
            assert!(!e.url.is_empty(), "{input:?}");
        })
        .unwrap();
        assert_eq!(summary, read(&input[..], |_| {}).unwrap(), "{input:?}");
    }
}
