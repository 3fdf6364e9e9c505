"""WIDER FACE evaluation: the ground-truth files, the official AP, the seed's "accuracy" and the privacy metric.

Definitions (see ``../shared/eval/README.md``):

* Ground truth is read from the official ``wider_face_*_bbx_gt.txt``. A face is **valid** for the privacy
  metric when ``invalid == 0`` and ``w > 0`` and ``h > 0``; only valid faces are scored for coverage.
* Images are matched across the inputs of every function here by their **stem** (file name without folder
  and extension, e.g. ``0_Parade_marchingband_1_465``), which is how the difficulty lists name them; so the
  keys may be the ground truth's relative paths (``0--Parade/0_Parade_marchingband_1_465.jpg``) or stems.
  An image that one input lacks is an error, never a silent zero (pass an empty table or array instead).
* AP is a port of the official evaluation (the MATLAB ``eval_tools`` and its widely used Python port
  ``evaluation.py``), including its IoU convention: see ``wider_iou``.
* The privacy metric treats each image as frame 0 of a one-frame video and reuses ``btb.metrics``
  (coverage per pixel of ``btb.blur.region_mask``); "exposed frames" are then exposed images.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import pandas as pd

from btb.blur import shape_mask
from btb.metrics import HALF, PROTECTED, coverage, face_coverages, summarise

GT_FIELDS = ["x", "y", "w", "h", "blur", "expression", "illumination", "invalid", "occlusion", "pose"]
SETTINGS = ("easy", "medium", "hard")
IOU_THRESH = 0.5
THRESH_NUM = 1000
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


# ------------------------------------------------------------------------------------------ official AP
def wider_iou(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """IoU matrix (len(pred), len(gt)) of ``x, y, w, h`` boxes with the official WIDER FACE convention.

    The official code turns a box into corners ``x1 = x, x2 = x + w`` (not ``x + w - 1``) and then measures
    with the inclusive-pixel "+1" rule of ``boxoverlap.m`` / ``bbox_overlaps``: width ``x2 - x1 + 1``,
    intersection width ``min(x2) - max(x1) + 1``. A box is therefore one pixel wider and taller than its
    ``w, h``, which raises the IoU of small faces (a 2x2 face and the same box shifted by one pixel: 0.5
    here, 1/3 by exact area). Kept on purpose so that AP is comparable with published figures; it differs
    from ``btb.boxes.iou_matrix`` (exact area), which the pipeline uses elsewhere.
    """
    p = np.asarray(pred, dtype=np.float64).reshape(-1, 4)
    g = np.asarray(gt, dtype=np.float64).reshape(-1, 4)
    px1, py1, px2, py2 = p[:, 0], p[:, 1], p[:, 0] + p[:, 2], p[:, 1] + p[:, 3]
    gx1, gy1, gx2, gy2 = g[:, 0], g[:, 1], g[:, 0] + g[:, 2], g[:, 1] + g[:, 3]
    iw = np.minimum(px2[:, None], gx2[None, :]) - np.maximum(px1[:, None], gx1[None, :]) + 1
    ih = np.minimum(py2[:, None], gy2[None, :]) - np.maximum(py1[:, None], gy1[None, :]) + 1
    inter = iw * ih
    area_p = (px2 - px1 + 1) * (py2 - py1 + 1)
    area_g = (gx2 - gx1 + 1) * (gy2 - gy1 + 1)
    union = area_p[:, None] + area_g[None, :] - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = inter / union
    return np.where((iw > 0) & (ih > 0), iou, 0.0)


def normalise_scores(predictions: Mapping[str, tuple[np.ndarray, np.ndarray]]) -> dict[str, np.ndarray]:
    """The official ``norm_score``: min-max scale every score to [0, 1] with the min and max over *all*
    predictions of the set. Where all scores are equal, every score becomes 1 (the official code divides by
    zero there)."""
    scores = {k: np.asarray(s, dtype=np.float64).ravel() for k, (_, s) in predictions.items()}
    nonempty = [s for s in scores.values() if len(s)]
    if not nonempty:
        return scores
    lo = min(float(s.min()) for s in nonempty)
    hi = max(float(s.max()) for s in nonempty)
    if hi == lo:
        return {k: np.ones_like(s) for k, s in scores.items()}
    return {k: (s - lo) / (hi - lo) for k, s in scores.items()}


def image_eval(
    pred_boxes: np.ndarray, gt_boxes: np.ndarray, kept: np.ndarray, iou_thresh: float = IOU_THRESH
) -> tuple[np.ndarray, np.ndarray]:
    """The official ``image_eval`` of one image; ``pred_boxes`` must be sorted by score, highest first.

    ``kept``: boolean per gt face, True when the setting keeps it (the official ``ignore`` array, whose 1
    means *kept*). Each prediction in turn takes the gt face of highest IoU (first on ties); if that IoU >=
    ``iou_thresh``: an ignored face marks the prediction -1 (neither TP nor FP) and the face -1; a kept face
    not yet found becomes found (a second prediction on a found face stays a proposal, i.e. a FP).
    Returns ``pred_recall`` (found kept faces after each prediction) and ``proposal_list`` (1 counted,
    -1 ignored), both of length len(pred_boxes).
    """
    overlaps = wider_iou(pred_boxes, gt_boxes)
    n_pred = overlaps.shape[0]
    pred_recall = np.zeros(n_pred)
    recall_list = np.zeros(overlaps.shape[1])
    proposal_list = np.ones(n_pred)
    for h in range(n_pred):
        if overlaps.shape[1]:
            idx = int(np.argmax(overlaps[h]))
            if overlaps[h, idx] >= iou_thresh:
                if not kept[idx]:
                    recall_list[idx] = -1
                    proposal_list[h] = -1
                elif recall_list[idx] == 0:
                    recall_list[idx] = 1
        pred_recall[h] = np.count_nonzero(recall_list == 1)
    return pred_recall, proposal_list


def thresholds(thresh_num: int = THRESH_NUM) -> np.ndarray:
    """The official score thresholds ``1 - t / thresh_num``, t = 1 .. thresh_num (0.999 down to 0)."""
    return 1 - np.arange(1, thresh_num + 1) / thresh_num


def img_pr_info(
    scores: np.ndarray, proposal_list: np.ndarray, pred_recall: np.ndarray, thresh_num: int = THRESH_NUM
) -> np.ndarray:
    """The official ``img_pr_info``: per threshold, (proposals counted, kept faces found) among the
    predictions whose normalised score >= the threshold (``scores`` sorted highest first)."""
    s = np.asarray(scores, dtype=np.float64)
    n = (s[None, :] >= thresholds(thresh_num)[:, None]).sum(axis=1)  # sorted: the first n qualify
    counted = np.concatenate(([0], np.cumsum(proposal_list == 1)))
    found = np.concatenate(([0.0], pred_recall))
    return np.column_stack([counted[n], found[n]]).astype(np.float64)


def dataset_pr_info(pr_curve: np.ndarray, count_face: int) -> tuple[np.ndarray, np.ndarray]:
    """The official ``dataset_pr_info``: (precision, recall) per threshold from the summed counts.

    Precision is NaN at thresholds with no counted proposal (0/0, as in the official code)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = pr_curve[:, 1] / pr_curve[:, 0]
    return precision, pr_curve[:, 1] / count_face


def voc_ap(recall: np.ndarray, precision: np.ndarray) -> float:
    """The official ``voc_ap`` / ``VOCap.m``: all-point interpolated area under the precision envelope.

    The envelope uses a NaN-ignoring max (MATLAB's ``max``), so thresholds without proposals add nothing."""
    mrec = np.concatenate(([0.0], recall, [1.0]))
    mpre = np.concatenate(([0.0], precision, [0.0]))
    for i in range(mpre.size - 1, 0, -1):
        mpre[i - 1] = np.fmax(mpre[i - 1], mpre[i])
    i = np.where(mrec[1:] != mrec[:-1])[0]
    return float(np.sum((mrec[i + 1] - mrec[i]) * mpre[i + 1]))


def wider_ap(
    predictions: Predictions,
    gt: Mapping[str, pd.DataFrame],
    keep_lists: Mapping[str, np.ndarray],
    iou_thresh: float = IOU_THRESH,
    thresh_num: int = THRESH_NUM,
) -> tuple[float, np.ndarray, np.ndarray]:
    """Official WIDER FACE AP of one setting over the images of ``gt``.

    ``predictions``: per image, (boxes (N,4) ``x, y, w, h``, scores (N,)), an entry for every image of
    ``gt`` (empty arrays where nothing was detected). ``gt``: ``read_wider_gt`` tables (all listed faces,
    valid or not, in file order). ``keep_lists``: per image the setting's 1-based kept face indices
    (``keep_lists_for(read_difficulty_lists(...), setting)``); it must cover every image of ``gt``, so AP is
    defined on val images only. As in the official code: scores are min-max normalised over all the
    predictions passed for these images, predictions are matched in score order (``image_eval``), an
    image with no gt face or no prediction adds its kept faces to the count and nothing else, and the
    curve is sampled at ``thresh_num`` thresholds. Returns (AP, precision, recall), the curve from the
    highest threshold to the lowest (precision NaN where nothing is proposed yet).
    """
    gt_s = _by_stem(gt, "gt")
    pred_s = _by_stem(predictions, "predictions")
    keep_s = _by_stem(keep_lists, "keep_lists")
    _require(gt_s, pred_s, "predictions")
    _require(gt_s, keep_s, "keep_lists")
    pred_s = {k: pred_s[k] for k in gt_s}
    norm = normalise_scores(pred_s)
    pr_curve = np.zeros((thresh_num, 2))
    count_face = 0
    for img, table in gt_s.items():
        keep = np.asarray(keep_s[img], dtype=np.int64).ravel()
        count_face += len(keep)
        boxes = np.asarray(pred_s[img][0], dtype=np.float64).reshape(-1, 4)
        scores = norm[img]
        if len(boxes) != len(scores):
            raise ValueError(f"predictions of {img!r}: {len(boxes)} boxes but {len(scores)} scores")
        if len(table) == 0 or len(boxes) == 0:
            continue
        if len(keep) and (keep.min() < 1 or keep.max() > len(table)):
            raise ValueError(f"keep list of {img!r} indexes outside its {len(table)} faces")
        kept = np.zeros(len(table), dtype=bool)
        kept[keep - 1] = True
        order = np.argsort(-scores, kind="stable")  # the official read_pred sorts, highest first
        gt_boxes = table[["x", "y", "w", "h"]].to_numpy(dtype=np.float64)
        pred_recall, proposal_list = image_eval(boxes[order], gt_boxes, kept, iou_thresh)
        pr_curve += img_pr_info(scores[order], proposal_list, pred_recall, thresh_num)
    if count_face == 0:
        raise ValueError("no kept face in these images: AP is undefined")
    precision, recall = dataset_pr_info(pr_curve, count_face)
    return voc_ap(recall, precision), precision, recall


def wider_ap_settings(
    predictions: Predictions,
    gt: Mapping[str, pd.DataFrame],
    difficulty: Mapping[str, Mapping[str, np.ndarray]],
    settings: Iterable[str] = SETTINGS,
) -> dict[str, tuple[float, np.ndarray, np.ndarray]]:
    """``wider_ap`` for each setting (easy, medium, hard) from ``read_difficulty_lists``'s result."""
    return {s: wider_ap(predictions, gt, keep_lists_for(difficulty, s)) for s in settings}


# ------------------------------------------------------------------------------------------ seed "accuracy"
def seed_accuracy(pred_counts: Mapping[str, int], gt: Mapping[str, pd.DataFrame]) -> float:
    """The seed study's "accuracy": share of the images of ``gt`` whose detected-face count equals the
    number of labeled faces.

    The labeled count is every face the ground-truth file lists for the image (valid or invalid, any size),
    as the seed counted them; a count-0 image has 0. ``pred_counts`` is whatever the caller counts (blur
    regions, or detections above a threshold) and must cover every image of ``gt``. Never tune for it:
    it moves against recall (README).
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
