"""The image's HEALTHCHECK: GET /healthz on the daemon's status address, read from the environment each time.

Exit 0 when the daemon's main loop ticked recently (200), 1 otherwise. Standard library only, so a probe
costs a few milliseconds of CPU every interval instead of sentinel's full start-up.
"""

import os
import sys
import urllib.request

# A daemon bound to every interface is reached through loopback.
WILDCARDS = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}

addr = os.environ.get("SENTINEL_STATUS_ADDR", "127.0.0.1:8731")
host, _, port = addr.rpartition(":")
host = host.strip("[]")
host = WILDCARDS.get(host, host)
shown = f"[{host}]" if ":" in host else host
try:
    with urllib.request.urlopen(f"http://{shown}:{port}/healthz", timeout=4) as answer:  # noqa: S310
        sys.exit(0 if answer.status == 200 else 1)
except Exception as exc:  # noqa: BLE001 - any failure is "unhealthy"; say why in the health log
    print(f"unhealthy: {exc}", file=sys.stderr)
    sys.exit(1)
