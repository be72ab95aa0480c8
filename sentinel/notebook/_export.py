"""Build ``sentinel_kit.py``: the kit's modules joined into one importable file (stdlib only).

Not part of the kit itself (it is left out of the file it writes). The modules are concatenated in
dependency order with their package-relative imports removed, which works because the kit keeps
each top-level name unique across its modules; `build_kit_source()` checks that and refuses
otherwise, so a clash can never silently change behaviour.
"""

from __future__ import annotations

import ast
import hashlib
import os
from pathlib import Path

KIT_FILE_NAME = "sentinel_kit.py"
_PACKAGE_DIR = Path(__file__).resolve().parent
_SELF = Path(__file__).resolve().name


class KitExportError(Exception):
    """Raised when the kit's sources cannot be joined into one file, or the file cannot be written."""


def _kit_version() -> str:
    from sentinel import __version__

    return __version__


def _module_sources() -> dict[str, str]:
    """``{"_io": source, ...}`` for every private module of the kit, plus ``"__init__"``."""
    sources = {}
    for path in sorted(_PACKAGE_DIR.glob("*.py")):
        if path.name == _SELF:
            continue
        if not (path.name.startswith("_")):
            raise KitExportError(f"public module {path.name} in the kit; the exporter only joins _modules")
        sources[path.stem] = path.read_text(encoding="utf-8")
    return sources


def _relative_dependencies(tree: ast.Module) -> set[str]:
    deps = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module:
            deps.add(node.module)
        elif isinstance(node, ast.ImportFrom) and node.level > 1:
            raise KitExportError("the kit may only import its own modules as 'from ._module import name'")
    return deps


def _top_level_dependencies(tree: ast.Module) -> set[str]:
    """Modules whose names this one needs at import time (top-level, not under TYPE_CHECKING)."""
    deps = set()
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module:
            deps.add(node.module)
    return deps


def _order(trees: dict[str, ast.Module]) -> list[str]:
    """Modules in an order where each comes after the modules it imports at top level."""
    done: list[str] = []
    visiting: set[str] = set()

    def visit(name: str) -> None:
        if name in done:
            return
        if name in visiting:
            raise KitExportError(f"import cycle through {name}")
        if name not in trees:
            raise KitExportError(f"the kit imports ._{name.lstrip('_')}, which does not exist")
        visiting.add(name)
        for dep in sorted(_top_level_dependencies(trees[name])):
            visit(dep)
        visiting.discard(name)
        done.append(name)

    for name in sorted(n for n in trees if n != "__init__"):
        visit(name)
    visit("__init__")
    return done


def _bindings(tree: ast.Module, source: str) -> dict[str, str]:
    """Top-level names a module binds, each with the source text that binds it."""
    names: dict[str, str] = {}
    for node in tree.body:
        text = ast.get_source_segment(source, node) or ""
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names[node.name] = text
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                for sub in ast.walk(target):
                    if isinstance(sub, ast.Name):
                        names[sub.id] = text
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names[node.target.id] = text
        elif isinstance(node, (ast.Import, ast.ImportFrom)) and getattr(node, "level", 0) == 0:
            for alias in node.names:
                bound = alias.asname or alias.name.split(".")[0]
                # An import binds the same object wherever it appears.
                names[bound] = f"import {getattr(node, 'module', None)}.{alias.name}"
    return names


def _is_docstring(node: ast.stmt) -> bool:
    return (
        isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
    )


def _import_replacement(
    module: str, node: ast.ImportFrom, line: str, top_level: bool, version: str
) -> list[str] | None:
    """What an import becomes in the joined file: None to keep it, else the lines replacing it."""
    indent = line[: len(line) - len(line.lstrip())]
    if node.module == "__future__":
        return []  # the joined file has one at its top
    if node.level == 1:
        # The names are globals of the joined file; nested imports need a statement in their place.
        return [] if top_level else [f"{indent}pass  # bundled: {line.strip()}"]
    if node.level == 0 and node.module == "sentinel":
        if [a.name for a in node.names] != ["__version__"]:
            raise KitExportError(f"{module}: only __version__ may be imported from sentinel")
        return [f"{indent}{node.names[0].asname or '__version__'} = {version!r}"]
    if node.level == 0 and (node.module or "").startswith("sentinel"):
        raise KitExportError(f"{module}: the kit must not import {node.module}")
    return None


def _strip(module: str, source: str, tree: ast.Module, version: str) -> str:
    """The module's code without its docstring, future import and package-relative imports."""
    lines = source.splitlines()
    replace: dict[int, list[str]] = {}  # first line (0-based) -> replacement lines
    drop: set[int] = set()
    if tree.body and _is_docstring(tree.body[0]):
        doc = tree.body[0]
        drop.update(range(doc.lineno - 1, doc.end_lineno or doc.lineno))
    top_level = {id(node) for node in tree.body}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import) and any(a.name.startswith("sentinel") for a in node.names):
            raise KitExportError(f"{module}: the kit must not import the sentinel package")
        if not isinstance(node, ast.ImportFrom):
            continue
        first, last = node.lineno - 1, (node.end_lineno or node.lineno) - 1
        replacement = _import_replacement(module, node, lines[first], id(node) in top_level, version)
        if replacement is not None:
            drop.update(range(first, last + 1))
            replace[first] = replacement
    out: list[str] = []
    for i, line in enumerate(lines):
        out.extend(replace.get(i, []))
        if i not in drop:
            out.append(line)
    return "\n".join(out).strip("\n")


def build_kit_source() -> str:
    """The text of ``sentinel_kit.py``, generated from the installed package's sources.

    Raises:
        KitExportError: The sources cannot be joined (name clash, import cycle, forbidden import).
    """
    sources = _module_sources()
    trees = {name: ast.parse(text, filename=f"sentinel/notebook/{name}.py") for name, text in sources.items()}
    for tree in trees.values():
        _relative_dependencies(tree)
    order = _order(trees)
    seen: dict[str, tuple[str, str]] = {}
    for name in order:
        if name == "__init__":
            continue
        for bound, text in _bindings(trees[name], sources[name]).items():
            if bound in seen and seen[bound][1] != text:
                raise KitExportError(
                    f"{bound!r} is defined in both {seen[bound][0]}.py and {name}.py; "
                    "top-level names must be unique across the kit's modules"
                )
            seen.setdefault(bound, (name, text))
    version = _kit_version()
    digest = hashlib.sha256("\0".join(sources[n] for n in order).encode()).hexdigest()
    init_doc = ast.get_docstring(trees["__init__"], clean=False) or ""
    parts = [
        f'"""{init_doc}"""' if init_doc else '"""The sentinel notebook kit."""',
        "",
        f"# Generated by `sentinel kit export` from colab-sentinel {version}: the modules of",
        "# sentinel/notebook joined into one file. Do not edit; export it again to update it.",
        f"# Sources sha256: {digest}",
        "",
        "from __future__ import annotations",
        "",
        f"__version__ = {version!r}",
    ]
    for name in order:
        doc = ast.get_docstring(trees[name]) or ""
        summary = doc.strip().splitlines()[0] if doc.strip() else ""
        parts += ["", "", f"# ---- sentinel/notebook/{name}.py: {summary}".rstrip(), ""]
        parts.append(_strip(name, sources[name], trees[name], version))
    text = "\n".join(parts) + "\n"
    compile(text, KIT_FILE_NAME, "exec")
    return text


def export_kit(directory: str | os.PathLike[str]) -> Path:
    """Write ``sentinel_kit.py`` into an existing ``directory``; returns the file's path.

    The file is written under a temporary name and moved into place, so an interrupted export never
    leaves a half-written kit (on Drive, the old file may briefly remain alongside; export again).

    Raises:
        KitExportError: ``directory`` is missing or not a folder, or the file cannot be written.
    """
    target_dir = Path(directory).expanduser()
    if not target_dir.exists():
        raise KitExportError(f"{target_dir} does not exist; create the folder first")
    if not target_dir.is_dir():
        raise KitExportError(f"{target_dir} is not a directory")
    text = build_kit_source()
    target = target_dir / KIT_FILE_NAME
    tmp = target_dir / f".{KIT_FILE_NAME}.{os.getpid()}.tmp"
    try:
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise KitExportError(f"cannot write {target}: {exc.strerror or exc}") from exc
    return target
