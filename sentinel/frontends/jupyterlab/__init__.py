"""JupyterLab 4's and Notebook 7's notebook page (one code base, one frontend).

* ``_selectors``: their selectors and texts, the only place that knows how the page looks
  (a user's ``--selectors`` file overrides them);
* ``_classify``: pure classification of the page's raw facts into an Observation;
* ``_page``: :class:`JupyterLabFrontend`, the in-page observer and every action, with real input;
* ``_page.js``: the script that gathers facts in the page and reports changes.
"""

from sentinel.frontends.jupyterlab._classify import classify
from sentinel.frontends.jupyterlab._page import BINDING, PAGE_JS, JupyterLabFrontend
from sentinel.frontends.jupyterlab._selectors import DEFAULT_SELECTORS, load_selectors

__all__ = ["BINDING", "DEFAULT_SELECTORS", "PAGE_JS", "JupyterLabFrontend", "classify", "load_selectors"]
