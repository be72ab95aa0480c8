// `colab-connect-button` (colab-ui.md 1): open shadow root holding `colab-toolbar-button#connect` (state
// texts, or RAM/Disk meters plus a `tooltiptext` when connected) and a chevron `button[aria-haspopup]`
// whose dropdown offers role=menuitem entries.
//
// `nb-runtime-status` (?ui=next, the emulator's own drift generation): the same control as a person sees
// it (texts, meters, title, dropdown), built to break today's selectors: a wrapper element whose open
// shadow root holds `nb-runtime-chip`, whose own open shadow root holds a plain <button> with a `title`
// and (when connected) an `aria-label`; no `colab-connect-button`, no `#connect`, no `tooltiptext`.

import { events } from './events.js';

const CSS = `
  :host { display: inline-flex; align-items: center; position: relative; font: 500 14px/20px var(--colab-font); }
  .container { display: inline-flex; align-items: center; border-radius: 18px; border: 1px solid transparent; }
  :host([state=connected]) .container { border-color: transparent; }
  #connect { min-width: 88px; justify-content: center; color: #0b57d0; }
  :host([state=connected]) #connect { color: #444746; min-width: 0; }
  .status-icon { width: 18px; height: 18px; }
  .spinner { animation: spin 1s linear infinite; }
  .check { fill: #188038; }
  @keyframes spin { to { transform: rotate(360deg); } }
  .meters { display: inline-grid; grid-template-columns: auto 54px; column-gap: 6px; align-items: center; line-height: 12px; font-size: 11px; }
  .meter-label { color: #444746; text-align: right; }
  .meters.css-labels .meter-label::before { content: attr(data-label); }
  .meter { height: 6px; border-radius: 3px; background: #e3e3e3; overflow: hidden; }
  .meter-fill { display: block; height: 100%; background: #188038; }
  .meter-fill.disk { background: #0b57d0; }
  ._d1 { width: 28px; height: 32px; border: 0; background: none; border-radius: 16px; cursor: pointer; color: #444746;
                      display: inline-flex; align-items: center; justify-content: center; padding: 0; }
  ._d1:hover { background: rgba(68, 71, 70, .08); }
  ._d1 svg { width: 20px; height: 20px; fill: currentColor; }
  .menu { position: fixed; z-index: 900; background: #fff; border-radius: 4px; padding: 8px 0; min-width: 260px;
          box-shadow: 0 2px 6px 2px rgba(60,64,67,.15), 0 1px 2px rgba(60,64,67,.3); }
  .menu[hidden] { display: none; }
  [role=menuitem] { padding: 0 16px; height: 36px; display: flex; align-items: center; cursor: pointer; color: #1f1f1f; font-weight: 400; outline: none; }
  [role=menuitem]:hover, [role=menuitem]:focus { background: #f1f3f4; }
  [role=menuitem][aria-disabled=true] { color: rgba(31,31,31,.38); cursor: default; background: none; }
`;

const SPINNER =
  '<svg slot="icon" class="status-icon spinner" viewBox="0 0 24 24"><circle cx="12" cy="12" r="9" fill="none" stroke="#0b57d0" stroke-width="2.5" stroke-dasharray="40 20"></circle></svg>';
const CHECK =
  '<svg slot="icon" class="status-icon check" viewBox="0 0 24 24"><path d="M9 16.17 4.83 12l-1.42 1.41L9 19 21 7l-1.41-1.41z"></path></svg>';

const MENU_ITEMS = [
  ['connect', 'Connect to a hosted runtime'],
  ['change-runtime-type', 'Change runtime type'],
  ['view-resources', 'View resources'],
  ['manage-sessions', 'Manage sessions'],
  ['disconnect', 'Disconnect and delete runtime'],
];

function gb(value) {
  return value.toFixed(1);
}

const CHIP_CSS = `
  :host { display: inline-flex; }
  button { display: inline-flex; align-items: center; gap: 6px; height: 32px; padding: 0 12px; border: 0; border-radius: 16px;
           background: none; cursor: pointer; font: 500 14px/32px var(--colab-font); color: #0b57d0; white-space: nowrap; }
  button:hover { background: rgba(68, 71, 70, .08); }
  button.on { color: #444746; padding: 0 8px; }
  ${CSS.split('\n').filter((line) => /status-icon|spinner|check|@keyframes|meter/.test(line)).join('\n')}
`;

/** ?ui=next: the chip around the connect control's plain <button> (a second shadow level). */
class NbRuntimeChip extends HTMLElement {
  constructor() {
    super();
    this.attachShadow({ mode: 'open' }).innerHTML = `<style>${CHIP_CSS}</style><button type="button" part="chip"></button>`;
    this.button = this.shadowRoot.querySelector('button');
  }
}

if (!customElements.get('nb-runtime-chip')) customElements.define('nb-runtime-chip', NbRuntimeChip);

export class ColabConnectButton extends HTMLElement {
  constructor() {
    super();
    this.next = this.localName === 'nb-runtime-status';
    const control = this.next
      ? '<nb-runtime-chip class="_c1"></nb-runtime-chip>'
      : '<colab-toolbar-button id="connect" class="connect-button"></colab-toolbar-button>';
    const [dropId, menuId] = this.next ? ['', ''] : [' id="connect-dropdown"', ' id="connect-menu"'];
    this.attachShadow({ mode: 'open' }).innerHTML = `<style>${CSS}</style>
      <div class="container">
        ${control}
        <button${dropId} class="_d1" aria-haspopup="menu" aria-expanded="false" aria-label="Additional connection options"
                title="Additional connection options"><svg viewBox="0 0 24 24"><path d="M7 10l5 5 5-5z"></path></svg></button>
      </div>
      <div class="menu"${menuId} role="menu" hidden>
        ${MENU_ITEMS.map(([action, label]) => `<div role="menuitem" tabindex="-1" data-action="${action}">${label}</div>`).join('')}
      </div>`;
    this.connect = this.next ? this.shadowRoot.querySelector('nb-runtime-chip').button : this.shadowRoot.getElementById('connect');
    this.dropdown = this.shadowRoot.querySelector('button._d1');
    this.menu = this.shadowRoot.querySelector('.menu');
    this.controller = null;
    this.status = null;

    this.connect.addEventListener('click', (event) => {
      events.click('connect', event, { text: this.connect.innerText.trim(), state: this.status?.mode });
      this.controller?.connectClicked(event);
    });
    this.dropdown.addEventListener('click', (event) => {
      events.click('connect-dropdown', event);
      this.toggleMenu();
    });
    this.menu.addEventListener('click', (event) => {
      const item = event.composedPath().find((node) => node instanceof HTMLElement && node.getAttribute('role') === 'menuitem');
      if (!item) return;
      const disabled = item.getAttribute('aria-disabled') === 'true';
      events.click(`connect-menu:${item.textContent.trim()}`, event, disabled ? { disabled: true } : {});
      if (disabled) return;
      this.closeMenu();
      this.controller?.connectMenu(item.dataset.action, event);
    });
    this.menu.addEventListener('keydown', (event) => {
      if (event.key === 'Escape') this.closeMenu();
      if (event.key === 'Enter') event.composedPath()[0].click?.();
    });
    document.addEventListener(
      'mousedown',
      (event) => {
        if (!this.menu.hidden && !event.composedPath().includes(this)) this.closeMenu();
      },
      true,
    );
  }

  toggleMenu() {
    if (this.menu.hidden) {
      const rect = this.dropdown.getBoundingClientRect();
      this.menu.style.top = `${rect.bottom + 4}px`;
      this.menu.style.right = `${Math.max(8, window.innerWidth - rect.right)}px`;
      this.menu.hidden = false;
      this.dropdown.setAttribute('aria-expanded', 'true');
      this.menu.querySelector('[role=menuitem]:not([aria-disabled=true])')?.focus();
    } else this.closeMenu();
  }

  closeMenu() {
    this.menu.hidden = true;
    this.dropdown.setAttribute('aria-expanded', 'false');
  }

  /**
   * Shows a connection status: {mode: connect|reconnect|connecting|allocating|connected, label, ui,
   * gpu, ram: [used, total], disk: [used, total]}.
   */
  render(status) {
    this.status = status;
    this.setAttribute('state', status.mode);
    const { connect } = this;
    const busy = status.mode === 'connecting' || status.mode === 'allocating';
    if (status.mode === 'connected') {
      const [ramUsed, ramTotal] = status.ram;
      const [diskUsed, diskTotal] = status.disk;
      // 2022-era Colab drew the meter labels as text (innerText "RAM\nDisk"); later ones draw them, so
      // innerText is empty while connected.
      const textLabels = status.ui === '2022';
      const label = (name) => (textLabels ? `<span class="meter-label">${name}</span>` : `<span class="meter-label" data-label="${name}"></span>`);
      connect.innerHTML =
        `${CHECK}<div class="meters${textLabels ? '' : ' css-labels'}">` +
        `${label('RAM')}<span class="meter"><span class="meter-fill ram" style="width:${Math.round((100 * ramUsed) / ramTotal)}%"></span></span>` +
        `${label('Disk')}<span class="meter"><span class="meter-fill disk" style="width:${Math.round((100 * diskUsed) / diskTotal)}%"></span></span>` +
        '</div>';
      const lines = [
        `Connected to Python 3 Google Compute Engine backend${status.gpu ? ' (GPU)' : ''}`,
        `RAM: ${gb(ramUsed)}/${gb(ramTotal)} GB`,
        `Disk: ${gb(diskUsed)}/${gb(diskTotal)} GB`,
      ];
      if (status.gpu) lines.push('GPU RAM: 0.0/15.0 GB');
      if (!this.next) connect.setAttribute('tooltiptext', lines.join('\n'));
      connect.setAttribute('title', lines.join('\n'));
      connect.setAttribute('aria-label', lines.join('\n'));
    } else {
      connect.innerHTML = `${busy ? SPINNER : ''}<span class="connect-text">${status.label}</span>`;
      const tip = busy ? 'Connecting to a runtime' : 'Connect to a new runtime';
      if (!this.next) connect.setAttribute('tooltiptext', tip);
      connect.setAttribute('title', tip);
      connect.removeAttribute('aria-label');
    }
    connect.classList.toggle('on', status.mode === 'connected');
    const disconnect = this.menu.querySelector('[data-action=disconnect]');
    disconnect.setAttribute('aria-disabled', status.mode === 'connected' ? 'false' : 'true');
    const connectItem = this.menu.querySelector('[data-action=connect]');
    connectItem.setAttribute('aria-disabled', status.mode === 'connected' || busy ? 'true' : 'false');
  }
}

if (!customElements.get('colab-connect-button')) customElements.define('colab-connect-button', ColabConnectButton);
if (!customElements.get('nb-runtime-status')) customElements.define('nb-runtime-status', class extends ColabConnectButton {});
