// ==UserScript==
// @name         Colab Sentinel
// @namespace    colab-sentinel
// @version      0.1.0
// @description  Keeps a Colab tab connected. Never clicks a reCAPTCHA.
// @match        https://colab.research.google.com/*
// @match        https://colab.google.com/*
// @grant        none
// @run-at       document-idle
// @noframes
// ==/UserScript==
// colab-sentinel, see docs/userscript.md. Clicks only Reconnect, Connect, Yes. Sends nothing.
(() => {
'use strict';
const CONFIG = { // defaults: edit here, or call sentinel.configure({...})
  intervalSec: 60, jitter: 0.2, // keep-alive sweep every 60 s +-20 %
  resume: false, marker: '# sentinel: resume', // after a reconnect, run this cell once
  sound: true, notify: true, // on a reCAPTCHA (notify: if you allowed it)
};
const VERSION = '0.1.0';
const DEPTH = 8; // shadow root nesting we follow
const DIALOGS = 'colab-dialog,paper-dialog,mwc-dialog,md-dialog,[role=dialog],[role=alertdialog]';
const BUTTONS = 'paper-button,mwc-button,md-text-button,md-filled-button,button,[role=button]';
const ANSWERS = [ // the only dialogs answered; others wait for you
  { title: /runtime disconnected/i, button: 'Reconnect', count: 'reconnects' },
  { title: /are you still (there|here)/i, button: 'Yes', count: 'stillThere' },
];
const cfg = { ...CONFIG };
const counts = { reconnects: 0, stillThere: 0, captchas: 0, resumes: 0 };
let on = false, state = '', conn = '', timer = 0, pending = 0, lastScan = 0, nextConnect = 0;
let backoff = 10e3, clickedAt = 0, upSince = 0, captcha = null, due = false, shadow, audio;
const seen = new Set(); // runtime ids seen before the last reconnect
const clicked = new WeakMap(); // button -> when we clicked it

const log = (msg) => console.info(`[sentinel ${new Date().toTimeString().slice(0, 8)}] ${msg}`);
const norm = (s) => (s || '').replace(/\s+/g, ' ').trim();
// Visit elements under root, open shadow roots included; fn returns true to stop.
const walk = (root, fn, d = 0) => {
  if (d > DEPTH) return false;
  if (root.shadowRoot && walk(root.shadowRoot, fn, d + 1)) return true;
  for (const el of root.querySelectorAll('*')) {
    if (fn(el) || (el.shadowRoot && walk(el.shadowRoot, fn, d + 1))) return true;
  }
  return false;
};
const deepText = (el) => {
  let t = el.textContent;
  walk(el, (e) => void (e.shadowRoot && (t += ' ' + e.shadowRoot.textContent)));
  return norm(el.shadowRoot ? t + ' ' + el.shadowRoot.textContent : t);
};
const findButton = (root, text = '') => { // enabled, visible, labelled `text` if given
  let hit = null;
  walk(root, (e) => e.matches(BUTTONS) && !e.hasAttribute('disabled') && e.checkVisibility({ visibilityProperty: true })
    && (!text || norm(e.getAttribute('label') || e.textContent).toLowerCase() === text) && (hit = e));
  return hit;
};
const connState = (t) =>
  t === null ? 'unknown'
  : /^(re)?connect(\s|$)/i.test(t) ? 'disconnected' // Connect, Connect T4, Reconnect
  : /^(connecting|allocating|initiali[sz]ing|resuming|reconnecting|waiting)/i.test(t) ? 'connecting'
  : 'connected'; // empty, or RAM/Disk meters
const notebook = () => window.colab?.global?.notebook;
const managedId = () => notebook()?.kernel?.endpoint?.managedId || null;

function click(el, what, count) {
  const now = Date.now();
  if (count === 'reconnects') {
    clickedAt ||= now;
    nextConnect = now + backoff;
    due = cfg.resume && { before: managedId() };
  }
  counts[count]++, clicked.set(el, now);
  el.click();
  log(`clicked ${what}`);
}

// Look at the page, click at most once. Runs on DOM changes (throttled) and each tick.
function scan() {
  pending = 0;
  const now = (lastScan = Date.now());
  if (!on) return;
  const root = document.querySelector('#top-toolbar > colab-connect-button')?.shadowRoot;
  if (root && root !== shadow) { // its text changes in there
    observer.observe((shadow = root), { subtree: true, childList: true, characterData: true, attributes: true });
  }
  let dialogs = [], cap = null;
  walk(document, (el) => {
    if (el.localName === 'colab-recaptcha-dialog') cap ||= findButton(el) && el; // shown
    else if (el.matches(DIALOGS)) dialogs.push(el);
  });
  setCaptcha(cap);
  const btn = root?.querySelector('#connect');
  const text = btn ? norm(btn.innerText) : null;
  const c = connState(text);
  if (conn === 'connected' && c === 'disconnected') log('runtime disconnected');
  if (c === 'connected' && conn !== c) {
    if (clickedAt) log('reconnected');
    upSince = now, backoff = 10e3, nextConnect = clickedAt = 0;
    if (due) setTimeout(soon, 1100); // for maybeResume
  }
  conn = c;
  if (c === 'connected' && !due) seen.add(managedId());
  if (cap) return show('reCAPTCHA'); // click nothing meanwhile
  let blocker = '';
  for (const d of dialogs) {
    const t = deepText(d);
    const a = ANSWERS.find((x) => x.title.test(t));
    const b = a && findButton(d, a.button.toLowerCase());
    if (b && now - (clicked.get(b) || 0) > 2e3) return click(b, a.button, a.count), show('answered');
    if (!a && d.localName.endsWith('dialog') && findButton(d)) blocker = t.slice(0, 30);
  }
  if (blocker) return show(`waiting for you: "${blocker}"`);
  // never start a runtime in a tab that has not had one
  if (c === 'disconnected' && (upSince || /^re/i.test(text)) && now >= nextConnect) {
    click(btn, text, 'reconnects');
    backoff = Math.min(backoff * 2, 300e3); // if it keeps failing
    return show('reconnecting');
  }
  if (c === 'connected') maybeResume(now);
  show(c);
}

// Resume: once per new runtime, never while a cell runs.
function maybeResume(now) {
  const nb = notebook();
  if (!due || now - upSince < 1e3 || !nb?.kernel) return;
  const id = managedId(), { before } = due;
  due = false;
  const cells = [...nb.cells];
  const cell = cells.find((x) => x.getText().includes(cfg.marker));
  const why = nb.kernel.isRunning?.() || cells.some((x) => x.isRunning() || x.isPending()) ? 'a cell runs'
    : id && (id === before || seen.has(id)) ? 'same runtime' : !cell && `no cell has "${cfg.marker}"`;
  if (why) return log(`resume cell not run: ${why}`);
  seen.add(id), counts.resumes++, log('running the resume cell');
  cell.manualExecute();
}

function setCaptcha(el) {
  banner.hidden = !el;
  const fresh = el && !captcha;
  captcha = el;
  if (!fresh) return;
  counts.captchas++;
  log('reCAPTCHA: waiting for you');
  try { // a notification if you allowed them, and a short beep
    if (cfg.notify && Notification.permission === 'granted') new Notification('Colab needs you: reCAPTCHA', { body: document.title });
    if (!cfg.sound) return;
    audio ||= new AudioContext();
    audio.resume(); // may need one click in the page first
    const osc = new OscillatorNode(audio, { frequency: 880 });
    osc.connect(audio.destination), osc.start(), osc.stop(audio.currentTime + 0.3);
  } catch {} // not available here: the banner still shows
}

// Keep-alive: a sweep, and while connected a mouse move on the toolbar, never a click. Colab's idle
// timer likely ignores such untrusted input: the real guard is the fast reconnect.
function tick() {
  timer = setTimeout(tick, cfg.intervalSec * (1 + (Math.random() * 2 - 1) * cfg.jitter) * 1e3);
  scan();
  if (conn !== 'connected' || captcha) return;
  const t = document.querySelector('#top-toolbar') || document.body;
  t.dispatchEvent(new MouseEvent('mousemove', { bubbles: true, clientX: 9, clientY: 9 }));
}

const soon = (ms = 50) => {
  if (on && !pending) pending = setTimeout(scan, Math.max(ms, lastScan + 250 - Date.now()));
};
const observer = new MutationObserver((ms) => ms.some((m) => !ui.contains(m.target)) && soon());

function show(s) {
  state = s;
  badge.textContent = on ? `sentinel on | ${s} | reconnects ${counts.reconnects} | yes ${counts.stillThere}` : 'sentinel off';
  badge.style.background = on ? (captcha ? 'firebrick' : 'seagreen') : 'gray';
}

function start() {
  if (!on) {
    on = true;
    shadow = null;
    observer.observe(document.documentElement, { subtree: true, childList: true, attributes: true,
      attributeFilter: ['open', 'opened', 'hidden', 'style', 'class', 'disabled'] });
    log(`on (v${VERSION})`);
    tick();
  }
  return status();
}

function stop() {
  if (on) log('off');
  on = false;
  clearTimeout(timer), clearTimeout(pending), observer.disconnect();
  timer = pending = 0;
  setCaptcha(null);
  show('off');
  return status();
}

function status() {
  return { version: VERSION, on, state, connection: conn, runtime: managedId(), counts: { ...counts }, config: { ...cfg } };
}

function configure(opts) {
  const next = { ...cfg, ...opts };
  for (const k in next) if (typeof next[k] !== typeof CONFIG[k]) throw new TypeError(`sentinel: bad option ${k}`);
  if (!(next.intervalSec >= 0.1 && next.jitter >= 0 && next.jitter < 1)) throw new RangeError('bad interval');
  Object.assign(cfg, next);
  if (on) clearTimeout(timer), tick();
  return status();
}

// Badge (click: on/off) and reCAPTCHA banner; no HTML strings (Trusted Types).
const div = (id, style, textContent = '') => Object.assign(document.createElement('div'), { id, style, textContent });
const ui = div('sentinel', 'position:fixed;left:8px;bottom:8px;z-index:2147483647;font:13px sans-serif;color:#fff');
const banner = div('sentinel-banner', 'padding:9px;background:firebrick;font-weight:bold',
  'reCAPTCHA: please solve it yourself. sentinel never clicks it.');
const badge = div('sentinel-badge', 'padding:2px 8px;cursor:pointer');
badge.onclick = () => (on ? stop() : start());
ui.append(banner, badge);

const destroy = () => (stop(), ui.remove());
const enableNotifications = () => Notification.requestPermission();
const api = { start, stop, status, configure, enableNotifications, destroy };
const boot = () => {
  const prev = window.sentinel;
  if (prev?.destroy) { // pasted twice: replace the running copy, keep one loop
    Object.assign(counts, prev.status().counts);
    prev.destroy();
    log('replaced the running copy');
  }
  window.sentinel = api;
  document.body.append(ui);
  start();
};
if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', boot, { once: true });
else boot();
})();
