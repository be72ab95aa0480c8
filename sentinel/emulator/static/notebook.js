// Cells and the cell list: Colab's cell DOM (colab-ui.md 4.1) and the cell objects behind
// `colab.global.notebook.cells` (getId, getText, setText, isRunning, isPending, manualExecute, ...).

import { Editor } from './editor.js';
import { events } from './events.js';
import { headings, renderMarkdown } from './markdown.js';
import { OutputArea } from './outputs.js';

const ICONS = {
  up: '<svg viewBox="0 0 24 24"><path d="M7.41 15.41 12 10.83l4.59 4.58L18 14l-6-6-6 6z"/></svg>',
  down: '<svg viewBox="0 0 24 24"><path d="M7.41 8.59 12 13.17l4.59-4.58L18 10l-6 6-6-6z"/></svg>',
  delete: '<svg viewBox="0 0 24 24"><path d="M6 19c0 1.1.9 2 2 2h8c1.1 0 2-.9 2-2V7H6v12zM19 4h-3.5l-1-1h-5l-1 1H5v2h14V4z"/></svg>',
};

function cellToolbar(cell) {
  const bar = document.createElement('div');
  bar.className = 'cell-toolbar';
  const actions = [
    ['up', 'Move cell up', () => cell.notebook.moveCell(cell, -1)],
    ['down', 'Move cell down', () => cell.notebook.moveCell(cell, 1)],
    ['delete', 'Delete cell', () => cell.notebook.deleteCell(cell)],
  ];
  for (const [icon, label, run] of actions) {
    const button = document.createElement('md-icon-button');
    button.setAttribute('data-aria-label', label);
    button.setAttribute('title', label);
    button.innerHTML = ICONS[icon];
    button.addEventListener('click', (event) => {
      event.stopPropagation();
      run();
    });
    bar.append(button);
  }
  return bar;
}

/** A code cell: editor, run button, outputs, and Colab's cell-object API. */
export class CodeCell {
  constructor(notebook, data) {
    this.notebook = notebook;
    this.id = data.id;
    this.type = 'code';
    this.state = 'idle';
    this.executionCount = data.execution_count ?? null;
    this.error = false;

    this.element = document.createElement('div');
    this.element.className = 'cell code notebook-cell';
    this.element.id = `cell-${this.id}`;
    this.element.setAttribute('role', 'region');
    this.element.append(cellToolbar(this));
    const main = document.createElement('div');
    main.className = 'main-content';
    const io = document.createElement('div');
    io.className = 'codecell-input-output';
    const input = document.createElement('div');
    input.className = 'inputarea horizontal layout code';
    const gutter = document.createElement('div');
    gutter.className = 'cell-gutter';
    const container = document.createElement('div');
    container.className = 'cell-execution-container';
    this.runButton = document.createElement('colab-run-button');
    this.runButton.className = 'cell-ui-refresh';
    container.append(this.runButton);
    gutter.append(container);
    this.editor = new Editor(
      data.source || '',
      () => notebook.onEdited(this),
      () => notebook.focusCell(this),
    );
    input.append(gutter, this.editor.element);
    this.outputArea = new OutputArea('Cell output');
    io.append(input, this.outputArea.element);
    main.append(io);
    this.element.append(main, document.createElement('colab-cell-next-steps'));
    for (const output of data.outputs || []) this.outputArea.appendNbformat(output);

    this.element.addEventListener('mousedown', () => notebook.focusCell(this), true);
    this.runButton.addEventListener('click', (event) => {
      event.stopPropagation();
      events.click(`run-button:${this.id}`, event, { state: this.state });
      notebook.controller.toggleRun(this);
    });
    this.refresh();
  }

  // --- Colab's cell-object API ---
  getId() {
    return this.id;
  }

  getText() {
    return this.editor.getText();
  }

  setText(text) {
    this.editor.setText(String(text));
    this.notebook.onEdited(this);
  }

  getType() {
    return 'code';
  }

  isRunning() {
    return this.state === 'running';
  }

  isPending() {
    return this.state === 'pending';
  }

  /** Runs the cell as a click on its run button would (but never interrupts a running cell). */
  manualExecute() {
    if (this.state !== 'idle') return;
    this.notebook.controller.execute([this]);
  }

  getElement() {
    return this.element;
  }

  get element_() {
    return this.element;
  }

  // --- page internals ---
  setIndex(index) {
    this.element.setAttribute('aria-label', `Cell ${index + 1}`);
    this.outputArea.element.setAttribute('aria-label', `Cell ${index + 1} output`);
  }

  setState(state, executionCount, error) {
    this.state = state;
    if (executionCount !== undefined && executionCount !== null) this.executionCount = executionCount;
    if (error !== undefined) this.error = Boolean(error);
    this.refresh();
  }

  refresh() {
    const classes = this.element.classList;
    classes.toggle('running', this.state === 'running');
    classes.toggle('pending', this.state === 'pending');
    classes.toggle('execution-error', this.error && this.state === 'idle');
    classes.toggle('code-has-output', !this.outputArea.isEmpty);
    this.runButton.setState(this.state, this.executionCount, this.error && this.state === 'idle', classes.contains('focused'));
  }

  clearOutput() {
    this.outputArea.clear();
    this.refresh();
  }

  focusEditor() {
    this.editor.focus();
  }
}

/** A text (Markdown) cell: rendered view, double-click to edit the source. */
export class TextCell {
  constructor(notebook, data) {
    this.notebook = notebook;
    this.id = data.id;
    this.type = 'text';
    this.source = data.source || '';
    this.element = document.createElement('div');
    this.element.className = 'cell text notebook-cell';
    this.element.id = `cell-${this.id}`;
    this.element.setAttribute('role', 'region');
    this.element.append(cellToolbar(this));
    const main = document.createElement('div');
    main.className = 'main-content';
    this.editorContainer = document.createElement('div');
    this.editorContainer.className = 'editor-container';
    this.editorContainer.hidden = true;
    this.textarea = document.createElement('textarea');
    this.textarea.className = 'markdown-source';
    this.textarea.setAttribute('aria-label', 'Text cell source');
    this.editorContainer.append(this.textarea);
    const top = document.createElement('div');
    top.className = 'text-top-div';
    this.markdown = document.createElement('div');
    this.markdown.className = 'markdown';
    top.append(this.markdown);
    main.append(this.editorContainer, top);
    this.element.append(main);
    this.render();
    this.element.addEventListener('mousedown', () => notebook.focusCell(this), true);
    this.element.addEventListener('dblclick', () => this.edit());
    this.textarea.addEventListener('input', () => {
      this.source = this.textarea.value;
      this.render();
      notebook.onEdited(this);
    });
    this.textarea.addEventListener('blur', () => {
      this.editorContainer.hidden = true;
    });
  }

  getId() {
    return this.id;
  }

  getText() {
    return this.source;
  }

  setText(text) {
    this.source = String(text);
    this.textarea.value = this.source;
    this.render();
    this.notebook.onEdited(this);
  }

  getType() {
    return 'text';
  }

  isRunning() {
    return false;
  }

  isPending() {
    return false;
  }

  /** Text cells have nothing to run; Colab renders them. */
  manualExecute() {
    this.editorContainer.hidden = true;
  }

  getElement() {
    return this.element;
  }

  get element_() {
    return this.element;
  }

  setIndex(index) {
    this.element.setAttribute('aria-label', `Cell ${index + 1}`);
  }

  render() {
    this.markdown.innerHTML = renderMarkdown(this.source) || '<p class="empty-text-cell">Double-click (or enter) to edit</p>';
  }

  edit() {
    this.textarea.value = this.source;
    this.editorContainer.hidden = false;
    this.textarea.focus();
  }

  focusEditor() {
    this.edit();
  }

  headings() {
    return headings(this.source);
  }
}

let newCellCounter = 0;

function newCellId() {
  newCellCounter += 1;
  const random = Math.random().toString(36).slice(2, 8);
  return `new${newCellCounter}${random}`.slice(0, 12);
}

/** The ordered list of cells and the focused one. `controller` runs cells (set by the app). */
export class CellList {
  constructor(container, cellsData, controller) {
    this.container = container;
    this.controller = controller;
    this.cells = [];
    this.focused = null;
    this.onChange = () => {};
    for (const data of cellsData) this.cells.push(this.makeCell(data));
    this.container.append(...this.cells.map((cell) => cell.element));
    this.reindex();
  }

  makeCell(data) {
    return data.type === 'code' ? new CodeCell(this, data) : new TextCell(this, data);
  }

  reindex() {
    this.cells.forEach((cell, index) => cell.setIndex(index));
    this.onChange();
  }

  get codeCells() {
    return this.cells.filter((cell) => cell.type === 'code');
  }

  byId(id) {
    return this.cells.find((cell) => cell.id === id) || null;
  }

  /** Marks `cell` as the selected cell (the `focused` class), as a click on it does on Colab. */
  focusCell(cell) {
    if (this.focused === cell) return;
    if (this.focused) {
      this.focused.element.classList.remove('focused');
      if (this.focused.refresh) this.focused.refresh();
    }
    this.focused = cell;
    if (cell) {
      cell.element.classList.add('focused');
      if (cell.refresh) cell.refresh();
    }
  }

  onEdited(cell) {
    this.controller.cellEdited(cell);
  }

  /** Inserts a new empty cell of `type` after `anchor` (or at the end) and focuses it. */
  insertCell(type, anchor = this.focused, above = false) {
    const cell = this.makeCell({ id: newCellId(), type, source: '' });
    let index = anchor ? this.cells.indexOf(anchor) + (above ? 0 : 1) : this.cells.length;
    if (index < 0) index = this.cells.length;
    this.cells.splice(index, 0, cell);
    const next = this.cells[index + 1];
    this.container.insertBefore(cell.element, next ? next.element : null);
    this.reindex();
    this.focusCell(cell);
    cell.focusEditor();
    cell.element.scrollIntoView({ block: 'nearest' });
    return cell;
  }

  moveCell(cell, delta) {
    const index = this.cells.indexOf(cell);
    const target = index + delta;
    if (index < 0 || target < 0 || target >= this.cells.length) return;
    this.cells.splice(index, 1);
    this.cells.splice(target, 0, cell);
    const next = this.cells[target + 1];
    this.container.insertBefore(cell.element, next ? next.element : null);
    this.reindex();
  }

  deleteCell(cell) {
    const index = this.cells.indexOf(cell);
    if (index < 0 || cell.state === 'running') return;
    this.cells.splice(index, 1);
    cell.element.remove();
    if (this.focused === cell) this.focusCell(this.cells[Math.min(index, this.cells.length - 1)] || null);
    this.reindex();
  }

  /** The cell after `cell`, or null. */
  next(cell) {
    const index = this.cells.indexOf(cell);
    return index >= 0 && index + 1 < this.cells.length ? this.cells[index + 1] : null;
  }
}
