"""URL checks shared by the settings: a notebook URL's normal form (:func:`notebook_key`), other URLs' shape."""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

__all__ = ["check_url", "mask_url", "notebook_key"]

# A query parameter naming a token (Jupyter's ``?token=``, ``access_token=``, ...) and a URL's password.
_TOKEN_PARAM = re.compile(r"(?i)([?&;][^=&#\s]*token[^=&#\s]*=)[^&#\s]*")
_USERINFO = re.compile(r"(://[^/\s:@]+:)[^@/\s]+@")


def mask_url(text: str) -> str:
    """``text`` (a URL, or a message holding URLs) with every ``token=`` value and URL password as ``***``.

    A Jupyter URL's ``?token=`` is a credential: every place that shows a notebook URL (logs, ``/status``,
    the status page, ``/metrics``, notifications) shows it through this function.
    """
    return _USERINFO.sub(r"\1***@", _TOKEN_PARAM.sub(r"\1***", text))


def check_url(url: str, schemes: tuple[str, ...], *, secret: bool = False) -> None:
    """Raise ValueError unless ``url`` is ``SCHEME://host[:port]...`` with a scheme of ``schemes``, port 1-65535.

    ``secret``: the URL may hold a token (a heartbeat's ping URL); the message then leaves it out.
    """
    expected = "expected " + ", ".join(f"{s}://" for s in schemes) + " URL"
    got = "" if secret else f", got {url!r}"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"{expected} ({exc}){got}") from None
    if parts.scheme.lower() not in schemes or not parts.hostname or any(c.isspace() for c in url):
        raise ValueError(f"{expected}{got}")
    if port == 0:
        raise ValueError(f"{expected} (port 0){got}")


def notebook_key(url: str) -> str:
    """``url`` checked as a notebook URL and normalised, so one notebook given twice is seen as one.

    Scheme and host are lower-cased, a default port and the fragment (Colab's ``#scrollTo=...``)
    dropped, and a trailing slash removed; a fragment's ``fileId=`` (the old ``/notebook#fileId=ID``
    form names the notebook there) is kept.

    Raises:
        ValueError: not an ``http(s)://host/...`` URL, or its port is not a number in 1-65535.
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"not a notebook URL ({exc}): {mask_url(url)!r}") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not a notebook URL (expected http:// or https://...): {mask_url(url)!r}")
    if port == 0:
        raise ValueError(f"not a notebook URL (port 0): {mask_url(url)!r}")
    scheme = parts.scheme.lower()
    host = parts.hostname
    if ":" in host:
        host = f"[{host}]"
    if port is not None and port != {"http": 80, "https": 443}[scheme]:
        host = f"{host}:{port}"
    file_id = next((p for p in parts.fragment.split("&") if p.startswith("fileId=")), "")
    return urlunsplit((scheme, host, parts.path.rstrip("/") or "/", parts.query, file_id))
