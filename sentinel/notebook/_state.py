"""Full training state: RNGs and stateful objects as plain data that `weights_only` loading accepts.

stdlib only; runs inside the Colab kernel. NumPy and PyTorch are used when the notebook has already
imported them (they are looked up in ``sys.modules``), never imported here on their own account.
"""

from __future__ import annotations

import random
import sys

from ._errors import StateRestoreError, UnsupportedStateError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

STATE_FORMAT = "sentinel-training-state"
STATE_FORMAT_VERSION = 1

_PRIMITIVES = (type(None), bool, int, float, complex, str, bytes, bytearray)


def check_weights_only(state: Any, *, where: str = "state") -> None:
    """Make sure every object in ``state`` loads under ``torch.load(weights_only=True)``.

    Allowed are None, bool, int, float, complex, str, bytes, bytearray; dict, OrderedDict, list,
    tuple and set of allowed objects; and from PyTorch ``Tensor``, ``nn.Parameter``, ``Size``,
    ``dtype``, ``device`` and any class registered with ``torch.serialization.add_safe_globals``.

    Args:
        state: The object to check.
        where: How to name the object in the error message.

    Raises:
        UnsupportedStateError: Naming the first offending object by its path, e.g.
            ``state['optimizer']['fn']``, and its type, instead of letting it be dropped or fail at load.
    """
    torch = sys.modules.get("torch")
    allowed: set[type] = set(_PRIMITIVES)
    if torch is not None:
        allowed.update({torch.Tensor, torch.nn.Parameter, torch.Size, torch.dtype, torch.device})
        allowed.update(g for g in torch.serialization.get_safe_globals() if isinstance(g, type))
    import collections

    mappings = {dict, collections.OrderedDict}
    sequences = {list, tuple, set}
    seen: set[int] = set()
    stack: list[tuple[str, Any]] = [(where, state)]
    while stack:
        path, obj = stack.pop()
        kind = type(obj)
        if kind in allowed:
            continue
        if kind in mappings or kind in sequences:
            if id(obj) in seen:
                continue
            seen.add(id(obj))
            if kind in mappings:
                for key, value in reversed(list(obj.items())):
                    stack.append((f"{path} key {key!r}", key))
                    stack.append((f"{path}[{key!r}]", value))
            else:
                for i, value in reversed(list(enumerate(obj))):
                    stack.append((f"{path}[{i}]", value))
            continue
        raise UnsupportedStateError(
            f"{path} is a {kind.__module__}.{kind.__qualname__}, which torch.load(weights_only=True) "
            "refuses. Store it as a tensor or plain Python data (numbers, strings, lists, dicts), save the "
            "object's state_dict(), or create the Checkpointer with weights_only=False for files you trust."
        )


# -- RNG state --------------------------------------------------------------------------------------


def capture_rng_state() -> dict[str, Any]:
    """The state of every random number generator in use, as plain data and tensors.

    Covers Python's `random`, NumPy's legacy global generator (when NumPy is imported), the PyTorch
    CPU generator and every CUDA device's generator (when PyTorch is imported and CUDA is available).
    """
    version, internal, gauss_next = random.getstate()
    rng: dict[str, Any] = {
        "python": {"version": version, "state": list(internal), "gauss_next": gauss_next},
    }
    np = sys.modules.get("numpy")
    if np is not None:
        name, key, pos, has_gauss, cached = np.random.get_state(legacy=True)
        rng["numpy"] = {
            "bit_generator": str(name),
            "key": [int(k) for k in key],
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached),
        }
    torch = sys.modules.get("torch")
    if torch is not None:
        rng["torch"] = {"cpu": torch.get_rng_state()}
        if torch.cuda.is_available():
            rng["torch"]["cuda"] = list(torch.cuda.get_rng_state_all())
    return rng


def restore_rng_state(rng: Mapping[str, Any], *, allow_missing_cuda: bool = False) -> None:
    """Put every generator back to the state `capture_rng_state()` recorded.

    Args:
        rng: What `capture_rng_state()` returned (possibly after a save/load round trip).
        allow_missing_cuda: Resume on a machine without the recorded CUDA devices, leaving their
            generators unrestored (the run is then no longer bit-for-bit reproducible).

    Raises:
        StateRestoreError: A recorded generator cannot be restored here (NumPy or PyTorch not imported,
            a different number of CUDA devices, malformed data). Nothing is skipped silently.
    """
    unknown = set(rng) - {"python", "numpy", "torch"}
    if unknown:
        raise StateRestoreError(f"unknown RNG entries {sorted(unknown)}; was this written by a newer kit?")
    try:
        py = rng["python"]
        random.setstate((int(py["version"]), tuple(int(x) for x in py["state"]), py["gauss_next"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise StateRestoreError(f"cannot restore Python's random state: {exc}") from exc
    if "numpy" in rng:
        np = sys.modules.get("numpy")
        if np is None:
            raise StateRestoreError(
                "the checkpoint holds NumPy's RNG state but NumPy is not imported; import numpy first"
            )
        state = rng["numpy"]
        try:
            np.random.set_state(
                (
                    state["bit_generator"],
                    np.asarray(state["key"], dtype=np.uint32),
                    int(state["pos"]),
                    int(state["has_gauss"]),
                    float(state["cached_gaussian"]),
                )
            )
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise StateRestoreError(f"cannot restore NumPy's random state: {exc}") from exc
    if "torch" in rng:
        _restore_torch_rng(rng["torch"], allow_missing_cuda=allow_missing_cuda)


def _restore_torch_rng(state: Mapping[str, Any], *, allow_missing_cuda: bool) -> None:
    torch = sys.modules.get("torch")
    if torch is None:
        raise StateRestoreError(
            "the checkpoint holds PyTorch's RNG state but torch is not imported; import torch first"
        )
    try:
        torch.set_rng_state(state["cpu"])
    except (KeyError, TypeError, RuntimeError) as exc:
        raise StateRestoreError(f"cannot restore the torch CPU random state: {exc}") from exc
    cuda_states = state.get("cuda")
    if cuda_states is None:
        return
    available = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if available != len(cuda_states):
        if allow_missing_cuda and available < len(cuda_states):
            import warnings

            warnings.warn(
                f"the checkpoint holds RNG state for {len(cuda_states)} CUDA device(s), this runtime has "
                f"{available}; restoring {available}",
                stacklevel=3,
            )
            cuda_states = cuda_states[:available]
        else:
            raise StateRestoreError(
                f"the checkpoint holds RNG state for {len(cuda_states)} CUDA device(s) but this runtime has "
                f"{available}; pass allow_missing_cuda=True to resume without them"
            )
    if cuda_states:
        torch.cuda.set_rng_state_all(cuda_states)


# -- stateful objects ---------------------------------------------------------------------------


def training_state(**components: Any) -> dict[str, Any]:
    """Everything needed to resume training exactly, ready for `Checkpointer.save()`.

    Objects with a ``state_dict()`` method (model, optimizer, LR scheduler, AMP GradScaler, your own
    early-stopping helper) are stored as their state dicts; ``random.Random``, NumPy ``Generator`` and
    ``torch.Generator`` instances as their generator state; anything else (step, epoch, batch position, metrics, config)
    as given. The global RNG states are added under ``"rng"``.

    Args:
        **components: The objects and values to save, by name.

    Raises:
        ValueError: A component is named ``rng``, ``format`` or ``version``.
    """
    reserved = {"rng", "format", "version"} & set(components)
    if reserved:
        raise ValueError(f"component names {sorted(reserved)} are reserved; choose other names")
    objects: dict[str, Any] = {}
    generators: dict[str, Any] = {}
    values: dict[str, Any] = {}
    np = sys.modules.get("numpy")
    torch = sys.modules.get("torch")
    for name, obj in components.items():
        if isinstance(obj, random.Random):
            version, internal, gauss_next = obj.getstate()
            generators[name] = {
                "kind": "python",
                "state": {"version": version, "state": list(internal), "gauss_next": gauss_next},
            }
        elif np is not None and isinstance(obj, np.random.Generator):
            generators[name] = {"kind": "numpy", "state": obj.bit_generator.state}
        elif torch is not None and isinstance(obj, torch.Generator):
            generators[name] = {"kind": "torch", "state": obj.get_state()}
        elif callable(getattr(obj, "state_dict", None)) and callable(getattr(obj, "load_state_dict", None)):
            objects[name] = obj.state_dict()
        else:
            values[name] = obj
    return {
        "format": STATE_FORMAT,
        "version": STATE_FORMAT_VERSION,
        "objects": objects,
        "generators": generators,
        "values": values,
        "rng": capture_rng_state(),
    }


def restore_training_state(
    state: Mapping[str, Any], *, allow_missing_cuda: bool = False, **components: Any
) -> dict[str, Any]:
    """Load what `training_state()` saved back into live objects; returns the plain values.

    Every saved object must be given a live counterpart by the same name and vice versa: a mismatch
    raises rather than leaving, say, the scheduler silently at its initial state. The global RNGs are
    restored last, after the objects (whose loading could draw random numbers).

    Args:
        state: What `training_state()` returned, after a save/load round trip.
        allow_missing_cuda: See `restore_rng_state()`.
        **components: The live objects (model, optimizer, ...) to load state into, by name.

    Raises:
        StateRestoreError: ``state`` is not a training state, or names do not match.
        Exception: Whatever an object's ``load_state_dict()`` raises is passed on unchanged.
    """
    if not hasattr(state, "get") or state.get("format") != STATE_FORMAT:
        raise StateRestoreError(
            "this is not a state written by training_state(); load it with your own code instead"
        )
    if state.get("version") != STATE_FORMAT_VERSION:
        raise StateRestoreError(f"training state version {state.get('version')!r} is not supported here")
    objects: Mapping[str, Any] = state["objects"]
    generators: Mapping[str, Any] = state["generators"]
    saved = set(objects) | set(generators)
    given = set(components)
    if saved - given:
        raise StateRestoreError(
            f"the checkpoint holds state for {sorted(saved - given)} but no object was passed to restore "
            "it into; pass them as keyword arguments"
        )
    if given - saved:
        raise StateRestoreError(
            f"no saved state for {sorted(given - saved)}; the checkpoint has {sorted(saved) or 'none'}"
        )
    for name, saved_state in objects.items():
        target = components[name]
        if not callable(getattr(target, "load_state_dict", None)):
            raise StateRestoreError(f"{name!r} was saved from a state_dict() but the object given has none")
        target.load_state_dict(saved_state)
    for name, saved in generators.items():
        _restore_generator(name, components[name], saved)
    restore_rng_state(state["rng"], allow_missing_cuda=allow_missing_cuda)
    return dict(state["values"])


def _restore_generator(name: str, target: Any, saved: Mapping[str, Any]) -> None:
    kind: Any = saved.get("kind")
    state: Any = saved.get("state")
    if kind == "python" and isinstance(target, random.Random):
        target.setstate((int(state["version"]), tuple(int(x) for x in state["state"]), state["gauss_next"]))
    elif kind == "numpy" and hasattr(target, "bit_generator"):
        target.bit_generator.state = state
    elif kind == "torch" and callable(getattr(target, "set_state", None)):
        target.set_state(state)
    else:
        raise StateRestoreError(
            f"{name!r} was saved from a {kind} random generator; the object given is a {type(target).__name__}"
        )
