// Event reporting: page-side entries for the emulator's event log (docs/emulator-protocol.md "Events").
//
// Entries travel over the page's WebSocket as {"type":"event","kind":...,"client_t":...}. While the
// socket is down (an outage) they wait in a bounded queue and are flushed, in order, when it is back:
// their client_t still says when they happened.

const MAX_QUEUED = 500;

/** The page's precise wall-clock time in seconds (same epoch as the server's time.time()). */
export function clientTime() {
  return (performance.timeOrigin + performance.now()) / 1000;
}

export class EventReporter {
  constructor() {
    this.queue = [];
    this.sender = null;
    this.lastUserInput = 0;
  }

  /** Installs the function that writes one message to the socket; it returns false when it cannot. */
  attach(sender) {
    this.sender = sender;
  }

  /** Appends an entry to the server's event log (or queues it while the socket is down). */
  report(kind, fields = {}) {
    const message = { type: 'event', kind, client_t: clientTime(), ...fields };
    if (this.queue.length === 0 && this.sender && this.sender(message)) return;
    this.queue.push(message);
    if (this.queue.length > MAX_QUEUED) this.queue.shift();
  }

  /** Sends what was queued while the socket was down. */
  flush() {
    while (this.queue.length > 0 && this.sender && this.sender(this.queue[0])) this.queue.shift();
  }

  /** A click on something the log tracks; `event` is the DOM event (its isTrusted is the point). */
  click(target, event, extra = {}) {
    this.report('click', { target, trusted: Boolean(event && event.isTrusted), ...extra });
  }

  /** A key press the page acted on (shortcut or activation of a focused control). */
  keypress(target, event, extra = {}) {
    this.report('keypress', { target, trusted: Boolean(event && event.isTrusted), ...extra });
  }

  /** Trusted input that reset the idle timer, at most one entry per second. */
  userInput(event) {
    const now = clientTime();
    if (now - this.lastUserInput < 1) return;
    this.lastUserInput = now;
    this.report('user.input', { trusted: true, input: event.type });
  }
}

export const events = new EventReporter();

/** Names a key press the way the event log spells it: "Control+Enter", "Meta+F9", "Shift+Enter". */
export function keyName(event) {
  const parts = [];
  if (event.ctrlKey) parts.push('Control');
  if (event.metaKey) parts.push('Meta');
  if (event.altKey) parts.push('Alt');
  if (event.shiftKey) parts.push('Shift');
  parts.push(event.key);
  return parts.join('+');
}
