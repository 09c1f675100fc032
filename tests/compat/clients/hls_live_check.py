"""A live HLS media playlist checked against RFC 8216 over a run of reloads.

No validator that knows the live rules installs offline here (Apple's
mediastreamvalidator is not in any registry this machine reaches), so this
small checker stands in, reading each playlist with the PyPI `m3u8` parser
(a third party's reading, not ours) and checking what a live server must
keep from one reload to the next:

  every answer: 200, Content-Type application/vnd.apple.mpegurl; #EXTM3U;
  no EXT-X-ENDLIST and no PLAYLIST-TYPE; EXT-X-TARGETDURATION >= every
  EXTINF rounded (4.3.3.1); an EXT-X-PROGRAM-DATE-TIME on every segment,
  consecutive ones as far apart as the segment lasts unless a
  discontinuity lies between; a window of at least three target durations
  (6.2.2); no credentials in the text;
  across reloads: the media sequence never goes back, segments leave from
  the front only and never change (same duration, same discontinuity,
  same date); the discontinuity sequence grows by the discontinuities that
  left (6.2.2); the playlist moves on at least every two target durations;
  every new segment: 200, video/mp2t, whole packets starting with the PAT.

argv: URL SECONDS [SECRET ...]    SECRET: strings that must not appear
(the line's username and password). Prints a JSON summary; exit 1 on any
error.
"""

import json
import sys
import time
import urllib.request
from datetime import datetime

import m3u8

url = sys.argv[1]
seconds = float(sys.argv[2])
secrets = [s for s in sys.argv[3:] if s]
errors = []


def fail(msg):
    if msg not in errors:
        errors.append(msg)


def key(seg):
    """A segment's identity: the sequence number its file names."""
    return seg.uri.rsplit("/", 1)[-1]


def ms(dt):
    return int(dt.timestamp() * 1000) if isinstance(dt, datetime) else None


seen = {}  # file name -> (duration, discontinuity, date ms)
fetched = set()
prev = None
last_change = time.monotonic()
reloads = discontinuities = 0
target = 0
end = time.monotonic() + seconds
while time.monotonic() < end:
    with urllib.request.urlopen(url, timeout=15) as r:
        ctype, body = r.headers.get("Content-Type", ""), r.read().decode()
        status = r.status
    reloads += 1
    if status != 200:
        fail(f"playlist: HTTP {status}")
    if ctype.split(";")[0].strip().lower() != "application/vnd.apple.mpegurl":
        fail(f"playlist Content-Type {ctype!r}")
    if not body.startswith("#EXTM3U"):
        fail("playlist does not start with #EXTM3U")
    for s in secrets:
        if s in body:
            fail(f"the playlist holds {s!r}")
    pl = m3u8.loads(body, uri=url)
    target = pl.target_duration or 0
    if not target:
        fail("no EXT-X-TARGETDURATION")
    if pl.is_endlist:
        fail("EXT-X-ENDLIST on a live playlist")
    if pl.playlist_type:
        fail(f"EXT-X-PLAYLIST-TYPE {pl.playlist_type} on a live playlist")
    segs = list(pl.segments)
    if not segs:
        fail("an empty playlist")
        time.sleep(1)
        continue
    span = sum(s.duration for s in segs)
    if len(seen) >= 4 and span < 3 * target:
        fail(f"window of {span:.2f} s, less than three target durations ({target})")
    for i, s in enumerate(segs):
        if round(s.duration) > target:
            fail(f"segment {key(s)}: EXTINF {s.duration} > TARGETDURATION {target}")
        if s.program_date_time is None:
            fail(f"segment {key(s)} has no EXT-X-PROGRAM-DATE-TIME")
        if i > 0 and not s.discontinuity and s.program_date_time and segs[i - 1].program_date_time:
            gap = ms(s.program_date_time) - ms(segs[i - 1].program_date_time)
            want = round(segs[i - 1].duration * 1000)
            if abs(gap - want) > 2:
                fail(f"segment {key(s)}: date {gap} ms after the previous one, which lasts {want} ms")
        ident = (s.duration, bool(s.discontinuity), ms(s.program_date_time))
        old = seen.get(key(s))
        if old is None:
            seen[key(s)] = ident
            discontinuities += int(bool(s.discontinuity))
        elif old != ident:
            fail(f"segment {key(s)} changed: {old} then {ident}")
    files = [key(s) for s in segs]
    if any(f != f"{pl.media_sequence + i}.ts" for i, f in enumerate(files)):
        fail(f"file names do not follow the media sequence {pl.media_sequence}: {files[:3]}")
    if prev is not None:
        pseq, pfiles, pdisc, psegs = prev
        if pl.media_sequence < pseq:
            fail(f"media sequence went back: {pseq} -> {pl.media_sequence}")
        drop = pl.media_sequence - pseq
        if drop != 0 or files != pfiles:
            last_change = time.monotonic()
        if 0 <= drop <= len(pfiles):
            if pfiles[drop:] != files[: len(pfiles) - drop]:
                fail("the playlist changed other than by dropping from the front and appending")
            left = sum(1 for s in psegs[:drop] if s.discontinuity)
            if pl.discontinuity_sequence != pdisc + left:
                fail(f"discontinuity sequence {pdisc} -> {pl.discontinuity_sequence} with {left} discontinuities gone")
    if time.monotonic() - last_change > 2 * target + 1:
        fail(f"the playlist did not move for {time.monotonic() - last_change:.1f} s")
    for s in segs:
        if s.absolute_uri in fetched:
            continue
        fetched.add(s.absolute_uri)
        with urllib.request.urlopen(s.absolute_uri, timeout=15) as r:
            data = r.read()
            if r.status != 200 or r.headers.get("Content-Type", "") != "video/mp2t":
                fail(f"segment {key(s)}: HTTP {r.status}, {r.headers.get('Content-Type')!r}")
        if len(data) % 188 or data[:1] != b"G" or (((data[1] & 0x1F) << 8) | data[2]) != 0:
            fail(f"segment {key(s)} does not start with the PAT in whole packets")
    prev = (pl.media_sequence, files, pl.discontinuity_sequence or 0, segs)
    time.sleep(1.0)

print(json.dumps({"seconds": seconds, "reloads": reloads, "target_duration": target,
                  "segments_seen": len(seen), "segments_fetched": len(fetched),
                  "discontinuities": discontinuities, "errors": errors[:10]}))
sys.exit(1 if errors or len(seen) < 3 else 0)
