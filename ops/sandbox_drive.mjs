// Drive the official CDS Hooks sandbox (headless Chromium) against an isocds service, as an EHR.
//
// Needs, all on loopback: the sandbox (github cds-hooks/sandbox, `npm ci` and
// `webpack --config webpack.config.prod.js`, its build/ served statically, default :8080); an open
// FHIR R4 server with the test patient (default :8090/fhir); the service started with a clients
// file trusting iss https://sandbox.cds-hooks.org (the public half of the sandbox's keys/ key, kid
// 44823f3d-0b01-4a6c-a80e-b9d3e8a7226f), ISOCDS_PUBLIC_BASE_URL and ISOCDS_CORS_ORIGINS set;
// Chromium (/usr/bin/chromium) and `npm i puppeteer-core` in the working directory; pngquant is
// used when present to keep the screenshots small.
//
//   node sandbox_drive.mjs --label before --service http://127.0.0.1:8001 \
//        [--sandbox http://127.0.0.1:8080] [--fhir http://127.0.0.1:8090/fhir] [--patient iso-p1] \
//        [--shots <repo>/docs/sandbox] [--out results-before.json] [--feedback]
//
// Hooks: patient-view (Patient View), order-select (Rx View: isotretinoin, then doxycycline),
// order-sign (Rx Sign: isotretinoin, "Sign Order"). With --feedback: accept an "Order ..."
// suggestion and override a card with a reason on patient-view. Every request the page makes to
// a host other than 127.0.0.1/localhost is aborted (the sandbox's built-in default discovery URL
// and FHIR server are remote) and listed in the results.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';

// puppeteer-core is resolved from the working directory (npm i puppeteer-core there), so that
// this file runs from anywhere, e.g. `cd ~/sandbox-run && node <repo>/ops/sandbox_drive.mjs`.
const puppeteer = createRequire(path.join(process.cwd(), 'noop.js'))('puppeteer-core');

const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => {
  if (a.startsWith('--')) acc.push([a.slice(2), all[i + 1] && !all[i + 1].startsWith('--') ? all[i + 1] : true]);
  return acc;
}, []));
const label = args.label || 'run';
const service = (args.service || 'http://127.0.0.1:8000').replace(/\/$/, '');
const sandbox = (args.sandbox || 'http://127.0.0.1:8080').replace(/\/$/, '');
const fhir = args.fhir || 'http://127.0.0.1:8090/fhir';
const patient = args.patient || 'iso-p1';
// Default: the repository's docs/sandbox, beside this file's ops/ folder.
const shots = args.shots || path.join(path.dirname(new URL(import.meta.url).pathname), '..', 'docs', 'sandbox');
const out = args.out || `results-${label}.json`;
const chromium = args.chromium || '/usr/bin/chromium';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const results = { label, service, hooks: {}, blocked: [], feedback: [], consoleErrors: [] };
const serviceCalls = [];

function isLoopback(url) {
  try {
    const u = new URL(url);
    if (u.protocol === 'data:' || u.protocol === 'blob:') return true;
    return ['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname);
  } catch { return false; }
}

async function newPage(browser) {
  const page = await browser.newPage();
  await page.setViewport({ width: 1280, height: 1600 });
  await page.setRequestInterception(true);
  page.on('request', (req) => {
    if (isLoopback(req.url())) req.continue();
    else { results.blocked.push(req.url()); req.abort('blockedbyclient'); }
  });
  page.on('console', (msg) => {
    if (msg.type() === 'error') results.consoleErrors.push(msg.text().slice(0, 300));
  });
  page.on('response', async (res) => {
    const url = res.url();
    if (!url.startsWith(service)) return;
    const req = res.request();
    const entry = { method: req.method(), path: url.slice(service.length), status: res.status() };
    if (req.method() === 'POST') {
      try { entry.request = JSON.parse(req.postData() || 'null'); } catch { entry.request = req.postData(); }
      try { entry.response = await res.json(); } catch { /* no body */ }
    }
    serviceCalls.push(entry);
  });
  return page;
}

function sandboxUrl(hook, screen, extra = {}) {
  const q = new URLSearchParams({
    fhirServiceUrl: fhir, patientId: patient, serviceDiscoveryURL: `${service}/cds-services`,
    hook, screen, ...extra,
  });
  return `${sandbox}/?${q}`;
}

async function hidePanel(page) {
  // the CDS Developer Panel takes half the width: fold it so that the cards get the whole page
  await page.evaluate(() => {
    const b = document.querySelector('button[class*="context-toggle"]');
    const open = document.querySelector('[class*="context-open"]');
    if (b && open) b.click();
  });
  await sleep(300);
}

async function settle(page, ms = 2500) {
  // wait until no service call has arrived for `ms`
  let n = -1;
  for (let i = 0; i < 40 && n !== serviceCalls.length; i += 1) {
    n = serviceCalls.length;
    await sleep(ms);
  }
  await page.waitForFunction(() => !document.querySelector('.MuiBackdrop-root:not([style*="visibility: hidden"]) .MuiCircularProgress-root'), { timeout: 20000 }).catch(() => {});
}

async function cardsOnPage(page) {
  return page.$$eval('[class*="decision-card"]', (cards) => cards.map((c) => ({
    summary: (c.querySelector('.MuiTypography-root') || c).innerText.trim(),
    buttons: Array.from(c.querySelectorAll('button')).map((b) => b.innerText.trim() || b.getAttribute('aria-label')),
  })));
}

async function shoot(page, file) {
  const box = await page.evaluate(() => {
    const cards = Array.from(document.querySelectorAll('[class*="decision-card"]'));
    const empty = Array.from(document.querySelectorAll('h6')).find((h) => h.innerText.includes('No recommendations'));
    const els = cards.length ? cards : (empty ? [empty.parentElement] : []);
    const title = document.querySelector('h1');
    if (title) els.unshift(title);
    if (!els.length) return null;
    const r = els.map((e) => e.getBoundingClientRect());
    const x = Math.max(0, Math.min(...r.map((b) => b.left)) - 8);
    const y = Math.max(0, Math.min(...r.map((b) => b.top + window.scrollY)) - 8);
    const right = Math.max(...r.map((b) => b.right)) + 8;
    const bottom = Math.max(...r.map((b) => b.bottom + window.scrollY)) + 8;
    return { x, y, width: right - x, height: bottom - y };
  });
  fs.mkdirSync(path.dirname(file), { recursive: true });
  await page.screenshot({ path: file, clip: box || undefined, fullPage: !box, captureBeyondViewport: true });
  // shrink to a palette PNG when pngquant is there (Debian package), keeping the original otherwise
  spawnSync('pngquant', ['--force', '--skip-if-larger', '--quality', '60-90', '--ext', '.png', '--', file]);
  return { file, bytes: fs.statSync(file).size, clip: box };
}

function callsSince(start) {
  return serviceCalls.slice(start).map((c) => ({
    method: c.method,
    path: c.path,
    status: c.status,
    hook: c.request && c.request.hook,
    draftMedication: c.request && c.request.context && c.request.context.draftOrders
      ? (c.request.context.draftOrders.entry || []).map((e) => (e.resource.medicationCodeableConcept || {}).text || '(none)')
      : undefined,
    prefetchKeys: c.request && c.request.prefetch ? Object.keys(c.request.prefetch) : undefined,
    cards: c.response && c.response.cards ? c.response.cards.map((k) => `[${k.indicator}] ${k.summary}`) : undefined,
    body: c.response && !c.response.cards ? c.response : undefined,
  }));
}

async function chooseMedication(page, typed, name) {
  // The field is controlled and debounced: set the whole text at once, as a paste would.
  await page.waitForSelector('input[name="medication-input"]');
  await page.$eval('input[name="medication-input"]', (el, text) => {
    const setter = Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value').set;
    setter.call(el, text);
    el.dispatchEvent(new Event('input', { bubbles: true }));
  }, typed);
  await sleep(800);
  const items = await page.$$('.MuiListItemButton-root');
  for (const it of items) {
    const text = await it.evaluate((e) => e.innerText.trim());
    if (text === name) { await it.click(); return true; }
  }
  const offered = await page.$$eval('.MuiListItemButton-root', (l) => l.map((e) => e.innerText.trim()));
  const value = await page.$eval('input[name="medication-input"]', (e) => e.value);
  throw new Error(`medication "${name}" not offered for "${typed}" (input "${value}", offered ${JSON.stringify(offered)})`);
}

async function run() {
  const userDir = fs.mkdtempSync(path.join(os.tmpdir(), `sandbox-${label}-`));
  const browser = await puppeteer.launch({
    executablePath: chromium,
    headless: true,
    userDataDir: userDir,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--disable-domain-reliability', '--metrics-recording-only'],
  });
  try {
    // ---- patient-view
    let page = await newPage(browser);
    let start = serviceCalls.length;
    await page.goto(sandboxUrl('patient-view', 'patient-view'), { waitUntil: 'networkidle0' });
    await hidePanel(page);
    await page.waitForSelector('[class*="decision-card"], h6', { timeout: 30000 }).catch(() => {});
    await settle(page);
    results.hooks['patient-view'] = {
      calls: callsSince(start), domCards: await cardsOnPage(page),
      screenshot: await shoot(page, `${shots}/${label}-patient-view.png`),
    };

    if (args.feedback) {
      // accept an "Order ..." suggestion (Checklist card), then override another card with a reason
      const fbStart = serviceCalls.length;
      const accepted = await page.evaluate(() => {
        const b = Array.from(document.querySelectorAll('[class*="decision-card"] button'))
          .find((x) => /^order/i.test(x.innerText.trim()));
        if (!b) return null;
        const label = b.innerText.trim();
        b.click();
        return label;
      });
      await sleep(1500);
      const arrow = await page.$('[class*="decision-card"] button[aria-label="select dismiss reason"]');
      let overridden = null;
      if (arrow) {
        const cardSummary = await arrow.evaluate((e) => e.closest('[class*="decision-card"]').querySelector('.MuiTypography-root').innerText.trim());
        await arrow.click();
        await page.waitForSelector('.MuiMenu-paper li', { timeout: 5000 });
        const reasons = await page.$$eval('.MuiMenu-paper li', (l) => l.map((e) => e.innerText.trim()));
        const items = await page.$$('.MuiMenu-paper li');
        await items[0].click();
        overridden = { card: cardSummary, reasonsOffered: reasons, chose: reasons[0] };
      } else {
        const dismiss = await page.$('[class*="decision-card"] button[title="Dismiss Card"]');
        if (dismiss) { await dismiss.click(); overridden = { chose: 'Dismiss (no override reasons on the card)' }; }
      }
      await sleep(2000);
      results.feedback = {
        acceptedSuggestion: accepted, overridden,
        calls: serviceCalls.slice(fbStart).map((c) => ({ method: c.method, path: c.path, status: c.status, request: c.request, response: c.response })),
      };
      results.hooks['patient-view'].afterFeedback = {
        domCards: await cardsOnPage(page),
        screenshot: await shoot(page, `${shots}/${label}-patient-view-feedback.png`),
      };
    }
    await page.close();

    // ---- order-select (Rx View): isotretinoin, then doxycycline
    page = await newPage(browser);
    start = serviceCalls.length;
    await page.goto(sandboxUrl('order-select', 'rx-view', { prescribedReason: '11381005' }), { waitUntil: 'networkidle0' });
    await hidePanel(page);
    await settle(page, 1500);
    const rxStart = serviceCalls.length;
    await chooseMedication(page, 'isotretinoin 40', 'Isotretinoin 40 MG Oral Capsule');
    await settle(page);
    results.hooks['order-select'] = {
      onLoadCalls: callsSince(start).slice(0, rxStart - start),
      calls: callsSince(rxStart), domCards: await cardsOnPage(page),
      screenshot: await shoot(page, `${shots}/${label}-order-select.png`),
    };
    const doxStart = serviceCalls.length;
    await chooseMedication(page, 'doxycycline 100', 'Doxycycline 100 MG Oral Capsule');
    await settle(page);
    results.hooks['order-select-doxycycline'] = {
      calls: callsSince(doxStart), domCards: await cardsOnPage(page),
      screenshot: await shoot(page, `${shots}/${label}-order-select-doxycycline.png`),
    };
    await page.close();

    // ---- order-sign (Rx Sign): isotretinoin, Sign Order
    page = await newPage(browser);
    await page.goto(sandboxUrl('order-sign', 'rx-sign', { prescribedReason: '11381005' }), { waitUntil: 'networkidle0' });
    await hidePanel(page);
    await settle(page, 1000);
    await chooseMedication(page, 'isotretinoin 40', 'Isotretinoin 40 MG Oral Capsule');
    await sleep(500);
    start = serviceCalls.length;
    const [sign] = await page.$$('xpath/.//button[contains(., "Sign Order")]');
    await sign.click();
    await settle(page);
    results.hooks['order-sign'] = {
      calls: callsSince(start), domCards: await cardsOnPage(page),
      screenshot: await shoot(page, `${shots}/${label}-order-sign.png`),
    };
    await page.close();
  } finally {
    await browser.close();
    fs.rmSync(userDir, { recursive: true, force: true });
  }
  results.allServiceCalls = serviceCalls.map((c) => `${c.method} ${c.path} ${c.status}`);
  results.blocked = [...new Set(results.blocked)];
  fs.writeFileSync(out, JSON.stringify(results, null, 1));
  console.log(JSON.stringify({
    label,
    hooks: Object.fromEntries(Object.entries(results.hooks).map(([h, v]) => [h, {
      statuses: v.calls.map((c) => `${c.method} ${c.path} ${c.status}`),
      cards: v.domCards.map((c) => c.summary),
    }])),
    feedback: results.feedback && results.feedback.calls
      ? results.feedback.calls.map((c) => `${c.method} ${c.path} ${c.status}`) : undefined,
    blocked: results.blocked,
  }, null, 1));
}

run().catch((e) => { console.error(e); fs.writeFileSync(out, JSON.stringify({ ...results, error: String(e.stack || e), serviceCalls }, null, 1)); process.exit(1); });
