"""WIDER FACE average precision: a port of the official evaluation (the MATLAB ``eval_tools`` and its widely
used Python port ``evaluation.py``), including its IoU convention (``wider_iou``), per difficulty setting.
Images are matched by stem as in ``btb.evaluation.wider``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

from btb.evaluation.wider import SETTINGS, Predictions, _by_stem, _require, keep_lists_for

IOU_THRESH = 0.5
THRESH_NUM = 1000


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
