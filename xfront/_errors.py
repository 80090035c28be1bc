"""Error classes and the message helpers every module uses.

Imports: the standard library only (and _dtypes lazily for messages).

Every user-facing error is an ``XfrontError`` that also subclasses the builtin a Python user
expects (TypeError, ValueError, IndexError), so ``except ValueError`` keeps working. Messages
follow one pattern::

    xfront.<function>: <what is wrong, with shapes/dtypes>; <the rule>. <hint>
      at <user file>:<line> in <function>

The call site is the innermost stack frame outside xfront itself (see ``user_frame``).
"""

from __future__ import annotations

import os
import sys
from typing import Any


class XfrontError(Exception):
    """Base class of xfront's user-facing errors."""


class ShapeError(XfrontError, ValueError):
    """Shapes are incompatible (broadcasting, contraction, reshape, axis out of range...)."""


class DTypeError(XfrontError, TypeError):
    """A dtype is not accepted by an operation, or cannot be promoted."""


class ArgumentError(XfrontError, TypeError):
    """Wrong arity, a bad keyword, or an argument of the wrong kind (e.g. a non-array leaf)."""


class TracerConversionError(XfrontError, TypeError):
    """A traced value was used where a concrete Python value is needed (bool(), int(), if...)."""


class TracerLeakError(XfrontError, TypeError):
    """A traced value escaped the trace that created it and was used afterwards."""


class DynamicShapeError(XfrontError, TypeError):
    """An operation whose output shape depends on values was used inside ``compile``."""


class XfIndexError(XfrontError, IndexError):
    """An index is out of bounds or malformed."""


class LoweringError(XfrontError, RuntimeError):
    """Lowering or compiling a graph failed; names the primitive and the user's source line."""


class DeviceError(XfrontError, ValueError):
    """Arrays on different devices were combined, or a device is unavailable."""


class CompileError(LoweringError):
    """XLA refused to compile a program; names the program and, where XLA gives one, the
    StableHLO location (the primitive and the user's source line)."""


class ExecutionError(XfrontError, RuntimeError):
    """Running a compiled program (or another runtime operation) failed."""


class XfOverflowError(XfrontError, OverflowError):
    """A Python integer does not fit the integer dtype it is combined with or converted to."""


class XfMemoryError(XfrontError, MemoryError):
    """The runtime could not allocate memory; names the bytes requested and the program/op."""


# --- where in the user's code are we? -------------------------------------------------------

_INTERNAL_DIRS: list[str] = []


def register_internal_dir(path: str) -> None:
    """Frames under ``path`` are xfront-internal: skipped when locating the user's call site."""
    d = os.path.dirname(os.path.abspath(path)) + os.sep
    if d not in _INTERNAL_DIRS:
        _INTERNAL_DIRS.append(d)


register_internal_dir(__file__)  # the xfront package itself


def _is_internal(filename: str) -> bool:
    return any(filename.startswith(d) for d in _INTERNAL_DIRS) or filename.startswith("<frozen")


def user_frame(skip: int = 1):
    """The innermost frame whose code lives outside xfront (or None)."""
    f = sys._getframe(skip)
    while f is not None:
        if not _is_internal(f.f_code.co_filename):
            return f
        f = f.f_back
    return None


def call_site() -> str:
    """``file:line in function`` of the user's call, or '' when it cannot be found."""
    f = user_frame(2)
    if f is None:
        return ""
    return f"{os.path.basename(f.f_code.co_filename)}:{f.f_lineno} in {f.f_code.co_name}"


def _with_site(msg: str, site: str | None) -> str:
    if site is None:
        site = call_site()
    return f"{msg}\n  at {site}" if site else msg


def err(cls: type[XfrontError], op: str, msg: str, hint: str = "", site: str | None = None):
    """Build an error of class ``cls`` for public function ``op``; callers ``raise`` it."""
    text = f"xfront.{op}: {msg}"
    if hint:
        text += f"\nHint: {hint}"
    return cls(_with_site(text, site))


def short(x: Any) -> str:
    """Short aval form for messages: ``f32[3,4]``, also for Python scalars."""
    aval = getattr(x, "aval", None)
    if aval is not None:
        return aval.short
    if isinstance(x, (bool, int, float, complex)):
        return f"python {type(x).__name__}"
    shape = getattr(x, "shape", None)
    dt = getattr(x, "dtype", None)
    if shape is not None and dt is not None:
        return f"{dt}{list(shape)}"
    return type(x).__name__
