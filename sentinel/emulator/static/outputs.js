// A code cell's output area, shaped like Colab's (colab-ui.md 4.1 and 4.3):
// div.output > div.output-content > div.output-iframe-container > ... > colab-static-output-renderer >
// div > div.stream.output-id-K.output_text > pre, filled while the cell runs. Carriage returns rewrite the
// current line (progress bars) and ANSI colours become spans, as in Colab.

import { escapeHtml } from './elements.js';

// Very long outputs are cut from the top so a days-long training log cannot exhaust the tab.
const MAX_LINES_PER_BLOCK = 5000;

const ANSI_COLORS = ['black', 'red', 'green', 'yellow', 'blue', 'magenta', 'cyan', 'white'];
// SGR sequences carry style; every other escape sequence (cursor moves, erase) is dropped.
const ESCAPE = /\x1b\[([0-9;?]*)([A-Za-z])|\x1b[()][0-9A-Za-z]|\x1b[=>]/g;

class AnsiState {
  constructor() {
    this.fg = null;
    this.bg = null;
    this.bold = false;
    this.underline = false;
  }

  apply(params) {
    const codes = params === '' ? [0] : params.split(';').map((part) => Number(part) || 0);
    for (let i = 0; i < codes.length; i += 1) {
      const code = codes[i];
      if (code === 0) Object.assign(this, new AnsiState());
      else if (code === 1) this.bold = true;
      else if (code === 4) this.underline = true;
      else if (code === 22) this.bold = false;
      else if (code === 24) this.underline = false;
      else if (code >= 30 && code <= 37) this.fg = ANSI_COLORS[code - 30];
      else if (code >= 90 && code <= 97) this.fg = `bright-${ANSI_COLORS[code - 90]}`;
      else if (code === 39) this.fg = null;
      else if (code >= 40 && code <= 47) this.bg = ANSI_COLORS[code - 40];
      else if (code === 49) this.bg = null;
      else if ((code === 38 || code === 48) && codes[i + 1] === 5) i += 2;
      else if ((code === 38 || code === 48) && codes[i + 1] === 2) i += 4;
    }
  }

  classes() {
    const list = [];
    if (this.fg) list.push(`ansi-${this.fg}-fg`);
    if (this.bg) list.push(`ansi-${this.bg}-bg`);
    if (this.bold) list.push('ansi-bold');
    if (this.underline) list.push('ansi-underline');
    return list.join(' ');
  }
}

/** Renders text with ANSI escapes to HTML, advancing `state` across calls. */
export function ansiToHtml(text, state) {
  let html = '';
  let last = 0;
  const flush = (chunk) => {
    if (!chunk) return;
    const cls = state.classes();
    html += cls ? `<span class="${cls}">${escapeHtml(chunk)}</span>` : escapeHtml(chunk);
  };
  ESCAPE.lastIndex = 0;
  let match;
  while ((match = ESCAPE.exec(text)) !== null) {
    flush(text.slice(last, match.index));
    if (match[2] === 'm') state.apply(match[1] || '');
    last = ESCAPE.lastIndex;
  }
  flush(text.slice(last));
  return html;
}

/** One `div.stream.output_text > pre` block that grows line by line. */
class StreamBlock {
  constructor(stream, outputId) {
    this.stream = stream;
    this.element = document.createElement('div');
    this.element.className = `stream output-id-${outputId} output_text${stream === 'stderr' ? ' output_stderr' : ''}`;
    this.pre = document.createElement('pre');
    this.element.append(this.pre);
    this.current = document.createElement('span');
    this.pre.append(this.current);
    this.currentText = '';
    this.lineCount = 0;
    this.ansi = new AnsiState();
    // The ANSI state at the start of the current line: a \r re-renders the line from there.
    this.lineStartAnsi = new AnsiState();
  }

  append(text) {
    const fragment = document.createDocumentFragment();
    // \r\n is a newline; a lone \r returns to the start of the line (tqdm and friends redraw this way).
    const parts = text.replaceAll('\r\n', '\n').split(/(\n|\r)/);
    for (const part of parts) {
      if (part === '\n') {
        const line = document.createElement('span');
        line.innerHTML = `${this.renderCurrent()}\n`;
        fragment.append(line);
        this.lineCount += 1;
        this.currentText = '';
        this.lineStartAnsi = Object.assign(new AnsiState(), this.ansi);
      } else if (part === '\r') {
        this.currentText = '';
      } else if (part) {
        this.currentText += part;
      }
    }
    this.pre.insertBefore(fragment, this.current);
    this.current.innerHTML = this.renderCurrent(false);
    while (this.lineCount > MAX_LINES_PER_BLOCK && this.pre.firstChild !== this.current) {
      this.pre.firstChild.remove();
      this.lineCount -= 1;
    }
  }

  renderCurrent(commit = true) {
    const state = Object.assign(new AnsiState(), this.lineStartAnsi);
    const html = ansiToHtml(this.currentText, state);
    if (commit) this.ansi = state;
    return html;
  }

  get text() {
    return this.pre.textContent;
  }
}

/** The output area of one code cell. */
export class OutputArea {
  constructor(label) {
    this.element = document.createElement('div');
    this.element.className = 'output';
    this.element.setAttribute('role', 'region');
    this.element.setAttribute('aria-label', label);
    this.element.innerHTML = `
      <div class="output-header"></div>
      <div class="output-content">
        <div class="output-info"><colab-output-info></colab-output-info></div>
        <div class="output-iframe-container"><div class="output-iframe-sizer"><div><div>
          <colab-static-output-renderer tabindex="0" role="group"><div class="output-blocks"></div></colab-static-output-renderer>
        </div></div></div></div>
      </div>`;
    this.blocks = this.element.querySelector('.output-blocks');
    this.outputId = 0;
    this.last = null;
    // Colab's cell object exposes its output area as `outputArea.element_`.
    this.element_ = this.element;
  }

  get isEmpty() {
    return this.blocks.childElementCount === 0;
  }

  clear() {
    this.blocks.replaceChildren();
    this.last = null;
  }

  appendStream(stream, text) {
    if (!(this.last instanceof StreamBlock) || this.last.stream !== stream) {
      this.outputId += 1;
      this.last = new StreamBlock(stream, this.outputId);
      this.blocks.append(this.last.element);
    }
    this.last.append(text);
  }

  appendHtml(html) {
    this.outputId += 1;
    const block = document.createElement('div');
    block.className = `display_data output-id-${this.outputId} output_html`;
    block.innerHTML = html;
    this.blocks.append(block);
    this.last = block;
  }

  appendPlain(text) {
    this.outputId += 1;
    const block = document.createElement('div');
    block.className = `execute_result output-id-${this.outputId} output_text`;
    const pre = document.createElement('pre');
    pre.innerHTML = ansiToHtml(text, new AnsiState());
    block.append(pre);
    this.blocks.append(block);
    this.last = block;
  }

  appendImage(mime, base64) {
    this.outputId += 1;
    const block = document.createElement('div');
    block.className = `display_data output-id-${this.outputId} output_image`;
    const img = document.createElement('img');
    img.src = `data:${mime};base64,${base64}`;
    block.append(img);
    this.blocks.append(block);
    this.last = block;
  }

  /** Renders one stored nbformat output (stream, execute_result, display_data, error). */
  appendNbformat(output) {
    const join = (value) => (Array.isArray(value) ? value.join('') : String(value ?? ''));
    if (output.output_type === 'stream') this.appendStream(output.name === 'stderr' ? 'stderr' : 'stdout', join(output.text));
    else if (output.output_type === 'error') this.appendStream('stderr', `${join((output.traceback || []).join('\n'))}\n`);
    else if (output.data) {
      const data = output.data;
      if (data['text/html']) this.appendHtml(join(data['text/html']));
      else if (data['image/png']) this.appendImage('image/png', join(data['image/png']).trim());
      else if (data['text/plain']) this.appendPlain(join(data['text/plain']));
    }
  }

  get text() {
    return this.blocks.innerText;
  }
}
