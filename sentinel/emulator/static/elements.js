// Custom elements with the names, shadow roots and attributes of Colab's components (colab-ui.md 1-4).
//
// Each one reproduces what automation touches: the tag name, whether its content lives in an open
// shadow root, the ids inside it (#button, #run-button, #playSymbolMask/#stopSymbolMask), the attributes
// selectors use (slot, dialogaction, disabled) and role semantics, so that Playwright's
// get_by_role("button", name=...) finds every button the way it does on Colab.

const RIPPLE_CSS = `
  button { font: inherit; color: inherit; background: none; border: 0; margin: 0; cursor: pointer; }
  button:disabled { cursor: default; }
`;

function defineOnce(name, cls) {
  if (!customElements.get(name)) customElements.define(name, cls);
}

function escapeHtml(text) {
  return String(text)
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;');
}

/**
 * A Material button: the host carries slot/dialogaction/disabled, an open shadow root holds a native
 * <button id="button"> whose accessible name is the slotted label (Material Web 3 and MWC v2 shape).
 */
class ShadowButton extends HTMLElement {
  static get observedAttributes() {
    return ['disabled', 'label', 'data-aria-label'];
  }

  constructor() {
    super();
    this.attachShadow({ mode: 'open', delegatesFocus: true });
    this.shadowRoot.innerHTML = `<style>${RIPPLE_CSS}${this.constructor.css}</style>${this.template()}`;
    this.button = this.shadowRoot.getElementById('button');
  }

  template() {
    return '<button id="button" class="button" part="button"><slot></slot></button>';
  }

  connectedCallback() {
    this.sync();
  }

  attributeChangedCallback() {
    this.sync();
  }

  get disabled() {
    return this.hasAttribute('disabled');
  }

  set disabled(value) {
    this.toggleAttribute('disabled', Boolean(value));
  }

  /** The visible label (slotted text, or the `label` attribute of mwc-button). */
  get labelText() {
    return (this.getAttribute('label') || this.textContent || '').trim();
  }

  sync() {
    if (!this.button) return;
    this.button.disabled = this.disabled;
    // Playwright reads disabled-ness from the native control; the host mirrors it for CSS selectors.
    if (this.disabled) this.setAttribute('aria-disabled', 'true');
    else this.removeAttribute('aria-disabled');
    const ariaLabel = this.getAttribute('data-aria-label');
    if (ariaLabel) this.button.setAttribute('aria-label', ariaLabel);
  }
}

class MdTextButton extends ShadowButton {
  static css = `
    :host { display: inline-flex; border-radius: 20px; font: 500 14px/20px var(--colab-font); color: var(--md-primary); letter-spacing: .1px; }
    :host([disabled]) { pointer-events: none; color: rgba(31, 31, 31, .38); }
    .button { padding: 10px 12px; border-radius: 20px; min-width: 48px; }
    .button:hover { background: rgba(11, 87, 208, .08); }
    .button:focus-visible { outline: 2px solid var(--md-primary); }
  `;
}

class MdFilledButton extends ShadowButton {
  static css = `
    :host { display: inline-flex; border-radius: 20px; font: 500 14px/20px var(--colab-font); letter-spacing: .1px; }
    :host([disabled]) { pointer-events: none; }
    .button { padding: 10px 24px; border-radius: 20px; background: var(--md-primary); color: #fff; }
    .button:hover { box-shadow: 0 1px 3px rgba(0,0,0,.3); }
    .button:disabled { background: rgba(31, 31, 31, .12); color: rgba(31, 31, 31, .38); }
  `;
}

class MdIconButton extends ShadowButton {
  static css = `
    :host { display: inline-flex; width: 40px; height: 40px; border-radius: 50%; color: #444746; }
    :host([disabled]) { pointer-events: none; opacity: .38; }
    .button { width: 40px; height: 40px; border-radius: 50%; display: flex; align-items: center; justify-content: center; }
    .button:hover { background: rgba(68, 71, 70, .08); }
    ::slotted(svg) { width: 24px; height: 24px; fill: currentColor; }
  `;
}

/** MWC v2 button: the label comes from the `label` attribute or slotted text; shadow `#button`. */
class MwcButton extends ShadowButton {
  static css = `
    :host { display: inline-flex; font: 500 14px/36px var(--colab-font); letter-spacing: 1.25px; text-transform: uppercase; color: #1a73e8; }
    :host([disabled]) { pointer-events: none; color: rgba(0, 0, 0, .38); }
    .mdc-button { padding: 0 8px; min-width: 64px; height: 36px; border-radius: 4px; text-transform: inherit; letter-spacing: inherit; }
    .mdc-button:hover { background: rgba(26, 115, 232, .06); }
  `;

  template() {
    return '<button id="button" class="mdc-button mdc-button--text" part="button"><span class="mdc-button__label" id="label"></span><slot></slot></button>';
  }

  sync() {
    super.sync();
    const label = this.shadowRoot.getElementById('label');
    if (label) label.textContent = this.getAttribute('label') || '';
  }
}

/**
 * Polymer paper-button: no native button inside; the host itself is role=button, focusable, and
 * uppercases its label (so innerText reads "RUN ANYWAY", as the 2022 scripts saw it).
 */
class PaperButton extends HTMLElement {
  static get observedAttributes() {
    return ['disabled'];
  }

  constructor() {
    super();
    this.attachShadow({ mode: 'open' }).innerHTML = `<style>
      :host { display: inline-block; padding: .7em .57em; margin: 0 .29em; min-width: 5.14em; text-align: center;
              text-transform: uppercase; font: 500 14px/20px var(--colab-font); color: #1a73e8; border-radius: 3px;
              cursor: pointer; user-select: none; }
      :host(:hover) { background: rgba(26, 115, 232, .06); }
      :host([disabled]) { pointer-events: none; color: #a8a8a8; cursor: auto; }
      :host(:focus-visible) { outline: 2px solid #1a73e8; }
    </style><slot></slot>`;
    this.addEventListener('keydown', (event) => {
      if ((event.key === 'Enter' || event.key === ' ') && !this.disabled) {
        event.preventDefault();
        this.click();
      }
    });
  }

  connectedCallback() {
    this.setAttribute('role', 'button');
    this.sync();
  }

  attributeChangedCallback() {
    this.sync();
  }

  get disabled() {
    return this.hasAttribute('disabled');
  }

  set disabled(value) {
    this.toggleAttribute('disabled', Boolean(value));
  }

  get labelText() {
    return (this.textContent || '').trim();
  }

  sync() {
    this.setAttribute('tabindex', this.disabled ? '-1' : '0');
    this.setAttribute('aria-disabled', this.disabled ? 'true' : 'false');
  }
}

/** Colab's toolbar button (`#connect`, `#toolbar-add-code`): a focusable role=button host, slotted label. */
class ColabToolbarButton extends HTMLElement {
  constructor() {
    super();
    this.attachShadow({ mode: 'open' }).innerHTML = `<style>
      :host { display: inline-flex; align-items: center; height: 32px; padding: 0 10px; border-radius: 16px;
              cursor: pointer; user-select: none; font: 500 14px/32px var(--colab-font); color: #444746; white-space: nowrap; }
      :host(:hover) { background: rgba(68, 71, 70, .08); }
      :host(:focus-visible) { outline: 2px solid #0b57d0; }
      :host([disabled]) { pointer-events: none; opacity: .5; }
      .content { display: inline-flex; align-items: center; gap: 6px; }
      ::slotted(svg) { width: 18px; height: 18px; fill: currentColor; }
    </style><div class="content"><slot name="icon"></slot><slot></slot></div>`;
    this.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' || event.key === ' ') {
        event.preventDefault();
        this.click();
      }
    });
  }

  connectedCallback() {
    if (!this.hasAttribute('role')) this.setAttribute('role', 'button');
    if (!this.hasAttribute('tabindex')) this.setAttribute('tabindex', '0');
  }
}

/** MWC v2 dialog shell: light-DOM content and slotted action buttons, surface and scrim in the shadow. */
class MwcDialog extends HTMLElement {
  constructor() {
    super();
    this.attachShadow({ mode: 'open' }).innerHTML = `<style>
      :host { position: fixed; inset: 0; z-index: var(--dialog-z, 1000); display: flex; align-items: center; justify-content: center; }
      :host(:not([open])) { display: none; }
      .mdc-dialog__scrim { position: absolute; inset: 0; background: rgba(0, 0, 0, .32); }
      .mdc-dialog__surface { position: relative; z-index: 1; background: var(--dialog-surface, #fff); border-radius: var(--dialog-radius, 28px);
             min-width: 280px; max-width: min(560px, calc(100vw - 48px)); box-shadow: 0 11px 15px -7px rgba(0,0,0,.2), 0 24px 38px 3px rgba(0,0,0,.14);
             padding: 24px 24px 16px; box-sizing: border-box; font: 400 14px/20px var(--colab-font); color: #1f1f1f; }
      :host(.wide) .mdc-dialog__surface { max-width: min(720px, calc(100vw - 48px)); }
      .mdc-dialog__actions { display: flex; justify-content: flex-end; gap: 8px; padding-top: 20px; }
    </style>
    <div class="mdc-dialog mdc-dialog--open">
      <div class="mdc-dialog__scrim" id="scrim"></div>
      <div class="mdc-dialog__surface" part="surface">
        <div class="mdc-dialog__content" id="content"><slot></slot></div>
        <footer class="mdc-dialog__actions" id="actions"><slot name="secondaryAction"></slot><slot name="primaryAction"></slot></footer>
      </div>
    </div>`;
    this.shadowRoot.getElementById('scrim').addEventListener('click', () => {
      this.dispatchEvent(new CustomEvent('scrim-click', { bubbles: true, composed: true }));
    });
  }
}

/** Material 3 dialog whose whole content (headline, body, buttons) lives in its open shadow root. */
class MdDialog extends HTMLElement {
  constructor() {
    super();
    this.attachShadow({ mode: 'open' }).innerHTML = `<style>
      :host { position: fixed; inset: 0; z-index: var(--dialog-z, 1000); display: flex; align-items: center; justify-content: center; }
      :host(:not([open])) { display: none; }
      .scrim { position: absolute; inset: 0; background: rgba(0, 0, 0, .32); }
      dialog { position: relative; z-index: 1; display: block; margin: 0; border: 0; padding: 0; background: #f0f4f9; border-radius: 28px;
               width: min(560px, calc(100vw - 48px)); box-shadow: 0 4px 8px 3px rgba(0,0,0,.15), 0 1px 3px rgba(0,0,0,.3); color: #1f1f1f; }
      .container { display: flex; flex-direction: column; padding: 24px; gap: 16px; font: 400 14px/20px var(--colab-font); }
      .headline { margin: 0; font: 400 24px/32px var(--colab-font-display); color: #1f1f1f; }
      .content p { margin: 0 0 8px; color: #444746; }
      .actions { display: flex; justify-content: flex-end; gap: 8px; }
      a { color: #0b57d0; }
    </style><div class="scrim" id="scrim"></div><dialog open id="dialog" part="dialog"></dialog>`;
    this.surface = this.shadowRoot.getElementById('dialog');
    this.shadowRoot.getElementById('scrim').addEventListener('click', () => {
      this.dispatchEvent(new CustomEvent('scrim-click', { bubbles: true, composed: true }));
    });
  }
}

/** Polymer paper-dialog (inside colab-dialog): light-DOM `div.content-area > h2` and `div.buttons`. */
class PaperDialog extends HTMLElement {
  constructor() {
    super();
    this.attachShadow({ mode: 'open' }).innerHTML = `<style>
      :host { display: block; position: relative; z-index: 1; background: #fff; margin: 24px 40px; padding: 0 0 8px; min-width: 300px;
              max-width: 560px; box-shadow: 0 16px 24px 2px rgba(0,0,0,.14), 0 6px 30px 5px rgba(0,0,0,.12), 0 8px 10px -5px rgba(0,0,0,.4);
              font: 400 14px/20px var(--colab-font); color: #212121; }
      :host(:not([opened])) { display: none; }
    </style><slot></slot>`;
  }
}

class ColabDialog extends HTMLElement {
  constructor() {
    super();
    this.attachShadow({ mode: 'open' }).innerHTML = `<style>
      :host { position: fixed; inset: 0; z-index: var(--dialog-z, 1000); display: flex; align-items: center; justify-content: center; pointer-events: none; }
      :host(:not([open])) { display: none; }
      ::slotted(*) { pointer-events: auto; }
    </style><slot></slot>`;
  }
}

class IronOverlayBackdrop extends HTMLElement {
  constructor() {
    super();
    this.attachShadow({ mode: 'open' }).innerHTML = `<style>
      :host { position: fixed; inset: 0; background: #000; opacity: 0; z-index: var(--backdrop-z, 999); display: none; }
      :host([opened]) { display: block; opacity: .6; }
    </style>`;
  }
}

/** The cell's run button: shadow `#run-button` and an SVG whose mask is #playSymbolMask or #stopSymbolMask. */
class ColabRunButton extends HTMLElement {
  constructor() {
    super();
    this.attachShadow({ mode: 'open' }).innerHTML = `<style>
      :host { display: block; width: 28px; height: 28px; cursor: pointer; }
      .cell-execution { position: relative; width: 28px; height: 28px; }
      #run-button { width: 28px; height: 28px; border-radius: 50%; display: flex; align-items: center; justify-content: center; outline: none; }
      #run-button:focus-visible { box-shadow: 0 0 0 2px #0b57d0; }
      svg { width: 28px; height: 28px; }
      .ring { fill: none; stroke: #0b57d0; stroke-width: 2; stroke-dasharray: 44 20; transform-origin: 12px 12px; display: none; }
      .running .ring { display: block; animation: spin 1s linear infinite; }
      .disc { fill: #444746; }
      .cell-execution:hover .disc, .focused .disc { fill: #1f1f1f; }
      .running .disc { fill: #1f1f1f; }
      .error .disc { fill: #b3261e; }
      .execution-count { position: absolute; inset: 0; display: none; align-items: center; justify-content: center;
                         font: 12px/28px var(--colab-mono); color: #444746; background: var(--cell-gutter-bg, #fff); }
      .has-count:not(:hover):not(.focused):not(.running):not(.pending) .execution-count { display: flex; }
      .pending .disc { fill: #9aa0a6; }
      @keyframes spin { to { transform: rotate(360deg); } }
    </style>
    <div class="cell-execution" id="cell-execution">
      <div id="run-button" role="button" tabindex="0" aria-label="Run cell">
        <svg viewBox="0 0 24 24" aria-hidden="true">
          <defs id="defs"></defs>
          <circle class="disc" cx="12" cy="12" r="10" id="disc"></circle>
          <circle class="ring" cx="12" cy="12" r="11"></circle>
        </svg>
      </div>
      <div class="execution-count" id="execution-count"></div>
    </div>`;
    this.container = this.shadowRoot.getElementById('cell-execution');
    this.runButton = this.shadowRoot.getElementById('run-button');
    this.runButton.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' || event.key === ' ') {
        event.preventDefault();
        event.stopPropagation();
        this.runButton.click();
      }
    });
    this.setState('idle', null, false, false);
  }

  /**
   * Shows the cell's execution state: the mask id flips between playSymbolMask and stopSymbolMask (what
   * extensions check), `div.cell-execution` gets running/animating/error, the title says what a click does.
   */
  setState(state, executionCount, error, focused) {
    const running = state === 'running';
    const mask = running
      ? '<mask id="stopSymbolMask"><rect width="24" height="24" fill="#fff"></rect><rect x="8" y="8" width="8" height="8" fill="#000"></rect></mask>'
      : '<mask id="playSymbolMask"><rect width="24" height="24" fill="#fff"></rect><path d="M9.5 7.5v9l7-4.5z" fill="#000"></path></mask>';
    const defs = this.shadowRoot.getElementById('defs');
    if (defs.firstElementChild?.id !== (running ? 'stopSymbolMask' : 'playSymbolMask')) {
      defs.innerHTML = mask;
      this.shadowRoot.getElementById('disc').setAttribute('mask', `url(#${running ? 'stopSymbolMask' : 'playSymbolMask'})`);
    }
    const classes = this.container.classList;
    classes.toggle('running', running);
    classes.toggle('animating', running);
    classes.toggle('pending', state === 'pending');
    classes.toggle('error', Boolean(error));
    classes.toggle('focused', Boolean(focused));
    classes.toggle('has-count', executionCount !== null && executionCount !== undefined);
    this.toggleAttribute('running', running);
    this.toggleAttribute('pending', state === 'pending');
    this.shadowRoot.getElementById('execution-count').textContent =
      executionCount === null || executionCount === undefined ? '' : `[${executionCount}]`;
    let title;
    if (running) title = 'Interrupt execution (Ctrl+M I)\ncurrently executing...';
    else if (state === 'pending') title = 'Cancel queued execution\ncell is queued for execution';
    else if (executionCount === null || executionCount === undefined) {
      title = 'Run cell (Ctrl+Enter)\ncell has not been executed in this session';
    } else title = `Run cell (Ctrl+Enter)\ncell executed in this session [${executionCount}]`;
    this.runButton.setAttribute('title', title);
    this.runButton.setAttribute('aria-label', running ? 'Interrupt execution' : state === 'pending' ? 'Cancel queued execution' : 'Run cell');
  }
}

/** mwc-radio: shadow native radio; `checked` on the host; one checked per `name` within its root. */
class MwcRadio extends HTMLElement {
  static get observedAttributes() {
    return ['checked'];
  }

  constructor() {
    super();
    this.attachShadow({ mode: 'open' }).innerHTML = `<style>
      :host { display: inline-flex; width: 40px; height: 40px; align-items: center; justify-content: center; }
      input { width: 18px; height: 18px; accent-color: #0b57d0; margin: 0; cursor: pointer; }
    </style><input type="radio" id="radio">`;
    this.input = this.shadowRoot.getElementById('radio');
    this.input.addEventListener('change', () => this.select());
  }

  connectedCallback() {
    this.input.checked = this.checked;
    const label = this.closest('mwc-formfield')?.getAttribute('label');
    if (label) this.input.setAttribute('aria-label', label);
  }

  attributeChangedCallback() {
    if (this.input) this.input.checked = this.checked;
  }

  get checked() {
    return this.hasAttribute('checked');
  }

  get value() {
    return this.getAttribute('value') || '';
  }

  /** Checks this radio and unchecks the others with the same name in the same (shadow) root. */
  select() {
    const name = this.getAttribute('name');
    for (const other of this.getRootNode().querySelectorAll(`mwc-radio[name="${name}"]`)) {
      other.toggleAttribute('checked', other === this);
    }
    this.dispatchEvent(new Event('change', { bubbles: true, composed: true }));
  }
}

/** mwc-formfield: a label next to its slotted control; clicking the label selects the control. */
class MwcFormfield extends HTMLElement {
  constructor() {
    super();
    this.attachShadow({ mode: 'open' }).innerHTML = `<style>
      :host { display: inline-flex; align-items: center; font: 14px/20px var(--colab-font); color: #1f1f1f; margin-right: 16px; }
      label { cursor: pointer; padding-right: 8px; }
    </style><slot></slot><label id="label"></label>`;
    this.shadowRoot.getElementById('label').addEventListener('click', () => {
      this.querySelector('mwc-radio')?.select();
    });
  }

  connectedCallback() {
    this.shadowRoot.getElementById('label').textContent = this.getAttribute('label') || '';
  }
}

defineOnce('md-text-button', MdTextButton);
defineOnce('md-filled-button', MdFilledButton);
defineOnce('md-icon-button', MdIconButton);
defineOnce('mwc-button', MwcButton);
defineOnce('paper-button', PaperButton);
defineOnce('colab-toolbar-button', ColabToolbarButton);
defineOnce('mwc-dialog', MwcDialog);
defineOnce('md-dialog', MdDialog);
defineOnce('paper-dialog', PaperDialog);
defineOnce('colab-dialog', ColabDialog);
defineOnce('iron-overlay-backdrop', IronOverlayBackdrop);
defineOnce('colab-run-button', ColabRunButton);
defineOnce('mwc-radio', MwcRadio);
defineOnce('mwc-formfield', MwcFormfield);

export { escapeHtml };

/** Tags whose host (or shadow `<button>`) is a clickable button inside dialogs. */
export const BUTTON_TAGS = new Set(['MD-TEXT-BUTTON', 'MD-FILLED-BUTTON', 'MD-ICON-BUTTON', 'MWC-BUTTON', 'PAPER-BUTTON']);

/** The first button-like element on an event's composed path (host elements, not their shadow parts). */
export function buttonOnPath(event) {
  for (const node of event.composedPath()) {
    if (node instanceof HTMLElement && BUTTON_TAGS.has(node.tagName)) return node;
  }
  return null;
}
