"""Which elements share statistics: the single definition used by the formulas and by the pictures.

Every normalization method here computes, for each input element, statistics (a mean and a variance, a
mean square, or a windowed sum of squares) over some *set* of input elements. This module defines that set
once, for an input laid out as ``(N, C, *spatial)``:

==========================  =====================================================================
method                      elements that share statistics with ``input[n, c, *pos]``
==========================  =====================================================================
``"batch"``                 same channel ``c``; every sample and every position
``"layer"``                 same leading indices; all of the trailing ``normalized_shape`` dims
                            (default ``shape[1:]``: every channel and position of sample ``n``)
``"layer_channels_last"``   same sample ``n`` and position; every channel (ConvNeXt / transformer
                            LayerNorm: ``F.layer_norm`` over C on the channels-last tensor)
``"instance"``              same sample ``n`` and channel ``c``; every position
``"group"``                 same sample ``n``; every channel of ``c``'s group; every position
``"local_response"``        same sample and position; channels ``c - size//2 .. c + (size-1)//2``
``"rms"``                   as ``"layer"`` (RMS norm only drops the mean)
==========================  =====================================================================

:func:`stats_mask` draws that set as a boolean array; :func:`reduced_dims` gives the tensor dimensions
that :mod:`normviz.functional` reduces over to compute it, so a picture cannot disagree with the math;
:func:`torch_call` names the PyTorch call that normalizes this way.
"""

from __future__ import annotations

import numbers

import numpy as np

from normviz._validation import _type_name, check_positive_int

__all__ = [
    "METHODS",
    "group_view_shape",
    "lrn_padding",
    "lrn_window",
    "normalized_dims",
    "reduced_dims",
    "stats_mask",
    "torch_call",
    "valid_group_counts",
]

METHODS = ("batch", "layer", "layer_channels_last", "instance", "group", "local_response", "rms")


# ----------------------------------------------------------------------------------------------- checks
def _check_method(method) -> str:
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    return method


def _check_shape(shape) -> tuple[int, ...]:
    try:
        shape = tuple(shape)
    except TypeError:
        raise TypeError(
            f"shape must be a tuple of ints such as (N, C, H, W), got {_type_name(shape)} ({shape!r})"
        ) from None
    if len(shape) < 2:
        raise ValueError(
            f"shape must have at least 2 dimensions (N, C, *spatial), got {shape}; "
            "add a batch dimension, e.g. (1, *shape)"
        )
    for size in shape:
        if isinstance(size, bool) or not isinstance(size, numbers.Integral) or size < 1:
            raise ValueError(f"shape must contain positive ints, got {shape}")
    return tuple(int(s) for s in shape)


def _check_ndim(ndim) -> int:
    if isinstance(ndim, bool) or not isinstance(ndim, numbers.Integral):
        raise TypeError(f"ndim must be an int, got {_type_name(ndim)} ({ndim!r})")
    if ndim < 2:
        raise ValueError(f"ndim must be at least 2 (an input laid out as (N, C, *spatial)), got {ndim}")
    return int(ndim)


def _check_index(index, shape: tuple[int, ...]) -> tuple[int, ...]:
    if isinstance(index, numbers.Integral):
        index = (index,)
    try:
        index = tuple(index)
    except TypeError:
        raise TypeError(f"index must be a tuple of ints, got {_type_name(index)} ({index!r})") from None
    if len(index) != len(shape):
        raise ValueError(
            f"index must have one entry per dimension of shape {shape} ({len(shape)} entries), "
            f"got {index} ({len(index)} entries)"
        )
    out = []
    for dim, (i, size) in enumerate(zip(index, shape, strict=True)):
        if isinstance(i, bool) or not isinstance(i, numbers.Integral):
            raise TypeError(f"index must contain ints, got {_type_name(i)} ({i!r}) at position {dim}")
        if not -size <= i < size:
            raise ValueError(
                f"index {index} is out of range for shape {shape}: entry {dim} must be in "
                f"[{-size}, {size - 1}], got {i}"
            )
        out.append(int(i) % size)
    return tuple(out)


def valid_group_counts(num_channels: int) -> tuple[int, ...]:
    """The group counts that divide ``num_channels`` (the valid ``num_groups`` for GroupNorm).

    Parameters
    ----------
    num_channels : int
        Number of channels ``C``.

    Returns
    -------
    tuple of int
        Every divisor of ``num_channels``, ascending.

    Examples
    --------
    >>> valid_group_counts(6)
    (1, 2, 3, 6)
    """
    num_channels = check_positive_int(num_channels, "num_channels")
    return tuple(g for g in range(1, num_channels + 1) if num_channels % g == 0)


def _check_num_groups(num_groups, num_channels: int) -> int:
    if num_groups is None:
        raise ValueError(
            "num_groups is required for method 'group'; "
            f"try num_groups in {valid_group_counts(num_channels)}"
        )
    num_groups = check_positive_int(num_groups, "num_groups")
    if num_channels % num_groups:
        raise ValueError(
            f"num_channels ({num_channels}) must be divisible by num_groups ({num_groups}); "
            f"try num_groups in {valid_group_counts(num_channels)}"
        )
    return num_groups


def _as_shape_tuple(normalized_shape) -> tuple[int, ...]:
    if isinstance(normalized_shape, numbers.Integral) and not isinstance(normalized_shape, bool):
        return (int(normalized_shape),)
    try:
        out = tuple(normalized_shape)
    except TypeError:
        raise TypeError(
            "normalized_shape must be an int or a tuple of ints, "
            f"got {_type_name(normalized_shape)} ({normalized_shape!r})"
        ) from None
    for size in out:
        if isinstance(size, bool) or not isinstance(size, numbers.Integral):
            raise TypeError(f"normalized_shape must contain ints, got {normalized_shape!r}")
    return tuple(int(s) for s in out)


def _check_normalized_shape(normalized_shape, shape: tuple[int, ...]) -> tuple[int, ...]:
    """Validate ``normalized_shape`` against the trailing dims of ``shape``; default ``shape[1:]``."""
    if normalized_shape is None:
        return shape[1:]
    normalized_shape = _as_shape_tuple(normalized_shape)
    k = len(normalized_shape)
    if k == 0 or k > len(shape) or shape[len(shape) - k :] != normalized_shape:
        trailing = ", ".join(str(shape[-j:]) for j in range(1, len(shape) + 1))
        raise ValueError(
            f"normalized_shape must equal the trailing dimensions of the input shape {shape}, "
            f"got {normalized_shape}; valid choices are {trailing}"
        )
    return normalized_shape


# ------------------------------------------------------------------------------------ shared helpers
def normalized_dims(ndim: int, normalized_shape) -> tuple[int, ...]:
    """The trailing dims covered by ``normalized_shape`` (layer and RMS norm), for a tensor of rank ``ndim``.

    Parameters
    ----------
    ndim : int
        Rank of the input.
    normalized_shape : int or tuple of int
        The trailing shape to normalize over; only its length matters here.

    Returns
    -------
    tuple of int
        ``(ndim - len(normalized_shape), ..., ndim - 1)``.

    Examples
    --------
    >>> normalized_dims(4, (6, 4))
    (2, 3)
    """
    k = len(_as_shape_tuple(normalized_shape))
    if k == 0 or k > ndim:
        raise ValueError(
            f"normalized_shape must have between 1 and {ndim} dimensions for a {ndim}-D input, "
            f"got {normalized_shape!r}"
        )
    return tuple(range(ndim - k, ndim))


def group_view_shape(shape, num_groups: int) -> tuple[int, ...]:
    """The shape ``(N, G, C // G, *spatial)`` under which group norm reduces over dims ``2, 3, ...``.

    Parameters
    ----------
    shape : tuple of int
        Input shape ``(N, C, *spatial)``.
    num_groups : int
        Number of groups ``G``; must divide ``C``.

    Returns
    -------
    tuple of int

    Raises
    ------
    ValueError
        If ``num_groups`` does not divide ``C`` (the message lists the valid counts).

    Examples
    --------
    >>> group_view_shape((2, 6, 4, 4), 3)
    (2, 3, 2, 4, 4)
    """
    shape = _check_shape(shape)
    num_groups = _check_num_groups(num_groups, shape[1])
    return (shape[0], num_groups, shape[1] // num_groups, *shape[2:])


def lrn_padding(size: int) -> tuple[int, int]:
    """Zeros PyTorch puts before and after the channel axis for local response normalization.

    Parameters
    ----------
    size : int
        Window size ``n``.

    Returns
    -------
    (int, int)
        ``(size // 2, (size - 1) // 2)``: an odd window is centred; an even one reaches one channel
        further back than forward.

    Examples
    --------
    >>> lrn_padding(5), lrn_padding(4)
    ((2, 2), (2, 1))
    """
    size = check_positive_int(size, "size")
    return size // 2, (size - 1) // 2


def lrn_window(channel: int, size: int, num_channels: int) -> tuple[int, int]:
    """The channels ``[start, stop)`` whose squares enter local response normalization of ``channel``.

    PyTorch pads the channel axis with ``size // 2`` zeros in front and ``(size - 1) // 2`` behind, so the
    window is ``channel - size//2 .. channel + (size-1)//2``, clipped to the existing channels. (The clipped
    zeros still count in the divisor ``size``: PyTorch divides the sum by ``size`` even at the borders.)

    Parameters
    ----------
    channel : int
        The channel being normalized, in ``[0, num_channels)``.
    size : int
        Window size ``n`` (AlexNet used 5).
    num_channels : int
        Number of channels ``C``.

    Returns
    -------
    (int, int)
        ``start`` and ``stop``, so the window is ``range(start, stop)``.

    Examples
    --------
    >>> lrn_window(0, 5, 8), lrn_window(4, 5, 8), lrn_window(4, 4, 8)
    ((0, 3), (2, 7), (2, 6))
    """
    before, after = lrn_padding(size)
    start = max(channel - before, 0)
    stop = min(channel + after + 1, num_channels)
    return start, stop


# ------------------------------------------------------------------------------------------ public API
def reduced_dims(method: str, ndim: int, *, normalized_shape=None) -> tuple[int, ...]:
    """The tensor dimensions that :mod:`normviz.functional` reduces over for ``method``.

    Parameters
    ----------
    method : str
        One of :data:`METHODS`.
    ndim : int
        Rank of the input ``(N, C, *spatial)``, at least 2.
    normalized_shape : int or tuple of int, optional
        Layer and RMS norm only; default ``shape[1:]`` (all dims but the batch dim).

    Returns
    -------
    tuple of int
        ``"batch"``: ``(0, 2, ..., ndim-1)``. ``"layer"`` / ``"rms"``: the last ``len(normalized_shape)``
        dims. ``"layer_channels_last"``: ``(1,)``. ``"instance"``: ``(2, ..., ndim-1)``. ``"group"``: dims
        ``(2, ..., ndim)`` of the ``(N, G, C//G, *spatial)`` view (see :func:`group_view_shape`).
        ``"local_response"``: ``(1,)``, a windowed sum along the channels (see :func:`lrn_window`) rather
        than a full reduction.

    Raises
    ------
    ValueError
        For an unknown method, ``ndim < 2``, or a ``normalized_shape`` longer than ``ndim``.

    Examples
    --------
    >>> reduced_dims("batch", 4), reduced_dims("instance", 4), reduced_dims("group", 4)
    ((0, 2, 3), (2, 3), (2, 3, 4))
    >>> reduced_dims("layer", 4), reduced_dims("layer", 4, normalized_shape=(4, 4))
    ((1, 2, 3), (2, 3))
    """
    method = _check_method(method)
    ndim = _check_ndim(ndim)
    if method == "batch":
        return (0, *range(2, ndim))
    if method in ("layer", "rms"):
        if normalized_shape is None:
            return tuple(range(1, ndim))
        return normalized_dims(ndim, normalized_shape)
    if method in ("layer_channels_last", "local_response"):
        return (1,)
    if method == "instance":
        return tuple(range(2, ndim))
    # group: the view (N, G, C//G, *spatial) has ndim + 1 dims; reduce all but N and G
    return tuple(range(2, ndim + 1))


def stats_mask(method: str, shape, index, *, num_groups=None, normalized_shape=None, size=None) -> np.ndarray:
    """Boolean mask of the input elements whose values enter the statistics that normalize ``input[index]``.

    Parameters
    ----------
    method : str
        One of :data:`METHODS`.
    shape : tuple of int
        Input shape ``(N, C, *spatial)`` (``(N, C)`` works too).
    index : tuple of int
        The element being normalized, one int per dim (negative ints count from the end).
    num_groups : int, optional
        Required for ``"group"``; must divide ``C``.
    normalized_shape : int or tuple of int, optional
        For ``"layer"`` and ``"rms"``: trailing dims of ``shape``; default ``shape[1:]``.
    size : int, optional
        Required for ``"local_response"``: the channel window size.

    Returns
    -------
    numpy.ndarray of bool, shape ``shape``
        True where the element enters the statistics. For ``"instance"`` on an ``(N, C)`` input the mask is
        the element alone (which is why the functional rejects that case: one value has no variance).

    Notes
    -----
    The mask is also the set of inputs that the normalized ``output[index]`` depends on (a test checks
    this with autograd), except in the degenerate case of a one-element set, e.g. ``GroupNorm(C, C)`` on
    an ``(N, C)`` input: the value minus its own mean is exactly 0, so the output is constant.

    Raises
    ------
    ValueError
        Unknown method, bad shape or index, missing or invalid ``num_groups`` / ``size``, or a
        ``normalized_shape`` that is not a trailing part of ``shape``.

    Examples
    --------
    >>> m = stats_mask("group", (2, 6, 3, 3), (1, 2, 0, 0), num_groups=3)
    >>> m.sum(), bool(m[1, 3].all()), bool(m[1, 4].any()), bool(m[0].any())
    (np.int64(18), True, False, False)
    >>> stats_mask("local_response", (1, 6), (0, 0), size=3).astype(int)
    array([[1, 1, 0, 0, 0, 0]])
    """
    method = _check_method(method)
    shape = _check_shape(shape)
    index = _check_index(index, shape)
    n, c = index[0], index[1]
    mask = np.zeros(shape, dtype=bool)
    if method == "batch":
        mask[:, c] = True
    elif method in ("layer", "rms"):
        normalized_shape = _check_normalized_shape(normalized_shape, shape)
        lead = len(shape) - len(normalized_shape)
        mask[index[:lead]] = True  # every element that shares the leading indices
    elif method == "layer_channels_last":
        mask[(n, slice(None), *index[2:])] = True
    elif method == "instance":
        mask[n, c] = True
    elif method == "group":
        num_groups = _check_num_groups(num_groups, shape[1])
        per_group = shape[1] // num_groups
        first = (c // per_group) * per_group
        mask[n, first : first + per_group] = True
    else:  # local_response
        if size is None:
            raise ValueError("size is required for method 'local_response'; AlexNet used size=5")
        start, stop = lrn_window(c, size, shape[1])
        mask[(n, slice(start, stop), *index[2:])] = True
    return mask


def torch_call(method: str, shape, *, num_groups=None, normalized_shape=None, size=None) -> str:
    """The PyTorch call that normalizes an input of ``shape`` the way ``method`` does, as text.

    Parameters
    ----------
    method : str
        One of :data:`METHODS`.
    shape : tuple of int
        Input shape ``(N, C, *spatial)``.
    num_groups, normalized_shape, size
        As in :func:`stats_mask`.

    Returns
    -------
    str
        For example ``"nn.BatchNorm2d(6)"`` or ``"nn.GroupNorm(num_groups=2, num_channels=6)"``.

    Raises
    ------
    ValueError
        As :func:`stats_mask`.

    Examples
    --------
    >>> torch_call("batch", (8, 6, 4, 4))
    'nn.BatchNorm2d(6)'
    >>> torch_call("layer", (8, 6, 4), normalized_shape=(6, 4))
    'F.layer_norm(x, normalized_shape=(6, 4))'
    >>> torch_call("layer_channels_last", (8, 6, 4, 4))
    'nn.LayerNorm(6) on x.permute(0, 2, 3, 1)'
    >>> torch_call("group", (8, 6, 4, 4), num_groups=2)
    'nn.GroupNorm(num_groups=2, num_channels=6)'
    """
    method = _check_method(method)
    shape = _check_shape(shape)
    ndim, channels = len(shape), shape[1]
    if method == "batch":
        if ndim <= 5:
            return f"nn.BatchNorm{max(ndim - 2, 1)}d({channels})"
        return "F.batch_norm(x, running_mean, running_var, training=True)"
    if method in ("layer", "rms"):
        normalized_shape = _check_normalized_shape(normalized_shape, shape)
        name = "layer_norm" if method == "layer" else "rms_norm"
        return f"F.{name}(x, normalized_shape={tuple(normalized_shape)})"
    if method == "layer_channels_last":
        if ndim == 2:
            return f"nn.LayerNorm({channels})"
        order = ", ".join(str(d) for d in (0, *range(2, ndim), 1))
        return f"nn.LayerNorm({channels}) on x.permute({order})"
    if method == "instance":
        if 3 <= ndim <= 5:
            return f"nn.InstanceNorm{ndim - 2}d({channels})"
        return "F.instance_norm(x)"
    if method == "group":
        num_groups = _check_num_groups(num_groups, channels)
        return f"nn.GroupNorm(num_groups={num_groups}, num_channels={channels})"
    if size is None:
        raise ValueError("size is required for method 'local_response'; AlexNet used size=5")
    size = check_positive_int(size, "size")
    return f"nn.LocalResponseNorm(size={size})"
