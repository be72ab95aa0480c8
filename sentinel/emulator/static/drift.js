// ?ui=next: the emulator's own drift generation, a plausible next Colab built to break today's tag and id
// selectors while keeping what a person sees (texts, roles, behaviour). The page skeleton is the same
// template; this rewrites the parts today's selectors name before the controller wires them:
//   - `#top-toolbar` gets a new id; its `colab-toolbar-button#toolbar-*` become plain <button data-command>;
//   - `colab-connect-button` becomes `nb-runtime-status` (connect-button.js: two open shadow levels, a
//     plain <button> with a title, no #connect, no tooltiptext);
//   - dialogs are native <dialog> opened with showModal(), their content in open shadow roots with plain
//     <button>s (dialogs.js), toasts are <div role=alert> (toasts.js).

export const NEXT = 'next';

/** Rewrites the toolbar of the notebook template for ?ui=next. */
export function applyNextChrome() {
  const toolbar = document.getElementById('top-toolbar');
  if (!toolbar) return;
  toolbar.id = 'nb-actionbar';
  toolbar.setAttribute('role', 'toolbar');
  toolbar.setAttribute('aria-label', 'Notebook actions');
  for (const old of toolbar.querySelectorAll('colab-toolbar-button')) {
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'nb-action';
    button.dataset.command = old.getAttribute('command') || '';
    button.dataset.legacyId = old.id;
    button.title = old.getAttribute('title') || '';
    button.append(...old.childNodes);
    for (const svg of button.querySelectorAll('svg')) svg.removeAttribute('slot');
    old.replaceWith(button);
  }
  const connect = toolbar.querySelector('colab-connect-button');
  if (connect) connect.replaceWith(document.createElement('nb-runtime-status'));
}
