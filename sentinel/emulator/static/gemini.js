// The Gemini side panel (`colab-gemini-panel`, role=complementary, aria-label "Gemini"), open with a
// reply being generated. Its "Stop generating" button also interrupts the running cell, as Colab's
// does (googlecolab/colabtools#5903: KeyboardInterrupt in the training cell). Open it with `?gemini=1`
// (`?gemini=sheet`: a side sheet, role=dialog, whose reply quotes "Are you still there?").
//
// Events: `click` target `gemini:stop-generating` (then the interrupt), and `panel.pointer`
// {panel: 'gemini', input} when the mouse enters or moves over the panel (at most one a second):
// sentinel's keep-alive must never go there.

import { clientTime, events } from './events.js';

const CSS = `
  :host { position: fixed; top: 104px; right: 0; bottom: 0; width: 62vw; z-index: 900; display: flex; flex-direction: column;
          background: #f8fafd; border-left: 1px solid #dadce0; font: 14px/20px var(--colab-font, Roboto, Arial, sans-serif); color: #1f1f1f; }
  header { display: flex; align-items: center; gap: 8px; padding: 12px 16px; border-bottom: 1px solid #e3e3e3; font-weight: 500; }
  .chat { flex: 1; overflow: auto; padding: 16px; display: flex; flex-direction: column; gap: 12px; }
  .prompt { align-self: flex-end; background: #d3e3fd; border-radius: 16px; padding: 8px 12px; max-width: 70%; }
  .reply { align-self: flex-start; background: #fff; border-radius: 16px; padding: 8px 12px; max-width: 80%; }
  .reply .dots::after { content: ' ...'; }
  footer { display: flex; justify-content: center; padding: 12px 16px 20px; }
  button { font: inherit; border: 1px solid #747775; border-radius: 18px; background: #fff; padding: 6px 16px; cursor: pointer; }
`;

export class ColabGeminiPanel extends HTMLElement {
  constructor() {
    super();
    this.attachShadow({ mode: 'open' }).innerHTML = `<style>${CSS}</style>
      <header>Gemini</header>
      <div class="chat" role="log" aria-label="Gemini conversation">
        <div class="prompt">Explain what my training cell does</div>
        <div class="reply">Your cell trains a model for several epochs<span class="dots"></span></div>
      </div>
      <footer><button id="stop" aria-label="Stop generating">Stop generating</button></footer>`;
    this.onStop = null;
    this.lastPointer = 0;
    this.shadowRoot.getElementById('stop').addEventListener('click', (event) => {
      events.click('gemini:stop-generating', event);
      this.shadowRoot.querySelector('.dots')?.remove();
      this.onStop?.();
    });
    for (const type of ['mouseover', 'mousemove', 'mousedown']) {
      this.addEventListener(type, (event) => this.pointer(event));
    }
  }

  connectedCallback() {
    // As a side sheet it is a (non-modal) dialog, and its reply quotes Colab's own prompts: a daemon
    // that took it for one of Colab's dialogs would press "Yes" inside the AI panel.
    this.setAttribute('role', this.sheet ? 'dialog' : 'complementary');
    if (this.sheet) {
      this.shadowRoot.querySelector('.reply').textContent =
        'Colab may ask "Are you still there?" or say "Runtime disconnected"; answer Yes to keep your session';
    }
    this.setAttribute('aria-label', 'Gemini');
  }

  pointer(event) {
    const now = clientTime();
    if (event.type !== 'mousedown' && now - this.lastPointer < 1) return;
    this.lastPointer = now;
    events.report('panel.pointer', { panel: 'gemini', input: event.type, trusted: event.isTrusted });
  }
}

if (!customElements.get('colab-gemini-panel')) customElements.define('colab-gemini-panel', ColabGeminiPanel);

/** Opens the Gemini panel (once); ``interrupt`` is what "Stop generating" also does; ``sheet``: role=dialog. */
export function showGeminiPanel(interrupt, { sheet = false } = {}) {
  if (document.querySelector('colab-gemini-panel')) return;
  const panel = document.createElement('colab-gemini-panel');
  panel.onStop = interrupt;
  panel.sheet = sheet;
  document.body.append(panel);
  events.report('panel.shown', { panel: 'gemini' });
}
