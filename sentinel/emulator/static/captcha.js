// `colab-recaptcha-dialog` (colab-ui.md 3.3): a direct child of body whose open shadow root holds an
// mwc-dialog with the reCAPTCHA anchor (#rc-anchor-container, .recaptcha-checkbox) and an mwc-button whose
// shadow #button dismisses it. Clicking the checkbox solves nothing: it is logged for a human to see.
//
// Like Google's, the anchor is an iframe that loads after the host appears (`iframeDelay` seconds; the
// host first shows an empty dialog), and the challenge ("bframe") is a second iframe in a hidden
// container appended to body. With `iframeDelay: null` the anchor is drawn in the host's shadow root at
// once (the emulator's first reCAPTCHA).

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

const ANCHOR = `
  <div id="rc-anchor-container" class="rc-anchor rc-anchor-normal rc-anchor-light">
    <div class="recaptcha-checkbox recaptcha-checkbox-unchecked" role="checkbox" aria-checked="false" tabindex="0"
         aria-labelledby="recaptcha-anchor-label" id="recaptcha-anchor"></div>
    <label id="recaptcha-anchor-label">I'm not a robot</label>
    <div class="rc-anchor-logo">
      <svg viewBox="0 0 32 32"><circle cx="16" cy="16" r="12" fill="none" stroke="#1c3aa9" stroke-width="4" stroke-dasharray="50 26"></circle></svg>
      <b>reCAPTCHA</b>Privacy - Terms
    </div>
  </div>`;

// The anchor iframe's document (same origin, so the page can log clicks inside it).
const ANCHOR_DOC = `<!DOCTYPE html><html><head><style>body { margin: 0; } ${CSS}</style></head><body>${ANCHOR}</body></html>`;

export class ColabRecaptchaDialog extends HTMLElement {
  constructor() {
    super();
    this.attachShadow({ mode: 'open' }).innerHTML = `<style>${CSS}</style>
      <mwc-dialog open class="recaptcha-dialog" role="dialog" aria-label="reCAPTCHA" style="--dialog-z: 1500">
        <div class="recaptcha-content" id="rc-widget"></div>
        <mwc-button slot="secondaryAction" dialogAction="cancel" label="Cancel"></mwc-button>
      </mwc-dialog>`;
    this.closedHow = null;
    this.timer = null;
    this.challenge = null;
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

  /** Draws the anchor: in the shadow root now (`iframeDelay` null), else as an iframe that loads later. */
  render(iframeDelay) {
    const widget = this.shadowRoot.getElementById('rc-widget');
    if (iframeDelay === null || iframeDelay === undefined) {
      widget.innerHTML = ANCHOR;
      this.watchCheckbox(this.shadowRoot);
      return;
    }
    this.timer = setTimeout(() => this.loadIframes(widget), Math.max(0, iframeDelay * 1000));
  }

  loadIframes(widget) {
    this.timer = null;
    if (!this.isConnected) return;
    // What grecaptcha.render() inserts: a sized box with the anchor iframe and a hidden response field.
    widget.innerHTML = `<div style="width: 304px; height: 78px;"><div>
        <iframe title="reCAPTCHA" name="a-emulated" width="304" height="78" role="presentation" frameborder="0" scrolling="no"></iframe>
      </div><textarea id="g-recaptcha-response" name="g-recaptcha-response" class="g-recaptcha-response"
        style="width: 250px; height: 40px; margin: 10px 25px; padding: 0; resize: none; display: none;"></textarea></div>`;
    const anchor = widget.querySelector('iframe');
    anchor.addEventListener('load', () => {
      this.watchCheckbox(anchor.contentDocument);
      events.report('captcha.loaded', { frame: 'anchor' });
    }, { once: true });
    anchor.srcdoc = ANCHOR_DOC;
    // ...and the challenge, hidden off-screen in its own container at the end of body until needed.
    const challenge = document.createElement('div');
    challenge.className = 'rc-challenge-container';
    challenge.style.cssText = 'visibility: hidden; position: absolute; width: 100%; top: -10000px; left: 0; right: 0; opacity: 0;';
    challenge.innerHTML = `<div style="z-index: 2000000000; position: relative;">
      <iframe title="recaptcha challenge expires in two minutes" name="c-emulated" width="400" height="580" frameborder="0" scrolling="no"
        srcdoc="&lt;!DOCTYPE html&gt;&lt;body&gt;bframe&lt;/body&gt;"></iframe></div>`;
    this.challenge = challenge;
    document.body.append(challenge);
  }

  watchCheckbox(root) {
    const checkbox = root.querySelector('.recaptcha-checkbox');
    const onCheckbox = (event) => {
      events.click('captcha:checkbox', event);
      checkbox.classList.add('recaptcha-checkbox-clicked');
    };
    checkbox.addEventListener('click', onCheckbox);
    root.getElementById('recaptcha-anchor-label').addEventListener('click', onCheckbox);
  }

  /** Removes the dialog (its iframes, its 2022-era backdrop) and logs dialog.closed. */
  dismiss(label, how) {
    if (!this.isConnected) return;
    if (this.timer !== null) clearTimeout(this.timer);
    this.challenge?.remove();
    this.backdrop?.remove();
    this.remove();
    events.report('dialog.closed', { dialog: 'captcha', ui: this.ui, button: label, action: label ? 'cancel' : 'scrim', how });
  }
}

if (!customElements.get('colab-recaptcha-dialog')) customElements.define('colab-recaptcha-dialog', ColabRecaptchaDialog);

/** Shows the reCAPTCHA dialog unless one is already up; its anchor iframe loads `iframeDelay` s later (null: no iframe). */
export function showCaptcha(ui, { iframeDelay = null } = {}) {
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
  element.render(iframeDelay);
  events.report('dialog.shown', { dialog: 'captcha', ui, element: 'colab-recaptcha-dialog', iframe_delay: iframeDelay });
}
