"""A virtual X display (Xvfb) for headed Chromium without a screen, and noVNC to see it from a web browser.

``sentinel run --headed`` and ``sentinel login`` on a machine without ``$DISPLAY`` (a server, a NAS, a
container) run the browser on a :class:`VirtualDisplay`; ``sentinel login --vnc`` adds a
:class:`VncServer` (x11vnc on a free loopback port, websockify serving noVNC) so a person can sign in
from a web browser, over an SSH tunnel if need be::

    with VirtualDisplay(process_env()) as screen, VncServer(screen, port=6080) as vnc:
        print(vnc.url)                       # http://127.0.0.1:6080/vnc.html?autoconnect=1...
        launch the browser with env=screen.env

Every helper runs in its own session (process group): Ctrl+C in the terminal reaches sentinel only,
which closes the browser first (saving the profile) and then stops the helpers, whole process groups,
SIGTERM then SIGKILL. A start that fails half-way stops what it had started. The display number and
the VNC port are picked free (``Xvfb -displayfd``, a bind to port 0), never fixed, since a container
on the host network shares both with the host.

Nothing here touches ``os.environ``: the display reaches the browser through the child environment
(:attr:`VirtualDisplay.env`).
"""

from sentinel.display._vnc import VncServer
from sentinel.display._xvfb import (
    NOVNC_DIRS,
    SCREEN_SIZE,
    VirtualDisplay,
    XvfbMode,
    free_port,
    is_loopback,
    wants_virtual_display,
)

__all__ = [
    "NOVNC_DIRS",
    "SCREEN_SIZE",
    "VirtualDisplay",
    "VncServer",
    "XvfbMode",
    "free_port",
    "is_loopback",
    "wants_virtual_display",
]
