"""Google Colab's notebook page (and the emulator's, which copies it).

* ``_selectors``: Colab's selectors and texts, the only place that knows how the page looks
  (a user's ``--selectors`` file overrides them);
* ``_classify``: pure classification of the page's raw facts into an Observation;
* ``_page``: :class:`ColabFrontend`, the in-page observer and every action, with real input;
* ``_oauth``: Google's consent popup, completed as a person would;
* ``_page.js``: the script that gathers facts in the page and reports changes.
"""

from sentinel.frontends.colab._classify import classify
from sentinel.frontends.colab._page import BINDING, PAGE_JS, ColabFrontend
from sentinel.frontends.colab._selectors import DEFAULT_SELECTORS, load_selectors

__all__ = ["BINDING", "DEFAULT_SELECTORS", "PAGE_JS", "ColabFrontend", "classify", "load_selectors"]
