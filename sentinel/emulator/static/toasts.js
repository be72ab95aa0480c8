// Toasts (colab-ui.md 3.2: crash notifications are toasts, not dialogs): a message, an optional action
// link ("View runtime logs"), a close button; crash toasts stay until closed, others time out.

import { events } from './events.js';

export class Toasts {
  constructor(onAction) {
    this.onAction = onAction;
    this.container = document.createElement('div');
    this.container.id = 'toast-container';
    document.body.append(this.container);
  }

  /** Shows a toast; `timeoutMs` < 0 keeps it until closed. Returns a function that closes it. */
  show(message, { action = null, href = null, timeoutMs = -1 } = {}) {
    for (const open of this.container.querySelectorAll('colab-toast, .nb-snackbar')) {
      if (open.dataset.message === message) open.remove();
    }
    // ?ui=next draws toasts as a plain <div role=alert> (no colab-toast tag).
    const next = document.documentElement.dataset.ui === 'next';
    const toast = document.createElement(next ? 'div' : 'colab-toast');
    if (next) toast.className = 'nb-snackbar';
    toast.setAttribute('role', 'alert');
    toast.setAttribute('aria-live', 'assertive');
    toast.dataset.message = message;
    const text = document.createElement('span');
    text.className = 'toast-message';
    text.textContent = message;
    toast.append(text);
    let closed = false;
    const close = (how) => {
      if (closed) return;
      closed = true;
      clearTimeout(timer);
      toast.remove();
      events.report('toast.closed', { message, how });
    };
    if (action) {
      const link = document.createElement('a');
      link.className = 'toast-action';
      link.textContent = action;
      link.href = href || '#';
      if (href) {
        link.target = '_blank';
        link.rel = 'noopener';
      }
      link.addEventListener('click', (event) => {
        events.click(`toast:${action}`, event, { message });
        if (!href) event.preventDefault();
        this.onAction(action);
        close('action');
      });
      toast.append(link);
    }
    const dismiss = document.createElement('button');
    dismiss.className = 'toast-close';
    dismiss.setAttribute('aria-label', 'Dismiss');
    dismiss.innerHTML = '<svg viewBox="0 0 24 24"><path d="M19 6.41 17.59 5 12 10.59 6.41 5 5 6.41 10.59 12 5 17.59 6.41 19 12 13.41 17.59 19 19 17.59 13.41 12z"/></svg>';
    dismiss.addEventListener('click', (event) => {
      events.click('toast:Dismiss', event, { message });
      close('dismiss');
    });
    toast.append(dismiss);
    this.container.append(toast);
    const timer = timeoutMs >= 0 ? setTimeout(() => close('timeout'), timeoutMs) : null;
    events.report('toast.shown', { message, action });
    return close;
  }
}
