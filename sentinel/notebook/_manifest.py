"""The on-disk checkpoint format: file names, manifests, and checking a folder's files against them.

A checkpoint is two files sharing one stem, ``ckpt-<step>-<token>``: the payload (``.pt``, or
``.pkl`` without PyTorch) and its manifest (``.manifest.json``), which holds the format version, step,
size, sha256, creation time and library versions, plus a sha256 of its own content. The manifest
marks completeness: no intact manifest, no checkpoint. Nothing here writes or removes files.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from sentinel import __version__

from ._lease import runtime_identity

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

MANIFEST_FORMAT = "sentinel-checkpoint"
MANIFEST_VERSION = 1
_MANIFEST_SUFFIX = ".manifest.json"
_PAYLOAD_SUFFIXES = {"torch": ".pt", "pickle": ".pkl"}
_READ_CHUNK = 8 << 20


class CheckpointInfo:
    """One complete checkpoint, as described by its manifest.

    Attributes:
        step: The training step it was saved at.
        name: Its stem, ``ckpt-<step>-<token>``.
        payload: Path of the data file.
        manifest: Path of the manifest file.
        size: Payload size in bytes.
        sha256: Hex sha256 of the payload.
        created_at: Unix time of the save.
        serializer: ``"torch"`` or ``"pickle"``.
        weights_only: Whether the payload loads under ``torch.load(weights_only=True)``.
        versions: Library versions that wrote it (sentinel, python, torch, numpy).
    """

    __slots__ = (
        "created_at",
        "manifest",
        "name",
        "payload",
        "serializer",
        "sha256",
        "size",
        "step",
        "versions",
        "weights_only",
    )

    def __init__(
        self,
        *,
        step: int,
        name: str,
        payload: Path,
        manifest: Path,
        size: int,
        sha256: str,
        created_at: float,
        serializer: str,
        weights_only: bool,
        versions: dict[str, str],
    ) -> None:
        self.step = step
        self.name = name
        self.payload = payload
        self.manifest = manifest
        self.size = size
        self.sha256 = sha256
        self.created_at = created_at
        self.serializer = serializer
        self.weights_only = weights_only
        self.versions = versions

    def __repr__(self) -> str:
        return f"CheckpointInfo(step={self.step}, name={self.name!r}, size={self.size})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CheckpointInfo):
            return NotImplemented
        return all(getattr(self, a) == getattr(other, a) for a in self.__slots__)

    def __hash__(self) -> int:
        return hash((self.name, self.sha256))


class CheckpointEntry:
    """Files in the folder that share one ``ckpt-<step>-<token>`` stem."""

    __slots__ = ("info", "manifest", "payload", "problem", "stem", "step")

    def __init__(self, stem: str, step: int) -> None:
        self.stem = stem
        self.step = step
        self.payload: Path | None = None
        self.manifest: Path | None = None
        self.info: CheckpointInfo | None = None
        self.problem: str | None = None


# -- names -----------------------------------------------------------------------------------------


def new_checkpoint_paths(directory: Path, step: int, serializer: str) -> tuple[str, Path, Path]:
    """(stem, payload path, manifest path) for a new checkpoint of ``step``, under a fresh random token."""
    import secrets

    stem = f"ckpt-{step:012d}-{secrets.token_hex(4)}"
    return stem, directory / (stem + _PAYLOAD_SUFFIXES[serializer]), directory / (stem + _MANIFEST_SUFFIX)


def _parse_name(filename: str) -> tuple[str, int, str] | None:
    """``ckpt-000000001200-1a2b3c4d.pt`` -> (stem, step, kind); None for files that are not ours."""
    if not filename.startswith("ckpt-"):
        return None
    for kind, suffix in (("manifest", _MANIFEST_SUFFIX), ("payload", ".pt"), ("payload", ".pkl")):  # noqa: B007
        if filename.endswith(suffix):
            stem = filename[: -len(suffix)]
            break
    else:
        return None
    parts = stem.split("-")
    if len(parts) != 3 or len(parts[1]) < 12 or not parts[1].isdigit() or not parts[1].isascii():
        return None
    token = parts[2]
    if len(token) != 8 or any(c not in "0123456789abcdef" for c in token):
        return None
    return stem, int(parts[1]), kind


# -- writing a manifest ----------------------------------------------------------------------------


def new_manifest(
    *, step: int, serializer: str, weights_only: bool, payload: Path, size: int, sha256: str
) -> dict[str, Any]:
    """The manifest record of a payload just written, its own checksum included."""
    created = time.time()
    record: dict[str, Any] = {
        "format": MANIFEST_FORMAT,
        "format_version": MANIFEST_VERSION,
        "step": step,
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(created)),
        "created_at_unix": created,
        "serializer": serializer,
        "weights_only": weights_only,
        "files": [{"name": payload.name, "size": size, "sha256": sha256}],
        "versions": _library_versions(),
        "writer": runtime_identity(),
    }
    record["manifest_sha256"] = _sha256_hex(_canonical(record))
    return record


def manifest_bytes(record: dict[str, Any]) -> bytes:
    """The manifest file's content."""
    return json.dumps(record, indent=1).encode() + b"\n"


def info_from_record(stem: str, record: dict[str, Any], payload: Path, manifest: Path) -> CheckpointInfo:
    """The `CheckpointInfo` a valid manifest record describes."""
    file = record["files"][0]
    return CheckpointInfo(
        step=record["step"],
        name=stem,
        payload=payload,
        manifest=manifest,
        size=file["size"],
        sha256=file["sha256"],
        created_at=float(record["created_at_unix"]),
        serializer=record["serializer"],
        weights_only=bool(record["weights_only"]),
        versions=dict(record["versions"]),
    )


def _canonical(record: dict[str, Any]) -> bytes:
    return json.dumps(record, sort_keys=True, separators=(",", ":")).encode()


def _library_versions() -> dict[str, str]:
    versions = {"sentinel": __version__, "python": sys.version.split()[0]}
    for module in ("torch", "numpy"):
        mod = sys.modules.get(module)
        if mod is not None:
            versions[module] = str(getattr(mod, "__version__", "unknown"))
    return versions


def _sha256_hex(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


# -- checking a folder -----------------------------------------------------------------------------


def scan_folder(directory: Path) -> list[CheckpointEntry]:
    """The folder's checkpoints, one entry per stem: ``info`` set when complete, else ``problem``.

    Complete means the manifest is intact and the payload present at the recorded size; payload
    hashes are not read here (see `payload_problem`).
    """
    try:
        names = [p.name for p in directory.iterdir()]
    except FileNotFoundError:
        return []
    entries: dict[str, CheckpointEntry] = {}
    for filename in names:
        parsed = _parse_name(filename)
        if parsed is None:
            continue
        stem, step, kind = parsed
        entry = entries.get(stem)
        if entry is None:
            entry = entries[stem] = CheckpointEntry(stem, step)
        path = directory / filename
        if kind == "manifest":
            entry.manifest = path
        elif entry.payload is None:
            entry.payload = path
        else:
            entry.problem = "two payload files share one name"
    for entry in entries.values():
        if entry.manifest is None:
            entry.problem = "incomplete: the save was interrupted before its manifest was written"
        elif entry.problem is None:
            _read_manifest(directory, entry)
    return list(entries.values())


def _read_manifest(directory: Path, entry: CheckpointEntry) -> None:
    assert entry.manifest is not None
    try:
        with entry.manifest.open("rb") as f:
            raw = f.read(1 << 20)
        record = json.loads(raw)
    except (OSError, ValueError) as exc:
        entry.problem = f"manifest unreadable ({exc})"
        return
    problem = _manifest_problem(record, entry)
    if problem is not None:
        entry.problem = f"manifest invalid: {problem}"
        return
    payload = directory / record["files"][0]["name"]
    if entry.payload != payload:
        entry.problem = f"payload {payload.name} is missing"
        return
    try:
        actual = payload.stat().st_size
    except OSError as exc:
        entry.problem = f"payload cannot be read ({exc})"
        return
    expected = record["files"][0]["size"]
    if actual != expected:
        entry.problem = (
            f"payload is {actual} bytes, the manifest says {expected} (truncated, or still uploading)"
        )
        return
    entry.info = info_from_record(entry.stem, record, payload, entry.manifest)


def _manifest_problem(record: Any, entry: CheckpointEntry) -> str | None:  # noqa: PLR0911 - one check per field
    if not isinstance(record, dict):
        return "not a JSON object"
    if record.get("format") != MANIFEST_FORMAT:
        return f"format is {record.get('format')!r}"
    version = record.get("format_version")
    if not isinstance(version, int) or version > MANIFEST_VERSION:
        return f"format version {version!r} is newer than this kit understands; upgrade colab-sentinel"
    claimed = record.get("manifest_sha256")
    body = {k: v for k, v in record.items() if k != "manifest_sha256"}
    if claimed != _sha256_hex(_canonical(body)):
        return "its own checksum does not match (damaged)"
    if record.get("step") != entry.step:
        return f"step {record.get('step')!r} does not match the file name"
    files = record.get("files")
    if not (isinstance(files, list) and len(files) == 1 and isinstance(files[0], dict)):
        return "file list malformed"
    file = files[0]
    name, size, digest = file.get("name"), file.get("size"), file.get("sha256")
    if not (
        isinstance(name, str) and name.startswith(entry.stem + ".") and "/" not in name and "\\" not in name
    ):
        return f"payload name {name!r} does not belong to it"
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        return "payload size malformed"
    if not (isinstance(digest, str) and len(digest) == 64):
        return "payload sha256 malformed"
    if record.get("serializer") not in _PAYLOAD_SUFFIXES:
        return f"unknown serializer {record.get('serializer')!r}"
    if not isinstance(record.get("created_at_unix"), (int, float)):
        return "creation time malformed"
    if not isinstance(record.get("versions"), dict):
        return "versions malformed"
    return None


def payload_problem(info: CheckpointInfo) -> str | None:
    """Read the payload and compare its size and sha256 with the manifest: None if they match, else why not."""
    import hashlib

    sha = hashlib.sha256()
    size = 0
    try:
        with info.payload.open("rb", buffering=0) as f:
            buf = bytearray(_READ_CHUNK)
            view = memoryview(buf)
            while n := f.readinto(buf):
                sha.update(view[:n])
                size += n
    except OSError as exc:
        return f"payload cannot be read ({exc})"
    if size != info.size:
        return f"payload is {size} bytes, the manifest says {info.size}"
    if sha.hexdigest() != info.sha256:
        return "payload sha256 does not match the manifest (corrupted or partially uploaded)"
    return None
