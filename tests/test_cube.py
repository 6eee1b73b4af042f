"""The cube picture: geometry, and shaded cells that are exactly normviz.axes.stats_mask."""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from matplotlib.colors import to_rgba  # noqa: E402

from normviz import axes, cube  # noqa: E402

SHAPES = [(1, 1, 1), (2, 6, 4), (4, 12, 9), (3, 4, 7), (8, 3, 2)]


def _options(method, C):
    """Arguments a method needs: a valid group count, a window size."""
    groups = axes.valid_group_counts(C)
    return {
        "num_groups": groups[len(groups) // 2] if method == "group" else None,
        "size": 3 if method == "local_response" else None,
    }


def decode(drawn: cube.NormCube):
    """Read the picture back: which cells are painted shared/selected, from the front faces' colours."""
    faces = drawn.faces
    colours = drawn.collection.get_facecolors()
    front = faces.kind[drawn.drawn] == 0
    cells = faces.cell[drawn.drawn][front]
    rgba = colours[front]
    shared = np.all(np.isclose(rgba, to_rgba(cube.SHARED_COLOR)), axis=1)
    selected = np.all(np.isclose(rgba, to_rgba(cube.SELECTED_COLOR)), axis=1)
    mask = np.zeros(math.prod(faces.shape), dtype=bool)
    mask[cells[shared | selected]] = True
    return mask.reshape(faces.shape), cells[selected]


@pytest.fixture(scope="module")
def one_cube():
    fig, ax = plt.subplots()
    drawn = cube.plot_norm_cube("batch", (2, 2, 2), (0, 0, 0), ax=ax)
    yield drawn
    plt.close(fig)


# ------------------------------------------------------------------------------------------- geometry
@pytest.mark.parametrize("shape", SHAPES)
def test_faces_count_order_and_surface(shape):
    N, C, HW = shape
    faces = cube.cube_faces(shape)
    assert faces.verts.shape == (3 * N * C * HW, 4, 2)
    # every cell appears with its three faces
    np.testing.assert_array_equal(np.bincount(faces.cell, minlength=N * C * HW), np.full(N * C * HW, 3))
    # painter's order: farther channels (larger c) first
    c = np.unravel_index(faces.cell, shape)[1]
    assert np.all(np.diff(c) <= 0)
    assert int(faces.surface.sum()) == N * HW + N * C + C * HW


def test_front_face_is_the_projected_square():
    faces = cube.cube_faces((3, 4, 5))
    dx, dy = cube.DEPTH_OFFSET
    n, c, p = 2, 3, 1
    i = np.flatnonzero((faces.cell == np.ravel_multi_index((n, c, p), (3, 4, 5))) & (faces.kind == 0))[0]
    expected = np.array([[n, p], [n + 1, p], [n + 1, p + 1], [n, p + 1]], dtype=float) + [c * dx, c * dy]
    np.testing.assert_allclose(faces.verts[i], expected)


def test_faces_are_cached_and_read_only():
    assert cube.cube_faces((2, 3, 4)) is cube.cube_faces((2, 3, 4))
    with pytest.raises(ValueError, match="read-only"):
        cube.cube_faces((2, 3, 4)).verts[0, 0, 0] = 1.0


@pytest.mark.parametrize("shape", [(2, 3), (2, 3, 4, 5, 6), "abc", (0, 2, 2)])
def test_bad_cube_shape(shape):
    with pytest.raises((ValueError, TypeError), match="shape must be"):
        cube.cube_faces(shape)


# ----------------------------------------------------------------------------------- shading = stats_mask
@pytest.mark.parametrize("method", axes.METHODS)
@pytest.mark.parametrize("shape", SHAPES)
def test_shaded_cells_equal_stats_mask(one_cube, method, shape):
    index = tuple(s // 2 for s in shape)
    options = _options(method, shape[1])
    one_cube.set_state(method, shape, index, **options)
    mask, selected = decode(one_cube)
    np.testing.assert_array_equal(mask, axes.stats_mask(method, shape, index, **options))
    np.testing.assert_array_equal(selected, [np.ravel_multi_index(index, shape)])


@settings(max_examples=40, deadline=None)
@given(
    method=st.sampled_from(axes.METHODS),
    N=st.integers(1, 5), C=st.integers(1, 8), H=st.integers(1, 3), W=st.integers(1, 3),
    data=st.data(),
)
def test_shaded_cells_equal_stats_mask_property(one_cube, method, N, C, H, W, data):
    """Any 4-D input: the picture of the flattened (N, C, H*W) box is the flattened stats_mask."""
    shape = (N, C, H, W)
    index = tuple(data.draw(st.integers(0, s - 1)) for s in shape)
    options = {
        "num_groups": data.draw(st.sampled_from(axes.valid_group_counts(C))) if method == "group" else None,
        "size": data.draw(st.integers(1, 7)) if method == "local_response" else None,
    }
    one_cube.set_state(method, shape, index, **options)
    mask, _ = decode(one_cube)
    np.testing.assert_array_equal(mask, axes.stats_mask(method, shape, index, **options).reshape(N, C, H * W))


def test_only_visible_faces_are_drawn(one_cube):
    one_cube.set_state("instance", (3, 4, 5), (1, 2, 3))
    faces = one_cube.faces
    shaded = one_cube.mask.ravel()[faces.cell]
    np.testing.assert_array_equal(one_cube.drawn, np.flatnonzero(shaded | faces.surface))
    # the marker outlines exactly the selected cell's three faces
    selected = np.ravel_multi_index((1, 2, 3), (3, 4, 5))
    marker = np.array([p.vertices[:4] for p in one_cube.marker.get_paths()])
    np.testing.assert_allclose(marker, faces.verts[faces.cell == selected])


def test_glass_cells_are_translucent_and_shaded_opaque(one_cube):
    one_cube.set_state("layer", (2, 3, 2), (0, 0, 0))
    colours = one_cube.collection.get_facecolors()
    shaded = one_cube.mask.ravel()[one_cube.faces.cell[one_cube.drawn]]
    assert np.all(colours[shaded, 3] == 1.0)
    assert np.all((colours[~shaded, 3] > 0) & (colours[~shaded, 3] < 1))


def test_face_colours_check_the_mask_shape():
    faces = cube.cube_faces((2, 2, 2))
    with pytest.raises(ValueError, match=r"mask must have the box's shape \(2, 2, 2\)"):
        cube.cube_face_colors(faces, np.zeros((2, 2, 3), bool), 0)


def test_errors_come_from_axes(one_cube):
    with pytest.raises(ValueError, match="must be divisible by num_groups"):
        one_cube.set_state("group", (2, 6, 4), (0, 0, 0), num_groups=4)
    with pytest.raises(ValueError, match="method must be one of"):
        cube.plot_norm_cube("batchnorm", (2, 3, 4), (0, 0, 0), ax=one_cube.ax)


def test_labels_and_legend(one_cube):
    one_cube.set_state("rms", (2, 3, 4), (0, 0, 0))
    texts = {k: t.get_text() for k, t in one_cube.labels.items()}
    assert texts["N"].startswith("N (batch)") and texts["C"].startswith("C (channels)")
    assert texts["HW"].startswith("H, W") and texts["title"] == "RMS Norm"
    legend = [t.get_text() for t in one_cube.legend.get_texts()]
    assert legend == ["normalized element", "shares its mean square", "other elements"]


# ------------------------------------------------------------------------------------ small multiples
def test_small_multiples_reproduce_every_method():
    shape, index = (4, 6, 3, 3), (1, 2, 1, 1)
    fig, cubes = cube.plot_norm_cubes(shape, index, num_groups=2, size=3)
    try:
        assert list(cubes)[:4] == ["batch", "layer", "instance", "group"]  # the paper's order
        assert set(cubes) == set(axes.METHODS)
        for method, drawn in cubes.items():
            options = {"num_groups": 2 if method == "group" else None,
                       "size": 3 if method == "local_response" else None}
            mask, _ = decode(drawn)
            np.testing.assert_array_equal(mask, axes.stats_mask(method, shape, index, **options).reshape(4, 6, 9))
            call = axes.torch_call(method, shape, **options)
            assert call in [t.get_text() for t in drawn.ax.texts]
    finally:
        plt.close(fig)


def test_small_multiples_reject_unknown_method():
    with pytest.raises(ValueError, match="method must be one of"):
        cube.plot_norm_cubes(methods=("batch", "weight"))
