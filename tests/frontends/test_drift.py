"""Drift the defaults cannot read: a selectors file alone makes ColabFrontend work again, in real Chromium.

The page below is a Colab that drifted in a way none of the default layers knows: the connect control
is a <div> without role or label reading "Offline"/"Online", the dialog a <div> without role, its
buttons <span>s, no ``colab.global.notebook``. The defaults see nothing; a user's TOML file (what the
"When Colab changes" guide tells them to write) fixes the connection, the dialog and both clicks.
A second page drifts in a way the default layers do read: a control three shadow roots down named
only by aria-label/title, a native modal <dialog> whose content and buttons sit in nested shadow roots.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import Page

from sentinel.frontends.base import Action, Connection, Dialog
from sentinel.frontends.colab import ColabFrontend, load_selectors
from tests._eventually import eventually

PAGE = """<!doctype html><html><body>
<div class="rt-pill">Offline</div>
<div class="pop" style="position:fixed;top:40px;left:40px;background:#fff;padding:16px">
  <b>Runtime disconnected</b><p>Your runtime has been disconnected due to inactivity.</p>
  <span class="act" id="close">Close</span> <span class="act" id="again">Reconnect</span>
</div>
<script>
  window.clicks = [];
  const pill = document.querySelector('.rt-pill');
  const online = () => { pill.textContent = 'Online'; };
  document.getElementById('again').addEventListener('click', (e) => {
    window.clicks.push(['Reconnect', e.isTrusted]);
    document.querySelector('.pop').remove();
  });
  pill.addEventListener('click', (e) => { window.clicks.push(['pill', e.isTrusted]); online(); });
</script></body></html>"""

SELECTORS = """\
# What a user writes after `sentinel doctor` showed that nothing matched.
[css]
connect_button = [".rt-pill"]
dialog = [".pop"]
dialog_button = [".act"]
[texts]
disconnected = ["^offline$"]
connected = ["^online$"]
"""


@pytest.fixture
def selectors_file(tmp_path: Path) -> Path:
    path = tmp_path / "selectors.toml"
    path.write_text(SELECTORS, encoding="utf-8")
    return path


async def test_the_defaults_do_not_read_this_drift(page: Page) -> None:
    await page.set_content(PAGE)
    observation = await ColabFrontend().observe(page)
    assert observation.connection is Connection.UNKNOWN
    assert observation.dialogs == ()


async def test_a_selectors_file_alone_fixes_it(page: Page, selectors_file: Path) -> None:
    """1. Classified. 2. Reconnect answered with a real click. 3. Connect clicked. 4. Connected."""
    frontend = ColabFrontend(load_selectors(selectors_file), action_timeout=5)
    await page.set_content(PAGE)
    observation = await frontend.observe(page)
    assert observation.connection is Connection.DISCONNECTED
    assert observation.connect_text == "Offline"
    assert observation.dialogs == (Dialog.RUNTIME_DISCONNECTED,)

    await frontend.answer(page, Dialog.RUNTIME_DISCONNECTED, Action.RECONNECT)
    assert (await frontend.observe(page)).dialogs == ()
    await frontend.reconnect(page)

    async def connected() -> bool:
        return (await frontend.observe(page)).connection is Connection.CONNECTED

    await eventually(connected, what="the page reads Online")
    assert await page.evaluate("() => window.clicks") == [["Reconnect", True], ["pill", True]]


DEEP = """<!doctype html><html><body>
<x-shell></x-shell>
<script>
  window.clicks = [];
  // Three open shadow levels down: a plain <button> named only by its aria-label and title.
  const level = (host, html) => { const root = host.attachShadow({mode: 'open'}); root.innerHTML = html; return root; };
  const a = level(document.querySelector('x-shell'), '<x-bar></x-bar>');
  const b = level(a.querySelector('x-bar'), '<x-chip></x-chip>');
  const c = level(b.querySelector('x-chip'), '<button aria-label="Reconnect" title="Connect to a new runtime">⟳</button>');
  c.querySelector('button').addEventListener('click', (e) => window.clicks.push(['connect', e.isTrusted]));
  // A native modal <dialog> whose whole content is two shadow levels inside it, plain buttons.
  const dialog = document.createElement('dialog');
  const surface = document.createElement('div');
  const inner = level(surface, '<h2>Are you still there?</h2><x-actions></x-actions>');
  const actions = level(inner.querySelector('x-actions'), '<button>Yes</button>');
  actions.querySelector('button').addEventListener('click', (e) => {
    window.clicks.push(['Yes', e.isTrusted]);
    dialog.close();
    dialog.remove();
  });
  dialog.append(surface);
  document.body.append(dialog);
  dialog.showModal();
</script></body></html>"""


async def test_the_default_layers_read_deep_shadow_roots_and_native_dialogs(page: Page) -> None:
    """No tag the defaults name, no Colab model: the connection by accessible name/tooltip, the dialog by :modal."""
    frontend = ColabFrontend(action_timeout=5)
    await page.set_content(DEEP)
    observation = await frontend.observe(page)
    assert observation.dialogs == (Dialog.STILL_THERE,)
    assert observation.connection is Connection.DISCONNECTED
    await frontend.answer(page, Dialog.STILL_THERE, Action.YES)
    assert (await frontend.observe(page)).dialogs == ()
    await frontend.reconnect(page)
    assert await page.evaluate("() => window.clicks") == [["Yes", True], ["connect", True]]
