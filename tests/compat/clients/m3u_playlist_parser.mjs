// iptv-playlist-parser 0.15.2 (iptv-org's M3U parser): parses a saved get.php
// answer and prints what it read as JSON, for m3u_compare.py.
// argv: M3U_FILE
import fs from 'node:fs';
import parser from 'iptv-playlist-parser';

try {
  const pl = parser.parse(fs.readFileSync(process.argv[2], 'utf8'));
  console.log(JSON.stringify({
    header: pl.header.attrs,
    items: pl.items.map((it) => ({
      name: it.name, url: it.url,
      'tvg-id': it.tvg.id, 'tvg-name': it.tvg.name, 'tvg-logo': it.tvg.logo, 'group-title': it.group.title,
    })),
  }));
} catch (e) {
  console.error(e?.stack ?? String(e));
  console.error(`iptv-playlist-parser: ${e?.message ?? e}`);
  process.exit(1);
}
