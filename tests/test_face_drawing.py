"""`aan predict`'s drawings read at any image size: marks grow with the face box, the 68
points are joined into dlib's contours (other point sets by their dataset's skeleton), and a
detector's score is written by its face."""

from __future__ import annotations

import json

import numpy as np
import pytest

from aan_components.visualization import (
    IBUG68_LINKS,
    draw_faces,
    face_drawing_sizes,
    landmark_links,
)

BOX_COLOUR = (255, 128, 0)


def _dlib_68_lines() -> set[tuple[int, int]]:
    """The lines dlib's ``render_face_detections`` draws for 68 points, written out as its
    loops are: ``(i - 1, i)`` for i in each range, plus the closing lines."""
    ranges = [(1, 16), (28, 30), (18, 21), (23, 26), (31, 35), (37, 41), (43, 47), (49, 59),
              (61, 67)]
    lines = {(i - 1, i) for lo, hi in ranges for i in range(lo, hi + 1)}
    return lines | {(30, 35), (36, 41), (42, 47), (48, 59), (60, 67)}


DLIB_68 = _dlib_68_lines()


def full_hd() -> np.ndarray:
    return np.zeros((1080, 1920, 3), np.uint8)


def real_face(fixtures_dir, side: float, origin=(400.0, 200.0)):
    """A real 300W face's 68 points (indoor_029's ground truth) scaled so that their extent's
    longer side is ``side`` px, and that extent as the box."""
    data = json.loads((fixtures_dir / "300w" / "test_300w.json").read_text())
    (ann,) = [a for a in data["annotations"] if a["image_id"] == data["images"][1]["id"]]
    pts = np.array(ann["keypoints"], np.float64).reshape(-1, 3)[:, :2]
    pts = (pts - pts.min(0)) / np.ptp(pts, 0).max() * side + np.asarray(origin)
    return np.r_[pts.min(0), pts.max(0)], pts


def drawn(image: np.ndarray) -> np.ndarray:
    return image.any(-1)


def marker_diameter(side: float) -> int:
    """The drawn diameter of a lone landmark of a face box of ``side`` px."""
    box = np.array([100.0, 100.0, 100 + side, 100 + side])
    centre = np.array([[100 + side / 2, 100 + side / 2]])
    out = draw_faces(full_hd(), [box], [centre])
    column = out[:, int(centre[0, 0])]
    red = (column[:, 2] > 128) & (column[:, 1] < 100)
    return int(red.sum())


def test_marks_grow_with_the_face_box_and_stay_visible_on_full_hd():
    """A 200 px face on a 1920 x 1080 photo drew 3 px dots (radius 1: gone when the photo
    is shown at screen size); now a marker is at least 5 px across, and a face 4x larger
    draws marks about 4x larger."""
    assert marker_diameter(200) >= 5
    assert 3 <= marker_diameter(600) / marker_diameter(150) <= 5


def test_drawn_area_grows_with_the_square_of_the_face(fixtures_dir):
    """Every mark (markers, lines, box) scales with the box: 4x the face, about 16x the
    drawn pixels (a fixed line width would give about 4x)."""
    areas = {}
    for side in (150, 600):
        box, pts = real_face(fixtures_dir, side)
        areas[side] = drawn(draw_faces(full_hd(), [box], [pts],
                                       links=IBUG68_LINKS)).sum()
    assert 10 <= areas[600] / areas[150] <= 24, areas


def test_lines_join_the_dlib_contours_and_nothing_else(fixtures_dir):
    assert {tuple(sorted(link)) for link in IBUG68_LINKS} == DLIB_68
    assert len(IBUG68_LINKS) == len(DLIB_68)
    box, pts = real_face(fixtures_dir, 700)
    out = draw_faces(full_hd(), [box], [pts], links=landmark_links({}, 68))
    sizes = face_drawing_sizes(box)
    clear = sizes["radius"] + sizes["thickness"] + 2

    def colour_at(p):
        return out[int(round(p[1])), int(round(p[0]))].astype(int)

    def distance_to_segment(p, a, b):
        t = np.clip(np.dot(p - a, b - a) / max(np.dot(b - a, b - a), 1e-9), 0, 1)
        return np.linalg.norm(p - (a + t * (b - a)))

    checked = 0
    for a, b in DLIB_68:  # the middle of every joined pair clear of markers is green
        mid = (pts[a] + pts[b]) / 2
        if np.linalg.norm(pts - mid, axis=1).min() > clear:
            c = colour_at(mid)
            assert c[1] > 150 and c[2] < 100, (a, b, c)
            checked += 1
    assert checked >= 30
    # the ends of neighbouring contours are not joined: jaw to brow, brow to brow, lower nose
    # to eye, eye to eye, eye to mouth, outer to inner lip
    for a, b in ((16, 17), (21, 22), (26, 27), (35, 36), (41, 42), (47, 48), (59, 60)):
        mid = (pts[a] + pts[b]) / 2
        far = min(distance_to_segment(mid, pts[i], pts[j]) for i, j in DLIB_68)
        if far > clear and np.linalg.norm(pts - mid, axis=1).min() > clear:
            assert not colour_at(mid).any(), (a, b)
            checked += 1
    assert checked >= 33


def test_other_point_sets_use_their_skeleton():
    assert landmark_links({"skeleton_links": [[0, 1], [1, 2]]}, 3) == [(0, 1), (1, 2)]
    assert landmark_links({"skeleton_links": []}, 19) == []  # AFLW defines none
    assert landmark_links(None, 68) == list(IBUG68_LINKS)
    pts = np.array([[600.0, 500.0], [900.0, 500.0], [900.0, 800.0]])
    box = np.array([550.0, 450.0, 950.0, 850.0])
    out = draw_faces(full_hd(), [box], [pts], links=[(0, 1)])
    assert out[500, 750, 1] > 150  # joined
    assert not out[650, 750].any()  # 0 and 2 are not: nothing on their diagonal


@pytest.mark.parametrize("top", [300.0, 0.0])
def test_a_detector_score_is_written_by_its_face(top):
    """The score of each detection is written on a label at its box (above it, or inside at
    the image's top edge), so that a false face (MTCNN's on a hand) reads as one; a face
    without a score (a given box) gets no label."""
    box = np.array([800.0, top, 1100.0, top + 300])
    pts = np.array([[950.0, top + 150]])
    without = draw_faces(full_hd(), [box], [pts], [None])
    assert (without == draw_faces(full_hd(), [box], [pts])).all()
    labelled = draw_faces(full_hd(), [box], [pts], [0.42])
    changed = (labelled != without).any(-1)
    ys, xs = np.nonzero(changed)
    assert changed.sum() > 300  # a label, not a stray pixel
    assert xs.min() >= 800 - 2 and xs.max() < 800 + 150  # at the box's left corner
    if top > 0:
        assert ys.max() <= top + 1  # above the box
    else:
        assert ys.min() >= 0 and ys.max() < 0.25 * 300  # inside, at the top
    text = labelled[changed]
    assert (text == BOX_COLOUR).all(-1).sum() > 0.3 * len(text)  # on the box's colour
    assert (text.min(-1) > 200).sum() > 20  # white text on it
    other = draw_faces(full_hd(), [box], [pts], [0.97])
    assert (other != labelled).any()  # the digits drawn are the score's
