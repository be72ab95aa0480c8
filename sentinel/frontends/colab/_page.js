// sentinel's in-page helper for Colab: page facts, the change observer, cell lookups, DOM snapshots.
//
// This file is ONE function expression, `(config) => api`. _page.py calls it through
// page.evaluate and page.add_init_script. Colab's CSP has no 'unsafe-eval', so nothing here uses
// eval/Function, and colab.py never uses wait_for_function: it polls with page.evaluate instead.
//
// It only reports raw facts (texts, flags). Python classifies them (_classify.py), so the regular
// expressions live in one place (_selectors.py) and users can override them in TOML.
// `config.css` maps keys to CSS selector lists; "A >>> B" looks B up inside A's shadow root.
// `config.texts` holds the few text patterns the page needs itself (to find controls by meaning).
(config) => {
  "use strict";
  const css = config.css;
  const badSelectors = new Set();
  const texts = {};
  for (const [key, sources] of Object.entries(config.texts || {})) {
    texts[key] = [];
    for (const source of sources) {
      try {
        texts[key].push(new RegExp(source, "i"));
      } catch (error) {
        badSelectors.add(source);
      }
    }
  }
  const textMatches = (key, value) => !!value && (texts[key] || []).some((re) => re.test(value));

  // ---- deep queries (open shadow roots included) ----

  // Every open shadow root under `root`, depth-first.
  function shadowRootsUnder(root) {
    const out = [];
    const stack = [root];
    while (stack.length) {
      const current = stack.pop();
      const walker = document.createTreeWalker(current, NodeFilter.SHOW_ELEMENT);
      for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        if (node.shadowRoot) {
          out.push(node.shadowRoot);
          stack.push(node.shadowRoot);
        }
      }
    }
    return out;
  }

  function queryIn(root, selector) {
    try {
      return Array.from(root.querySelectorAll(selector));
    } catch (error) {
      badSelectors.add(selector);
      return [];
    }
  }

  // Elements matching `selector` in `roots` (a document/shadow root and everything below it).
  function deepQuery(roots, selector) {
    const parts = selector.split(">>>").map((part) => part.trim());
    let found = [];
    for (const root of roots) found.push(...queryIn(root, parts[0]));
    for (const part of parts.slice(1)) {
      const next = [];
      for (const host of found) {
        if (!host.shadowRoot) continue;
        for (const root of [host.shadowRoot, ...shadowRootsUnder(host.shadowRoot)]) next.push(...queryIn(root, part));
      }
      found = next;
    }
    return found;
  }

  function allRoots() {
    return [document, ...shadowRootsUnder(document)];
  }

  // Unique elements for a css key, in selector order.
  function q(key, roots) {
    const seen = new Set();
    const out = [];
    for (const selector of css[key] || []) {
      for (const el of deepQuery(roots, selector)) {
        if (!seen.has(el)) {
          seen.add(el);
          out.push(el);
        }
      }
    }
    return out;
  }

  // The composed parent: crosses shadow boundaries (host) and slots (assigned slot).
  function composedParent(node) {
    if (node.assignedSlot) return node.assignedSlot;
    if (node.parentNode && node.parentNode.nodeType === Node.DOCUMENT_FRAGMENT_NODE && node.parentNode.host) {
      return node.parentNode.host;
    }
    if (node.parentNode && node.parentNode.nodeType === Node.DOCUMENT_FRAGMENT_NODE) return null;
    return node.parentNode;
  }

  function composedAncestors(node) {
    const out = [];
    for (let p = composedParent(node); p && p.nodeType === Node.ELEMENT_NODE; p = composedParent(p)) out.push(p);
    return out;
  }

  function composedMatches(node, selectors) {
    for (let el = node; el; el = composedParent(el)) {
      if (el.nodeType !== Node.ELEMENT_NODE) continue;
      for (const selector of selectors) {
        try {
          if (el.matches(selector)) return true;
        } catch (error) {
          badSelectors.add(selector);
        }
      }
    }
    return false;
  }

  // ---- rendering ----

  function hiddenByStyle(el) {
    const style = getComputedStyle(el);
    return style.display === "none" || style.visibility === "hidden";
  }

  // Whether `el` or something inside it (through shadow roots, up to a bound) draws a box.
  function rendered(el) {
    if (el.hasAttribute("open") || el.hasAttribute("opened")) return !hiddenByStyle(el);
    let budget = 300;
    const stack = [el];
    while (stack.length && budget-- > 0) {
      const node = stack.pop();
      const style = getComputedStyle(node);
      if (style.display === "none") continue;
      const rect = node.getBoundingClientRect();
      if (rect.width > 0 && rect.height > 0 && style.visibility !== "hidden") return true;
      if (node.shadowRoot) stack.push(...node.shadowRoot.children);
      stack.push(...node.children);
    }
    return false;
  }

  // The text a user sees in `node`: the flat tree (shadow content, slotted light children), no hidden parts.
  function deepText(node) {
    const parts = [];
    const visit = (n) => {
      if (n.nodeType === Node.TEXT_NODE) {
        parts.push(n.data);
        return;
      }
      if (n.nodeType === Node.ELEMENT_NODE) {
        const tag = n.localName;
        if (tag === "style" || tag === "script" || tag === "template") return;
        if (tag !== "slot" && getComputedStyle(n).display === "none") return;
        if (tag === "slot") {
          const assigned = n.assignedNodes({ flatten: true });
          if (assigned.length) {
            assigned.forEach(visit);
            return;
          }
        }
        if (n.shadowRoot) {
          n.shadowRoot.childNodes.forEach(visit);
          parts.push(" ");
          return;
        }
        const block = tag === "br" || tag === "div" || tag === "p" || /^h\d$/.test(tag) || tag === "li";
        if (block) parts.push("\n");
        n.childNodes.forEach(visit);
        if (block) parts.push("\n");
        return;
      }
      if (n.nodeType === Node.DOCUMENT_FRAGMENT_NODE) n.childNodes.forEach(visit);
    };
    visit(node);
    return parts.join(" ").replace(/\u00a0/g, " ").replace(/\s+/g, " ").trim();
  }

  // ---- facts ----

  function call(obj, name) {
    try {
      return obj && typeof obj[name] === "function" ? obj[name]() : undefined;
    } catch (error) {
      return undefined;
    }
  }

  function notebookModel() {
    try {
      return (window.colab && window.colab.global && window.colab.global.notebook) || null;
    } catch (error) {
      return null;
    }
  }

  function modelCells() {
    const nb = notebookModel();
    if (!nb) return null;
    try {
      const cells = nb.cells;
      if (!cells || typeof cells.length !== "number") return null;
      return Array.from(cells);
    } catch (error) {
      return null;
    }
  }

  function kernelFacts() {
    const nb = notebookModel();
    if (!nb) return null;
    let kernel;
    try {
      kernel = nb.kernel;
    } catch (error) {
      return null;
    }
    if (!kernel) return null;
    let state = call(kernel, "getState");
    if (typeof state !== "string") state = typeof kernel.state === "string" ? kernel.state : null;
    let managedId = null;
    try {
      const id = kernel.endpoint && kernel.endpoint.managedId;
      if (typeof id === "string" && id) managedId = id;
    } catch (error) {
      managedId = null;
    }
    const connected = call(kernel, "isConnected");
    const running = call(kernel, "isRunning");
    return {
      state,
      connected: typeof connected === "boolean" ? connected : null,
      running: typeof running === "boolean" ? running : null,
      managed_id: managedId,
    };
  }

  function cellFacts(roots) {
    let running = 0;
    let pending = 0;
    const cells = modelCells();
    if (cells) {
      for (const cell of cells) {
        if (call(cell, "isRunning") === true) running += 1;
        else if (call(cell, "isPending") === true) pending += 1;
      }
    }
    return { model: cells !== null, running, pending, dom_busy: q("running_cell", roots).length };
  }

  function outermost(elements) {
    const set = new Set(elements);
    return elements.filter((el) => !composedAncestors(el).some((a) => set.has(a)));
  }

  // The part of a selector that the element itself matches (for el.matches on composed ancestors).
  const lastParts = (keys) => keys.flatMap((key) => (css[key] || []).map((s) => s.split(">>>").pop().trim()));

  // Open dialogs: today's tags (css.dialog) first, then any dialog by meaning (css.dialog_semantic:
  // native <dialog> opened with showModal(), role=dialog/alertdialog, aria-modal), in every open
  // shadow root; the captcha host and what it holds are the captcha's, not dialogs.
  function openDialogs(roots) {
    // (and AI panels': a Gemini side sheet quoting "Are you still there?" is never answered)
    const captchaSelectors = [...(css.captcha || []), ...(css.ai_panel || [])].map((s) => s.split(">>>")[0].trim());
    const found = [...q("dialog", roots), ...q("dialog_semantic", roots)];
    const open = [...new Set(found)].filter((el) => !composedMatches(el, captchaSelectors) && rendered(el));
    return outermost(open);
  }

  function dialogFacts(roots) {
    return openDialogs(roots).map((el) => {
      const label = (el.getAttribute("aria-label") || "").trim();
      const text = deepText(el).slice(0, 2000);
      return { tag: el.localName, role: el.getAttribute("role") || (el.localName === "dialog" ? "dialog" : null), label, text: text || label };
    });
  }

  // ---- the connect control, by selector and by meaning ----

  // What a screen reader announces for `el`: aria-labelledby (same root), aria-label, its text, title.
  function accessibleName(el) {
    const ids = (el.getAttribute("aria-labelledby") || "").split(/\s+/).filter(Boolean);
    const root = el.getRootNode();
    const labelled = ids.map((id) => (root.getElementById ? root.getElementById(id) : null)).filter(Boolean);
    if (labelled.length) return labelled.map(deepText).join(" ").trim();
    const label = (el.getAttribute("aria-label") || "").replace(/\s+/g, " ").trim();
    return label || deepText(el) || (el.getAttribute("title") || "").replace(/\s+/g, " ").trim();
  }

  // The control's tooltip: Colab's `tooltiptext` attribute, else the native `title`.
  function tooltipOf(el) {
    const tip = el.getAttribute("tooltiptext") || el.getAttribute("title") || "";
    return tip.replace(/\s+/g, " ").trim() || null;
  }

  // The first rendered button (css.connect_control) outside dialogs and menus whose accessible name or
  // tooltip reads like the connect control (texts.connect_control), at any shadow depth.
  function connectByMeaning(roots) {
    const outside = [...lastParts(["dialog", "dialog_semantic", "captcha"]), "[role=menu]", "[role=menubar]", "[role=listbox]"];
    for (const el of q("connect_control", roots)) {
      const name = accessibleName(el);
      const tip = tooltipOf(el);
      if (!textMatches("connect_control", name) && !textMatches("connect_control", tip)) continue;
      if (composedMatches(el, outside) || !rendered(el)) continue;
      return { el, name, tip };
    }
    return null;
  }

  // Raw inputs of the connection layers; _classify.connection_votes turns each into a verdict.
  function connectionFacts(roots) {
    const byCss = q("connect_button", roots)[0] || null;
    const semantic = connectByMeaning(roots);
    const button = byCss ? { found: true, text: deepText(byCss) } : { found: false, text: "" };
    const tipOf = (el) => {
      // #connect itself, else the nearest element inside it that carries one (a drifted wrapper).
      const own = tooltipOf(el);
      if (own) return own;
      const inner = deepQuery([el.shadowRoot || el, el], "[tooltiptext], [title]")[0];
      return inner ? tooltipOf(inner) : null;
    };
    return {
      button,
      layers: {
        button_text: button,
        tooltip: byCss ? tipOf(byCss) : semantic ? semantic.tip : null,
        aria: semantic ? { name: semantic.name, text: deepText(semantic.el) } : null,
      },
    };
  }

  function collect() {
    const roots = allRoots();
    const connection = connectionFacts(roots);
    const captchas = q("captcha", roots).filter(rendered);
    return {
      url: location.href,
      t: Date.now() / 1000,
      colab: notebookModel() !== null || q("colab_marker", roots).length > 0,
      connect: connection.button,
      connection_layers: connection.layers,
      kernel: kernelFacts(),
      cells: cellFacts(roots),
      dialogs: dialogFacts(roots),
      captcha: captchas.length ? deepText(captchas[0]).slice(0, 500) || "captcha" : null,
      toasts: q("toast", roots).filter(rendered).map((el) => deepText(el).slice(0, 500)).filter(Boolean),
      sign_in_link: q("sign_in_link", roots).some(rendered),
      account_link: q("account_link", roots).some(rendered),
      bad_selectors: Array.from(badSelectors),
    };
  }

  // ---- cells ----

  function cellElementById(id) {
    return document.getElementById("cell-" + id) || deepQuery(allRoots(), "#" + CSS.escape("cell-" + id))[0] || null;
  }

  function modelCellById(id) {
    const cells = modelCells();
    return cells ? cells.find((cell) => call(cell, "getId") === id) || null : null;
  }

  function isCodeElement(el) {
    return !el || composedMatches(el, css.code_cell || []);
  }

  function elementOfModelCell(cell) {
    const el = call(cell, "getElement");
    if (el && el.nodeType === Node.ELEMENT_NODE) return el;
    try {
      return cell.element_ && cell.element_.nodeType === Node.ELEMENT_NODE ? cell.element_ : null;
    } catch (error) {
      return null;
    }
  }

  function editorText(cellEl) {
    const editor = q("editor_text", [cellEl, ...shadowRootsUnder(cellEl)])[0];
    return editor ? editor.innerText.replace(/\u00a0/g, " ") : "";
  }

  // The first code cell whose source contains `marker`: the JS model first, then the DOM.
  function findCell(marker) {
    const cells = modelCells();
    if (cells) {
      for (const cell of cells) {
        const text = call(cell, "getText");
        const id = call(cell, "getId");
        if (typeof text !== "string" || typeof id !== "string") continue;
        if (text.includes(marker) && isCodeElement(elementOfModelCell(cell))) return { id, via: "model" };
      }
    }
    for (const el of q("code_cell", allRoots())) {
      if (!el.id || !el.id.startsWith("cell-")) continue;
      if (editorText(el).includes(marker)) return { id: el.id.slice("cell-".length), via: "dom" };
    }
    return null;
  }

  // Whether a cell element is marked running/pending itself or through a descendant (its run button).
  function elementBusy(el) {
    for (const selector of css.running_cell || []) {
      try {
        if (el.matches(selector) || el.querySelector(selector)) return true;
      } catch (error) {
        badSelectors.add(selector);
      }
    }
    return false;
  }

  // The id of the first code cell (Run all starts there), or null.
  function firstCodeCell() {
    const cells = modelCells();
    if (cells) {
      for (const cell of cells) {
        const id = call(cell, "getId");
        if (typeof id === "string" && isCodeElement(elementOfModelCell(cell))) return id;
      }
    }
    const el = q("code_cell", allRoots()).find((c) => c.id && c.id.startsWith("cell-"));
    return el ? el.id.slice("cell-".length) : null;
  }

  function cellBusy(id) {
    const cell = modelCellById(id);
    if (cell && (call(cell, "isRunning") === true || call(cell, "isPending") === true)) return true;
    const el = cellElementById(id);
    return !!el && elementBusy(el);
  }

  // Record whether a cell ever shows running/pending (a short cell can start and finish between polls).
  function watchCell(id) {
    const watches = (window.__sentinelCellWatches = window.__sentinelCellWatches || {});
    if (watches[id] && watches[id].observer) watches[id].observer.disconnect();
    const watch = { started: false, observer: null, dialogs: dialogFacts(allRoots()).length };
    const el = cellElementById(id);
    const check = () => {
      if (!watch.started && cellBusy(id)) watch.started = true;
    };
    if (el) {
      watch.observer = new MutationObserver(check);
      watch.observer.observe(el, { attributes: true, subtree: true, childList: true });
    }
    watches[id] = watch;
    return !!el;
  }

  // 'started' (seen running/pending), 'dialog' (a new dialog opened since the watch), or 'idle'.
  function cellStarted(id) {
    const watch = (window.__sentinelCellWatches || {})[id];
    if (!watch) return "idle";
    if (!watch.started && cellBusy(id)) watch.started = true;
    if (watch.started) {
      if (watch.observer) watch.observer.disconnect();
      return "started";
    }
    return dialogFacts(allRoots()).length > watch.dialogs ? "dialog" : "idle";
  }

  function manualExecute(id) {
    const cell = modelCellById(id);
    if (!cell || typeof cell.manualExecute !== "function") return false;
    cell.manualExecute();
    return true;
  }

  function runAllModel() {
    const nb = notebookModel();
    if (!nb || typeof nb.runAll !== "function") return false;
    nb.runAll();
    return true;
  }

  function anyBusy() {
    const facts = cellFacts(allRoots());
    const kernel = kernelFacts();
    return facts.running + facts.pending + facts.dom_busy > 0 || !!(kernel && kernel.running);
  }

  function cellOutput(id) {
    const cell = modelCellById(id);
    if (cell) {
      try {
        const area = cell.outputArea && cell.outputArea.element_;
        if (area && area.nodeType === Node.ELEMENT_NODE) return { found: true, text: area.innerText };
      } catch (error) {
        // fall through to the DOM
      }
    }
    const el = cellElementById(id);
    if (!el) return { found: cell !== null, text: "" };
    const outputs = q("cell_output", [el, ...shadowRootsUnder(el)]);
    return { found: true, text: outermost(outputs).map((o) => o.innerText).join("\n") };
  }

  // ---- keepalive ----

  // A viewport point over nothing interactive (no button, link, editor, menu, dialog), or null.
  function neutralPoint() {
    const avoid = css.keepalive_avoid || [];
    const w = window.innerWidth;
    const h = window.innerHeight;
    const candidates = [
      [0.5, 0.985], [0.985, 0.5], [0.985, 0.985], [0.015, 0.985], [0.5, 0.5], [0.015, 0.5], [0.75, 0.75], [0.25, 0.75],
    ];
    for (const [fx, fy] of candidates) {
      const x = Math.round(w * fx);
      const y = Math.round(h * fy);
      let el = document.elementFromPoint(x, y);
      while (el && el.shadowRoot) {
        const inner = el.shadowRoot.elementFromPoint(x, y);
        if (!inner || inner === el) break;
        el = inner;
      }
      if (!el) continue;
      if (!composedMatches(el, avoid)) return { x, y };
    }
    return null;
  }

  // ---- DOM snapshot with open shadow roots as declarative shadow DOM ----

  function snapshot() {
    const VOID = new Set(["area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"]);
    const RAW = new Set(["script", "style"]);
    const escText = (s) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
    const escAttr = (s) => escText(s).replace(/"/g, "&quot;");
    const out = [];
    let budget = 20 * 1024 * 1024;
    const emit = (s) => {
      budget -= s.length;
      if (budget >= 0) out.push(s);
    };
    const visit = (node, raw) => {
      if (budget < 0) return;
      if (node.nodeType === Node.TEXT_NODE) emit(raw ? node.data : escText(node.data));
      else if (node.nodeType === Node.COMMENT_NODE) emit("<!--" + node.data.replace(/--/g, "- -") + "-->");
      else if (node.nodeType === Node.ELEMENT_NODE) {
        const tag = node.localName;
        let open = "<" + tag;
        const secret = tag === "input" && (node.type || "").toLowerCase() === "password";
        for (const attr of node.attributes) {
          open += " " + attr.name + '="' + escAttr(secret && attr.name === "value" ? "[redacted]" : attr.value) + '"';
        }
        emit(open + ">");
        if (node.shadowRoot) {
          emit('<template shadowrootmode="open">');
          node.shadowRoot.childNodes.forEach((child) => visit(child, false));
          emit("</template>");
        }
        if (VOID.has(tag)) return;
        const content = tag === "template" ? node.content : node;
        content.childNodes.forEach((child) => visit(child, RAW.has(tag)));
        emit("</" + tag + ">");
      } else if (node.nodeType === Node.DOCUMENT_FRAGMENT_NODE) node.childNodes.forEach((child) => visit(child, raw));
    };
    emit("<!DOCTYPE html>\n");
    visit(document.documentElement, false);
    if (budget < 0) out.push("\n<!-- sentinel: snapshot truncated at 20 MiB -->\n");
    return out.join("");
  }

  // ---- the observer ----

  // One MutationObserver on the document plus every open shadow root, coalesced to one report per
  // microtask checkpoint. Microtasks are not throttled in background tabs, unlike timers and
  // animation frames, so a hidden tab still reports a dialog within milliseconds.
  function startObserver() {
    const KEY = "__sentinelColabObserver";
    // The init script runs in every frame (reCAPTCHA's, outputs'): only the top document is the notebook.
    if (window[KEY] || window.top !== window.self) return false;
    // collects/sent: how often the page was examined and how often that was reported (for bench/).
    const state = {
      doc: Math.random().toString(36).slice(2),
      seq: 0,
      last: null,
      scheduled: false,
      observed: new WeakSet(),
      collects: 0,
    };
    window[KEY] = state;
    const ignore = css.ignore_mutations || [];
    const options = {
      subtree: true,
      childList: true,
      characterData: true,
      attributes: true,
      attributeFilter: ["open", "opened", "hidden", "class", "style", "disabled", "aria-hidden", "aria-disabled", "aria-label", "aria-modal", "role", "running", "pending", "href", "title", "tooltiptext"],
    };
    const observer = new MutationObserver((records) => {
      if (state.scheduled) return;
      for (const record of records) {
        // Streaming output and typing do not change anything the daemon watches; skipping them keeps
        // a busy training cell from costing a collect per printed line.
        const target = record.target.nodeType === Node.ELEMENT_NODE ? record.target : record.target.parentNode;
        if (target && target.nodeType === Node.ELEMENT_NODE && composedMatches(target, ignore)) continue;
        schedule(false);
        return;
      }
    });
    const observe = (root) => {
      if (state.observed.has(root)) return;
      state.observed.add(root);
      observer.observe(root, options);
    };
    // The first report of a document is its "loaded" report, whatever triggered it.
    const report = (force) => {
      state.scheduled = false;
      state.collects += 1;
      let facts;
      try {
        facts = collect();
      } catch (error) {
        facts = { error: String(error && error.message ? error.message : error) };
      }
      for (const root of shadowRootsUnder(document)) observe(root);
      const { t, ...stable } = facts;
      const key = JSON.stringify(stable);
      if (!force && key === state.last) return;
      state.last = key;
      state.seq += 1;
      const send = window[config.binding];
      if (typeof send === "function") {
        Promise.resolve(send({ ...facts, doc: state.doc, seq: state.seq, loaded: state.seq === 1 })).catch(() => {});
      }
    };
    const schedule = (force) => {
      if (state.scheduled && !force) return;
      state.scheduled = true;
      queueMicrotask(() => report(force));
    };
    state.report = report;
    observe(document);
    // Shadow roots attached later (custom elements upgrading) are observed as soon as they exist.
    const attachShadow = Element.prototype.attachShadow;
    Element.prototype.attachShadow = function (init) {
      const root = attachShadow.call(this, init);
      if (init && init.mode === "open") {
        observe(root);
        schedule(false);
      }
      return root;
    };
    // A slow in-page fallback for changes no mutation announces (e.g. a JS-only kernel state).
    setInterval(() => schedule(false), config.fallback_interval_ms || 5000);
    // Report once the document is parsed even if nothing mutates after that.
    if (document.readyState === "loading") {
      document.addEventListener("DOMContentLoaded", () => schedule(false), { once: true });
    } else {
      report(true);
    }
    return true;
  }

  // ---- diagnosis (sentinel doctor): read only, never clicks ----

  // For each css key: the elements it matches (each alternative alone too), how many of the first 50
  // draw a box, the first match's visible text; and the facts, from the same moment.
  function probe() {
    const roots = allRoots();
    const selectors = {};
    for (const key of Object.keys(css)) {
      const found = q(key, roots);
      selectors[key] = {
        count: found.length,
        visible: found.slice(0, 50).filter(rendered).length,
        text: found.length ? deepText(found[0]).slice(0, 500) : "",
        alternatives: (css[key] || []).map((selector) => [selector, deepQuery(roots, selector).length]),
      };
    }
    return { selectors, facts: collect() };
  }

  return {
    collect,
    probe,
    startObserver,
    findCell,
    firstCodeCell,
    watchCell,
    cellStarted,
    manualExecute,
    runAllModel,
    anyBusy,
    cellOutput,
    neutralPoint,
    snapshot,
    isColab: () => collect().colab,
  };
};
