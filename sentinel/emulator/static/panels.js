// The side panel (table of contents, files, resources, runtime logs) and the two runtime dialogs with
// their own content: "Change runtime type" (mwc-dialog.change-runtime-type with
// colab-runtime-attributes-selector) and "Manage sessions" (mwc-dialog#sessions-dialog, colab-session rows).

import { escapeHtml } from './elements.js';
import { events } from './events.js';

/** Accelerator values and labels as in Colab's runtime attributes selector (colab-ui.md 2.1). */
export const ACCELERATORS = [
  ['', 'CPU'],
  ['GPU,T4', 'T4 GPU'],
  ['GPU,A100', 'A100 GPU'],
  ['GPU,L4', 'L4 GPU'],
  ['GPU,V100', 'V100 GPU'],
  ['TPU,V5E1', 'v5e-1 TPU'],
];

/** "Connect T4" etc.: the short accelerator name Colab appends to the Connect button. */
export function acceleratorShortName(value) {
  if (!value) return '';
  const [, kind] = value.split(',');
  return kind === 'V5E1' ? 'v5e-1' : kind;
}

class ColabRuntimeAttributesSelector extends HTMLElement {
  constructor() {
    super();
    this.attachShadow({ mode: 'open' }).innerHTML = `<style>
      :host { display: block; }
      .accelerators { display: flex; flex-wrap: wrap; row-gap: 4px; }
    </style>
    <div class="accelerators" role="radiogroup" aria-label="Hardware accelerator">
      ${ACCELERATORS.map(
        ([value, label]) =>
          `<mwc-formfield label="${label}"><mwc-radio name="accelerator" value="${value}"></mwc-radio></mwc-formfield>`,
      ).join('')}
    </div>`;
  }

  get value() {
    return this.shadowRoot.querySelector('mwc-radio[checked]')?.value ?? '';
  }

  set value(value) {
    for (const radio of this.shadowRoot.querySelectorAll('mwc-radio')) {
      radio.toggleAttribute('checked', radio.value === value);
    }
  }
}

if (!customElements.get('colab-runtime-attributes-selector')) {
  customElements.define('colab-runtime-attributes-selector', ColabRuntimeAttributesSelector);
}

/** Opens "Change runtime type"; resolves with the chosen accelerator value, or null when cancelled. */
export async function changeRuntimeTypeDialog(dialogs, current) {
  const content = document.createElement('div');
  content.className = 'runtime-type-form';
  content.innerHTML = `
    <div class="field-label">Runtime type</div>
    <select class="runtime-type-select" aria-label="Runtime type"><option selected>Python 3</option></select>
    <div class="field-label">Hardware accelerator</div>`;
  const selector = document.createElement('colab-runtime-attributes-selector');
  content.append(selector);
  selector.value = current;
  const dialog = dialogs.showSpec('change_runtime_type', {
    title: 'Change runtime type',
    content,
    className: 'change-runtime-type',
    buttons: [
      { label: 'Cancel', action: 'cancel' },
      { label: 'Save', action: 'ok' },
    ],
  });
  const { action } = await dialog.closed;
  return action === 'ok' ? selector.value : null;
}

/**
 * Opens "Manage sessions" listing this notebook's session (the emulator knows no other) and resolves with
 * 'terminate' when the user terminated it, else null.
 */
export async function manageSessionsDialog(dialogs, session) {
  const content = document.createElement('div');
  content.className = 'sessions-list';
  let terminated = false;
  let dialog = null;
  if (session) {
    const row = document.createElement('colab-session');
    row.setAttribute('iscurrentsession', '');
    row.innerHTML = `
      <div class="session-title">${escapeHtml(session.title)}</div>
      <div class="session-info">${escapeHtml(session.info)}</div>`;
    const terminate = document.createElement('md-icon-button');
    terminate.setAttribute('data-aria-label', `Terminate ${session.title}`);
    terminate.setAttribute('title', `Terminate ${session.title}`);
    terminate.innerHTML = '<svg viewBox="0 0 24 24"><path d="M6 19c0 1.1.9 2 2 2h8c1.1 0 2-.9 2-2V7H6v12zM19 4h-3.5l-1-1h-5l-1 1H5v2h14V4z"/></svg>';
    terminate.addEventListener('click', (event) => {
      events.click(`dialog:manage_sessions:Terminate ${session.title}`, event);
      terminated = true;
      dialog.close('terminate', `Terminate ${session.title}`);
    });
    row.append(terminate);
    content.append(row);
  } else {
    content.innerHTML = '<p class="no-sessions">There are no active sessions.</p>';
  }
  dialog = dialogs.showSpec('manage_sessions', {
    title: 'Active sessions',
    content,
    elementId: 'sessions-dialog',
    buttons: [
      { label: 'Terminate other sessions', action: 'terminate-others', className: 'terminate-others' },
      { label: 'Close', action: 'cancel' },
    ],
  });
  await dialog.closed;
  return terminated ? 'terminate' : null;
}

/** The collapsible panel to the right of the left rail. */
export class SidePanel {
  constructor(element, titleElement, bodyElement) {
    this.element = element;
    this.title = titleElement;
    this.body = bodyElement;
    this.current = null;
  }

  /** Shows `name` with `title` and the node built by `render()`; showing the same one again hides it. */
  toggle(name, title, render) {
    if (this.current === name && !this.element.hidden) {
      this.hide();
      return;
    }
    this.show(name, title, render);
  }

  show(name, title, render) {
    this.current = name;
    this.title.textContent = title;
    this.body.replaceChildren(render());
    this.element.hidden = false;
    document.body.classList.add('side-panel-open');
  }

  hide() {
    this.element.hidden = true;
    this.current = null;
    document.body.classList.remove('side-panel-open');
  }
}

/** The Resources view (what a click on the connected RAM/Disk button opens). */
export function resourcesView(status) {
  const view = document.createElement('colab-usage-display');
  const bar = (label, used, total, cls) => `
    <div class="usage-row">
      <div class="usage-label">${label}</div>
      <div class="usage-value">${used.toFixed(1)} / ${total.toFixed(1)} GB</div>
      <div class="usage-bar"><span class="${cls}" style="width:${Math.round((100 * used) / total)}%"></span></div>
    </div>`;
  if (status.mode !== 'connected') {
    view.innerHTML = '<p class="usage-backend">Not connected to a runtime.</p>';
    return view;
  }
  view.innerHTML = `
    <p class="usage-backend">Python 3 Google Compute Engine backend${status.gpu ? ' (GPU)' : ''}</p>
    <p class="usage-since">Showing resources since ${new Date(status.since || Date.now()).toLocaleTimeString()}</p>
    ${bar('System RAM', status.ram[0], status.ram[1], 'ram')}
    ${bar('Disk', status.disk[0], status.disk[1], 'disk')}
    ${status.gpu ? bar('GPU RAM', 0, 15, 'gpu') : ''}`;
  return view;
}
