// The page's one WebSocket to the emulator (docs/emulator-protocol.md). It reopens itself with backoff
// after a drop (server outage); the server's `state` message after each open resynchronises the page.

import { clientTime, events } from './events.js';

const FIRST_RETRY_MS = 250;
const MAX_RETRY_MS = 3000;

export class RuntimeSocket {
  /**
   * @param {string} url absolute or page-relative ws path (`/api/notebooks/{name}/ws`)
   * @param {string} ui the dialog generation, sent in `hello`
   * @param {{onMessage(msg), onOpen(), onDown(wasUp)}} handlers
   */
  constructor(url, ui, handlers) {
    const absolute = new URL(url, window.location.href);
    absolute.protocol = absolute.protocol === 'https:' ? 'wss:' : 'ws:';
    this.url = absolute.href;
    this.ui = ui;
    this.handlers = handlers;
    this.socket = null;
    this.up = false;
    this.retryMs = FIRST_RETRY_MS;
    this.retryTimer = null;
    events.attach((message) => this.send(message));
  }

  open() {
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    if (this.socket && this.socket.readyState <= WebSocket.OPEN) return;
    let socket;
    try {
      socket = new WebSocket(this.url);
    } catch {
      this.scheduleRetry();
      return;
    }
    this.socket = socket;
    socket.addEventListener('open', () => {
      if (this.socket !== socket) return;
      this.up = true;
      this.retryMs = FIRST_RETRY_MS;
      socket.send(JSON.stringify({ type: 'hello', ui: this.ui, client_time: clientTime() * 1000 }));
      events.flush();
      this.handlers.onOpen();
    });
    socket.addEventListener('message', (event) => {
      if (this.socket !== socket) return;
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return;
      }
      this.handlers.onMessage(message);
    });
    socket.addEventListener('close', () => {
      if (this.socket !== socket) return;
      const wasUp = this.up;
      this.up = false;
      this.socket = null;
      this.handlers.onDown(wasUp);
      this.scheduleRetry();
    });
  }

  /** Retries now instead of waiting for the backoff (the user clicked Reconnect). */
  retryNow() {
    if (this.up) return;
    this.retryMs = FIRST_RETRY_MS;
    this.open();
  }

  scheduleRetry() {
    if (this.retryTimer) return;
    const delay = this.retryMs * (0.8 + 0.4 * Math.random());
    this.retryMs = Math.min(MAX_RETRY_MS, this.retryMs * 2);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.open();
    }, delay);
  }

  /** Sends a message; false when the socket is not open (the caller decides whether to keep it). */
  send(message) {
    if (!this.up || !this.socket || this.socket.readyState !== WebSocket.OPEN) return false;
    this.socket.send(JSON.stringify(message));
    return true;
  }
}
