#!/usr/bin/env python3
"""Large synthetic sources for the scale benchmarks of issue 13 (B5, B6, B3 at 1M, swap).

Made at bench time, never committed. Deterministic (seeded), built on ../shared/bench/gen.py's
channel naming (`UK: News 7 HD`, tvg-id `news7.uk`), so the playlist and the guide agree the way
providers' do: by tvg-id for most channels, by name only for some.

  gen_scale.py m3u N PATH [VARIANT]     N live entries (m3u_plus). Every third entry has no
                                        tvg-id (its guide is found by name); VARIANT 2 renames
                                        every tenth entry (a refresh that changes 10 %).
  gen_scale.py xmltv NCHAN NPROG PATH   NCHAN channels x NPROG programmes; PATH ending in .gz is
                                        written gzip-compressed (level 1), streamed, never held.
Prints the bytes written (uncompressed) on stdout.
"""
import gzip
import os
import random
import sys
import time

sys.path.insert(0, os.environ.get("SHARED_BENCH", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "bench")))
sys.path.append("/work/shared/bench")
import gen  # noqa: E402


class Counting:
    """A text sink that counts the bytes it is given."""

    def __init__(self, raw):
        self.raw, self.n = raw, 0

    def write(self, text):
        data = text.encode()
        self.n += len(data)
        self.raw.write(data)


def m3u(n, path, variant):
    with open(path + ".tmp", "wb") as raw:
        out = Counting(raw)
        buf = ['#EXTM3U url-tvg="http://127.0.0.1:8080/xmltv.php"\n']
        for i in range(1, n + 1):
            cc, w, name, tid = gen.chan(i)
            if variant == 2 and i % 10 == 0:
                name = f"{name} (new)"
            tvg_id = "" if i % 3 == 0 else f' tvg-id="{tid}"'
            buf.append(f'#EXTINF:-1{tvg_id} tvg-name="{name}" tvg-logo="http://logos.example.test/picons/{tid}.png" group-title="{cc} | {w}",{name}\n'
                       f'http://127.0.0.1:8080/live/alice/secret/{i}.ts\n')
            if len(buf) >= 4096:
                out.write("".join(buf))
                buf = []
        out.write("".join(buf))
    os.replace(path + ".tmp", path)
    return out.n


def xmltv(nchan, nprog, path):
    random.seed(42)
    words = ("the a of and to in news live match final season episode documentary special report weekend "
             "morning evening night world city country history science nature family drama comedy").split()
    opener = (lambda p: gzip.open(p, "wb", compresslevel=1)) if path.endswith(".gz") else (lambda p: open(p, "wb"))
    with opener(path + ".tmp") as raw:
        out = Counting(raw)
        out.write('<?xml version="1.0" encoding="UTF-8"?>\n<tv generator-info-name="gen_scale">\n')
        for i in range(1, nchan + 1):
            cc, w, name, tid = gen.chan(i)
            out.write(f'  <channel id="{tid}">\n    <display-name lang="en">{name}</display-name>\n'
                      f'    <icon src="http://logos.example.test/picons/{tid}.png" />\n  </channel>\n')
        base = 1735689600
        stamps = {}
        for i in range(1, nchan + 1):
            cc, w, name, tid = gen.chan(i)
            t = base
            buf = []
            for p in range(nprog):
                d = random.choice((900, 1800, 1800, 3600, 3600, 5400))
                s = stamps.get(t) or stamps.setdefault(t, time.strftime("%Y%m%d%H%M%S", time.gmtime(t)))
                e = stamps.get(t + d) or stamps.setdefault(t + d, time.strftime("%Y%m%d%H%M%S", time.gmtime(t + d)))
                title = " ".join(random.choices(words, k=random.randint(2, 5))).title()
                desc = " ".join(random.choices(words, k=random.randint(15, 45)))
                buf.append(f'  <programme start="{s} +0000" stop="{e} +0000" channel="{tid}">\n    <title lang="en">{title} &amp; Co</title>\n'
                           f'    <desc lang="en">{desc}.</desc>\n    <category lang="en">{w}</category>\n'
                           f'    <episode-num system="xmltv_ns">{p % 10}.{p % 25}.0/1</episode-num>\n  </programme>\n')
                t += d
            out.write("".join(buf))
        out.write("</tv>\n")
    os.replace(path + ".tmp", path)
    return out.n


def main():
    if len(sys.argv) >= 4 and sys.argv[1] == "m3u":
        variant = int(sys.argv[4]) if len(sys.argv) > 4 else 1
        print(m3u(int(sys.argv[2]), sys.argv[3], variant))
    elif len(sys.argv) == 5 and sys.argv[1] == "xmltv":
        print(xmltv(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
