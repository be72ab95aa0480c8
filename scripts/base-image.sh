#!/usr/bin/env bash
# Makes the image's base, debian:bookworm-slim, from Debian's packages when the engine lacks it and no
# registry can be reached (CI, closed networks). Where a registry answers, the Dockerfile's FROM pulls
# the official image as usual and this script is not needed.
# Usage: scripts/base-image.sh [TAG]   (env DOCKER: the client, default docker)
set -euo pipefail

tag=${1:-debian:bookworm-slim}
docker=${DOCKER:-docker}

if "$docker" image inspect "$tag" >/dev/null 2>&1; then
  exit 0
fi
if "$docker" pull "$tag" >/dev/null 2>&1; then
  exit 0
fi
command -v mmdebstrap >/dev/null 2>&1 || {
  echo "base-image: $tag is not in the engine and cannot be pulled; install mmdebstrap (apt-get install mmdebstrap) to make it" >&2
  exit 1
}

suite=${tag#*:}
suite=${suite%-slim}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "base-image: building $tag with mmdebstrap ($suite, minbase)" >&2
# minbase: essential packages and apt only, like the official -slim image; ca-certificates for pip.
mmdebstrap --quiet --variant=minbase --include=ca-certificates \
  --aptopt='Acquire::Languages "none"' \
  --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
  --dpkgopt='path-include=/usr/share/doc/*/copyright' \
  "$suite" "$work/base.tar"
"$docker" import --change 'CMD ["bash"]' "$work/base.tar" "$tag" >/dev/null
echo "base-image: imported $tag" >&2
