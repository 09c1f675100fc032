// The operator's dashboard and a line's timeline in a real browser (Debian's
// chromium, headless, driven by playwright-core), with a strict CSP (no
// inline script or style): the test makes a line with one connection, a
// real streaming client on it (curl), a second player refused for the
// limit and a wrong password, then checks the dashboard's counts and that
// its graphs are drawn, that the graphs' totals are /metrics' counters,
// that the line's timeline shows the stream that ended and the refusal
// with its reason, that tables sort and the lines search narrows as you
// type, that deleting a line asks in place and says so on the page it
// lands on, and keeps screenshots of each page at phone and desk widths.
//
//   node dashboard.mjs SERVER OPERATOR PASSWORD STREAM_URL DEMO_USER DEMO_PASS ARTIFACT_DIR
//
// Prints `ok - NAME` or `FAIL - NAME: REASON` per check and ends with
// `N passed, N failed`; exit status 0 only when every check passed.
import { chromium } from 'playwright-core';
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';

const [server, operator, operatorPassword, demoStream, demoUser, demoPass, artifacts] = process.argv.slice(2);
if (!artifacts) {
  console.error('usage: node dashboard.mjs SERVER OPERATOR PASSWORD STREAM_URL DEMO_USER DEMO_PASS ARTIFACT_DIR');
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
const widths = { phone: { width: 390, height: 844 }, desk: { width: 1280, height: 900 } };

/// The value of one exact series of /metrics (0 when absent).
async function metric(series) {
  const text = await (await fetch(`${server}/metrics`)).text();
  for (const line of text.split('\n')) {
    if (line.startsWith(`${series} `)) return Number(line.slice(series.length + 1));
  }
  return 0;
}
async function metricSum(prefix) {
  const text = await (await fetch(`${server}/metrics`)).text();
  return text.split('\n').filter((l) => l.startsWith(prefix)).reduce((n, l) => n + Number(l.split(' ').pop()), 0);
}

const lineName = `story-${process.pid}`;
let linePassword = null;
let viewer = null, viewerExit = null;
const streamOf = (user, pass) => demoStream
  .replace(`/${encodeURIComponent(demoUser)}/${encodeURIComponent(demoPass)}/`,
           `/${encodeURIComponent(user)}/${encodeURIComponent(pass)}/`);

const browser = await chromium.launch({
  executablePath,
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking'],
});
const cspErrors = [];
try {
  const context = await browser.newContext({ viewport: widths.desk });
  const page = await context.newPage();
  page.on('console', (m) => { if (/Content Security Policy/i.test(m.text())) cspErrors.push(m.text()); });
  page.on('pageerror', (e) => cspErrors.push(String(e)));
  // Each page at both widths.
  async function shots(name) {
    for (const [w, size] of Object.entries(widths)) {
      await page.setViewportSize(size);
      await page.screenshot({ path: `${artifacts}/dashboard-${name}-${w}.png`, fullPage: true });
    }
    await page.setViewportSize(widths.desk);
  }

  await check('the operator logs in and makes a line with one connection', async () => {
    await page.goto(`${server}/admin/`);
    await page.fill('input[name=name]', operator);
    await page.fill('input[name=password]', operatorPassword);
    await page.click('button[type=submit]');
    await page.waitForSelector('.tiles');
    await page.goto(`${server}/admin/lines`);
    await page.fill('form[method=post][action="/admin/lines"] input[name=username]', lineName);
    await page.fill('form[method=post][action="/admin/lines"] input[name=max_connections]', '1');
    await page.click('form[method=post][action="/admin/lines"] button[type=submit]');
    await page.waitForSelector('code.password');
    linePassword = (await page.textContent('code.password')).trim();
  });

  await check('a viewer watches, a second player is refused, a wrong password too', async () => {
    if (!linePassword) throw new Error('no line');
    const login = await fetch(`${server}/player_api.php?username=${encodeURIComponent(lineName)}&password=${encodeURIComponent(linePassword)}`);
    if ((await login.json()).user_info?.auth !== 1) throw new Error('the line could not log in');
    viewer = spawn('curl', ['-sN', '-A', 'StoryBox/1.0', '-o', '/dev/null', streamOf(lineName, linePassword)], { stdio: 'ignore' });
    viewer.on('exit', (code) => { viewerExit = { code }; });
    for (let i = 0; i < 50 && (await metric('tvgate_viewers')) < 1; i++) await sleep(100);
    if ((await metric('tvgate_viewers')) < 1) throw new Error('the viewer never started');
    // The second player gets the slate (a short video naming the reason) or
    // a refusal status: either way the refusal is recorded.
    const second = await fetch(streamOf(lineName, linePassword), { headers: { 'user-agent': 'SecondPhone/3.0' } });
    await second.body?.cancel();
    await fetch(`${server}/player_api.php?username=${encodeURIComponent(lineName)}&password=wrong`);
  });

  await check('the dashboard shows the viewer and the refusals, and draws its graphs', async () => {
    await page.goto(`${server}/admin/`);
    const tile = async (id) => Number((await page.textContent(`#${id} .n`)).replace(/[^0-9.]/g, ''));
    const viewers = await tile('viewers-now');
    if (viewers < 1) throw new Error(`viewers now: ${viewers}`);
    if (viewers !== await metric('tvgate_viewers')) throw new Error('viewers differ from /metrics');
    if ((await tile('lines-active')) < 1) throw new Error('no active line');
    if ((await tile('refusals-hour')) < 1) throw new Error('no refusal in the last hour');
    const reasons = await page.locator('#refusals-hour-by-reason tbody tr').allTextContents();
    if (!reasons.some((r) => r.includes('connection_limit'))) throw new Error(`by reason: ${reasons.join(' | ')}`);
    for (const id of ['graph-viewers', 'graph-bandwidth', 'graph-refusals', 'graph-logins']) {
      const max = Number(await page.getAttribute(`#${id}`, 'data-max'));
      if (!(max > 0)) throw new Error(`${id} is empty`);
      const box = await page.locator(`#${id} svg path.line`).first().boundingBox();
      if (!box || box.width < 50) throw new Error(`${id} is not drawn`);
    }
    if ((await page.getAttribute('nav.top a[aria-current=page]', 'href')) !== '/admin/') throw new Error('nav does not say where we are');
    await shots('01-dashboard');
  });

  await check('the graphs add up to /metrics', async () => {
    // The viewer leaves; then nothing moves while both are read.
    viewer.kill('SIGTERM');
    for (let i = 0; i < 50 && (await metric('tvgate_viewers')) > 0; i++) await sleep(100);
    if ((await metric('tvgate_viewers')) > 0) throw new Error('the slot stayed taken');
    await page.goto(`${server}/admin/`);
    const total = async (id) => Number(await page.getAttribute(`#${id}`, 'data-total'));
    const pairs = [
      ['graph-logins', await metric('tvgate_logins_total')],
      ['graph-bandwidth', await metric('tvgate_viewer_bytes_total')],
      ['graph-refusals', await metricSum('tvgate_denials_total{')],
    ];
    for (const [id, expected] of pairs) {
      const shown = await total(id);
      if (shown !== expected) throw new Error(`${id}: ${shown}, /metrics: ${expected}`);
    }
  });

  await check('the line\'s timeline shows the stream that ended and the refusal with its reason', async () => {
    await page.goto(`${server}/admin/lines/${encodeURIComponent(lineName)}`);
    await page.waitForSelector('#timeline');
    const stream = await page.locator('ol.timeline li.stream').first().textContent();
    for (const part of ['StoryBox/1.0', 'ended', 'the player closed it']) {
      if (!stream.includes(part)) throw new Error(`stream entry lacks ${part}: ${stream}`);
    }
    const refusals = await page.locator('ol.timeline li.refusal').allTextContents();
    if (!refusals.some((r) => r.includes('connection_limit'))) throw new Error(`refusals: ${refusals.join(' | ')}`);
    if ((await page.locator('ol.timeline li.login').count()) < 1) throw new Error('no login');
    if ((await page.getAttribute('nav.top a[aria-current=page]', 'href')) !== '/admin/lines') throw new Error('nav');
    await page.locator('#timeline').scrollIntoViewIfNeeded();
    await shots('02-line-timeline');
  });

  await check('the lines search narrows as you type, and tables sort', async () => {
    await page.goto(`${server}/admin/lines`);
    const rows = () => page.locator('#lines tbody tr:visible').count();
    const all = await rows();
    if (all < 2) throw new Error(`only ${all} lines listed`);
    await page.fill('input[data-narrows]', lineName);
    const narrowed = await rows();
    if (narrowed !== 1) throw new Error(`${narrowed} rows after typing ${lineName}`);
    if ((await page.textContent('#shown-count')).trim() !== '1') throw new Error('the count did not follow');
    await page.fill('input[data-narrows]', '');
    const header = page.locator('#lines thead th').first();
    await header.click();
    if ((await header.getAttribute('aria-sort')) !== 'ascending') throw new Error('no ascending sort');
    const names = await page.locator('#lines tbody tr td:first-child').allTextContents();
    const sorted = [...names].sort((a, b) => a.toLowerCase() < b.toLowerCase() ? -1 : a.toLowerCase() > b.toLowerCase() ? 1 : 0);
    if (names.join('|') !== sorted.join('|')) throw new Error(`not sorted: ${names.join(', ')}`);
    await header.click();
    if ((await header.getAttribute('aria-sort')) !== 'descending') throw new Error('no descending sort');
    await shots('03-lines');
  });

  await check('deleting a line asks in place, and the result shows on the page', async () => {
    const doomed = `doomed-${process.pid}`;
    await page.goto(`${server}/admin/lines`);
    await page.fill('form[method=post][action="/admin/lines"] input[name=username]', doomed);
    await page.click('form[method=post][action="/admin/lines"] button[type=submit]');
    await page.waitForSelector('code.password');
    await page.goto(`${server}/admin/lines?q=${encodeURIComponent(doomed)}`);
    const row = page.locator('#lines tbody tr', { hasText: doomed });
    const url = page.url();
    await row.locator('button', { hasText: 'Delete' }).click();
    const ask = row.locator('.confirm-inline');
    await ask.waitFor({ state: 'visible', timeout: 5000 });
    if (page.url() !== url) throw new Error(`left the page: ${page.url()}`);
    if (!(await ask.textContent()).includes(`Delete ${doomed}`)) throw new Error(`asked: ${await ask.textContent()}`);
    await page.screenshot({ path: `${artifacts}/dashboard-08-asks-in-place-desk.png` });
    // Cancel keeps the line; the question goes away.
    await ask.locator('button.confirm-no').click();
    if (await row.locator('.confirm-inline').count()) throw new Error('the question stayed after Cancel');
    await row.locator('button', { hasText: 'Delete' }).click();
    await row.locator('.confirm-inline button.confirm-yes').click();
    await page.waitForSelector('#flash');
    const flash = (await page.textContent('#flash')).trim();
    if (flash !== `${doomed} was deleted.`) throw new Error(`flash: ${flash}`);
    if (!new URL(page.url()).pathname.startsWith('/admin/lines')) throw new Error(`landed on ${page.url()}`);
    await shots('09-result-in-place');
    // Shown once: a reload no longer says it.
    await page.reload();
    if (await page.locator('#flash').count()) throw new Error('the result was shown twice');
    const gone = await fetch(`${server}/player_api.php?username=${encodeURIComponent(doomed)}&password=x`);
    if ((await gone.json()).user_info?.auth !== 0) throw new Error('the line still logs in');
  });

  await check('every console page at phone and desk widths', async () => {
    for (const [name, path] of [['04-live', '/admin/live'], ['05-denials', '/admin/denials'], ['06-sources', '/admin/sources']]) {
      await page.goto(`${server}${path}`);
      await shots(name);
    }
    const portal = await context.newPage();
    await portal.goto(`${server}/portal/`);
    for (const [w, size] of Object.entries(widths)) {
      await portal.setViewportSize(size);
      await portal.screenshot({ path: `${artifacts}/dashboard-07-portal-login-${w}.png`, fullPage: true });
    }
    await portal.close();
  });

  await check('no page broke the content security policy', async () => {
    if (cspErrors.length) throw new Error(cspErrors.slice(0, 3).join(' | '));
  });

  await check('GET /api/v1/stats asks for a token', async () => {
    const r = await fetch(`${server}/api/v1/stats?window=24h`);
    if (r.status !== 401) throw new Error(`answered ${r.status}`);
  });
} finally {
  if (viewer && !viewerExit) viewer.kill('SIGKILL');
  await browser.close();
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
