// @iptv/xtream-api 1.4.1 against tvgate: every read call a player makes, the
// counts of the demo catalog, then the live URL the library generates must
// deliver MPEG-TS (first byte 0x47).
// argv: SERVER USERNAME PASSWORD. On failure the last stderr line is the reason.
import { Xtream } from '@iptv/xtream-api';

const [url, username, password] = process.argv.slice(2);
const fail = (msg) => { throw new Error(msg); };
const short = (v) => JSON.stringify(v)?.slice(0, 300);
const expect = (what, got, want) => { if (got !== want) fail(`${what}: got ${got}, want ${want}`); };

async function firstBytes(u, n) {
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), 15000);
  try {
    const res = await fetch(u, { signal: ctl.signal });
    if (!res.ok) fail(`GET ${u}: HTTP ${res.status}`);
    const reader = res.body.getReader();
    let buf = new Uint8Array(0);
    while (buf.length < n) {
      const { value, done } = await reader.read();
      if (done) break;
      const next = new Uint8Array(buf.length + value.length);
      next.set(buf); next.set(value, buf.length); buf = next;
    }
    await reader.cancel();
    return buf;
  } finally {
    clearTimeout(timer);
    ctl.abort();
  }
}

async function main() {
  const x = new Xtream({ url, username, password, preferredFormat: 'ts' });
  const profile = await x.getProfile();                       // action=get_profile
  if (!profile || profile.auth !== 1 || profile.status !== 'Active') fail(`getProfile: ${short(profile)}`);
  const server = await x.getServerInfo();                     // action=get_server_info
  if (!server || !server.url || server.timestamp_now === undefined) fail(`getServerInfo: ${short(server)}`);

  const liveCats = await x.getChannelCategories();
  expect('getChannelCategories length', liveCats.length, 2);
  const channels = await x.getChannels();
  expect('getChannels length', channels.length, 4);
  const byCat = await x.getChannels({ categoryId: liveCats[0].category_id });
  if (!(byCat.length > 0 && byCat.length < 4)) fail(`getChannels({categoryId:${liveCats[0].category_id}}) gave ${byCat.length}`);

  const movieCats = await x.getMovieCategories();
  expect('getMovieCategories length', movieCats.length, 1);
  const movies = await x.getMovies();
  expect('getMovies length', movies.length, 1);
  const movie = await x.getMovie({ movieId: movies[0].stream_id });
  expect('getMovie movie_data.stream_id', movie?.movie_data?.stream_id, movies[0].stream_id);

  const showCats = await x.getShowCategories();
  expect('getShowCategories length', showCats.length, 1);
  const shows = await x.getShows();
  expect('getShows length', shows.length, 1);
  const show = await x.getShow({ showId: shows[0].series_id });
  const episodes = Object.values(show.episodes ?? {}).flat();
  expect('getShow episodes', episodes.length, 3);

  const epg = await x.getShortEPG({ channelId: channels[0].stream_id, limit: 4 });
  const listings = epg?.epg_listings ?? [];
  if (!(listings.length > 0)) fail(`getShortEPG: no listings: ${short(epg)}`);

  const liveUrl = x.generateStreamUrl({ type: 'channel', streamId: channels[0].stream_id, extension: 'ts' });
  const bytes = await firstBytes(liveUrl, 188 * 2);
  if (bytes.length < 188 * 2 || bytes[0] !== 0x47 || bytes[188] !== 0x47) {
    fail(`${liveUrl}: first bytes ${Buffer.from(bytes.slice(0, 8)).toString('hex')} (${bytes.length} read), want 0x47 sync bytes`);
  }
  console.log(JSON.stringify({
    liveCategories: liveCats.length, channels: channels.length, movies: movies.length,
    shows: shows.length, episodes: episodes.length, epg: listings.length, liveUrl,
  }));
}

main().catch((e) => {
  console.error(e?.stack ?? String(e));
  console.error(`${e?.name ?? 'Error'}: ${e?.message ?? e}`);
  process.exit(1);
});
