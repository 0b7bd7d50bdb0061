"""Content hashes of task descriptions: the same description hashes alike in every process.

The task journal keys tasks by these hashes, so a resumed driver finds the
results of the tasks it already ran (:mod:`pilot.journal.store`).  Plain Python
values and numpy arrays are encoded here; each SDK's converter registers the
encoding of its own types with :func:`encode_sdk` (see there).  These bytes are
only hashed, never decoded: every encoding is tagged and length-prefixed, so two
different descriptions never encode alike.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import io
import struct
import threading
from collections.abc import Mapping
from typing import Any

import cloudpickle
import numpy as np

from pilot.errors import JournalError

#: Mixed into every hash: changing the encoding below must change this.
_HASH_DOMAIN = b"qdreamer.description.v1\x00"


def description_hash(*parts: Any) -> str:
    """A stable SHA-256 (hex) of a task's description.

    ``parts`` are whatever identifies the task (its kind, circuit or function,
    arguments, shots, options...).  Each is encoded canonically, so the hash is
    the same in every process that builds the same description:

    * ``None``, bools, ints, floats (bit-exact), complex, str, bytes; lists,
      tuples, dicts (keys in a canonical order), sets, ranges; numpy arrays
      and scalars (dtype, shape and bytes);
    * OpenQASM text and gate dicts as given (they are strings and dicts);
    * a Qiskit ``QuantumCircuit`` by its structure: registers, global phase,
      and per instruction its name, qubit and clbit indices, parameters
      (``Parameter`` by name), control-flow conditions and blocks, and the
      definition of every non-standard gate.  (QPY bytes hold random
      parameter UUIDs and the circuit's auto-generated name; QASM3 export
      drops the global phase, rounds tiny angles to 0 and takes ~50 ms for
      600 gates.)
    * a Braket ``Circuit`` by its OpenQASM 3 program (``to_ir``);
    * a PennyLane QNode by its quantum function, shots, differentiation
      method and device (class, name, wires, settings), leaving out the
      device's random generator, whose state changes as it runs;
    * anything else, callables included, by its ``cloudpickle`` bytes, with
      sets sorted (string hashing, hence set order, changes per process).  A
      module-level function pickles as its module and name; a lambda or
      function defined in the script pickles by value and is stable across
      processes, unless it refers to a class defined in the script
      (cloudpickle tags those with a random id) -- then a resumed driver
      simply runs the task again.

    Different descriptions never share a hash: every encoding is lossless, so
    what is not stable costs a re-run, never someone else's result.

    Raises:
        JournalError: a part holds a Ray ``ObjectRef`` (substitute the key of
            the task that produces it), or cannot be pickled.
    """
    out: list[bytes] = [_HASH_DOMAIN]
    encode(parts, out, "parts")
    return hashlib.sha256(b"".join(out)).hexdigest()


def length(n: int) -> bytes:
    return struct.pack(">Q", n)


def blob(tag: bytes, data: bytes) -> bytes:
    return tag + length(len(data)) + data


def encoded(obj: Any, path: str, bits: Mapping[Any, int] | None = None) -> bytes:
    out: list[bytes] = []
    encode(obj, out, path, bits)
    return b"".join(out)


def _is_object_ref(obj: Any) -> bool:
    cls = type(obj)
    return cls.__name__ == "ObjectRef" and (cls.__module__ + ".").startswith("ray.")


def encode(obj: Any, out: list[bytes], path: str, bits: Mapping[Any, int] | None = None) -> None:
    """Append ``obj``'s canonical encoding (self-delimiting: tag, length, payload)."""
    cls = type(obj)
    if obj is None:
        out.append(b"N")
    elif cls is bool:
        out.append(b"T" if obj else b"F")
    elif cls is int:
        out.append(blob(b"i", str(obj).encode()))
    elif cls is float:
        out.append(b"f" + struct.pack(">d", obj))
    elif cls is complex:
        out.append(b"c" + struct.pack(">dd", obj.real, obj.imag))
    elif cls is str:
        out.append(blob(b"s", obj.encode("utf-8", "surrogatepass")))
    elif cls is bytes or cls is bytearray:
        out.append(blob(b"b", bytes(obj)))
    elif cls is list or cls is tuple:
        out.append((b"l" if cls is list else b"t") + length(len(obj)))
        for i, item in enumerate(obj):
            encode(item, out, f"{path}[{i}]", bits)
    elif isinstance(obj, dict):
        items = sorted(
            (encoded(k, f"{path} key {k!r}", bits), encoded(v, f"{path}[{k!r}]", bits))
            for k, v in obj.items()
        )
        out.append(b"d" + length(len(items)))
        for k, v in items:
            out.append(k)
            out.append(v)
    elif cls is set or cls is frozenset:
        members = sorted(encoded(m, f"{path} member", bits) for m in obj)
        out.append(b"S" + length(len(members)))
        out.extend(members)
    elif cls is range:
        out.append(b"r" + encoded((obj.start, obj.stop, obj.step), path))
    elif _is_object_ref(obj):
        raise JournalError(
            f"{path} is a Ray ObjectRef, which has no stable hash; hash the key of the task "
            "that produces it instead"
        )
    elif not encode_sdk(obj, out, path, bits):
        out.append(blob(b"p", qualname(cls).encode() + b"\x00" + stable_pickle(obj, path)))


@functools.singledispatch
def encode_sdk(obj: Any, out: list[bytes], path: str, bits: Mapping[Any, int] | None) -> bool:
    """Append the canonical encoding of an SDK object; ``False``: not one we know
    (it is then pickled).

    Each SDK's converter registers its types (``encode_sdk.register(QuantumCircuit)``
    in :mod:`pilot.convert.qiskit`), as Parsl's ``id_for_memo`` is extended per type.
    A converter is imported the first time an object of its SDK is hashed (the SDK
    is loaded then: the object exists), as Dask's ``normalize_token.register_lazy``
    does, so hashing never loads an SDK itself.
    """
    top = type(obj).__module__.partition(".")[0]
    with _LAZY_LOCK:  # another thread hashing the same SDK waits for its registration
        register = _LAZY.get(top)
        if register is None:
            return False
        module, _, function = register.partition(":")
        getattr(importlib.import_module(module), function)()
        del _LAZY[top]
    return encode_sdk(obj, out, path, bits)


_LAZY_LOCK = threading.Lock()
#: SDK (top-level package) -> ``"module:function"`` that registers its types.
_LAZY: dict[str, str] = {
    "qiskit": "pilot.convert.qiskit:register_hashing",
    "braket": "pilot.convert.braket:register_hashing",
    "pennylane": "pilot.convert.pennylane:register_hashing",
}


def qualname(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


@encode_sdk.register
def _encode_array(obj: np.ndarray, out: list[bytes], path: str, bits: Any) -> bool:
    if obj.dtype.hasobject:
        out.append(blob(b"A", repr(obj.shape).encode()))
        encode(obj.tolist(), out, path)
    else:
        header = f"{obj.dtype.str}|{obj.shape}".encode()
        out.append(blob(b"a", header) + blob(b"", np.ascontiguousarray(obj).tobytes()))
    return True


@encode_sdk.register
def _encode_scalar(obj: np.generic, out: list[bytes], path: str, bits: Any) -> bool:
    if obj.dtype.hasobject:
        return False
    out.append(blob(b"n", obj.dtype.str.encode()) + blob(b"", obj.tobytes()))
    return True


# Pickle fallback ---------------------------------------------------------------


def stable_pickle(obj: Any, path: str) -> bytes:
    class _Pickler(cloudpickle.Pickler):
        # persistent_id sees every object, builtins included (reducer_override does
        # not see sets).  These bytes are only hashed, never unpickled.
        def persistent_id(self, value: Any) -> Any:
            if type(value) is set or type(value) is frozenset:
                return encoded(value, path)  # members sorted, not in hash-seed order
            if _is_object_ref(value):
                raise JournalError(
                    f"{path} holds a Ray ObjectRef, which has no stable hash; hash the key "
                    "of the task that produces it instead"
                )
            return None

    buffer = io.BytesIO()
    try:
        _Pickler(buffer, protocol=5).dump(obj)
    except JournalError:
        raise
    except Exception as exc:
        raise JournalError(f"{path} ({qualname(type(obj))}) cannot be hashed: {exc}") from exc
    return buffer.getvalue()
