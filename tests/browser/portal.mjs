// The subscriber portal in a real browser (Debian's chromium, headless,
// driven by playwright-core): log in, read the status, end a connection held
// by a real streaming client (curl reading the live TS, which must then be
// cut), copy the M3U URL, and keep screenshots of the main pages.
//
//   node portal.mjs SERVER USERNAME PASSWORD STREAM_URL ARTIFACT_DIR
//
// Prints `ok - NAME` or `FAIL - NAME: REASON` per check and ends with
// `N passed, N failed`; exit status 0 only when every check passed.
import { chromium } from 'playwright-core';
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';

const [server, username, password, streamUrl, artifacts] = process.argv.slice(2);
if (!artifacts) {
  console.error('usage: node portal.mjs SERVER USERNAME PASSWORD STREAM_URL ARTIFACT_DIR');
  process.exit(2);
}
mkdirSync(artifacts, { recursive: true });
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
let passed = 0, failed = 0;
const ok = (name) => { passed++; console.log(`ok - ${name}`); };
const fail = (name, why) => { failed++; console.log(`FAIL - ${name}: ${why}`); };
async function check(name, fn) {
  try { await fn(); ok(name); } catch (e) { fail(name, String(e && e.message || e).split('\n')[0]); }
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const shot = (page, name) => page.screenshot({ path: `${artifacts}/${name}.png`, fullPage: true });

// A real viewer: curl reading the endless live TS until the server cuts it
// (presenting the bound device's id when run.sh registered one).
const deviceId = process.env.DEVICE_ID || '';
const deviceLabel = process.env.DEVICE_LABEL || '';
const viewerUrl = deviceId ? `${streamUrl}${streamUrl.includes('?') ? '&' : '?'}device_id=${encodeURIComponent(deviceId)}` : streamUrl;
const viewer = spawn('curl', ['-sN', '-A', 'BrowserTestTV/1.0', '-o', '/dev/null', viewerUrl], { stdio: 'ignore' });
let viewerExit = null;
viewer.on('exit', (code) => { viewerExit = { code, at: Date.now() }; });

const browser = await chromium.launch({
  executablePath,
  headless: true,
  // Root in a container: no sandbox; nothing reaches out beyond 127.0.0.1.
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking'],
});
try {
  const context = await browser.newContext({ viewport: { width: 390, height: 844 } });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server });
  const page = await context.newPage();

  await check('login page', async () => {
    await page.goto(`${server}/portal/`);
    await page.waitForSelector('form[action="/portal/login"]');
    await shot(page, '01-login');
  });

  await check('a wrong password is refused', async () => {
    await page.fill('#username', username);
    await page.fill('#password', 'not-the-password');
    await page.click('button[type=submit]');
    const text = await page.textContent('body');
    if (!text.includes('Wrong username or password')) throw new Error('no refusal shown');
  });

  await check('login shows the status and expiry', async () => {
    await page.fill('#username', username);
    await page.fill('#password', password);
    await page.click('button[type=submit]');
    await page.waitForSelector('#status');
    const status = await page.textContent('#status');
    if (!/Your subscription is (active|expired|suspended)/.test(status)) throw new Error(`status: ${status}`);
    if (!/(days? left|never expires|Expired on)/.test(status)) throw new Error(`no expiry: ${status}`);
    await shot(page, '02-status');
  });

  await check('the streaming client is listed among the connections', async () => {
    for (let i = 0; i < 50; i++) {
      await page.goto(`${server}/portal/`);
      const conns = await page.textContent('#connections');
      if (conns.includes('BrowserTestTV/1.0')) { await shot(page, '03-connections'); return; }
      if (viewerExit) throw new Error(`curl exited early (${viewerExit.code})`);
      await sleep(200);
    }
    throw new Error('the connection never appeared');
  });

  await check('ending the connection disconnects the client', async () => {
    const item = page.locator('li.connection', { hasText: 'BrowserTestTV/1.0' });
    const clicked = Date.now();
    await item.locator('button', { hasText: 'End' }).click();
    await page.waitForSelector('#connections');
    for (let i = 0; i < 50 && !viewerExit; i++) await sleep(100);
    if (!viewerExit) throw new Error('curl still streaming 5 s after End');
    const secs = (viewerExit.at - clicked) / 1000;
    if (secs > 3) throw new Error(`cut only after ${secs} s`);
    const conns = await page.textContent('#connections');
    if (conns.includes('BrowserTestTV/1.0')) throw new Error('still listed');
    await shot(page, '04-ended');
  });

  await check('the M3U URL is copied to the clipboard', async () => {
    const shown = (await page.textContent('#m3u-url')).trim();
    if (!shown.includes('/get.php?username=')) throw new Error(`m3u url: ${shown}`);
    await page.click('button[data-copy="m3u-url"]');
    await page.waitForFunction(() => document.querySelector('button[data-copy="m3u-url"]').textContent === 'Copied');
    const copied = await page.evaluate(() => navigator.clipboard.readText());
    if (copied !== shown) throw new Error(`clipboard holds ${JSON.stringify(copied)}`);
  });

  await check('the password stays hidden until asked, and the QR code is there', async () => {
    if (await page.isVisible('#password-value')) throw new Error('password visible before asking');
    await page.click('details summary');
    if (!(await page.isVisible('#password-value'))) throw new Error('password not shown');
    if ((await page.locator('.qr svg').count()) !== 1) throw new Error('no QR code');
    await shot(page, '05-details');
  });

  if (deviceId) {
    await check('the device binding is reset, then held by its cooldown', async () => {
      await page.goto(`${server}/portal/`);
      const before = await page.textContent('#devices');
      if (!before.includes(deviceLabel) || !before.includes(deviceId)) throw new Error(`devices: ${before}`);
      await shot(page, '06-devices');
      await page.click('#devices button:has-text("Reset devices")');
      const notice = await page.textContent('.notice');
      if (!notice.includes('Devices reset (1 unbound)')) throw new Error(`notice: ${notice}`);
      const after = await page.textContent('#devices');
      if (after.includes(deviceId)) throw new Error('device still bound');
      if (!after.includes('You can reset your devices again in 24 h')) throw new Error(`no cooldown: ${after}`);
      if (!(await page.isDisabled('#devices button:has-text("Reset devices")'))) throw new Error('reset still enabled');
      await shot(page, '07-devices-reset');
    });
  }
} finally {
  await browser.close();
  if (!viewerExit) viewer.kill('SIGTERM');
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
