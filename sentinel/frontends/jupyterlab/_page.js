// sentinel's in-page observer for JupyterLab 4 / Notebook 7: gathers raw facts, reports changes.
// It reads the page and the kernel websockets' incoming messages (never sends anything); the daemon
// classifies the facts (_classify.py). Kernel messages' header.session is the kernel process's own
// session id: a kernel the server restarts keeps its id but gets a new session.
(cfg) => {
  const css = cfg.css;
  const W = window;
  const sel = (key) => css[key].join(', ');
  const q = (root, key) => { try { return root.querySelector(sel(key)); } catch (e) { return null; } };
  const qa = (root, key) => { try { return [...root.querySelectorAll(sel(key))]; } catch (e) { return []; } };
  const visible = (el) => !!el && el.getClientRects().length > 0;
  const text = (el) => (el ? (el.innerText || el.textContent || '') : '').replace(/\s+/g, ' ').trim();

  function hookSockets() {
    if (W.__sentinelJupyterWs) return;
    const kernels = {};
    W.__sentinelJupyterWs = kernels;
    const Orig = W.WebSocket;
    const decoder = new TextDecoder('utf-8');
    const parse = (data) => {
      if (typeof data === 'string') return JSON.parse(data);
      const view = new DataView(data);
      const n = Number(view.getBigUint64(0, true));
      const offsets = [];
      for (let i = 0; i < n; i++) offsets.push(Number(view.getBigUint64(8 * (i + 1), true)));
      const part = (i) => decoder.decode(data.slice(offsets[i], offsets[i + 1]));
      return { channel: part(0), header: JSON.parse(part(1)), content: JSON.parse(part(4)) };
    };
    W.WebSocket = new Proxy(Orig, {
      construct(target, args) {
        const socket = new target(...args);
        const match = /\/api\/kernels\/([0-9a-fA-F-]{8,})\/channels/.exec(String(args[0]));
        if (!match) return socket;
        const id = match[1];
        const entry = kernels[id] || (kernels[id] = { session: null, open: false, at: 0 });
        socket.addEventListener('open', () => { entry.open = true; });
        socket.addEventListener('close', () => { entry.open = false; });
        socket.addEventListener('message', (event) => {
          try {
            const msg = parse(event.data);
            const header = msg.header || {};
            // Status messages the server makes itself (restarting, dead) carry the server's session.
            const state = msg.content && msg.content.execution_state;
            if (header.msg_type === 'status' && ['restarting', 'autorestarting', 'dead'].includes(state)) {
              entry.session = null;
              return;
            }
            if (header.session && header.session !== entry.session) {
              entry.session = header.session;
              entry.at = Date.now() / 1000;
            }
          } catch (e) { /* a frame we cannot read: ignore it */ }
        });
        return socket;
      },
    });
  }

  function notebookPath() {
    const m = /\/(?:lab\/tree|lab\/workspaces\/[^/]+\/tree|notebooks)\/(.+)$/.exec(location.pathname);
    return m ? decodeURIComponent(m[1]) : null;
  }

  function baseUrl() {
    const el = document.getElementById('jupyter-config-data');
    try { return (el && JSON.parse(el.textContent).baseUrl) || '/'; } catch (e) { return '/'; }
  }

  // The server's view (jupyter_server's REST API, the page's own cookie): the notebook's session.
  const rest = W.__sentinelJupyterRest
    || (W.__sentinelJupyterRest = { ok: null, kernel_id: null, state: null, error: null, at: 0 });
  async function pollRest() {
    const path = notebookPath();
    if (!path) return;
    try {
      const response = await fetch(baseUrl().replace(/\/?$/, '/') + 'api/sessions', { credentials: 'same-origin', cache: 'no-store' });
      if (!response.ok) throw new Error('HTTP ' + response.status);
      const sessions = await response.json();
      const mine = sessions.find((s) => s.path === path || (s.notebook && s.notebook.path === path));
      rest.ok = true; rest.error = null;
      rest.kernel_id = mine && mine.kernel ? mine.kernel.id : null;
      rest.state = mine && mine.kernel ? mine.kernel.execution_state : null;
    } catch (e) {
      rest.ok = false; rest.error = String(e).slice(0, 200);
    }
    rest.at = Date.now() / 1000;
  }

  function isJupyter() {
    return !!q(document, 'app_marker') || !!q(document, 'login');
  }

  function collect() {
    const panel = q(document, 'notebook_panel');
    const facts = {
      url: location.href.replace(/([?&]token=)[^&#]*/, '$1...'),
      jupyter: isJupyter(),
      login: !!q(document, 'login'),
      panel: !!panel,
      path: notebookPath(),
      kernel_name: null, indicator: null, cells: 0, running: [], dialogs: [],
      rest: Object.assign({}, rest),
      sockets: JSON.parse(JSON.stringify(W.__sentinelJupyterWs || {})),
      hooked: !!W.__sentinelJupyterWs,
      t: Date.now() / 1000,
    };
    for (const dialog of qa(document, 'dialog')) {
      if (visible(dialog)) facts.dialogs.push({ header: text(q(dialog, 'dialog_header')), text: text(dialog).slice(0, 500) });
    }
    if (panel) {
      const name = q(panel, 'kernel_name');
      if (name) facts.kernel_name = name.getAttribute('aria-label') || text(name);
      const indicator = q(panel, 'execution_indicator');
      if (indicator) facts.indicator = indicator.getAttribute('data-status');
      const cells = qa(panel, 'cell');
      facts.cells = cells.length;
      cells.forEach((cell) => { facts.running.push(text(q(cell, 'input_prompt'))); });
    }
    return facts;
  }

  function cells() {
    const panel = q(document, 'notebook_panel');
    if (!panel) return [];
    return qa(panel, 'cell').map((cell, index) => ({
      index,
      code: cell.matches(sel('code_cell')),
      source: text(q(cell, 'cell_source')),
      prompt: text(q(cell, 'input_prompt')),
      selected: cell.classList.contains('jp-mod-selected'),
      output: text(q(cell, 'cell_output')),
    }));
  }

  function cellNode(index) {
    const panel = q(document, 'notebook_panel');
    return panel ? qa(panel, 'cell')[index] || null : null;
  }

  // Watch one cell's prompt from now on: any change ([*], a new number) means the cell started.
  function watchCell(index) {
    const cell = cellNode(index);
    W.__sentinelJupyterWatch = { index, started: false };
    if (!cell) return false;
    const watch = W.__sentinelJupyterWatch;
    const prompt = q(cell, 'input_prompt');
    const before = text(prompt);
    const observer = new MutationObserver(() => {
      if (text(prompt) !== before) { watch.started = true; observer.disconnect(); }
    });
    observer.observe(prompt, { subtree: true, childList: true, characterData: true });
    return true;
  }

  function cellStarted(index) {
    const watch = W.__sentinelJupyterWatch;
    return !!watch && watch.index === index && watch.started;
  }

  // The page as HTML for a debug bundle, the server's token taken out of the page config.
  function snapshot() {
    const html = document.documentElement.outerHTML;
    return html.replace(/("token"\s*:\s*")[^"]*"/g, '$1..."').replace(/([?&]token=)[^&"'#\s]*/g, '$1...');
  }

  async function fresh() {
    await pollRest();
    return collect();
  }

  function neutralPoint() {
    for (const key of ['neutral']) {
      for (const el of qa(document, key)) {
        const r = el.getBoundingClientRect();
        if (r.width > 4 && r.height > 4) return { x: r.left + r.width / 2, y: r.top + r.height / 2 };
      }
    }
    return null;
  }

  function startObserver() {
    hookSockets();
    if (W.__sentinelJupyterObserver || !cfg.binding || typeof W[cfg.binding] !== 'function') return;
    W.__sentinelJupyterObserver = true;
    const doc = Math.random().toString(36).slice(2);
    let seq = 0;
    let last = '';
    const report = async () => {
      try {
        const facts = collect();
        const key = JSON.stringify(Object.assign({}, facts, { t: 0, rest: Object.assign({}, facts.rest, { at: 0 }) }));
        if (key === last) return;
        last = key;
        seq += 1;
        await W[cfg.binding](Object.assign(facts, { doc, seq }));
      } catch (e) {
        try { await W[cfg.binding]({ error: String(e) }); } catch (e2) { /* page going away */ }
      }
    };
    const start = () => {
      // JupyterLab mutates its DOM often (editors, toolbars): coalesce a burst into one report.
      let pending = null;
      const soon = () => { if (pending === null) pending = setTimeout(() => { pending = null; report(); }, 50); };
      new MutationObserver(soon).observe(document.documentElement, {
        subtree: true, childList: true, attributes: true, characterData: true,
        attributeFilter: ['data-status', 'aria-label', 'class', 'open'],
      });
      setInterval(() => { pollRest().then(report); }, cfg.rest_interval_ms);
      pollRest().then(report);
    };
    if (document.documentElement) start(); else document.addEventListener('DOMContentLoaded', start);
  }

  return { collect, cells, cellStarted, fresh, isJupyter, neutralPoint, snapshot, startObserver, watchCell };
}
