// The menu bar (File, Edit, View, Insert, Runtime, Tools, Help) as Closure goog.ui menus (colab-ui.md 2.1):
// `#runtime-menu-button` opens `#runtime-menu` holding `div.goog-menuitem[command=...]`.
//
// Closure semantics, because automation depends on them: a menu button opens on mousedown, an item acts
// on mouseup after being pressed or hovered (goog-menuitem-highlight), and a bare synthetic
// `element.click()` on an item does nothing (ColabSDK: "goog.ui menu items ignore a synthetic click").

import { events } from './events.js';

/** An item is [command, label, accelerator?, {disabled}?]; null is a separator. */
export const MENUS = [
  {
    id: 'file',
    label: 'File',
    items: [
      ['open-notebook', 'Open notebook', 'Ctrl+O', { disabled: true }],
      ['save', 'Save', 'Ctrl+S'],
      ['save-copy-drive', 'Save a copy in Drive', null, { disabled: true }],
      null,
      ['download-ipynb', 'Download .ipynb', null, { disabled: true }],
    ],
  },
  {
    id: 'edit',
    label: 'Edit',
    items: [
      ['select-all-cells', 'Select all cells', 'Ctrl+Shift+A', { disabled: true }],
      null,
      ['clear-all-outputs', 'Clear all outputs'],
    ],
  },
  {
    id: 'view',
    label: 'View',
    items: [
      ['toggle-toc', 'Table of contents'],
      ['view-resources', 'Resources'],
      ['view-runtime-logs', 'Runtime logs'],
    ],
  },
  {
    id: 'insert',
    label: 'Insert',
    items: [
      ['insert-cell-below', 'Code cell', 'Ctrl+M B'],
      ['insert-text-cell', 'Text cell'],
    ],
  },
  {
    id: 'runtime',
    label: 'Runtime',
    items: [
      ['runall', 'Run all', 'Ctrl+F9'],
      ['run-before', 'Run before', 'Ctrl+F8'],
      ['run-cell', 'Run the focused cell', 'Ctrl+Enter'],
      ['run-after', 'Run after', 'Ctrl+F10'],
      null,
      ['interrupt', 'Interrupt execution', 'Ctrl+M I'],
      ['restart', 'Restart session', 'Ctrl+M .'],
      ['restart-and-run-all', 'Restart session and run all'],
      ['powerwash-current-vm', 'Disconnect and delete runtime'],
      null,
      ['change-runtime-type', 'Change runtime type'],
      ['manage-sessions', 'Manage sessions'],
      null,
      ['view-runtime-logs', 'View runtime logs'],
    ],
  },
  {
    id: 'tools',
    label: 'Tools',
    items: [
      ['command-palette', 'Command palette', 'Ctrl+Shift+P', { disabled: true }],
      ['settings', 'Settings', null, { disabled: true }],
      ['shortcuts', 'Keyboard shortcuts', 'Ctrl+M H', { disabled: true }],
    ],
  },
  {
    id: 'help',
    label: 'Help',
    items: [
      ['faq', 'Frequently asked questions', null, { disabled: true }],
      ['release-notes', 'View release notes', null, { disabled: true }],
    ],
  },
];

const HIGHLIGHT = 'goog-menuitem-highlight';

export class MenuBar {
  /**
   * Builds the menu buttons into `container` and the menus into `document.body`; `onCommand(command,
   * event)` runs an item.
   */
  constructor(container, onCommand) {
    this.onCommand = onCommand;
    this.openMenu = null;
    this.menus = new Map();
    let idCounter = 0;
    for (const spec of MENUS) {
      const button = document.createElement('div');
      button.id = `${spec.id}-menu-button`;
      button.className = 'goog-inline-block goog-menu-button';
      button.setAttribute('role', 'button');
      button.setAttribute('aria-haspopup', 'true');
      button.setAttribute('aria-expanded', 'false');
      button.tabIndex = 0;
      button.innerHTML =
        '<div class="goog-inline-block goog-menu-button-outer-box"><div class="goog-inline-block goog-menu-button-inner-box">' +
        `<div class="goog-inline-block goog-menu-button-caption">${spec.label}</div>` +
        '<div class="goog-inline-block goog-menu-button-dropdown">&nbsp;</div></div></div>';
      container.append(button);

      const menu = document.createElement('div');
      menu.id = `${spec.id}-menu`;
      menu.className = 'goog-menu goog-menu-vertical';
      menu.setAttribute('role', 'menu');
      menu.setAttribute('aria-haspopup', 'true');
      menu.style.display = 'none';
      for (const item of spec.items) {
        if (item === null) {
          const separator = document.createElement('div');
          separator.className = 'goog-menuseparator';
          separator.setAttribute('role', 'separator');
          menu.append(separator);
          continue;
        }
        const [command, label, accel, options] = item;
        const element = document.createElement('div');
        idCounter += 1;
        element.id = `:${idCounter.toString(36)}`;
        element.className = 'goog-menuitem';
        element.setAttribute('role', 'menuitem');
        element.setAttribute('command', command);
        if (options?.disabled) {
          element.classList.add('goog-menuitem-disabled');
          element.setAttribute('aria-disabled', 'true');
        }
        element.innerHTML =
          `<div class="goog-menuitem-content"><span class="goog-menuitem-label">${label}</span>` +
          (accel ? `<span class="goog-menuitem-accel">${accel}</span>` : '') +
          '</div>';
        this.wireItem(element);
        menu.append(element);
      }
      document.body.append(menu);
      this.menus.set(button, menu);
      this.wireButton(button, spec.id);
    }
    document.addEventListener(
      'mousedown',
      (event) => {
        if (!this.openMenu) return;
        const path = event.composedPath();
        if (path.includes(this.openMenu.menu) || path.includes(this.openMenu.button)) return;
        this.close();
      },
      true,
    );
    document.addEventListener('keydown', (event) => this.onKeydown(event), true);
  }

  wireButton(button, id) {
    button.addEventListener('mousedown', (event) => {
      if (event.button !== 0) return;
      event.preventDefault();
      events.click(`menu-button:${id}`, event);
      if (this.openMenu && this.openMenu.button === button) this.close();
      else this.open(button);
    });
    button.addEventListener('mouseover', () => {
      // Menu-bar behaviour: with one menu open, hovering another button switches to it.
      if (this.openMenu && this.openMenu.button !== button) this.open(button);
    });
    button.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' || event.key === ' ' || event.key === 'ArrowDown') {
        event.preventDefault();
        events.keypress(`menu-button:${id}`, event);
        this.open(button);
        this.move(1);
      }
    });
  }

  wireItem(element) {
    element.addEventListener('mouseover', () => {
      if (element.classList.contains('goog-menuitem-disabled')) return;
      this.highlight(element);
    });
    element.addEventListener('mouseout', (event) => {
      if (!element.contains(event.relatedTarget)) element.classList.remove(HIGHLIGHT);
    });
    element.addEventListener('mousedown', (event) => {
      event.preventDefault();
      if (element.classList.contains('goog-menuitem-disabled')) return;
      this.active = element;
      this.highlight(element);
    });
    element.addEventListener('mouseup', (event) => {
      if (event.button !== 0) return;
      const pressed = this.active === element;
      this.active = null;
      if (pressed || element.classList.contains(HIGHLIGHT)) this.perform(element, event, 'click');
    });
    element.addEventListener('click', (event) => {
      // Closure acts on mouseup. A click without a press on this item (element.click() from script)
      // is ignored as on Colab; it is logged so that automation mistakes show up in the event log.
      if (event.detail === 0 || !event.isTrusted) {
        events.click(`menu:${element.getAttribute('command')}`, event, { ignored: true });
      }
    });
  }

  highlight(element) {
    const menu = element.parentElement;
    for (const other of menu.querySelectorAll(`.${HIGHLIGHT}`)) other.classList.remove(HIGHLIGHT);
    element.classList.add(HIGHLIGHT);
  }

  perform(element, event, how) {
    const command = element.getAttribute('command');
    if (element.classList.contains('goog-menuitem-disabled')) return;
    if (how === 'click') events.click(`menu:${command}`, event);
    else events.keypress(`menu:${command}`, event);
    this.close();
    this.onCommand(command, event);
  }

  open(button) {
    this.close();
    const menu = this.menus.get(button);
    const rect = button.getBoundingClientRect();
    menu.style.left = `${rect.left}px`;
    menu.style.top = `${rect.bottom}px`;
    menu.style.display = '';
    button.classList.add('goog-menu-button-open');
    button.setAttribute('aria-expanded', 'true');
    this.openMenu = { button, menu };
  }

  close() {
    if (!this.openMenu) return;
    const { button, menu } = this.openMenu;
    menu.style.display = 'none';
    for (const item of menu.querySelectorAll(`.${HIGHLIGHT}`)) item.classList.remove(HIGHLIGHT);
    button.classList.remove('goog-menu-button-open');
    button.setAttribute('aria-expanded', 'false');
    this.openMenu = null;
    this.active = null;
  }

  move(delta) {
    const items = [...this.openMenu.menu.querySelectorAll('.goog-menuitem:not(.goog-menuitem-disabled)')];
    if (items.length === 0) return;
    const current = items.findIndex((item) => item.classList.contains(HIGHLIGHT));
    const next = current < 0 ? (delta > 0 ? 0 : items.length - 1) : (current + delta + items.length) % items.length;
    this.highlight(items[next]);
  }

  onKeydown(event) {
    if (!this.openMenu) return;
    if (event.key === 'Escape') {
      event.preventDefault();
      event.stopPropagation();
      this.close();
    } else if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
      event.preventDefault();
      event.stopPropagation();
      this.move(event.key === 'ArrowDown' ? 1 : -1);
    } else if (event.key === 'Enter' || event.key === ' ') {
      const item = this.openMenu.menu.querySelector(`.${HIGHLIGHT}`);
      if (item) {
        event.preventDefault();
        event.stopPropagation();
        this.perform(item, event, 'key');
      }
    }
  }
}
