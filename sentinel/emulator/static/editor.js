// A Monaco-shaped code editor: `.monaco-editor .view-lines > .view-line` with &nbsp; for spaces and a
// hidden, editable `textarea.inputarea[role=textbox]` that owns the text and the caret (colab-ui.md 4.1).

export const LINE_HEIGHT = 19;

const KEYWORDS = new Set(
  ('False None True and as assert async await break class continue def del elif else except finally for from ' +
    'global if import in is lambda nonlocal not or pass raise return try while with yield match case').split(' '),
);
const BUILTINS = new Set(
  ('print len range open int float str list dict set tuple super isinstance enumerate zip map filter sorted ' +
    'min max sum abs any all type object round repr hasattr getattr setattr iter next bool bytes format input ' +
    'Exception ValueError RuntimeError KeyError TypeError KeyboardInterrupt StopIteration').split(' '),
);

// One regex per token kind, tried in order at each position of a line.
const TOKEN = new RegExp(
  [
    '(?<comment>#.*)',
    '(?<string>[rRbBuUfF]{0,2}(?:"""|\'\'\'|"(?:[^"\\\\]|\\\\.)*"?|\'(?:[^\'\\\\]|\\\\.)*\'?))',
    '(?<number>\\b(?:0[xX][0-9a-fA-F_]+|\\d[\\d_]*(?:\\.\\d*)?(?:[eE][+-]?\\d+)?j?)\\b)',
    '(?<decorator>@[A-Za-z_][\\w.]*)',
    '(?<ident>[A-Za-z_]\\w*)',
    '(?<space>\\s+)',
    '(?<other>.)',
  ].join('|'),
  'gy',
);

function escapeText(text) {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll(' ', '&nbsp;');
}

/**
 * Splits Python source into lines of [class, text] tokens. Triple-quoted strings may span lines; `state`
 * carries the open quote from one line to the next.
 */
export function tokenize(source) {
  const lines = [];
  let open = null;
  for (const line of source.split('\n')) {
    const tokens = [];
    let pos = 0;
    if (open) {
      const end = line.indexOf(open);
      if (end < 0) {
        lines.push([['mtk5', line]]);
        continue;
      }
      tokens.push(['mtk5', line.slice(0, end + 3)]);
      pos = end + 3;
      open = null;
    }
    if (pos === 0 && /^\s*[!%]/.test(line)) {
      // Shell escapes and magics (`!pip install`, `%cd`) are one token in Colab's colouring.
      lines.push([['mtk9', line]]);
      continue;
    }
    TOKEN.lastIndex = pos;
    let match;
    while (TOKEN.lastIndex < line.length && (match = TOKEN.exec(line)) !== null) {
      const groups = match.groups;
      const text = match[0];
      if (groups.comment) tokens.push(['mtk6', text]);
      else if (groups.string) {
        const quote = text.match(/"""|'''/);
        if (quote && text.indexOf(quote[0]) === text.length - 3) {
          // A triple quote opens here; the string runs to its closing quote, maybe on a later line.
          const rest = line.slice(TOKEN.lastIndex);
          const close = rest.indexOf(quote[0]);
          if (close < 0) {
            tokens.push(['mtk5', text + rest]);
            open = quote[0];
            TOKEN.lastIndex = line.length;
          } else {
            tokens.push(['mtk5', text + rest.slice(0, close + 3)]);
            TOKEN.lastIndex += close + 3;
          }
        } else tokens.push(['mtk5', text]);
      } else if (groups.number) tokens.push(['mtk7', text]);
      else if (groups.decorator) tokens.push(['mtk10', text]);
      else if (groups.ident) {
        if (KEYWORDS.has(text)) tokens.push(['mtk8', text]);
        else if (BUILTINS.has(text)) tokens.push(['mtk11', text]);
        else tokens.push(['mtk1', text]);
      } else tokens.push(['mtk1', text]);
    }
    lines.push(mergeTokens(tokens));
  }
  return lines;
}

// Monaco renders runs of equally coloured tokens as one span.
function mergeTokens(tokens) {
  const merged = [];
  for (const [cls, text] of tokens) {
    const last = merged[merged.length - 1];
    if (last && last[0] === cls) last[1] += text;
    else merged.push([cls, text]);
  }
  return merged;
}

let modelCounter = 0;

/** The editor of one code cell. `onChange(text)` is called after every edit made through the textarea. */
export class Editor {
  constructor(text, onChange, onFocus) {
    this.onChange = onChange;
    this.onFocus = onFocus;
    modelCounter += 1;
    this.uri = `inmemory://model/${modelCounter}`;
    this.element = document.createElement('div');
    this.element.className = 'editor flex lazy-editor';
    this.element.innerHTML = `
      <div class="editor flex monaco" data-mode-id="notebook-python">
        <div class="monaco-editor no-user-select vs" role="code" data-uri="${this.uri}">
          <div class="overflow-guard">
            <textarea class="inputarea monaco-mouse-cursor-text" role="textbox" wrap="off" autocorrect="off"
              autocapitalize="off" autocomplete="off" spellcheck="false" aria-multiline="true" aria-haspopup="false"
              aria-autocomplete="both" aria-roledescription="editor"
              aria-label="Editor content;Press Alt+F1 for Accessibility Options."></textarea>
            <div class="monaco-scrollable-element editor-scrollable vs" role="presentation">
              <div class="lines-content monaco-editor-background">
                <div class="view-overlays" role="presentation" aria-hidden="true"><div class="current-line"></div></div>
                <div class="view-lines monaco-mouse-cursor-text" role="presentation" aria-hidden="true"></div>
                <div class="cursors-layer cursor-line-style" aria-hidden="true"><div class="cursor"></div></div>
              </div>
            </div>
          </div>
        </div>
      </div>`;
    this.monaco = this.element.querySelector('.monaco-editor');
    this.textarea = this.element.querySelector('textarea.inputarea');
    this.viewLines = this.element.querySelector('.view-lines');
    this.cursor = this.element.querySelector('.cursor');
    this.currentLine = this.element.querySelector('.current-line');
    this.textarea.value = text;
    this.render();

    this.textarea.addEventListener('input', () => {
      this.render();
      this.updateCursor();
      this.onChange(this.textarea.value);
    });
    this.textarea.addEventListener('focus', () => {
      this.monaco.classList.add('focused');
      this.updateCursor();
      this.onFocus();
    });
    this.textarea.addEventListener('blur', () => this.monaco.classList.remove('focused'));
    for (const type of ['keyup', 'select', 'mouseup']) {
      this.textarea.addEventListener(type, () => this.updateCursor());
    }
    this.textarea.addEventListener('keydown', (event) => this.onKeydown(event));
    this.monaco.addEventListener('mousedown', (event) => {
      if (event.target === this.textarea) return;
      // Like Monaco: a click in the text places the caret where it landed and focuses the textarea.
      event.preventDefault();
      this.placeCaretAt(event.clientX, event.clientY);
      this.textarea.focus({ preventScroll: true });
    });
  }

  getText() {
    return this.textarea.value;
  }

  setText(text) {
    this.textarea.value = text;
    this.render();
    this.updateCursor();
  }

  focus() {
    this.textarea.focus({ preventScroll: true });
  }

  render() {
    const lines = tokenize(this.textarea.value);
    this.viewLines.innerHTML = lines
      .map((tokens, index) => {
        const spans = tokens.map(([cls, text]) => `<span class="${cls}">${escapeText(text)}</span>`).join('');
        return `<div style="top:${index * LINE_HEIGHT}px;height:${LINE_HEIGHT}px;" class="view-line"><span>${spans}</span></div>`;
      })
      .join('');
    // Lines are absolutely positioned, so the layer gets its size set explicitly, as Monaco does.
    this.viewLines.style.height = `${lines.length * LINE_HEIGHT}px`;
    this.monaco.style.height = `${lines.length * LINE_HEIGHT}px`;
  }

  charWidth() {
    if (!this.measuredWidth) {
      const probe = document.createElement('span');
      probe.className = 'mtk1';
      probe.textContent = 'x'.repeat(100);
      probe.style.visibility = 'hidden';
      this.viewLines.append(probe);
      this.measuredWidth = probe.getBoundingClientRect().width / 100 || 8.4;
      probe.remove();
    }
    return this.measuredWidth;
  }

  /** Line and column of the caret (start of the selection). */
  caret() {
    const before = this.textarea.value.slice(0, this.textarea.selectionStart);
    const line = before.split('\n').length - 1;
    const column = before.length - (before.lastIndexOf('\n') + 1);
    return { line, column };
  }

  placeCaretAt(clientX, clientY) {
    const rect = this.viewLines.getBoundingClientRect();
    const lines = this.textarea.value.split('\n');
    const line = Math.max(0, Math.min(lines.length - 1, Math.floor((clientY - rect.top) / LINE_HEIGHT)));
    const column = Math.max(0, Math.min(lines[line].length, Math.round((clientX - rect.left) / this.charWidth())));
    let offset = column;
    for (let i = 0; i < line; i += 1) offset += lines[i].length + 1;
    this.textarea.setSelectionRange(offset, offset);
    this.updateCursor();
  }

  updateCursor() {
    const { line, column } = this.caret();
    const top = line * LINE_HEIGHT;
    const left = column * this.charWidth();
    this.cursor.style.top = `${top}px`;
    this.cursor.style.left = `${left}px`;
    this.currentLine.style.top = `${top}px`;
    // Monaco keeps its textarea under the caret so the IME and screen readers follow it.
    this.textarea.style.top = `${top}px`;
    this.textarea.style.left = `${left}px`;
  }

  onKeydown(event) {
    if (event.key === 'Tab' && !event.ctrlKey && !event.metaKey && !event.altKey) {
      // Colab indents with two spaces; Tab must not leave the editor.
      event.preventDefault();
      const { selectionStart, selectionEnd, value } = this.textarea;
      if (event.shiftKey) {
        const lineStart = value.lastIndexOf('\n', selectionStart - 1) + 1;
        const strip = value.startsWith('  ', lineStart) ? 2 : value.startsWith(' ', lineStart) ? 1 : 0;
        if (strip) {
          this.textarea.setRangeText('', lineStart, lineStart + strip, 'preserve');
          this.textarea.dispatchEvent(new Event('input'));
        }
        return;
      }
      this.textarea.setRangeText('  ', selectionStart, selectionEnd, 'end');
      this.textarea.dispatchEvent(new Event('input'));
    }
  }
}
