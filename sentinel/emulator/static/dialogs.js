// Colab's dialogs (colab-ui.md 3.1-3.3) in the three component generations selected by ?ui=.
//
// 2022: colab-dialog > paper-dialog, div.content-area > h2, paper-button#ok / #cancel, iron-overlay-backdrop.
// 2023: mwc-dialog[open] with mwc-button[slot=primaryAction][dialogAction=ok] / [slot=secondaryAction].
// 2025: mwc-dialog[open] shells (yes-no-dialog, ...) with md-text-button / md-filled-button
//       [slot][dialogaction]; the Drive and credentials consents are md-dialog with their content in a shadow root.
// next: (drift.js) a native <dialog class="nb-dialog"> opened with showModal(), role/aria-label on it, its whole
//       content (heading, body, actions) in an open shadow root and the plain <button>s in a second one.
// Titles, bodies and button labels are verbatim from the reference; the catalogue below is the only
// place they live.

import { events } from './events.js';

const FAQ_IDLE = 'https://research.google.com/colaboratory/faq.html#idle-timeouts';
const FAQ_LIMITS = 'https://research.google.com/colaboratory/faq.html#usage-limits';

function learnMore(href) {
  return `<a href="${href}" target="_blank" rel="noopener" class="learn-more">Learn more</a>`;
}

const EXTERNAL_TAIL =
  'It may request access to your data stored with Google, or read data and credentials from other sessions. ' +
  'Please review the source code before executing this notebook.';

/**
 * The catalogue: dialog id (the `dialog` field of dialog.* events) -> spec. `buttons` are listed
 * secondary first, primary last, as Colab lays them out; `action` is what the caller receives.
 */
export const CATALOGUE = {
  runtime_disconnected: () => ({
    title: 'Runtime disconnected',
    body: `<p>Your runtime has been disconnected due to inactivity or reaching its maximum duration. ${learnMore(FAQ_IDLE)}</p>`,
    buttons: [
      { label: 'Close', action: 'cancel' },
      { label: 'Reconnect', action: 'ok' },
    ],
    className: 'yes-no-dialog',
  }),
  external_notebook: ({ source }) => ({
    title: 'Warning: This notebook was not authored by Google',
    body:
      source === 'github'
        ? `<p>This notebook is being loaded from <b>GitHub</b>. ${EXTERNAL_TAIL}</p>`
        : `<p>This notebook was authored by an unknown user, not by Google. ${EXTERNAL_TAIL}</p>`,
    buttons: [
      { label: 'Cancel', action: 'cancel' },
      { label: 'Run anyway', action: 'ok' },
    ],
    className: 'yes-no-dialog wide',
    formId: 'external-notebook-authored-dialog',
    alert: true,
    // Colab keeps both buttons disabled for the first second so a reflexive click cannot accept.
    disabledMs: 1000,
  }),
  drive_consent: () => ({
    title: 'Permit this notebook to access your Google Drive files?',
    body:
      '<p>This notebook is requesting access to your Google Drive files. Granting access to Google Drive will permit ' +
      'code executed in the notebook to modify files in your Google Drive. Make sure that you review the notebook ' +
      'code prior to allowing this access.</p>',
    buttons: [
      { label: 'No, thanks', action: 'cancel' },
      { label: 'Connect to Google Drive', action: 'ok', filled: true },
    ],
    className: 'yes-no-dialog',
    shadowIn2025: true,
  }),
  credentials: () => ({
    title: 'Allow this notebook to access your Google credentials?',
    body:
      '<p>This will allow the code executed in this notebook to access your Google Drive and Google Cloud data. ' +
      'Review the code in this notebook prior to allowing access.</p>',
    buttons: [
      { label: 'No, thanks', action: 'cancel' },
      { label: 'Allow', action: 'ok', filled: true },
    ],
    className: 'yes-no-dialog',
    shadowIn2025: true,
  }),
  gpu_limit: () => ({
    title: 'Cannot connect to GPU backend',
    body:
      `<p>You cannot currently connect to a GPU due to usage limits in Colab. ${learnMore(FAQ_LIMITS)}</p>` +
      '<p>To get more access to GPUs, consider purchasing Colab compute units with Pay As You Go.</p>',
    buttons: [
      { label: 'Close', action: 'cancel' },
      { label: 'Connect without GPU', action: 'ok' },
    ],
    className: 'yes-no-dialog',
  }),
  too_many_sessions: () => ({
    title: 'Too many sessions',
    body: '<p>You have too many active sessions. Terminate an existing session to continue.</p>',
    buttons: [
      { label: 'Cancel', action: 'cancel' },
      { label: 'Manage sessions', action: 'ok' },
    ],
    className: 'yes-no-dialog',
  }),
  sign_in_required: () => ({
    title: 'Google sign-in required',
    body: '<p>You must be logged in with a Google account to run code in Colab. Please sign in and try again.</p>',
    buttons: [
      { label: 'Cancel', action: 'cancel' },
      { label: 'Sign in', action: 'ok' },
    ],
    className: 'yes-no-dialog',
  }),
  still_there: () => ({
    title: 'Are you still there?',
    body: '',
    buttons: [{ label: 'Yes', action: 'ok' }],
    className: 'yes-no-dialog',
  }),
  // Not from the reference, on purpose: the stand-in for a dialog a future Colab release adds (fault
  // `unknown_dialog`). No pattern of sentinel's matches it, so the daemon must leave it alone, write
  // a debug bundle and tell a person.
  unknown_dialog: () => ({
    title: 'Something new in Colab',
    body: '<p>This stands for a dialog that no Colab release has shown so far.</p>',
    buttons: [
      { label: 'Not now', action: 'cancel' },
      { label: 'Show me', action: 'ok' },
    ],
    className: 'yes-no-dialog',
  }),
  disconnect_confirm: () => ({
    title: 'Disconnect and delete runtime',
    body: '<p>Are you sure you want to disconnect and delete this runtime? Files and state in the runtime will be lost.</p>',
    buttons: [
      { label: 'Cancel', action: 'cancel' },
      { label: 'OK', action: 'ok' },
    ],
    className: 'yes-no-dialog',
  }),
  change_runtime_confirm: () => ({
    title: 'Change runtime type',
    body: '<p>Changing runtime attributes may terminate your current session. Are you sure you want to continue?</p>',
    buttons: [
      { label: 'Cancel', action: 'cancel' },
      { label: 'OK', action: 'ok' },
    ],
    className: 'yes-no-dialog',
  }),
};

const BASE_Z = 1000;

/** One open dialog: its DOM, its buttons, and a promise of how it closed. */
class OpenDialog {
  constructor(manager, id, spec) {
    this.manager = manager;
    this.id = id;
    this.spec = spec;
    this.nodes = [];
    this.buttons = [];
    this.closed = new Promise((resolve) => {
      this.resolve = resolve;
    });
    this.isClosed = false;
  }

  /** Removes the dialog, logs dialog.closed and settles `closed` with {action, label}. */
  close(action, label, how = 'button') {
    if (this.isClosed) return;
    this.isClosed = true;
    clearTimeout(this.enableTimer);
    for (const node of this.nodes) node.remove();
    this.manager.forget(this);
    events.report('dialog.closed', { dialog: this.id, ui: this.manager.ui, button: label, action, how });
    this.resolve({ action, label });
  }

  setButtonsDisabled(disabled) {
    for (const button of this.buttons) button.toggleAttribute('disabled', disabled);
  }
}

export class DialogManager {
  constructor(ui) {
    this.ui = ui;
    this.open = [];
    document.addEventListener('keydown', (event) => this.onKeydown(event), true);
  }

  /** The open dialog with this id, if any. */
  find(id) {
    return this.open.find((dialog) => dialog.id === id) || null;
  }

  forget(dialog) {
    this.open = this.open.filter((other) => other !== dialog);
  }

  /**
   * Shows catalogue dialog `id` (once: a second request while it is open returns the open one) and
   * resolves with {action, label} when a button, Escape or the scrim closes it.
   */
  show(id, params = {}) {
    const existing = this.find(id);
    if (existing) return existing;
    const spec = CATALOGUE[id](params);
    return this.showSpec(id, spec);
  }

  /**
   * Shows a dialog from a spec: {title, body (HTML string) or content (Node), buttons, className,
   * elementId, formId, alert, disabledMs, shadowIn2025, noEscape}.
   */
  showSpec(id, spec) {
    const dialog = new OpenDialog(this, id, spec);
    const z = BASE_Z + 10 * (this.open.length + 1);
    if (this.ui === '2022') this.buildPaper(dialog, z);
    else if (this.ui === 'next') this.buildNative(dialog);
    else if (this.ui === '2025' && spec.shadowIn2025) this.buildMdDialog(dialog, z);
    else this.buildMwc(dialog, z);
    this.open.push(dialog);
    if (spec.disabledMs) {
      dialog.setButtonsDisabled(true);
      dialog.enableTimer = setTimeout(() => dialog.setButtonsDisabled(false), spec.disabledMs);
    }
    events.report('dialog.shown', {
      dialog: id,
      ui: this.ui,
      title: spec.title,
      element: dialog.nodes[0].tagName.toLowerCase(),
    });
    return dialog;
  }

  bodyNode(spec) {
    const body = document.createElement('div');
    body.className = 'dialog-body';
    if (spec.formId) body.id = spec.formId;
    if (spec.content) body.append(spec.content);
    else body.innerHTML = spec.body || '';
    return body;
  }

  /** 2022: colab-dialog > paper-dialog (div.content-area > h2, div.buttons) + iron-overlay-backdrop. */
  buildPaper(dialog, z) {
    const { spec } = dialog;
    const host = document.createElement('colab-dialog');
    host.setAttribute('open', '');
    host.className = spec.className || '';
    if (spec.elementId) host.id = spec.elementId;
    host.style.setProperty('--dialog-z', String(z));
    const paper = document.createElement('paper-dialog');
    paper.setAttribute('opened', '');
    paper.setAttribute('role', spec.alert ? 'alertdialog' : 'dialog');
    paper.setAttribute('aria-modal', 'true');
    if (spec.title) paper.setAttribute('aria-label', spec.title);
    const area = document.createElement('div');
    area.className = 'content-area';
    if (spec.title) {
      const h2 = document.createElement('h2');
      h2.textContent = spec.title;
      area.append(h2);
    }
    area.append(this.bodyNode(spec));
    const row = document.createElement('div');
    row.className = 'buttons';
    for (const def of spec.buttons) {
      const button = document.createElement('paper-button');
      button.id = def.action === 'ok' ? 'ok' : def.action === 'cancel' ? 'cancel' : def.action;
      if (def.className) button.className = def.className;
      button.textContent = def.label;
      button.dataset.action = def.action;
      row.append(button);
      dialog.buttons.push(button);
    }
    paper.append(area, row);
    host.append(paper);
    const backdrop = document.createElement('iron-overlay-backdrop');
    backdrop.setAttribute('opened', '');
    backdrop.style.setProperty('--backdrop-z', String(z - 1));
    document.body.append(backdrop, host);
    dialog.nodes.push(host, backdrop);
    this.wire(dialog, host);
    backdrop.addEventListener('click', (event) => this.onScrim(dialog, event));
  }

  /** 2023/2025: mwc-dialog[open] shell; buttons are mwc-button (2023) or md-text-button/md-filled-button (2025). */
  buildMwc(dialog, z) {
    const { spec } = dialog;
    const host = document.createElement('mwc-dialog');
    host.setAttribute('open', '');
    host.className = spec.className || '';
    if (spec.elementId) host.id = spec.elementId;
    host.setAttribute('role', spec.alert ? 'alertdialog' : 'dialog');
    host.setAttribute('aria-modal', 'true');
    if (spec.title) {
      host.setAttribute('aria-label', spec.title);
      host.setAttribute('heading', spec.title);
    }
    host.style.setProperty('--dialog-z', String(z));
    if (spec.title) {
      const h2 = document.createElement('h2');
      h2.className = 'mdc-dialog__title';
      h2.textContent = spec.title;
      host.append(h2);
    }
    host.append(this.bodyNode(spec));
    for (const def of spec.buttons) {
      const button = this.materialButton(def);
      button.setAttribute('slot', def.action === 'ok' ? 'primaryAction' : 'secondaryAction');
      button.setAttribute('dialogaction', def.action);
      host.append(button);
      dialog.buttons.push(button);
    }
    document.body.append(host);
    dialog.nodes.push(host);
    this.wire(dialog, host);
    host.addEventListener('scrim-click', (event) => this.onScrim(dialog, event));
  }

  /** 2025 consent dialogs: md-dialog with headline, content and actions inside its open shadow root. */
  buildMdDialog(dialog, z) {
    const { spec } = dialog;
    const host = document.createElement('md-dialog');
    host.setAttribute('open', '');
    host.className = spec.className || '';
    if (spec.elementId) host.id = spec.elementId;
    host.style.setProperty('--dialog-z', String(z));
    const surface = host.surface;
    surface.setAttribute('aria-labelledby', 'headline');
    surface.setAttribute('aria-modal', 'true');
    if (spec.alert) surface.setAttribute('role', 'alertdialog');
    const container = document.createElement('div');
    container.className = 'container';
    const headline = document.createElement('h2');
    headline.className = 'headline';
    headline.id = 'headline';
    headline.textContent = spec.title;
    const form = document.createElement('form');
    form.className = 'content';
    form.id = 'form';
    form.method = 'dialog';
    form.append(this.bodyNode(spec));
    form.addEventListener('submit', (event) => event.preventDefault());
    const actions = document.createElement('div');
    actions.className = 'actions';
    for (const def of spec.buttons) {
      const button = this.materialButton(def);
      // Material 3 dialogs close through the button's value; Colab's code also reads dialogaction.
      button.setAttribute('value', def.action);
      button.setAttribute('dialogaction', def.action);
      actions.append(button);
      dialog.buttons.push(button);
    }
    container.append(headline, form, actions);
    surface.append(container);
    document.body.append(host);
    dialog.nodes.push(host);
    this.wire(dialog, host);
    host.addEventListener('scrim-click', (event) => this.onScrim(dialog, event));
  }

  /** next: native <dialog> + showModal(); content in an open shadow root, plain buttons in a nested one. */
  buildNative(dialog) {
    const { spec } = dialog;
    const host = document.createElement('dialog');
    host.className = `nb-dialog ${spec.className || ''}`.trim();
    if (spec.alert) host.setAttribute('role', 'alertdialog');
    if (spec.title) host.setAttribute('aria-label', spec.title);
    const surface = document.createElement('div');
    surface.className = '_s1';
    const root = surface.attachShadow({ mode: 'open' });
    root.innerHTML = `<link rel="stylesheet" href="/static/colab.css"><style>
      .container { display: flex; flex-direction: column; padding: 24px; gap: 16px; font: 400 14px/20px var(--colab-font); }
      h2 { margin: 0; font: 400 24px/32px var(--colab-font-display); }
      .dialog-body p { margin: 0 0 8px; color: #444746; }
      a { color: #0b57d0; }
    </style><div class="container"></div>`;
    const container = root.querySelector('.container');
    if (spec.title) {
      const h2 = document.createElement('h2');
      h2.textContent = spec.title;
      container.append(h2);
    }
    container.append(this.bodyNode(spec));
    const actions = document.createElement('nb-dialog-actions');
    const inner = actions.attachShadow({ mode: 'open' });
    inner.innerHTML = `<style>
      :host { display: flex; justify-content: flex-end; gap: 8px; }
      button { font: 500 14px/20px var(--colab-font); padding: 10px 12px; border: 0; border-radius: 20px; background: none; color: #0b57d0; cursor: pointer; }
      button.filled { background: #0b57d0; color: #fff; padding: 10px 24px; }
      button:disabled { color: rgba(31, 31, 31, .38); background: none; cursor: default; }
      button:hover:not(:disabled) { background: rgba(11, 87, 208, .08); }
      button.filled:hover:not(:disabled) { background: #0b57d0; box-shadow: 0 1px 3px rgba(0,0,0,.3); }
    </style>`;
    for (const def of spec.buttons) {
      const button = document.createElement('button');
      button.type = 'button';
      button.className = `${def.filled ? 'filled ' : ''}${def.className || ''}`.trim();
      button.textContent = def.label;
      button.dataset.action = def.action;
      inner.append(button);
      dialog.buttons.push(button);
    }
    container.append(actions);
    host.append(surface);
    document.body.append(host);
    dialog.nodes.push(host);
    // Escape is decided by onKeydown (alerts ignore it); the browser's own cancel never closes one.
    host.addEventListener('cancel', (event) => event.preventDefault());
    host.addEventListener('close', () => {
      if (!dialog.isClosed) host.showModal();
    });
    // A click on the ::backdrop targets the <dialog> itself (its content is all inside the surface).
    host.addEventListener('click', (event) => {
      if (event.target === host) this.onScrim(dialog, event);
    });
    host.showModal();
    this.wire(dialog, host);
  }

  materialButton(def) {
    let tag;
    if (this.ui === '2023') tag = 'mwc-button';
    else tag = def.filled ? 'md-filled-button' : 'md-text-button';
    const button = document.createElement(tag);
    if (def.className) button.className = def.className;
    button.textContent = def.label;
    button.dataset.action = def.action;
    return button;
  }

  /** Clicks anywhere in the dialog: a button click closes it with that button's action (unless disabled). */
  wire(dialog, host) {
    // The dialog's own buttons on the event's composed path (hosts, or next's plain buttons).
    const own = (event) => event.composedPath().find((node) => dialog.buttons.includes(node)) || null;
    host.addEventListener('click', (event) => {
      const button = own(event);
      if (!button) return;
      const label = button.textContent.trim();
      const disabled = button.hasAttribute('disabled');
      events.click(`dialog:${dialog.id}:${label}`, event, disabled ? { disabled: true } : {});
      if (disabled) return;
      event.preventDefault();
      dialog.close(button.dataset.action, label);
    });
    host.addEventListener(
      'keydown',
      (event) => {
        if (event.key !== 'Enter' && event.key !== ' ') return;
        const button = own(event);
        if (button) {
          events.keypress(`dialog:${dialog.id}:${button.textContent.trim()}`, event);
        }
      },
      true,
    );
    queueMicrotask(() => {
      const primary = dialog.buttons[dialog.buttons.length - 1];
      if (primary && !primary.hasAttribute('disabled')) primary.focus();
    });
  }

  onScrim(dialog, event) {
    events.click(`dialog:${dialog.id}:scrim`, event);
    if (dialog.spec.scrimCloses) dialog.close('scrim', null, 'scrim');
  }

  onKeydown(event) {
    if (event.key !== 'Escape' || this.open.length === 0) return;
    const top = this.open[this.open.length - 1];
    if (top.spec.alert || top.spec.noEscape) return;
    events.keypress(`dialog:${top.id}:Escape`, event);
    top.close('cancel', null, 'escape');
  }
}

