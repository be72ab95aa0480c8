// `colab-recaptcha-dialog` (colab-ui.md 3.3): a direct child of body whose open shadow root holds an
// mwc-dialog with the reCAPTCHA anchor (#rc-anchor-container, .recaptcha-checkbox) and an mwc-button whose
// shadow #button dismisses it. Clicking the checkbox solves nothing: it is logged for a human to see.

import { buttonOnPath } from './elements.js';
import { events } from './events.js';

const CSS = `
  .recaptcha-content { padding: 8px 0 0; }
  #rc-anchor-container { width: 300px; height: 74px; box-sizing: border-box; border: 1px solid #d3d3d3; border-radius: 3px;
    background: #f9f9f9; box-shadow: 0 0 4px 1px rgba(0,0,0,.08); display: flex; align-items: center; padding: 0 12px;
    font: 14px Roboto, Helvetica, Arial, sans-serif; color: #000; }
  .recaptcha-checkbox { width: 24px; height: 24px; border: 2px solid #c1c1c1; border-radius: 2px; background: #fff; cursor: pointer; flex: none; }
  .recaptcha-checkbox:hover { border-color: #b2b2b2; box-shadow: inset 0 1px 1px rgba(0,0,0,.1); }
  .recaptcha-checkbox-clicked { border-color: #4a90e2; }
  #recaptcha-anchor-label { margin-left: 12px; flex: 1; cursor: pointer; }
  .rc-anchor-logo { text-align: center; font-size: 10px; color: #555; line-height: 1.2; }
  .rc-anchor-logo b { display: block; font-size: 10px; }
  .rc-anchor-logo svg { width: 32px; height: 32px; }
`;

export class ColabRecaptchaDialog extends HTMLElement {
  constructor() {
    super();
    this.attachShadow({ mode: 'open' }).innerHTML = `<style>${CSS}</style>
      <mwc-dialog open class="recaptcha-dialog" role="dialog" aria-label="reCAPTCHA" style="--dialog-z: 1500">
        <div class="recaptcha-content">
          <div id="rc-anchor-container" class="rc-anchor rc-anchor-normal rc-anchor-light">
            <div class="recaptcha-checkbox recaptcha-checkbox-unchecked" role="checkbox" aria-checked="false" tabindex="0"
                 aria-labelledby="recaptcha-anchor-label" id="recaptcha-anchor"></div>
            <label id="recaptcha-anchor-label">I'm not a robot</label>
            <div class="rc-anchor-logo">
              <svg viewBox="0 0 32 32"><circle cx="16" cy="16" r="12" fill="none" stroke="#1c3aa9" stroke-width="4" stroke-dasharray="50 26"></circle></svg>
              <b>reCAPTCHA</b>Privacy - Terms
            </div>
          </div>
        </div>
        <mwc-button slot="secondaryAction" dialogAction="cancel" label="Cancel"></mwc-button>
      </mwc-dialog>`;
    this.closedHow = null;
    const checkbox = this.shadowRoot.querySelector('.recaptcha-checkbox');
    const onCheckbox = (event) => {
      events.click('captcha:checkbox', event);
      checkbox.classList.add('recaptcha-checkbox-clicked');
    };
    checkbox.addEventListener('click', onCheckbox);
    this.shadowRoot.getElementById('recaptcha-anchor-label').addEventListener('click', onCheckbox);
    const dialog = this.shadowRoot.querySelector('mwc-dialog');
    dialog.addEventListener('click', (event) => {
      const button = buttonOnPath(event);
      if (!button) return;
      events.click('dialog:captcha:Cancel', event);
      this.dismiss('Cancel', 'button');
    });
    // Colab users report that a click anywhere outside the challenge dismisses it (colabtools#2330).
    dialog.addEventListener('scrim-click', (event) => {
      events.click('dialog:captcha:scrim', event);
      this.dismiss(null, 'scrim');
    });
  }

  /** Removes the dialog (and its 2022-era backdrop) and logs dialog.closed. */
  dismiss(label, how) {
    if (!this.isConnected) return;
    this.backdrop?.remove();
    this.remove();
    events.report('dialog.closed', { dialog: 'captcha', ui: this.ui, button: label, action: label ? 'cancel' : 'scrim', how });
  }
}

if (!customElements.get('colab-recaptcha-dialog')) customElements.define('colab-recaptcha-dialog', ColabRecaptchaDialog);

/** Shows the reCAPTCHA dialog unless one is already up. */
export function showCaptcha(ui) {
  if (document.querySelector('body > colab-recaptcha-dialog')) return;
  const element = document.createElement('colab-recaptcha-dialog');
  element.ui = ui;
  if (ui === '2022') {
    // Polymer-era pages put an iron-overlay-backdrop behind it; old userscripts clicked that to dismiss.
    const backdrop = document.createElement('iron-overlay-backdrop');
    backdrop.setAttribute('opened', '');
    backdrop.style.setProperty('--backdrop-z', '1400');
    backdrop.addEventListener('click', (event) => {
      events.click('dialog:captcha:backdrop', event);
      element.dismiss(null, 'backdrop');
    });
    element.backdrop = backdrop;
    document.body.append(backdrop);
  }
  document.body.append(element);
  events.report('dialog.shown', { dialog: 'captcha', ui, element: 'colab-recaptcha-dialog' });
}
