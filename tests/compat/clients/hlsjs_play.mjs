// hls.js (as web players use it) in Debian's headless Chromium plays a live
// HLS URL for SECONDS of media. The page comes from another origin (a small
// HTTP server of this script's own on another loopback port), as a web
// player's would, so CORS is exercised on the playlist and on every segment.
// A real loopback server, not a page Playwright makes up: Chromium's Local
// Network Access asks the user's permission before a page whose address it
// cannot place reaches a loopback address (and headless, nobody answers).
// argv: URL [SECONDS=10]. Prints one JSON line; exit 0 when the video played
// SECONDS with frames decoded and no fatal hls.js error.
import { chromium } from 'playwright-core';
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';

const [src, secondsArg = '10'] = process.argv.slice(2);
const seconds = Number(secondsArg);
const require = createRequire(import.meta.url);
const hlsJs = readFileSync(require.resolve('hls.js/dist/hls.min.js'), 'utf8');
const page_ = `<!doctype html><html><body>
<video id="v" muted autoplay playsinline width="640" height="360"></video>
<script src="/hls.min.js"></script>
<script>
window.result = { errors: [], frags: 0, levels: 0 };
const v = document.getElementById('v');
if (Hls.isSupported()) {
  const hls = new Hls();
  hls.on(Hls.Events.MANIFEST_PARSED, (e, d) => { window.result.levels = d.levels.length; v.play(); });
  hls.on(Hls.Events.FRAG_BUFFERED, () => { window.result.frags++; });
  hls.on(Hls.Events.ERROR, (e, d) => { window.result.errors.push(d.type + ':' + d.details + (d.fatal ? ':fatal' : '')); });
  hls.loadSource(${JSON.stringify(src)});
  hls.attachMedia(v);
} else { window.result.errors.push('hls.js unsupported:fatal'); }
</script></body></html>`;

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium', headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
         '--disable-component-update', '--disable-sync', '--autoplay-policy=no-user-gesture-required'],
});
// The web player's own site.
const site = createServer((req, res) => {
  const path = new URL(req.url, 'http://x').pathname;
  if (path === '/hls.min.js') {
    res.writeHead(200, { 'content-type': 'application/javascript' });
    res.end(hlsJs);
  } else {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end(page_);
  }
});
await new Promise((ok) => site.listen(0, '127.0.0.1', ok));
let r;
try {
  const page = await browser.newPage();
  await page.goto(`http://127.0.0.1:${site.address().port}/`);
  const state = () => page.evaluate(() => {
    const v = document.getElementById('v');
    return { ...window.result, currentTime: v.currentTime, width: v.videoWidth, height: v.videoHeight,
             frames: v.getVideoPlaybackQuality().totalVideoFrames };
  });
  const deadline = Date.now() + (seconds + 25) * 1000;
  do {
    await page.waitForTimeout(500);
    r = await state();
  } while (r.currentTime < seconds && Date.now() < deadline && !r.errors.some((e) => e.endsWith(':fatal')));
} finally {
  await browser.close();
  site.close();
}
console.log(JSON.stringify(r));
const ok = r.currentTime >= seconds && r.frames > 0 && !r.errors.some((e) => e.endsWith(':fatal'));
if (!ok) console.log(`hls.js played ${r.currentTime.toFixed(1)} s (want ${seconds}), ${r.frames} frames, errors ${r.errors.join(' ')}`);
process.exit(ok ? 0 : 1);
