"""Input checks shared by the public functions. Messages say what was expected, what was received, and a fix.

Every public function validates at its boundary with ``TypeError``/``ValueError`` (never ``assert``): a learner
who passes the wrong thing should read what to change, not a stack trace from deep inside torch.
"""

from __future__ import annotations

import numbers

import torch

__all__: list[str] = []  # private helpers only


def _type_name(obj) -> str:
    cls = type(obj)
    module = cls.__module__
    return cls.__qualname__ if module == "builtins" else f"{module}.{cls.__qualname__}"


def check_tensor(value, name: str = "input") -> torch.Tensor:
    """Raise ``TypeError`` unless ``value`` is a floating-point ``torch.Tensor``."""
    if not isinstance(value, torch.Tensor):
        hint = "; convert it with torch.as_tensor(x, dtype=torch.float32)"
        raise TypeError(f"{name} must be a torch.Tensor, got {_type_name(value)}{hint}")
    if not (value.is_floating_point()):
        raise TypeError(
            f"{name} must have a floating-point dtype, got {value.dtype}; convert it with {name}.float()"
        )
    return value


def check_optional_tensor(value, name: str, shape: tuple[int, ...] | None = None):
    """``None`` passes; otherwise a tensor, of ``shape`` when given."""
    if value is None:
        return None
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor or None, got {_type_name(value)}")
    if shape is not None and tuple(value.shape) != tuple(shape):
        raise ValueError(f"{name} must have shape {tuple(shape)}, got {tuple(value.shape)}")
    return value


def check_positive_number(value, name: str, *, allow_zero: bool = False):
    """A real number > 0 (or >= 0 with ``allow_zero``), not a bool."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {_type_name(value)} ({value!r})")
    if value < 0 or (value == 0 and not allow_zero) or value != value:
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be {bound}, got {value!r}")
    return value


def check_positive_int(value, name: str):
    """An ``int`` >= 1, not a bool."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {_type_name(value)} ({value!r})")
    if value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return int(value)


def check_ndim(input: torch.Tensor, allowed, name: str = "input", *, layout: str | None = None):
    """Raise ``ValueError`` unless ``input.dim()`` is in ``allowed``; ``layout`` describes the expected shape."""
    allowed = tuple(allowed)
    if input.dim() not in allowed:
        dims = " or ".join(f"{d}-D" for d in allowed)
        expected = f" ({layout})" if layout else ""
        raise ValueError(
            f"{name} must be {dims}{expected}, got a {input.dim()}-D tensor of shape {tuple(input.shape)}"
        )
    return input
