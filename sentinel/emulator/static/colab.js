// The notebook page's controller: runtime connection state, cell execution, Colab's client-side idle
// timer, keyboard shortcuts, dialogs and the Drive consent flow, and `window.colab.global.notebook`.
// Contract with the server: docs/emulator-protocol.md. Colab facts: ../shared/reference/colab-ui.md.

import './elements.js';
import './connect-button.js';
import { showCaptcha } from './captcha.js';
import { DialogManager } from './dialogs.js';
import { applyNextChrome, NEXT } from './drift.js';
import { events, keyName } from './events.js';
import { showGeminiPanel } from './gemini.js';
import { MenuBar } from './menus.js';
import { CellList } from './notebook.js';
import {
  acceleratorShortName,
  changeRuntimeTypeDialog,
  manageSessionsDialog,
  resourcesView,
  SidePanel,
} from './panels.js';
import { RuntimeSocket } from './socket.js';
import { Toasts } from './toasts.js';

// Resource figures shown by the connected meter and tooltip, as on a free Colab CPU runtime.
const RAM = [1.3, 12.7];
const DISK = [26.9, 107.7];
const CHORD_MS = 3000;
const UNABLE_TO_CONNECT = 'Unable to connect to the runtime.';
const COOKIES_HELP = 'https://research.google.com/colaboratory/faq.html#third-party-cookies';
const TRUSTED_INPUT = ['keydown', 'mousedown', 'click', 'touchstart'];
const UIS = ['2022', '2023', '2025', NEXT];

function readBootstrap() {
  const node = document.getElementById('colab-bootstrap');
  const boot = JSON.parse(node.textContent);
  const params = new URLSearchParams(window.location.search);
  const ui = UIS.includes(boot.ui) ? boot.ui : params.get('ui') || '2025';
  return {
    notebook: boot.notebook,
    title: boot.title || `${boot.notebook}.ipynb`,
    ui: UIS.includes(ui) ? ui : '2025',
    external: boot.external ?? null,
    wsUrl: boot.ws_url || `/api/notebooks/${encodeURIComponent(boot.notebook)}/ws`,
    idleTimeout: Number(boot.idle_timeout) || 5400,
    signedIn: boot.signed_in !== false,
    // Colab's runtime type ('' = CPU, 'GPU,T4', ...). The emulator's notebooks default to a T4, as a
    // training notebook would be (the server's auto-connect and the gpu_limit fault assume a GPU too).
    accelerator: typeof boot.accelerator === 'string' ? boot.accelerator : 'GPU,T4',
    cells: Array.isArray(boot.cells) ? boot.cells : [],
  };
}

class App {
  constructor(boot) {
    this.boot = boot;
    this.ui = boot.ui;
    this.signedIn = boot.signedIn;
    this.idleTimeout = boot.idleTimeout;
    this.accelerator = boot.accelerator;
    // null while no runtime; {id, state: allocating|connecting|connected, gpu, since}.
    this.runtime = null;
    this.socketEverUp = false;
    this.socketUp = false;
    this.wasDisconnected = false;
    this.connectRequested = false;
    this.resendConnect = false;
    this.localQueue = [];
    // Cells whose `execute` is sent but not yet acknowledged by a `cell` message: a `state` sent before
    // the server read the execute must not mark them idle.
    this.awaiting = new Set();
    this.externalAccepted = !boot.external;
    this.externalQueue = [];
    this.idleTimer = null;
    this.idleFiredLocally = false;
    this.pendingIdleDisconnect = false;
    this.restartThenRunAll = false;
    this.chordUntil = 0;
    this.lastRun = null;

    document.documentElement.dataset.ui = this.ui;
    if (this.ui === NEXT) applyNextChrome();
    document.title = `${boot.title} - Colab`;
    this.dialogs = new DialogManager(this.ui);
    this.toasts = new Toasts((action) => this.onToastAction(action));
    this.connectButton = document.querySelector('#top-toolbar > colab-connect-button, nb-runtime-status');
    this.connectButton.controller = this;
    this.statusBar = document.getElementById('status-bar');
    this.sidePanel = new SidePanel(
      document.getElementById('side-panel'),
      document.querySelector('#side-panel .side-panel-title'),
      document.querySelector('#side-panel .side-panel-body'),
    );
    this.cellList = new CellList(document.getElementById('cell-list'), boot.cells, this);
    this.cellList.onChange = () => {
      if (this.sidePanel.current === 'toc') this.showPanel('toc', true);
    };
    if (this.cellList.cells.length > 0) this.cellList.focusCell(this.cellList.cells[0]);
    this.menuBar = new MenuBar(document.getElementById('top-menubar'), (command, event) => this.command(command, event));
    this.wireChrome();
    this.renderAccount();
    this.renderConnection();
    this.installIdleInput();
    document.addEventListener('keydown', (event) => this.onKeydown(event));
    this.installApi();
    // ?gemini=1: the Gemini side panel is open, generating (its "Stop generating" interrupts, #5903);
    // ?gemini=sheet: the same panel as a side sheet (role=dialog) whose reply quotes Colab's prompts.
    const gemini = new URLSearchParams(window.location.search).get('gemini');
    if (gemini !== null) showGeminiPanel(() => this.interrupt(), { sheet: gemini === 'sheet' });

    this.socket = new RuntimeSocket(boot.wsUrl, this.ui, {
      onMessage: (message) => this.onMessage(message),
      onOpen: () => this.onSocketOpen(),
      onDown: (wasUp) => this.onSocketDown(wasUp),
    });
    this.socket.open();
    events.report('page.loaded', { ui: this.ui, external: boot.external, cells: this.cellList.cells.length });
  }

  // ------------------------------------------------------------------ connection state

  /** Connected to a runtime right now: the server says so and the socket to it is up. */
  get connected() {
    return Boolean(this.socketUp && this.runtime && this.runtime.state === 'connected');
  }

  /** Colab's kernel.getState(): "connected", "allocating" (any step of connecting), else "connect". */
  kernelState() {
    if (this.connected) return 'connected';
    if (!this.socketUp) return 'connect';
    if (this.runtime || this.connectRequested) return 'allocating';
    return 'connect';
  }

  connectionStatus() {
    const base = { ui: this.ui, ram: RAM, disk: DISK, gpu: Boolean(this.runtime?.gpu), since: this.runtime?.since };
    const short = acceleratorShortName(this.accelerator);
    if (this.socketEverUp && !this.socketUp) return { ...base, mode: 'reconnect', label: 'Reconnect' };
    if (this.connected) return { ...base, mode: 'connected' };
    // The 2022-era button read "Allocating" while a VM was assigned (gs_framework); later ones "Connecting".
    if (this.runtime?.state === 'allocating' && this.ui === '2022') return { ...base, mode: 'allocating', label: 'Allocating' };
    if (this.runtime || this.connectRequested) return { ...base, mode: 'connecting', label: 'Connecting' };
    if (this.wasDisconnected) return { ...base, mode: 'reconnect', label: 'Reconnect' };
    return { ...base, mode: 'connect', label: short ? `Connect ${short}` : 'Connect' };
  }

  renderConnection() {
    const status = this.connectionStatus();
    this.connectButton.render(status);
    document.body.dataset.kernelState = this.kernelState();
    if (status.mode === 'allocating' || (status.mode === 'connecting' && this.runtime?.state === 'allocating')) {
      this.setStatus('Allocating runtime');
    } else if (status.mode === 'connecting') this.setStatus('Connecting to a runtime');
    else if (!this.anyBusy()) this.setStatus(this.lastRun ? this.lastRun : '');
    if (this.sidePanel.current === 'resources') this.showPanel('resources', true);
  }

  setStatus(text) {
    this.statusBar.textContent = text;
  }

  /** "Executing (12s) Cell 3" in the status bar, ticking while the cell runs. */
  showExecuting(cell) {
    clearInterval(this.executingTimer);
    const tick = () => {
      if (cell.state !== 'running') {
        clearInterval(this.executingTimer);
        return;
      }
      const seconds = Math.floor((Date.now() - cell.runStartedAt) / 1000);
      const index = this.cellList.cells.indexOf(cell) + 1;
      this.setStatus(`Executing (${seconds}s) Cell ${index}`);
    };
    tick();
    this.executingTimer = setInterval(tick, 1000);
  }

  /** Asks the server for a runtime ("Connect", "Reconnect", or a run while disconnected). */
  connect(gpu = this.accelerator.startsWith('GPU')) {
    if (this.connected || this.connectRequested || this.runtime) return;
    this.connectRequested = true;
    this.gpuRequested = gpu;
    if (!this.socket.send({ type: 'connect', gpu })) {
      this.resendConnect = true;
      this.socket.retryNow();
    }
    this.renderConnection();
  }

  connectClicked() {
    const { mode } = this.connectionStatus();
    if (mode === 'connected') {
      // As on Colab: the connected button opens the resources view; it never reconnects.
      this.showPanel('resources');
      return;
    }
    if (mode === 'connecting' || mode === 'allocating') return;
    if (!this.socketUp) {
      // No socket (an outage, or the page is still opening it): ask again as soon as it is up; the
      // `state` that follows says whether the runtime is still there.
      if (this.socketEverUp) {
        this.toasts.show(UNABLE_TO_CONNECT, { action: 'Learn more', href: COOKIES_HELP, timeoutMs: 10000 });
      }
      this.connectRequested = true;
      this.resendConnect = true;
      this.socket.retryNow();
      this.renderConnection();
      return;
    }
    this.connect();
  }

  connectMenu(action) {
    if (action === 'connect') this.connectClicked();
    else if (action === 'change-runtime-type') this.changeRuntimeType();
    else if (action === 'view-resources') this.showPanel('resources');
    else if (action === 'manage-sessions') this.manageSessions();
    else if (action === 'disconnect') this.confirmDisconnect();
  }

  async confirmDisconnect() {
    const { action } = await this.dialogs.show('disconnect_confirm').closed;
    if (action === 'ok') this.disconnect('user');
  }

  disconnect(reason) {
    if (!this.runtime && !this.connectRequested) return;
    this.socket.send({ type: 'disconnect', reason });
  }

  async changeRuntimeType() {
    const chosen = await changeRuntimeTypeDialog(this.dialogs, this.accelerator);
    if (chosen === null || chosen === this.accelerator) return;
    if (this.runtime) {
      const { action } = await this.dialogs.show('change_runtime_confirm').closed;
      if (action !== 'ok') return;
      this.accelerator = chosen;
      this.reconnectAfterDisconnect = true;
      this.disconnect('user');
    } else this.accelerator = chosen;
    this.renderConnection();
  }

  async manageSessions() {
    const session = this.runtime
      ? {
          title: this.boot.title,
          info: `Python 3 · ${this.runtime.gpu ? 'GPU' : 'CPU'} · ${this.connected ? 'Connected' : 'Connecting'}`,
        }
      : null;
    const result = await manageSessionsDialog(this.dialogs, session);
    if (result === 'terminate') this.disconnect('user');
  }

  // ------------------------------------------------------------------ socket messages

  onSocketOpen() {
    this.socketUp = true;
    // The `state` message that follows every open says what the runtime did meanwhile.
    this.resyncing = true;
    this.socketEverUp = true;
    if (this.pendingIdleDisconnect) {
      this.pendingIdleDisconnect = false;
      this.socket.send({ type: 'disconnect', reason: 'idle' });
    }
    this.renderConnection();
  }

  onSocketDown(wasUp) {
    this.socketUp = false;
    if (wasUp) {
      this.toasts.show(UNABLE_TO_CONNECT, { action: 'Learn more', href: COOKIES_HELP, timeoutMs: 10000 });
      // Until the server says otherwise the runtime is unknown; a running cell may still be running.
      this.resendConnect = this.connectRequested;
    }
    clearTimeout(this.idleTimer);
    this.renderConnection();
  }

  onMessage(message) {
    switch (message.type) {
      case 'state':
        this.onState(message);
        break;
      case 'runtime':
        this.onRuntime(message);
        break;
      case 'connect_failed':
        this.onConnectFailed(message.dialog);
        break;
      case 'cell':
        this.onCell(message);
        break;
      case 'output':
        this.onOutput(message);
        break;
      case 'clear_output':
        this.cellList.byId(message.cell_id)?.clearOutput();
        break;
      case 'show':
        this.onShow(message.what, message);
        break;
      case 'toast':
        this.toasts.show(message.message, { action: message.action || null, timeoutMs: message.timeout_ms ?? -1 });
        break;
      case 'drive_request':
        this.driveFlow(message.request, message.kind === 'credentials' ? 'credentials' : 'drive_consent');
        break;
      default:
        break;
    }
  }

  onState(message) {
    if (typeof message.signed_in === 'boolean' && message.signed_in !== this.signedIn) {
      this.signedIn = message.signed_in;
      this.renderAccount();
    }
    if (Number(message.idle_timeout) > 0) this.idleTimeout = Number(message.idle_timeout);
    const wasConnected = this.connected;
    const previousId = this.runtime?.id;
    const runtime = message.runtime && message.runtime.state !== 'disconnected' ? message.runtime : null;
    if (runtime) {
      this.resendConnect = false;
      const since = runtime.id === previousId ? this.runtime?.since : Date.now();
      this.runtime = { id: runtime.id, state: runtime.state, gpu: Boolean(runtime.gpu), since };
    } else this.runtime = null;
    if (Array.isArray(message.cells)) this.syncCells(message.cells);
    else if (!runtime) this.syncCells([]);
    if (this.connected) {
      this.connectRequested = false;
      this.resendConnect = false;
      if (!wasConnected || previousId !== runtime.id || this.resyncing) this.onConnected();
    } else if (!runtime && this.resendConnect) {
      this.resendConnect = false;
      this.connectRequested = false;
      this.connect(this.gpuRequested);
    } else if (!runtime && wasConnected) {
      this.wasDisconnected = true;
    }
    this.resyncing = false;
    this.renderConnection();
  }

  /** Makes cell states match the server's list of busy cells; cells not listed are idle. */
  syncCells(busy) {
    const byId = new Map(busy.map((entry) => [entry.cell_id, entry]));
    for (const cell of this.cellList.codeCells) {
      const entry = byId.get(cell.id);
      if (entry) cell.setState(entry.state, entry.execution_count ?? null);
      else if (cell.state !== 'idle' && !this.localQueue.includes(cell) && !this.awaiting.has(cell)) {
        cell.setState('idle');
      }
    }
  }

  onRuntime(message) {
    const { state, id, reason } = message;
    if (state === 'allocating' || state === 'connecting') {
      this.runtime = { id, state, gpu: Boolean(message.gpu ?? this.gpuRequested), since: null };
      this.renderConnection();
      return;
    }
    if (state === 'connected') {
      const fresh = this.runtime?.id !== id || !this.connected;
      this.runtime = { id, state, gpu: Boolean(message.gpu ?? this.runtime?.gpu ?? this.gpuRequested), since: Date.now() };
      this.connectRequested = false;
      if (fresh) this.onConnected();
      else if (reason === 'restart') this.onRestarted();
      this.renderConnection();
      return;
    }
    if (state !== 'disconnected') return;
    this.runtime = null;
    this.connectRequested = false;
    this.wasDisconnected = true;
    clearTimeout(this.idleTimer);
    this.awaiting.clear();
    for (const cell of this.cellList.codeCells) {
      if (cell.state !== 'idle' && !(reason === 'restart' && this.localQueue.includes(cell))) cell.setState('idle');
    }
    if (reason !== 'restart') this.localQueue = [];
    if (reason === 'idle' && this.idleFiredLocally) {
      // The page itself fired the idle timer and already shows "Runtime disconnected".
      this.idleFiredLocally = false;
    } else if (reason === 'idle' || reason === 'max_lifetime') {
      this.showRuntimeDisconnected();
    }
    if (reason === 'user' && this.reconnectAfterDisconnect) {
      this.reconnectAfterDisconnect = false;
      this.renderConnection();
      this.connect();
      return;
    }
    this.renderConnection();
  }

  onConnected() {
    this.wasDisconnected = false;
    const queued = this.localQueue;
    this.localQueue = [];
    for (const cell of queued) this.sendExecute(cell);
    this.resetIdle();
    if (this.restartThenRunAll) {
      this.restartThenRunAll = false;
      this.runAll();
    }
  }

  /** "Restart session" finished: same runtime, fresh Python process. */
  onRestarted() {
    this.resetIdle();
    if (this.restartThenRunAll) {
      this.restartThenRunAll = false;
      this.runAll();
    }
  }

  async showRuntimeDisconnected() {
    const { action } = await this.dialogs.show('runtime_disconnected').closed;
    if (action === 'ok') this.connect();
  }

  async onConnectFailed(dialog) {
    this.connectRequested = false;
    this.runtime = null;
    this.renderConnection();
    const dropQueue = () => {
      for (const cell of this.localQueue) cell.setState('idle');
      this.localQueue = [];
    };
    if (dialog === 'gpu_limit') {
      const { action } = await this.dialogs.show('gpu_limit').closed;
      if (action === 'ok') this.connect(false);
      else dropQueue();
    } else if (dialog === 'too_many_sessions') {
      dropQueue();
      const { action } = await this.dialogs.show('too_many_sessions').closed;
      if (action === 'ok') this.manageSessions();
    } else if (dialog === 'signed_out') {
      dropQueue();
      this.showSignInRequired();
    }
  }

  onCell(message) {
    const cell = this.cellList.byId(message.cell_id);
    if (!cell || cell.type !== 'code') return;
    const before = cell.state;
    this.localQueue = this.localQueue.filter((queued) => queued !== cell);
    this.awaiting.delete(cell);
    cell.setState(message.state, message.execution_count, message.error);
    if (message.state === 'running') {
      cell.runStartedAt = Date.now();
      this.showExecuting(cell);
    }
    if (message.state === 'idle' && before !== 'idle') {
      if (before === 'running') {
        const seconds = Math.round((Date.now() - (cell.runStartedAt || Date.now())) / 1000);
        const at = new Date().toLocaleTimeString([], { hour: 'numeric', minute: '2-digit' });
        this.lastRun = `${message.error ? '✕' : '✓'} ${seconds}s completed at ${at}`;
      }
      if (!this.anyBusy()) this.setStatus(this.lastRun || '');
      // Colab restarts its idle timer whenever a cell completes.
      this.resetIdle();
    }
  }

  onOutput(message) {
    const cell = this.cellList.byId(message.cell_id);
    if (!cell || cell.type !== 'code') return;
    if (typeof message.html === 'string') cell.outputArea.appendHtml(message.html);
    else if (typeof message.plain === 'string') cell.outputArea.appendPlain(message.plain);
    else if (typeof message.text === 'string') cell.outputArea.appendStream(message.stream === 'stderr' ? 'stderr' : 'stdout', message.text);
    cell.refresh();
  }

  onShow(what, message = {}) {
    if (what === 'captcha') showCaptcha(this.ui, { iframeDelay: message.iframe_delay ?? null });
    else if (what === 'still_there') this.dialogs.show('still_there');
    else if (what === 'unknown_dialog') this.dialogs.show('unknown_dialog');
    else if (what === 'sign_in_required') {
      // The server refused the executions it was sent; nothing of them will run.
      for (const cell of this.awaiting) cell.setState('idle');
      this.awaiting.clear();
      this.showSignInRequired();
    }
  }

  async showSignInRequired() {
    const { action } = await this.dialogs.show('sign_in_required').closed;
    if (action === 'ok') this.signInClicked();
  }

  // ------------------------------------------------------------------ execution

  anyBusy() {
    return this.cellList.codeCells.some((cell) => cell.state !== 'idle');
  }

  /** Runs `cells` in order as Colab does: external-notebook warning first, then a runtime, then execute. */
  execute(cells) {
    const runnable = cells.filter((cell) => cell.type === 'code' && cell.state === 'idle');
    if (runnable.length === 0) return;
    if (!this.signedIn) {
      this.showSignInRequired();
      return;
    }
    if (!this.externalAccepted) {
      for (const cell of runnable) if (!this.externalQueue.includes(cell)) this.externalQueue.push(cell);
      this.askExternal();
      return;
    }
    for (const cell of runnable) {
      cell.clearOutput();
      cell.setState('pending', undefined, false);
    }
    if (this.connected && this.socketUp) {
      for (const cell of runnable) this.sendExecute(cell);
    } else {
      this.localQueue.push(...runnable);
      if (!this.runtime) this.connect();
    }
  }

  sendExecute(cell) {
    if (this.socket.send({ type: 'execute', cell_id: cell.id, code: cell.getText() })) this.awaiting.add(cell);
    else this.localQueue.push(cell);
  }

  async askExternal() {
    const { action } = await this.dialogs.show('external_notebook', { source: this.boot.external }).closed;
    const queued = this.externalQueue;
    this.externalQueue = [];
    if (action !== 'ok') return;
    this.externalAccepted = true;
    this.execute(queued);
  }

  toggleRun(cell) {
    if (cell.state === 'running') this.interrupt();
    else if (cell.state === 'pending') this.cancel(cell);
    else this.execute([cell]);
  }

  interrupt() {
    this.socket.send({ type: 'interrupt' });
  }

  cancel(cell) {
    if (this.localQueue.includes(cell)) {
      this.localQueue = this.localQueue.filter((queued) => queued !== cell);
      cell.setState('idle');
      return;
    }
    this.socket.send({ type: 'cancel', cell_id: cell.id });
  }

  runAll() {
    this.execute(this.cellList.codeCells);
  }

  runBefore() {
    const focused = this.cellList.focused;
    const index = focused ? this.cellList.cells.indexOf(focused) : 0;
    this.execute(this.cellList.cells.slice(0, Math.max(0, index)));
  }

  runAfter() {
    const focused = this.cellList.focused;
    const index = focused ? this.cellList.cells.indexOf(focused) : 0;
    this.execute(this.cellList.cells.slice(Math.max(0, index)));
  }

  runFocused(advance, insert = false) {
    const cell = this.cellList.focused;
    if (!cell) return;
    if (cell.type === 'code') this.execute([cell]);
    else cell.manualExecute();
    if (insert) {
      this.cellList.insertCell('code', cell);
    } else if (advance) {
      // Shift+Enter moves to the next cell, adding one after the last as Colab does.
      const next = this.cellList.next(cell);
      if (next) {
        this.cellList.focusCell(next);
        if (next.type === 'code') next.focusEditor();
        next.element.scrollIntoView({ block: 'nearest' });
      } else this.cellList.insertCell('code', cell);
    }
  }

  restart(thenRunAll = false) {
    if (!this.runtime) {
      if (thenRunAll) this.runAll();
      return;
    }
    for (const cell of this.localQueue) cell.setState('idle');
    this.localQueue = [];
    this.restartThenRunAll = thenRunAll;
    this.socket.send({ type: 'restart' });
  }

  clearAllOutputs() {
    for (const cell of this.cellList.codeCells) cell.clearOutput();
  }

  cellEdited() {
    if (this.sidePanel.current === 'toc') this.showPanel('toc', true);
  }

  // ------------------------------------------------------------------ idle timer (colab-ui.md 7)

  /** Restarts setTimeout(idle_timeout); only while a runtime is connected. */
  resetIdle() {
    clearTimeout(this.idleTimer);
    this.idleTimer = null;
    if (!this.connected) return;
    this.idleTimer = setTimeout(() => this.idleFired(), this.idleTimeout * 1000);
  }

  idleFired() {
    this.idleTimer = null;
    if (!this.connected) return;
    if (this.anyBusy()) {
      // A running cell keeps the runtime; the cell's completion restarts the timer.
      events.report('idle.suppressed', { idle_timeout: this.idleTimeout });
      return;
    }
    events.report('idle.fired', { idle_timeout: this.idleTimeout, runtime_id: this.runtime.id });
    this.idleFiredLocally = true;
    if (!this.socket.send({ type: 'disconnect', reason: 'idle' })) this.pendingIdleDisconnect = true;
    this.runtime = null;
    this.wasDisconnected = true;
    this.renderConnection();
    this.showRuntimeDisconnected();
  }

  installIdleInput() {
    // Only trusted input is user interaction: element.click() or dispatchEvent from page scripts is not.
    for (const type of TRUSTED_INPUT) {
      window.addEventListener(
        type,
        (event) => {
          if (!event.isTrusted || !this.connected) return;
          events.userInput(event);
          this.resetIdle();
        },
        { capture: true, passive: true },
      );
    }
  }

  // ------------------------------------------------------------------ keyboard

  onKeydown(event) {
    const ctrl = event.ctrlKey || event.metaKey;
    const key = event.key;
    const handle = (run) => {
      event.preventDefault();
      event.stopPropagation();
      events.keypress(`key:${keyName(event)}`, event);
      run();
    };
    if (this.chordUntil > Date.now() && !['Control', 'Meta', 'Shift', 'Alt'].includes(key)) {
      this.chordUntil = 0;
      const chord = { '.': () => this.restart(), i: () => this.interrupt(), I: () => this.interrupt() };
      chord.b = () => this.cellList.insertCell('code', this.cellList.focused);
      chord.a = () => this.cellList.insertCell('code', this.cellList.focused, true);
      chord.m = () => this.cellList.insertCell('text', this.cellList.focused);
      if (chord[key]) handle(chord[key]);
      return;
    }
    if (ctrl && (key === 'm' || key === 'M') && !event.shiftKey && !event.altKey) {
      handle(() => {
        this.chordUntil = Date.now() + CHORD_MS;
      });
    } else if (key === 'Enter' && ctrl && !event.shiftKey && !event.altKey) handle(() => this.runFocused(false));
    else if (key === 'Enter' && event.shiftKey && !ctrl && !event.altKey) handle(() => this.runFocused(true));
    else if (key === 'Enter' && event.altKey && !ctrl && !event.shiftKey) handle(() => this.runFocused(false, true));
    else if (key === 'F9' && ctrl) handle(() => this.runAll());
    else if (key === 'F8' && ctrl) handle(() => this.runBefore());
    else if (key === 'F10' && ctrl) handle(() => this.runAfter());
    else if ((key === 's' || key === 'S') && ctrl && !event.shiftKey) handle(() => this.setStatus('All changes saved'));
    else if (key === 'Escape' && document.activeElement?.classList.contains('inputarea')) document.activeElement.blur();
  }

  // ------------------------------------------------------------------ menus, chrome, account

  command(command) {
    const actions = {
      runall: () => this.runAll(),
      'run-before': () => this.runBefore(),
      'run-after': () => this.runAfter(),
      'run-cell': () => this.runFocused(false),
      interrupt: () => this.interrupt(),
      restart: () => this.restart(),
      'restart-and-run-all': () => this.restart(true),
      'powerwash-current-vm': () => this.confirmDisconnect(),
      'change-runtime-type': () => this.changeRuntimeType(),
      'manage-sessions': () => this.manageSessions(),
      'view-runtime-logs': () => this.showPanel('logs'),
      'view-resources': () => this.showPanel('resources'),
      'toggle-toc': () => this.showPanel('toc'),
      'clear-all-outputs': () => this.clearAllOutputs(),
      'insert-cell-below': () => this.cellList.insertCell('code', this.cellList.focused),
      'insert-text-cell': () => this.cellList.insertCell('text', this.cellList.focused),
      save: () => this.setStatus('All changes saved'),
    };
    actions[command]?.();
  }

  wireChrome() {
    for (const button of document.querySelectorAll('#top-toolbar colab-toolbar-button[command], .top-toolbar button[data-command]')) {
      button.addEventListener('click', (event) => {
        events.click(`toolbar:${button.id || button.dataset.legacyId}`, event);
        this.command(button.getAttribute('command') || button.dataset.command);
      });
    }
    for (const button of document.querySelectorAll('.add-cell')) {
      button.addEventListener('click', () => this.cellList.insertCell(button.dataset.type, this.cellList.cells.at(-1) || null));
    }
    for (const button of document.querySelectorAll('.rail-button')) {
      button.addEventListener('click', () => this.showPanel(button.dataset.panel, false, true));
    }
    document.querySelector('.side-panel-close').addEventListener('click', () => this.sidePanel.hide());
    document.getElementById('share-button').addEventListener('click', (event) => {
      events.click('share', event);
      this.toasts.show('Sharing is not available in the emulator.', { timeoutMs: 4000 });
    });
  }

  showPanel(name, refreshOnly = false, toggle = false) {
    if (refreshOnly && this.sidePanel.current !== name) return;
    const panels = {
      toc: ['Table of contents', () => this.tocView()],
      resources: ['Resources', () => resourcesView(this.connectionStatus())],
      logs: ['Runtime logs', () => this.logsView()],
    };
    const [title, render] = panels[name];
    if (toggle) this.sidePanel.toggle(name, title, render);
    else this.sidePanel.show(name, title, render);
  }

  tocView() {
    const list = document.createElement('div');
    list.className = 'toc';
    for (const cell of this.cellList.cells) {
      if (cell.type !== 'text') continue;
      for (const heading of cell.headings()) {
        const entry = document.createElement('a');
        entry.className = `toc-entry toc-level-${heading.level}`;
        entry.href = `#cell-${cell.id}`;
        entry.textContent = heading.text;
        entry.addEventListener('click', (event) => {
          event.preventDefault();
          this.cellList.focusCell(cell);
          cell.element.scrollIntoView({ block: 'start', behavior: 'smooth' });
        });
        list.append(entry);
      }
    }
    if (!list.childElementCount) list.textContent = 'No headings in this notebook.';
    return list;
  }

  logsView() {
    const view = document.createElement('pre');
    view.className = 'runtime-logs';
    view.textContent = 'Loading…';
    fetch(`/api/notebooks/${encodeURIComponent(this.boot.notebook)}/events`)
      .then((response) => (response.ok ? response.json() : Promise.reject(new Error(String(response.status)))))
      .then((entries) => {
        const lines = entries
          .filter((entry) => /^(runtime|cell|drive|outage|auth)\./.test(entry.kind))
          .slice(-200)
          .map((entry) => {
            const { t, kind, client_t: _clientT, ...fields } = entry;
            const time = new Date(t * 1000).toLocaleTimeString();
            const detail = Object.entries(fields)
              .map(([name, value]) => `${name}=${value}`)
              .join(' ');
            return `${time}  ${kind}  ${detail}`;
          });
        view.textContent = lines.join('\n') || 'No runtime events yet.';
      })
      .catch(() => {
        view.textContent = 'Runtime logs are unavailable right now.';
      });
    return view;
  }

  onToastAction(action) {
    if (action === 'View runtime logs') this.showPanel('logs');
  }

  renderAccount() {
    const slot = document.getElementById('account-slot');
    slot.replaceChildren();
    const link = document.createElement('a');
    if (this.signedIn) {
      link.className = 'account-avatar';
      link.href = 'https://accounts.google.com/SignOutOptions?hl=en&continue=https://colab.research.google.com/';
      link.setAttribute('aria-label', 'Google Account: Test User (user@example.com)');
      link.textContent = 'T';
    } else {
      link.className = 'sign-in-link';
      link.href = 'https://accounts.google.com/ServiceLogin?passive=true&continue=https%3A%2F%2Fcolab.research.google.com%2F';
      link.setAttribute('aria-label', 'Sign in');
      link.textContent = 'Sign in';
    }
    link.addEventListener('click', (event) => {
      // Tests never leave the emulator: the click is logged, the navigation is not taken.
      event.preventDefault();
      if (this.signedIn) events.click('account', event);
      else this.signInClicked(event);
    });
    slot.append(link);
  }

  signInClicked(event = null) {
    events.click('sign-in-link', event);
    this.toasts.show('Sign-in is not available in the emulator.', { timeoutMs: 4000 });
  }

  // ------------------------------------------------------------------ Drive consent (colab-ui.md 5)

  async driveFlow(request, dialogId) {
    const reply = (ok, error = null) => {
      this.socket.send({ type: 'drive_consent', request, ok, error });
    };
    const { action } = await this.dialogs.show(dialogId).closed;
    if (action !== 'ok') {
      reply(false, 'user-declined');
      return;
    }
    const popup = window.open(`/oauth/consent?request=${encodeURIComponent(request)}`, '_blank', 'width=600, height=500');
    if (!popup) {
      reply(false, 'consent-popup-failure');
      return;
    }
    const result = await new Promise((resolve) => {
      let closedSince = 0;
      const onMessage = (event) => {
        if (event.origin !== window.location.origin || event.source !== popup) return;
        const data = event.data || {};
        if (data.request && data.request !== request) return;
        finish({ ok: data.success === true, error: data.success === true ? null : data.errorReason || 'popup-error' });
      };
      const poll = setInterval(() => {
        if (!popup.closed) return;
        // The popup posts before it closes; give that message a moment to arrive.
        if (!closedSince) closedSince = Date.now();
        else if (Date.now() - closedSince > 500) finish({ ok: false, error: 'popup-closed' });
      }, 200);
      const finish = (value) => {
        clearInterval(poll);
        window.removeEventListener('message', onMessage);
        resolve(value);
      };
      window.addEventListener('message', onMessage);
    });
    reply(result.ok, result.error);
  }

  // ------------------------------------------------------------------ window.colab.global.notebook

  installApi() {
    const app = this;
    const kernel = {
      endpoint: {
        get managedId() {
          return app.runtime?.id ?? null;
        },
      },
      get state() {
        return app.kernelState();
      },
      get idleTimeoutInterval() {
        return app.idleTimeout;
      },
      getState: () => app.kernelState(),
      isConnected: () => app.connected,
      isRunning: () => app.anyBusy(),
      interrupt: () => app.interrupt(),
      restart: () => app.restart(),
      disconnect: () => app.disconnect('user'),
    };
    const notebook = {
      cells: this.cellList.cells,
      kernel,
      runAll: () => app.runAll(),
      runBefore: () => app.runBefore(),
      runAfter: () => app.runAfter(),
      clearAllOutputs: () => app.clearAllOutputs(),
      connectToKernel: () => app.connect(),
      getNotebookId: () => app.boot.notebook,
      getFocusedCell: () => app.cellList.focused,
      listNotebookSessions: async () =>
        app.runtime
          ? [{ notebookId: app.boot.notebook, name: app.boot.title, runtimeId: app.runtime.id, state: app.kernelState() }]
          : [],
    };
    const notebookModel = {
      metadata: { colab: { name: this.boot.title } },
      getLastResolvedNotebookJson: () => ({
        nbformat: 4,
        nbformat_minor: 5,
        metadata: { colab: { name: app.boot.title } },
        cells: app.cellList.cells.map((cell) => ({
          id: cell.id,
          cell_type: cell.type === 'code' ? 'code' : 'markdown',
          source: cell.getText(),
          ...(cell.type === 'code' ? { execution_count: cell.executionCount, outputs: [] } : {}),
        })),
      }),
    };
    window.colab = { global: { notebook, notebookModel } };
    window.monaco = {
      editor: {
        getModels: () =>
          app.cellList.codeCells.map((cell) => ({
            uri: { toString: () => cell.editor.uri },
            getValue: () => cell.getText(),
            setValue: (text) => cell.setText(text),
          })),
      },
    };
  }
}

// Module scripts run after the document is parsed, so the page skeleton is there.
new App(readBootstrap());
