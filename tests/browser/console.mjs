// The operator console in a real browser (Debian's chromium, headless,
// driven by playwright-core): an operator logs in, creates a line (its
// generated password shown once), sees a real streaming client on that line
// appear in the live view and ends it, and filters the denial log by line
// and by reason, adds a playlist source and follows its import (the skipped
// line named by its number), switches a channel off and sees it leave the
// players' list. Screenshots of the main pages are kept.
//
//   node console.mjs SERVER OPERATOR PASSWORD STREAM_URL DEMO_USER DEMO_PASS ARTIFACT_DIR
//
// STREAM_URL is the demo's example stream of DEMO_USER/DEMO_PASS; the test
// swaps in the new line's credentials to play the same channel.
// Prints `ok - NAME` or `FAIL - NAME: REASON` per check and ends with
// `N passed, N failed`; exit status 0 only when every check passed.
import { chromium } from 'playwright-core';
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';

const [server, operator, operatorPassword, demoStream, demoUser, demoPass, artifacts] = process.argv.slice(2);
if (!artifacts) {
  console.error('usage: node console.mjs SERVER OPERATOR PASSWORD STREAM_URL DEMO_USER DEMO_PASS ARTIFACT_DIR');
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

// A line name no demo line has, different on every run.
const lineName = `guest-${process.pid}`;
let linePassword = null;
let viewer = null;
let viewerExit = null;

const browser = await chromium.launch({
  executablePath,
  headless: true,
  // Root in a container: no sandbox; nothing reaches out beyond 127.0.0.1.
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking'],
});
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();

  await check('console login page', async () => {
    await page.goto(`${server}/admin/`);
    await page.waitForSelector('form[action="/admin/login"]');
    await shot(page, 'console-01-login');
  });

  await check('a wrong operator password is refused', async () => {
    await page.fill('input[name=name]', operator);
    await page.fill('input[name=password]', 'not-the-password');
    await page.click('button[type=submit]');
    await page.waitForSelector('form[action="/admin/login"]');
    if (await page.locator('a[href="/admin/lines"]').count() > 0) throw new Error('logged in with a wrong password');
  });

  await check('the operator logs in to the dashboard', async () => {
    await page.goto(`${server}/admin/`);
    await page.fill('input[name=name]', operator);
    await page.fill('input[name=password]', operatorPassword);
    await page.click('button[type=submit]');
    await page.waitForSelector('a[href="/admin/lines"]');
    await shot(page, 'console-02-dashboard');
  });

  await check('the operator creates a line and sees its password once', async () => {
    await page.goto(`${server}/admin/lines`);
    await page.fill('form[method=post][action="/admin/lines"] input[name=username]', lineName);
    await page.fill('form[method=post][action="/admin/lines"] input[name=max_connections]', '1');
    await page.click('form[method=post][action="/admin/lines"] button[type=submit]');
    await page.waitForSelector('code.password');
    linePassword = (await page.textContent('code.password')).trim();
    if (linePassword.length < 8) throw new Error(`generated password too short: ${linePassword}`);
    await shot(page, 'console-03-line-created');
    await page.goto(`${server}/admin/lines?q=${encodeURIComponent(lineName)}`);
    const table = await page.textContent('table');
    if (!table.includes(lineName)) throw new Error('the new line is not listed');
    await shot(page, 'console-04-lines');
  });

  await check('a live connection of the new line appears in the live view', async () => {
    if (!linePassword) throw new Error('no line was created');
    const url = demoStream
      .replace(`/${encodeURIComponent(demoUser)}/${encodeURIComponent(demoPass)}/`,
               `/${encodeURIComponent(lineName)}/${encodeURIComponent(linePassword)}/`);
    if (url === demoStream) throw new Error(`cannot place the line in ${demoStream}`);
    viewer = spawn('curl', ['-sN', '-A', 'ConsoleTestBox/2.0', '-o', '/dev/null', url], { stdio: 'ignore' });
    viewer.on('exit', (code) => { viewerExit = { code, at: Date.now() }; });
    for (let i = 0; i < 50; i++) {
      await page.goto(`${server}/admin/live`);
      const text = await page.textContent('body');
      if (text.includes(lineName) && text.includes('ConsoleTestBox/2.0')) { await shot(page, 'console-05-live'); return; }
      if (viewerExit) throw new Error(`curl exited early (${viewerExit.code})`);
      await sleep(200);
    }
    throw new Error('the connection never appeared');
  });

  await check('End in the live view cuts the streaming client', async () => {
    if (!viewer) throw new Error('no viewer');
    const row = page.locator('tr', { hasText: 'ConsoleTestBox/2.0' });
    await row.locator('button', { hasText: 'End' }).click();
    // The question is asked in place (console.js); Yes ends it.
    const yes = row.locator('.confirm-inline button.confirm-yes');
    await yes.waitFor({ state: 'visible', timeout: 5000 });
    const ended = Date.now();
    await yes.click();
    await page.waitForSelector('#flash');
    for (let i = 0; i < 50 && !viewerExit; i++) await sleep(100);
    if (!viewerExit) throw new Error('curl still streaming 5 s after End');
    await page.goto(`${server}/admin/live`);
    if ((await page.textContent('body')).includes('ConsoleTestBox/2.0')) throw new Error('still listed after End');
    console.log(`# curl cut ${viewerExit.at - ended} ms after the click on End`);
  });

  await check('the denial log filters by line and by reason', async () => {
    // Two refusals: the new line with a wrong password, and a name no line has.
    const api = (u, p) => fetch(`${server}/player_api.php?username=${encodeURIComponent(u)}&password=${encodeURIComponent(p)}`);
    await api(lineName, 'wrong-password');
    await api(`nobody-${process.pid}`, 'whatever');
    await page.goto(`${server}/admin/denials`);
    await page.fill('input[name=line]', lineName);
    await page.click('form[action="/admin/denials"] button[type=submit]');
    await page.waitForSelector('table');
    const rows = await page.locator('tbody tr').allTextContents();
    if (rows.length === 0) throw new Error('no refusal for the line');
    if (!rows.every((r) => r.includes(lineName))) throw new Error(`another line listed: ${rows.join(' | ')}`);
    if (!rows.some((r) => r.includes('invalid_credentials'))) throw new Error(`no invalid_credentials: ${rows.join(' | ')}`);
    await shot(page, 'console-06-denials-line');
    await page.goto(`${server}/admin/denials`);
    await page.fill('input[name=line]', '');
    await page.fill('input[name=reason]', 'invalid_credentials');
    await page.click('form[action="/admin/denials"] button[type=submit]');
    const byReason = await page.locator('tbody tr').allTextContents();
    if (!byReason.some((r) => r.includes(`nobody-${process.pid}`))) throw new Error('the unknown name is missing');
    if (!byReason.every((r) => r.includes('invalid_credentials'))) throw new Error('another reason listed');
    await shot(page, 'console-07-denials-reason');
  });

  const sourceFile = process.env.SOURCE_FILE || '';
  let sourcePage = null;
  await check('the operator adds a source and follows its import to the end', async () => {
    if (!sourceFile) throw new Error('SOURCE_FILE not set');
    await page.goto(`${server}/admin/sources`);
    await page.fill('form[method=post][action="/admin/sources"] input[name=location]', sourceFile);
    await page.fill('form[method=post][action="/admin/sources"] input[name=name]', 'Browser playlist');
    await page.click('form[method=post][action="/admin/sources"] button[type=submit]');
    // The progress page reloads itself while the import runs.
    for (let i = 0; i < 100; i++) {
      const text = await page.textContent('body');
      if (text.includes('Imported:')) break;
      if (text.includes('Failed:')) throw new Error(`import failed: ${text.slice(0, 300)}`);
      await sleep(200);
      if (i === 99) throw new Error('the import never finished');
    }
    await shot(page, 'console-08-source-refreshed');
    await page.click('a:has-text("The source")');
    sourcePage = page.url();
  });

  await check('the source page names the skipped line by its number', async () => {
    if (!sourcePage) throw new Error('no source page');
    const rows = await page.locator('table').first().locator('tbody tr').allTextContents();
    if (!rows.some((r) => r.startsWith('4') && r.includes('neither a directive nor a URL'))) {
      throw new Error(`import errors: ${rows.join(' | ')}`);
    }
    await shot(page, 'console-09-source');
  });

  await check('a channel switched off in the console leaves the players\' list', async () => {
    if (!sourcePage || !linePassword) throw new Error('no source page or no line');
    const names = async () => {
      // As the line created above sees it (the demo line is device-bound).
      const r = await fetch(`${server}/player_api.php?username=${encodeURIComponent(lineName)}&password=${encodeURIComponent(linePassword)}&action=get_live_streams`);
      const list = await r.json();
      if (!Array.isArray(list)) throw new Error(`get_live_streams: ${JSON.stringify(list).slice(0, 200)}`);
      return list.map((c) => c.name);
    };
    const before = await names();
    if (!before.includes('Browser Two')) throw new Error(`not imported: ${before.join(', ')}`);
    await page.locator('tr', { hasText: 'Browser Two' }).locator('button', { hasText: 'Disable' }).click();
    await page.waitForLoadState();
    const after = await names();
    if (after.includes('Browser Two')) throw new Error('still listed for players');
    if (!after.includes('Browser One')) throw new Error('the other channel went too');
    await page.goto(sourcePage);
    await shot(page, 'console-10-channel-disabled');
  });

  await check('a console form without its CSRF token is refused', async () => {
    // The operator's own session cookie, but no CSRF token (the page's CSP
    // forbids scripts to fetch, so this goes from outside the page).
    const cookies = await context.cookies(`${server}/admin/`);
    const cookie = cookies.map((c) => `${c.name}=${c.value}`).join('; ');
    if (!cookie.includes('tvgate_admin=')) throw new Error('no console session cookie');
    const r = await fetch(`${server}/admin/lines/action`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie },
      body: `name=${encodeURIComponent(lineName)}&action=delete`,
      redirect: 'manual',
    });
    const status = r.status;
    if (status < 400) throw new Error(`answered ${status}`);
    await page.goto(`${server}/admin/lines?q=${encodeURIComponent(lineName)}`);
    if (!(await page.textContent('table')).includes(lineName)) throw new Error('the line was deleted');
  });
} finally {
  if (viewer && !viewerExit) viewer.kill('SIGKILL');
  await browser.close();
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
