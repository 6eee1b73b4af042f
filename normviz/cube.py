"""The Group Normalization paper's cube: which elements of an ``(N, C, H*W)`` tensor share one mean/variance.

Wu & He (2018), Figure 2, draws a feature map as a box of cells with the batch axis ``N``, the channel axis
``C`` and the flattened spatial axes ``H, W``, and shades the cells that enter the statistics of one
element. This module draws that box for every method in :data:`normviz.axes.METHODS`, and the shaded set
always comes from :func:`normviz.axes.stats_mask`, the same definition the formulas use.

How it is drawn, and why:

* Each cell is a unit cube at ``x = n`` (batch, to the right), ``y = p`` (flattened position, up) and
  ``z = c`` (channel, into the page), as in the paper's figure. A fixed oblique projection maps it to the
  plane: ``(x + z * dx, y + z * dy)``.
* Only the three faces a viewer in front, above and to the right can see (front, top, right side) are kept,
  as 2-D polygons in **one** ``PolyCollection``, sorted back to front (painter's algorithm). Changing the
  shaded set only changes face colours (``set_facecolors``), which is why the cube redraws in a few
  milliseconds where matplotlib's 3-D ``voxels`` takes about 60 ms.
* Unshaded cells are glass: only the faces on the outside of the box are drawn, pale and translucent, so
  a shaded set inside the box stays visible through it. The normalized element itself is drawn in a second
  colour with a hatch on top, so it can be found even behind other shaded cells.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field

import numpy as np

from normviz import axes as _axes

__all__ = [
    "DEPTH_OFFSET",
    "METHOD_TITLES",
    "OTHER_COLOR",
    "SELECTED_COLOR",
    "SHARED_COLOR",
    "CubeFaces",
    "NormCube",
    "cube_face_colors",
    "cube_faces",
    "cube_mask",
    "plot_norm_cube",
    "plot_norm_cubes",
]

#: Blue and vermillion from the Okabe-Ito palette: distinguishable with every common colour-vision deficiency.
SHARED_COLOR = "#0072B2"
SELECTED_COLOR = "#D55E00"
#: Pale grey for the glass outer faces of the cells that do not enter the statistics.
OTHER_COLOR = "#D9D9D9"

#: Where one step along the channel (depth) axis moves a point in the picture: ``(dx, dy)`` per channel.
DEPTH_OFFSET = (0.42, 0.34)

#: Panel titles, in the wording of the Group Normalization paper where it has one.
METHOD_TITLES = {
    "batch": "Batch Norm",
    "layer": "Layer Norm",
    "layer_channels_last": "Layer Norm, channels-last",
    "instance": "Instance Norm",
    "group": "Group Norm",
    "local_response": "Local Response Norm",
    "rms": "RMS Norm",
}

# What the shaded cells share, per method: the legend says it in the method's own terms.
_SHARED_LABELS = {
    "local_response": "in its channel window (sum of squares)",
    "rms": "shares its mean square",
}
_DEFAULT_SHARED_LABEL = "shares its mean and variance"

_FRONT, _TOP, _RIGHT = 0, 1, 2
_GLASS_ALPHA = 0.38
_EDGE_GREY = (0.35, 0.35, 0.35, 0.7)
_INVISIBLE = (0.0, 0.0, 0.0, 0.0)
# Top faces are lit, right faces shaded: the usual cue that makes a box of flat polygons read as 3-D.
_FACE_SHADE = {_FRONT: 1.0, _TOP: 1.25, _RIGHT: 0.72}


# ------------------------------------------------------------------------------------------- geometry
@dataclass(frozen=True)
class CubeFaces:
    """The visible faces of every cell of an ``(N, C, HW)`` box, projected and in drawing order.

    Attributes
    ----------
    shape : tuple of int
        ``(N, C, HW)``.
    verts : numpy.ndarray, shape ``(F, 4, 2)``
        Corners of each face in picture coordinates, ``F = 3 * N * C * HW``, back to front.
    cell : numpy.ndarray of int, shape ``(F,)``
        Flat index of the face's cell into an ``(N, C, HW)`` array (``np.unravel_index`` gives n, c, p).
    kind : numpy.ndarray of int, shape ``(F,)``
        0 for a front face, 1 for a top face, 2 for a right face.
    surface : numpy.ndarray of bool, shape ``(F,)``
        True where the face lies on the outside of the box (front, top or right wall).
    """

    shape: tuple
    verts: np.ndarray = field(repr=False)
    cell: np.ndarray = field(repr=False)
    kind: np.ndarray = field(repr=False)
    surface: np.ndarray = field(repr=False)

    def corner(self, x: float, y: float, z: float) -> tuple[float, float]:
        """Project the point ``(x, y, z)`` = (batch, position, channel) of the box into the picture."""
        dx, dy = DEPTH_OFFSET
        return (x + z * dx, y + z * dy)


def _check_cube_shape(shape) -> tuple[int, int, int]:
    try:
        shape = tuple(shape)
    except TypeError:
        raise TypeError(f"shape must be a tuple (N, C, HW), got {type(shape).__name__} ({shape!r})") from None
    if len(shape) != 3 or any(
        isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 1 for s in shape
    ):
        raise ValueError(
            f"shape must be three positive ints (N, C, HW), got {shape}; "
            "flatten the spatial dims first, e.g. (N, C, H * W)"
        )
    return tuple(int(s) for s in shape)


def cube_faces(shape) -> CubeFaces:
    """Project the visible faces of every cell of an ``(N, C, HW)`` box, sorted for painter's drawing.

    The result is cached per shape, so a widget that changes ``N``, ``C`` or ``HW`` back and forth
    projects each shape once.

    Parameters
    ----------
    shape : tuple of int
        ``(N, C, HW)``: batch size, channels, number of spatial positions.

    Returns
    -------
    CubeFaces
        Read-only arrays: polygon corners, and for each face its cell, kind and whether it is on the surface.

    Raises
    ------
    ValueError
        If ``shape`` is not three positive ints.

    Examples
    --------
    >>> faces = cube_faces((2, 3, 4))
    >>> faces.verts.shape, faces.cell.shape, int(faces.surface.sum())
    ((72, 4, 2), (72,), 26)
    """
    return _cube_faces(_check_cube_shape(shape))


@functools.lru_cache(maxsize=512)
def _cube_faces(shape: tuple[int, int, int]) -> CubeFaces:
    N, C, HW = shape
    dx, dy = DEPTH_OFFSET
    n, c, p = (a.ravel() for a in np.meshgrid(np.arange(N), np.arange(C), np.arange(HW), indexing="ij"))
    # Back to front: farther channels first; within a channel slice, left to right and bottom to top, so
    # that a cell's front face covers the right face of its left neighbour and the top face of the cell below.
    order = np.lexsort((p, n, -c))
    n, c, p = n[order], c[order], p[order]
    cell = np.ravel_multi_index((n, c, p), shape)

    # Unit-cube corners (x, y, z) of the three visible faces, counter-clockwise as seen by the viewer.
    corners = {
        _FRONT: [(0, 0, 0), (1, 0, 0), (1, 1, 0), (0, 1, 0)],
        _TOP: [(0, 1, 0), (1, 1, 0), (1, 1, 1), (0, 1, 1)],
        _RIGHT: [(1, 0, 0), (1, 0, 1), (1, 1, 1), (1, 1, 0)],
    }
    kinds = (_FRONT, _TOP, _RIGHT)
    offsets = np.array([corners[k] for k in kinds], dtype=float)  # (3, 4, 3)
    origin = np.stack([n, p, c], axis=1).astype(float)  # (cells, 3): x = n, y = p, z = c
    xyz = origin[:, None, None, :] + offsets[None]  # (cells, 3 faces, 4 corners, 3)
    verts = np.stack([xyz[..., 0] + xyz[..., 2] * dx, xyz[..., 1] + xyz[..., 2] * dy], axis=-1)
    verts = verts.reshape(-1, 4, 2)  # (cells * 3, 4, 2), the faces of one cell kept together

    kind = np.tile(np.array(kinds), len(cell))
    cell3 = np.repeat(cell, 3)
    n3, c3, p3 = np.repeat(n, 3), np.repeat(c, 3), np.repeat(p, 3)
    surface = (
        ((kind == _FRONT) & (c3 == 0)) | ((kind == _TOP) & (p3 == HW - 1)) | ((kind == _RIGHT) & (n3 == N - 1))
    )
    for array in (verts, kind, cell3, surface):
        array.flags.writeable = False  # cached and shared: nobody may change them in place
    return CubeFaces(shape=shape, verts=verts, cell=cell3, kind=kind, surface=surface)


# --------------------------------------------------------------------------------------------- colours
def cube_mask(method: str, shape, index, *, num_groups=None, normalized_shape=None, size=None) -> np.ndarray:
    """The cells that share statistics with ``index``, from :func:`normviz.axes.stats_mask`, as ``(N, C, HW)``.

    Any input shape ``(N, C, *spatial)`` is accepted; its spatial dims are flattened (row-major, as
    ``x.flatten(2)`` does), which changes no set: flattening does not move an element to another set.

    Parameters
    ----------
    method : str
        One of :data:`normviz.axes.METHODS`.
    shape : tuple of int
        ``(N, C)``, ``(N, C, HW)`` or ``(N, C, H, W, ...)``.
    index : tuple of int
        The normalized element, one int per dim of ``shape``.
    num_groups, normalized_shape, size
        As in :func:`normviz.axes.stats_mask`.

    Returns
    -------
    numpy.ndarray of bool, shape ``(N, C, prod(spatial))``

    Examples
    --------
    >>> cube_mask("instance", (2, 3, 2, 2), (1, 2, 0, 1)).sum(axis=2)
    array([[0, 0, 0],
           [0, 0, 4]])
    """
    mask = _axes.stats_mask(
        method, shape, index, num_groups=num_groups, normalized_shape=normalized_shape, size=size
    )
    return mask.reshape(mask.shape[0], mask.shape[1], -1)  # (N, C, H*W)


def _flat_index(shape, index) -> int:
    """Flat cell index of ``index`` into ``(N, C, prod(spatial))``."""
    shape = tuple(shape)
    spatial = shape[2:]
    position = int(np.ravel_multi_index(tuple(index[2:]), spatial)) if spatial else 0
    cube = (shape[0], shape[1], math.prod(spatial))
    return int(np.ravel_multi_index((index[0] % shape[0], index[1] % shape[1], position), cube))


def _shade(rgba: np.ndarray, factor: float) -> np.ndarray:
    """Lighten (factor > 1, towards white) or darken (factor < 1) colours, keeping alpha."""
    out = rgba.copy()
    if factor >= 1:
        out[..., :3] = rgba[..., :3] + (1 - rgba[..., :3]) * (factor - 1)
    else:
        out[..., :3] = rgba[..., :3] * factor
    return out


@functools.lru_cache(maxsize=1)
def _palette() -> dict:
    from matplotlib.colors import to_rgba

    palette = {}
    for name, colour, alpha in (
        ("shared", SHARED_COLOR, 1.0),
        ("selected", SELECTED_COLOR, 1.0),
        ("other", OTHER_COLOR, _GLASS_ALPHA),
    ):
        base = np.array(to_rgba(colour, alpha))
        palette[name] = np.stack([_shade(base, _FACE_SHADE[k]) for k in (_FRONT, _TOP, _RIGHT)])  # (3, 4)
    palette["edge_shaded"] = np.array([1.0, 1.0, 1.0, 0.9])  # white seams keep shaded cells countable
    palette["edge_glass"] = np.array(_EDGE_GREY)
    return palette


def cube_face_colors(faces: CubeFaces, mask: np.ndarray, selected: int) -> tuple[np.ndarray, np.ndarray]:
    """Face and edge colours that draw ``mask`` on the box: shaded cells opaque, the others glass.

    Parameters
    ----------
    faces : CubeFaces
        From :func:`cube_faces`.
    mask : numpy.ndarray of bool, shape ``faces.shape``
        True for the cells that share statistics (from :func:`cube_mask`).
    selected : int
        Flat index of the normalized element's cell.

    Returns
    -------
    facecolors, edgecolors : numpy.ndarray, shape ``(F, 4)``
        RGBA per face. Shaded faces are :data:`SHARED_COLOR` (the selected cell :data:`SELECTED_COLOR`),
        lit on top and darker on the right; unshaded faces are translucent :data:`OTHER_COLOR` on the
        box's surface and fully transparent inside it.

    Examples
    --------
    >>> faces = cube_faces((1, 2, 1))
    >>> fc, ec = cube_face_colors(faces, np.array([[[True], [False]]]), selected=0)
    >>> fc.shape, float(fc[faces.cell == 0, 3].min())
    ((6, 4), 1.0)
    """
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != faces.shape:
        raise ValueError(f"mask must have the box's shape {faces.shape}, got {mask.shape}")
    palette = _palette()
    shaded = mask.ravel()[faces.cell]  # (F,)
    facecolors = palette["other"][faces.kind]  # (F, 4)
    facecolors[~shaded & ~faces.surface] = _INVISIBLE
    facecolors[shaded] = palette["shared"][faces.kind[shaded]]
    is_selected = faces.cell == selected
    facecolors[is_selected] = palette["selected"][faces.kind[is_selected]]
    edgecolors = np.where(shaded[:, None], palette["edge_shaded"], palette["edge_glass"])
    edgecolors[~shaded & ~faces.surface] = _INVISIBLE
    return facecolors, edgecolors


# ------------------------------------------------------------------------------------------------ drawing
def _cube_legend_handles(method: str, shared_label: str | None = None):
    from matplotlib.patches import Patch

    shared_label = shared_label or _SHARED_LABELS.get(method, _DEFAULT_SHARED_LABEL)
    return [
        Patch(facecolor=SELECTED_COLOR, edgecolor="black", hatch="///", label="normalized element"),
        Patch(facecolor=SHARED_COLOR, edgecolor="white", label=shared_label),
        Patch(facecolor=OTHER_COLOR, edgecolor=_EDGE_GREY, label="other elements"),
    ]


def _title(method: str, shape, num_groups=None, size=None) -> str:
    title = METHOD_TITLES[method]
    if method == "group" and num_groups is not None:
        title += f" (G = {num_groups})"
    elif method == "local_response" and size is not None:
        title += f" (size = {size})"
    return title


class NormCube:
    """A drawn cube whose shaded set, shape and labels can be changed in place.

    Built by :func:`plot_norm_cube`; :meth:`set_state` re-colours the one ``PolyCollection`` (and swaps its
    polygons when the shape changes) instead of drawing anything new.

    Attributes
    ----------
    ax : matplotlib.axes.Axes
    collection : matplotlib.collections.PolyCollection
        Every visible face of every cell.
    marker : matplotlib.collections.PolyCollection
        The hatch drawn over the normalized element's faces.
    labels : dict of str to matplotlib.text.Text
        The edge labels ``"N"``, ``"C"``, ``"HW"`` and the ``"title"``.
    legend : matplotlib.legend.Legend or None
    faces : CubeFaces
        The geometry currently drawn.
    mask : numpy.ndarray of bool, shape ``(N, C, HW)``
        The shaded set currently drawn.
    drawn : numpy.ndarray of int
        Which of ``faces`` the collection holds, in its order (the visible ones: shaded or on the surface).
    """

    def __init__(self, ax, *, fontsize: float = 12, legend: bool = True, title: bool = True):
        from matplotlib.collections import PolyCollection
        from matplotlib.colors import to_rgba

        self.ax = ax
        self.collection = PolyCollection([], linewidths=0.7, closed=True, zorder=2)
        # Translucent, so the element still shows when shaded cells in front of it would hide it.
        self.marker = PolyCollection(
            [], facecolors=(*to_rgba(SELECTED_COLOR)[:3], 0.55), edgecolors="black", linewidths=1.2,
            hatch="///", zorder=3,
        )
        ax.add_collection(self.collection)
        ax.add_collection(self.marker)
        ax.set_aspect("equal", adjustable="box")
        ax.set_axis_off()
        label_style = {"fontsize": fontsize, "color": "black"}
        self.labels = {
            "N": ax.text(0, 0, "N (batch) →", ha="center", va="top", **label_style),
            "HW": ax.text(0, 0, "H, W (spatial) →", ha="right", va="center", rotation=90, **label_style),
            "C": ax.text(
                0, 0, "C (channels) →", ha="left", va="top", rotation_mode="anchor",
                rotation=math.degrees(math.atan2(DEPTH_OFFSET[1], DEPTH_OFFSET[0])), **label_style,
            ),
        }
        if title:
            self.labels["title"] = ax.set_title("", fontsize=fontsize + 2)
        self.legend = None
        self._show_legend = legend
        self.faces = None
        self.mask = None
        self.drawn = None
        self.state = {}

    def set_state(self, method: str, shape, index, *, num_groups=None, normalized_shape=None, size=None):
        """Shade the statistics set of ``index`` for ``method`` on an input of ``shape``.

        Parameters are those of :func:`plot_norm_cube`. Returns ``self``.
        """
        shape = tuple(shape)
        mask = cube_mask(method, shape, index, num_groups=num_groups, normalized_shape=normalized_shape, size=size)
        faces = cube_faces(mask.shape)
        if self.faces is None or faces.shape != self.faces.shape:
            self._set_geometry(faces)
        selected = _flat_index(shape, index)
        facecolors, edgecolors = cube_face_colors(faces, mask, selected)
        # Only faces that show are handed to matplotlib: the transparent inside of the box would cost
        # Agg as much as the visible faces (a 8x12x9 box has 2,592 faces, at most about 600 visible).
        drawn = np.flatnonzero(facecolors[:, 3] > 0)
        self.collection.set_verts(faces.verts[drawn])
        self.collection.set_facecolors(facecolors[drawn])
        self.collection.set_edgecolors(edgecolors[drawn])
        self.marker.set_verts(faces.verts[faces.cell == selected])
        if "title" in self.labels:
            self.labels["title"].set_text(_title(method, shape, num_groups, size))
        self._set_legend(method)
        self.mask = mask
        self.drawn = drawn
        self.state = {
            "method": method, "shape": shape, "index": tuple(index), "num_groups": num_groups,
            "normalized_shape": normalized_shape, "size": size,
        }
        return self

    def _set_geometry(self, faces: CubeFaces) -> None:
        N, C, HW = faces.shape
        self.faces = faces
        corner = faces.corner
        pad = 0.25
        self.labels["N"].set_position((N / 2, -pad))
        self.labels["HW"].set_position((-pad, HW / 2))
        self.labels["C"].set_position(corner(N + pad, -pad, 0))
        # Room for the edge labels around the box. The aspect is fixed with adjustable="box": the axes
        # shrink inside their slot so that cells stay square whatever N, C and HW are.
        x_right, y_top = corner(N, HW, C)
        self.ax.set_xlim(-1.5, x_right + 1.2)
        self.ax.set_ylim(-1.5, y_top + 0.3)

    def _set_legend(self, method: str) -> None:
        if not self._show_legend:
            return
        label = _SHARED_LABELS.get(method, _DEFAULT_SHARED_LABEL)
        if self.legend is None:
            # Anchored to the axes' slot in the figure, not to the axes box, which moves with the shape.
            slot = self.ax.get_position(original=True)
            self.legend = self.ax.legend(
                handles=_cube_legend_handles(method), loc="upper left", bbox_to_anchor=(slot.x1, slot.y1),
                bbox_transform=self.ax.figure.transFigure, frameon=False, handlelength=1.6, handleheight=1.2,
                borderaxespad=0.0,
            )
        else:
            self.legend.get_texts()[1].set_text(label)


def plot_norm_cube(
    method: str,
    shape=(4, 6, 9),
    index=(0, 0, 0),
    *,
    num_groups=None,
    normalized_shape=None,
    size=None,
    ax=None,
    legend: bool = True,
    title: bool = True,
    fontsize: float = 12,
) -> NormCube:
    """Draw the ``N x C x (H, W)`` cube with the cells that share ``index``'s statistics shaded.

    The shaded set is :func:`normviz.axes.stats_mask` of the same arguments (spatial dims flattened), so
    the picture cannot disagree with :mod:`normviz.functional`.

    Parameters
    ----------
    method : str
        One of :data:`normviz.axes.METHODS`.
    shape : tuple of int, default=(4, 6, 9)
        Input shape ``(N, C, *spatial)``; drawn as ``N x C x prod(spatial)`` cells.
    index : tuple of int, default=(0, 0, 0)
        The normalized element, one int per dim of ``shape``.
    num_groups : int, optional
        Required for ``"group"``.
    normalized_shape : int or tuple of int, optional
        For ``"layer"`` and ``"rms"``; default all dims but ``N``.
    size : int, optional
        Required for ``"local_response"``: the channel window.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure's axes by default.
    legend, title : bool, default=True
        Draw the legend (right of the cube) and the method as title.
    fontsize : float, default=12
        Size of the edge labels (the title is 2 points larger).

    Returns
    -------
    NormCube
        Holds the ``PolyCollection`` (``.collection``), the labels and the legend; its :meth:`NormCube.set_state`
        re-shades the cube in place.

    Raises
    ------
    ValueError
        As :func:`normviz.axes.stats_mask` (unknown method, bad index, ``num_groups`` not dividing ``C``...).

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> cube = plot_norm_cube("group", (2, 6, 3, 3), (1, 2, 0, 0), num_groups=3)
    >>> int(cube.mask.sum()), len(cube.faces.cell)
    (18, 324)
    """
    if ax is None:
        import matplotlib.pyplot as plt

        fig = plt.figure(figsize=(8.5, 5.2))
        ax = fig.add_axes((0.01, 0.02, 0.6, 0.88))  # the legend goes right of this slot
    cube = NormCube(ax, fontsize=fontsize, legend=legend, title=title)
    return cube.set_state(
        method, shape, index, num_groups=num_groups, normalized_shape=normalized_shape, size=size
    )


#: The panels of :func:`plot_norm_cubes`: the paper's four, then the methods it does not draw.
_PANEL_METHODS = ("batch", "layer", "instance", "group", "layer_channels_last", "local_response", "rms")


def plot_norm_cubes(
    shape=(6, 6, 2, 3),
    index=(1, 2, 1, 1),
    *,
    num_groups: int = 2,
    size: int = 3,
    methods=_PANEL_METHODS,
    ncols: int = 4,
    fig=None,
    show_calls: bool = True,
):
    """Small multiples of the cube, one per method: the Group Normalization paper's Figure 2, extended.

    The first four panels are the paper's (batch, layer, instance, group norm); the others add the
    channels-last layer norm of ConvNeXt and transformers, AlexNet's local response norm and RMS norm.

    Parameters
    ----------
    shape : tuple of int, default=(6, 6, 2, 3)
        Input shape ``(N, C, *spatial)`` drawn in every panel (a 6 x 6 x 6 box, like the paper's).
    index : tuple of int, default=(1, 2, 1, 1)
        The normalized element, the same in every panel so the panels compare.
    num_groups : int, default=2
        Groups for the group-norm panel.
    size : int, default=3
        Window for the local-response panel.
    methods : sequence of str, default=all seven
        Which panels, in order.
    ncols : int, default=4
        Panels per row.
    fig : matplotlib.figure.Figure, optional
        Drawn into (cleared first); a new figure by default.
    show_calls : bool, default=True
        Print the equivalent PyTorch call under each panel (from :func:`normviz.axes.torch_call`).

    Returns
    -------
    fig : matplotlib.figure.Figure
    cubes : dict of str to NormCube
        The panel of each method.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> fig, cubes = plot_norm_cubes()
    >>> [int(c.mask.sum()) for c in cubes.values()]
    [36, 36, 6, 18, 6, 3, 36]
    """
    import matplotlib.pyplot as plt

    methods = tuple(methods)
    for method in methods:
        _axes._check_method(method)
    nrows = math.ceil(len(methods) / ncols)
    if fig is None:
        fig = plt.figure(figsize=(4.2 * ncols, 4.3 * nrows + 0.9))
    else:
        fig.clear()
    grid = fig.subplots(nrows, ncols, squeeze=False)
    cubes = {}
    for ax, method in zip(grid.ravel(), methods, strict=False):
        cube = plot_norm_cube(
            method, shape, index, num_groups=num_groups, size=size, ax=ax, legend=False, fontsize=11
        )
        if show_calls:
            call = _axes.torch_call(method, shape, num_groups=num_groups, size=size)
            ax.text(0.5, -0.02, call, transform=ax.transAxes, ha="center", va="top", fontsize=9.5,
                    family="monospace", wrap=True)
        cubes[method] = cube
    for ax in grid.ravel()[len(methods):]:
        ax.set_axis_off()
    n, c = index[0], index[1]
    fig.legend(
        handles=_cube_legend_handles("batch", "enters its statistics (mean/variance, mean square, or window)"),
        loc="lower center", ncol=3, frameon=False, fontsize=12,
        title=f"input shape {tuple(shape)}; normalized element n={n}, c={c}, position {tuple(index[2:])}",
        title_fontsize=12,
    )
    fig.subplots_adjust(left=0.02, right=0.98, top=0.95, bottom=0.12, wspace=0.05, hspace=0.25)
    return fig, cubes
