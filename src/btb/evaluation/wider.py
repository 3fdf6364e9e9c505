"""WIDER FACE evaluation: the ground-truth files, the official AP, the seed's "accuracy" and the privacy metric.

Definitions (see ``../shared/eval/README.md``):

* Ground truth is read from the official ``wider_face_*_bbx_gt.txt``. A face is **valid** for the privacy
  metric when ``invalid == 0`` and ``w > 0`` and ``h > 0``; only valid faces are scored for coverage.
* Images are matched across the inputs of every function here by their **stem** (file name without folder
  and extension, e.g. ``0_Parade_marchingband_1_465``), which is how the difficulty lists name them; so the
  keys may be the ground truth's relative paths (``0--Parade/0_Parade_marchingband_1_465.jpg``) or stems.
  An image that one input lacks is an error, never a silent zero (pass an empty table or array instead).
* AP (``btb.evaluation.wider_ap``) is a port of the official evaluation, including its IoU convention.
* The privacy metric treats each image as frame 0 of a one-frame video and reuses ``btb.evaluation.metrics``
  (coverage per pixel of ``btb.blur.region_mask``); "exposed frames" are then exposed images.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import pandas as pd

from btb.evaluation.metrics import HALF, PROTECTED, coverage, face_coverages, summarise
from btb.regions.blur import shape_mask

GT_FIELDS = ["x", "y", "w", "h", "blur", "expression", "illumination", "invalid", "occlusion", "pose"]
SETTINGS = ("easy", "medium", "hard")
MIN_SIDE = 20.0
SIZE_BANDS: tuple[tuple[float, float], ...] = ((0, 20), (20, 40), (40, 100), (100, math.inf))

Predictions = Mapping[str, tuple[np.ndarray, np.ndarray]]


# ------------------------------------------------------------------------------------------ names, inputs
def image_stem(name: str) -> str:
    """``'0--Parade/0_Parade_marchingband_1_465.jpg'`` -> ``'0_Parade_marchingband_1_465'``."""
    return PurePosixPath(str(name).replace("\\", "/")).stem


def _by_stem(d: Mapping[str, Any], what: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        s = image_stem(k)
        if s in out:
            raise ValueError(f"{what}: two entries for image {s!r}")
        out[s] = v
    return out


def _require(stems: Iterable[str], d: Mapping[str, Any], what: str) -> None:
    missing = sorted(set(stems) - set(d))
    if missing:
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        raise ValueError(f"{what} lacks images {missing[:5]}{more} (pass an empty entry for an image with none)")


# ------------------------------------------------------------------------------------------ ground truth
def _empty_gt() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="int64") for c in GT_FIELDS})


def read_wider_gt(path: str | Path) -> dict[str, pd.DataFrame]:
    """Parse an official ``wider_face_{train,val}_bbx_gt.txt``.

    Layout: the image's relative path, the face count, then one line per face
    ``x y w h blur expression illumination invalid occlusion pose``. An image with count 0 still has one line
    of zeros, which is a placeholder and not a face. Returns, per image relative path (as written in the
    file), a table with the columns ``GT_FIELDS`` (int64) in file order: row i is face i+1 of the official
    ``face_bbx_list``, so the 1-based indices of the difficulty lists select rows ``index - 1``.
    """
    lines = Path(path).read_text().splitlines()
    out: dict[str, pd.DataFrame] = {}
    i = 0
    while i < len(lines):
        name = lines[i].strip()
        if not name:
            i += 1
            continue
        try:
            count = int(lines[i + 1].split()[0])
        except (IndexError, ValueError) as e:
            raise ValueError(f"{path}:{i + 2}: expected the face count of {name!r}") from e
        rows = lines[i + 2 : i + 2 + max(count, 1)]
        if len(rows) < max(count, 1):
            raise ValueError(f"{path}: {name!r} announces {count} faces but the file ends")
        if count == 0:
            table = _empty_gt()
        else:
            values = [r.split()[: len(GT_FIELDS)] for r in rows]
            bad = [k for k, v in enumerate(values) if len(v) != len(GT_FIELDS)]
            if bad:
                raise ValueError(f"{path}:{i + 3 + bad[0]}: expected {len(GT_FIELDS)} numbers per face")
            table = pd.DataFrame(np.asarray(values, dtype=np.int64), columns=GT_FIELDS)
        if name in out:
            raise ValueError(f"{path}: image {name!r} listed twice")
        out[name] = table
        i += 2 + max(count, 1)
    return out


def valid_faces(table: pd.DataFrame) -> pd.Series:
    """Boolean per face: valid for the privacy metric (``invalid == 0`` and ``w > 0`` and ``h > 0``)."""
    return (table["invalid"] == 0) & (table["w"] > 0) & (table["h"] > 0)


# ------------------------------------------------------------------------------------------ difficulty lists
def _mat_str(cell: Any) -> str:
    """The string inside a loadmat cell (``array([array(['name'])])`` and similar nestings)."""
    a = cell
    while isinstance(a, np.ndarray):
        a = a.ravel()[0]
    return str(a)


def read_keep_list(mat_path: str | Path) -> dict[str, np.ndarray]:
    """One official difficulty list (``wider_{easy,medium,hard}_val.mat``): per image stem, the 1-based
    indices (int64, 1-D) of the faces that setting keeps; every other face of the image is ignored by AP.

    Reads ``file_list`` (per event, a cell of image stems) and ``gt_list`` (per event, a cell of (K,1) index
    arrays) with ``scipy.io.loadmat``.
    """
    from scipy.io import loadmat  # only the AP needs scipy

    mat = loadmat(str(mat_path))
    out: dict[str, np.ndarray] = {}
    for files, keeps in zip(mat["file_list"].ravel(), mat["gt_list"].ravel(), strict=True):
        files, keeps = np.asarray(files).ravel(), np.asarray(keeps).ravel()
        for f, k in zip(files, keeps, strict=True):
            out[_mat_str(f)] = np.asarray(k, dtype=np.int64).ravel()
    return out


def read_difficulty_lists(
    mat_dir: str | Path, settings: Iterable[str] = SETTINGS, images: Iterable[str] | None = None
) -> dict[str, dict[str, np.ndarray]]:
    """Read ``wider_{setting}_val.mat`` from ``mat_dir`` for each setting.

    Returns ``{image stem: {setting: 1-based kept face indices}}``. The files cover the whole official val
    set; ``images`` (names or stems) restricts the result to the images present in our subset.
    """
    settings = tuple(settings)
    lists = {s: read_keep_list(Path(mat_dir) / f"wider_{s}_val.mat") for s in settings}
    stems = set(next(iter(lists.values()))) if lists else set()
    if images is not None:
        stems &= {image_stem(n) for n in images}
    return {img: {s: lists[s][img] for s in settings} for img in sorted(stems)}


def keep_lists_for(difficulty: Mapping[str, Mapping[str, np.ndarray]], setting: str) -> dict[str, np.ndarray]:
    """``{image: kept indices}`` of one setting, from ``read_difficulty_lists``'s result."""
    return {img: d[setting] for img, d in difficulty.items()}


# ------------------------------------------------------------------------------------------ seed "accuracy"
def seed_accuracy(pred_counts: Mapping[str, int], gt: Mapping[str, pd.DataFrame]) -> float:
    """The seed study's "accuracy": share of the images of ``gt`` whose detected-face count equals the
    number of labeled faces.

    The labeled count is every face the ground-truth file lists for the image (valid or invalid, any size),
    as the seed counted them; a count-0 image has 0. ``pred_counts`` is whatever the caller counts (blur
    regions, or detections above a threshold) and must cover every image of ``gt``. Never tune for it:
    it moves against recall (docs/accuracy.md).
    """
    gt_s = _by_stem(gt, "gt")
    counts = _by_stem(pred_counts, "pred_counts")
    _require(gt_s, counts, "pred_counts")
    if not gt_s:
        return math.nan
    return sum(int(counts[k]) == len(t) for k, t in gt_s.items()) / len(gt_s)


# ------------------------------------------------------------------------------------------ privacy metric
def regions_touching_no_face(regions: pd.DataFrame, gt_boxes: np.ndarray | pd.DataFrame) -> tuple[int, int]:
    """(regions, regions touching no face) of one image.

    A region counts when it has ``w > 0`` and ``h > 0``; it touches a face when at least one of its blurred
    pixels (its ``shape`` mask, as ``btb.blur.region_mask`` paints it) shares a positive area with a
    ground-truth box. Every labeled face box counts here, valid or invalid (a blurred invalid face is not
    wasted blur); zero-size boxes cannot be touched.
    """
    if isinstance(gt_boxes, pd.DataFrame):
        gt_boxes = gt_boxes[["x", "y", "w", "h"]].to_numpy(dtype=np.float64)
    boxes = np.asarray(gt_boxes, dtype=np.float64).reshape(-1, 4)
    n = none = 0
    for x, y, w, h, shape in regions[["x", "y", "w", "h", "shape"]].itertuples(index=False):
        if not (w > 0 and h > 0):
            continue
        n += 1
        near = boxes[(boxes[:, 2] > 0) & (boxes[:, 3] > 0) & (boxes[:, 0] < x + w) & (boxes[:, 0] + boxes[:, 2] > x)
                     & (boxes[:, 1] < y + h) & (boxes[:, 1] + boxes[:, 3] > y)]  # rectangles overlap
        if shape == "box" or len(near) == 0:
            touched = len(near) > 0
        else:
            mask = shape_mask(int(w), int(h), str(shape))
            # coverage of the box, moved into the region's own frame, by its mask: > 0 iff they touch
            touched = any(coverage((gx - x, gy - y, gw, gh), mask) > 0 for gx, gy, gw, gh in near)
        none += not touched
    return n, none


def _frame0_regions(regions: pd.DataFrame, img: str) -> pd.DataFrame:
    if len(regions) and (regions["frame_index"] != 0).any():
        raise ValueError(f"regions of image {img!r} must all have frame_index 0 (an image is frame 0)")
    return regions


def image_face_coverages(
    gt: Mapping[str, pd.DataFrame],
    regions: Mapping[str, pd.DataFrame],
    sizes: Mapping[str, tuple[int, int]],
) -> pd.DataFrame:
    """One row per valid face of the images of ``gt``: ``image, face_index`` (0-based row in the gt table),
    ``x, y, w, h, short_side`` (min(w, h)), and ``btb.metrics.face_coverages``' ``frame_index`` (0),
    ``coverage, gt_area, blurred_area``.

    ``regions``: per image a region table (``btb.tables.REGION_COLUMNS``, frame_index 0); ``sizes``: per image
    (height, width). Both must cover every image of ``gt``.
    """
    gt_s, reg_s, size_s = _by_stem(gt, "gt"), _by_stem(regions, "regions"), _by_stem(sizes, "sizes")
    _require(gt_s, reg_s, "regions")
    _require(gt_s, size_s, "sizes")
    parts = []
    for img, table in gt_s.items():
        faces = table[valid_faces(table)]
        height, width = (int(v) for v in size_s[img])
        frame_gt = pd.DataFrame(
            {"frame_index": 0, "x": faces["x"], "y": faces["y"], "w": faces["w"], "h": faces["h"], "labeled": 1}
        )
        cov = face_coverages(frame_gt, _frame0_regions(reg_s[img], img), height, width, split=False)
        meta = pd.DataFrame({
            "image": img,
            "face_index": np.flatnonzero(valid_faces(table).to_numpy()),
            "x": faces["x"].to_numpy(), "y": faces["y"].to_numpy(),
            "w": faces["w"].to_numpy(), "h": faces["h"].to_numpy(),
            "short_side": np.minimum(faces["w"].to_numpy(), faces["h"].to_numpy()),
        })
        parts.append(pd.concat([meta, cov], axis=1))
    columns = ["image", "face_index", "x", "y", "w", "h", "short_side",
               "frame_index", "coverage", "gt_area", "blurred_area"]
    if not parts:
        return pd.DataFrame(columns=columns)
    return pd.concat(parts, ignore_index=True)[columns]


def summarise_images(faces: pd.DataFrame) -> dict[str, Any]:
    """``btb.metrics.summarise`` pooled over images (each image is its own one-frame clip), plus
    ``exposed_images`` (= ``exposed_frames``: images with a scored face of coverage < 0.8)."""
    out = summarise(faces.assign(clip=faces["image"]))
    out["exposed_images"] = out["exposed_frames"]
    return out


def score_images(
    gt: Mapping[str, pd.DataFrame],
    regions: Mapping[str, pd.DataFrame],
    sizes: Mapping[str, tuple[int, int]],
    min_side: float = MIN_SIDE,
) -> dict[str, Any]:
    """The privacy metric over a set of images.

    Returns ``all``: ``summarise_images`` over every valid face (recall_at_0_8 / _0_5, exposed_images,
    blur_area_ratio, counts); ``min_side``: the same restricted to valid faces whose shorter side >=
    ``min_side`` px (there the blur-area ratio counts the blur of the images that still have such a face
    against those faces' area only, so read it as a cost figure of the full set, i.e. of ``all``);
    ``regions`` / ``regions_touching_no_face`` / ``share_regions_touching_no_face`` over all images of ``gt``
    (``regions_touching_no_face``); and ``faces``, the per-face table (``image_face_coverages``) for
    ``recall_by_size``.
    """
    faces = image_face_coverages(gt, regions, sizes)
    reg_s = _by_stem(regions, "regions")
    n_regions = n_none = 0
    for img, table in _by_stem(gt, "gt").items():
        n, none = regions_touching_no_face(reg_s[img], table)
        n_regions, n_none = n_regions + n, n_none + none
    return {
        "all": summarise_images(faces),
        "min_side": summarise_images(faces[faces["short_side"] >= min_side]),
        "min_side_px": float(min_side),
        "regions": n_regions,
        "regions_touching_no_face": n_none,
        "share_regions_touching_no_face": n_none / n_regions if n_regions else math.nan,
        "faces": faces,
    }


def recall_by_size(
    faces: pd.DataFrame, bands: Iterable[tuple[float, float]] = SIZE_BANDS
) -> pd.DataFrame:
    """Recall per face-size band: size = the shorter side of the gt box (``short_side``, else min(w, h)),
    band ``[lo, hi)``. ``faces``: ``image_face_coverages``' table (faces with NaN coverage are not scored).
    Columns ``lo, hi, faces, protected_at_0_8, recall_at_0_8, protected_at_0_5, recall_at_0_5``."""
    side = faces["short_side"] if "short_side" in faces else np.minimum(faces["w"], faces["h"])
    scored = faces["coverage"].notna()
    rows = []
    for lo, hi in bands:
        sel = scored & (side >= lo) & (side < hi)
        cov = faces.loc[sel, "coverage"]
        n, p8, p5 = len(cov), int((cov >= PROTECTED).sum()), int((cov >= HALF).sum())
        rows.append((float(lo), float(hi), n, p8, p8 / n if n else math.nan, p5, p5 / n if n else math.nan))
    return pd.DataFrame(rows, columns=["lo", "hi", "faces", "protected_at_0_8", "recall_at_0_8",
                                       "protected_at_0_5", "recall_at_0_5"])
