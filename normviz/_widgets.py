"""The pattern every explorer follows: build the figure once, let controls update its artists.

An explorer subclasses :class:`Explorer`, creates its figure and artists in ``__init__`` (under ``plt.ioff()``),
and implements :meth:`Explorer.update`, which reads :meth:`Explorer.values` and changes artist data
(``set_data``, ``set_ydata``, ``set_facecolor``, text). Nothing is re-plotted on a slider move.

It works with both matplotlib front ends:

* the default inline backend: the figure is re-rendered as a PNG inside an ``ipywidgets.Output``;
* ipympl (``%matplotlib widget``, faster): the canvas is itself a widget and ``draw_idle`` repaints it.

On the inline path an update costs a full Agg render plus PNG encoding. An explorer can make that cheaper by
naming the artists its updates change (``self._set_dynamic([...])`` in ``__init__``): everything else is then
rendered once into a cached background, and an update restores it and draws only those artists (blitting). The
cache is keyed on the axes' limits and the texts in ``self._static_texts``, so the picture always equals a full
redraw (tests compare :meth:`Explorer.png` with :meth:`Explorer.full_png`).

Only widgets and options present in both ipywidgets 7.7 and 8 are used (Colab ships 7.7).
A test drives an explorer by setting ``explorer.controls[name].value`` and reading ``explorer.artists``.
"""

from __future__ import annotations

import time
import traceback
from contextlib import contextmanager

import matplotlib
import matplotlib.pyplot as plt
import numpy as np

__all__: list[str] = []  # base class for the public make_*_explorer builders


def using_ipympl() -> bool:
    """True when matplotlib draws through ipympl (``%matplotlib widget``)."""
    backend = matplotlib.get_backend().lower()
    return "ipympl" in backend or "widget" in backend


@contextmanager
def figure_without_display():
    """Create figures that the inline backend will not show on its own at the end of the cell."""
    with plt.ioff():
        yield


def _encode_rgba_png(rgba: np.ndarray) -> bytes:
    """PNG of an ``(H, W, 4)`` uint8 RGBA array (as ``savefig`` writes it), rows unfiltered, zlib level 1.

    Pillow picks a filter per row, which costs more than the compression itself (about 20 ms against 8 ms
    for a 1400x720 figure); plots are mostly flat colour, which zlib compresses well unfiltered. The alpha
    channel is kept: each row is then one contiguous copy, where dropping alpha takes a strided copy that
    costs half as much as the compression.
    """
    import struct
    import zlib

    height, width, _ = rgba.shape
    raw = np.empty((height, 1 + 4 * width), dtype=np.uint8)  # each row: filter byte 0 ("none"), then RGBA
    raw[:, 0] = 0
    raw[:, 1:] = np.ascontiguousarray(rgba).reshape(height, 4 * width)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)  # 8-bit RGBA, no interlace
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw.tobytes(), 1))
        + chunk(b"IEND", b"")
    )


def _encode_png(canvas) -> bytes:
    """PNG of an Agg canvas's current pixels (see :func:`_encode_rgba_png`)."""
    return _encode_rgba_png(np.asarray(canvas.buffer_rgba()))


class Explorer:
    """Base class of the interactive explorers.

    Attributes
    ----------
    fig : matplotlib.figure.Figure
        Built once.
    controls : dict[str, ipywidgets.Widget]
        The controls, by name. Setting ``controls[name].value`` runs :meth:`update` and redraws.
    artists : dict[str, object]
        The artists that :meth:`update` changes, by name, so tests can read their data.
    last_latency : float
        Seconds taken by the last update plus redraw (callback to drawn canvas).
    """

    #: Extra widgets shown under the figure (a text readout, say), by name.
    def __init__(self, fig, controls: dict, *, readouts: dict | None = None, controls_per_row: int = 3):
        import ipywidgets as widgets

        self.fig = fig
        self.controls = dict(controls)
        self.readouts = dict(readouts or {})
        self.artists = getattr(self, "artists", {})
        self.last_latency = float("nan")
        self.error = None
        self._interactive = using_ipympl()
        self._output = widgets.Output()
        self._controls_per_row = controls_per_row
        if not self._interactive:
            plt.close(fig)  # the inline backend would otherwise show a second, static copy
        for control in self.controls.values():
            control.observe(self._on_change, names="value")
        self._widget = None

    # -- to implement -------------------------------------------------------------------------------------
    def update(self) -> None:  # pragma: no cover - abstract
        """Read :meth:`values` and update the artists. Must not create new axes or re-plot."""
        raise NotImplementedError

    # -- machinery ----------------------------------------------------------------------------------------
    def values(self) -> dict:
        """The current value of every control, by name."""
        return {name: control.value for name, control in self.controls.items()}

    def _on_change(self, change=None) -> None:
        if self._is_syncing:  # a control adjusted by update() itself: the outer update draws once
            return
        start = time.perf_counter()
        try:
            self.update()
            self.draw()
            self.error = None
        except Exception as exc:  # a callback's exception would otherwise vanish silently
            self.error = exc
            with self._output:
                print("".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))
        self.last_latency = time.perf_counter() - start

    def draw(self) -> None:
        """Render the figure: ``draw_idle`` under ipympl, a fresh PNG in the ``Output`` otherwise."""
        if self._interactive:
            self.fig.canvas.draw_idle()
            return
        from IPython import get_ipython
        from IPython.display import Image, clear_output, display

        # The figure was closed (so the inline backend does not show a second static copy); savefig still
        # renders it with Agg and encodes the PNG, which is the real cost of an update on this path.
        png = self.png()
        if get_ipython() is None:  # a script, a test or a doctest: render (and time) it, show nothing
            return
        with self._output:
            clear_output(wait=True)
            display(Image(data=png, format="png"))

    def _full_render_png(self) -> bytes:
        """The figure rendered from scratch by ``savefig``, encoded as PNG."""
        import io

        buffer = io.BytesIO()
        # Low zlib compression: encoding is part of every slider update on the inline path.
        self.fig.savefig(buffer, format="png", pil_kwargs={"compress_level": 1})
        return buffer.getvalue()

    # -- blitting (opt-in) and control syncing ------------------------------------------------------------
    _is_syncing = False
    _dynamic: tuple = ()
    _static_texts: tuple = ()
    _background_key = None
    #: Backgrounds kept, most recent last: switching a menu back and forth reuses them (about 2.5 MB each).
    _max_backgrounds = 6

    def _set_dynamic(self, artists) -> None:
        self._dynamic = tuple(artists)
        if not self._interactive:
            for artist in self._dynamic:
                artist.set_animated(True)

    def _agg_canvas(self):
        """An Agg canvas for the figure (closing a figure, as the inline path does, leaves a bare canvas)."""
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        if not isinstance(self.fig.canvas, FigureCanvasAgg):
            FigureCanvasAgg(self.fig)  # attaches itself as fig.canvas
        return self.fig.canvas

    def _static_key(self) -> tuple:
        """What the cached background depends on: every axes' limits (its ticks) and :meth:`_static_extra`."""
        for ax in self.fig.axes:
            ax.apply_aspect()  # where a fixed aspect puts the axes box, before drawing decides it
        limits = tuple(
            (tuple(ax.get_xlim()), tuple(ax.get_ylim()), ax.get_position().bounds) for ax in self.fig.axes
        )
        texts = tuple(text.get_text() for text in self._static_texts)
        return (limits, tuple(self.fig.canvas.get_width_height()), texts, self._static_extra())

    def _static_extra(self) -> tuple:
        return ()

    def png(self) -> bytes:
        """The figure as it is now, as PNG; only the dynamic artists are redrawn when nothing else changed."""
        if self._interactive or not self._dynamic:
            return self._full_render_png()
        canvas = self._agg_canvas()
        cache = self.__dict__.setdefault("_backgrounds", {})
        key = self._static_key()
        if key in cache:
            cache[key] = cache.pop(key)  # most recently used last
            canvas.restore_region(cache[key])
        else:
            canvas.draw()  # everything but the animated (dynamic) artists
            cache[key] = canvas.copy_from_bbox(self.fig.bbox)
            while len(cache) > self._max_backgrounds:
                cache.pop(next(iter(cache)))
        self._background_key = key
        for artist in self._dynamic:
            self.fig.draw_artist(artist)
        return _encode_png(canvas)

    def full_png(self) -> bytes:
        """The figure rendered from scratch (every artist, no cache), for comparison with :meth:`png`."""
        for artist in self._dynamic:
            artist.set_animated(False)
        try:
            canvas = self._agg_canvas()
            canvas.draw()
            return _encode_png(canvas)
        finally:
            self._set_dynamic(self._dynamic)
            self.__dict__.get("_backgrounds", {}).clear()

    @contextmanager
    def _syncing(self):
        self._is_syncing = True
        try:
            yield
        finally:
            self._is_syncing = False

    @property
    def widget(self):
        """The displayable widget: controls above the figure, readouts below."""
        if self._widget is None:
            import ipywidgets as widgets

            items = list(self.controls.values())
            rows = [
                widgets.HBox(items[i : i + self._controls_per_row])
                for i in range(0, len(items), self._controls_per_row)
            ]
            figure = self.fig.canvas if self._interactive else self._output
            self._widget = widgets.VBox([*rows, figure, *self.readouts.values()])
            # A stable hook for the browser tests and for styling: every explorer's outer box has this class.
            self._widget.add_class("normviz-explorer")
            self.update()
            self.draw()
        return self._widget

    def _ipython_display_(self):
        from IPython.display import display

        display(self._repr_bundle(), raw=True)

    def _repr_bundle(self) -> dict:
        """The widget view plus a PNG of the current figure.

        Front ends with a widget manager (JupyterLab, Colab, Kaggle) show the live widget; a static view
        (GitHub, ``make html``, a front end without the widget extension) falls back to the PNG, so a reader
        without a kernel still sees the picture.
        """
        import base64

        widget = self.widget  # builds the controls and draws the first frame
        return {
            "application/vnd.jupyter.widget-view+json": {
                "version_major": 2,
                "version_minor": 0,
                "model_id": widget.model_id,
            },
            "image/png": base64.b64encode(self.png()).decode("ascii"),
            "text/plain": f"{type(self).__name__}: an interactive figure (run the notebook to move its controls)",
        }

    def time_updates(self, name: str, values) -> list[float]:
        """Set control ``name`` to each of ``values`` and return the latency of each update (seconds)."""
        latencies = []
        for value in values:
            self.controls[name].value = value
            latencies.append(self.last_latency)
        return latencies
