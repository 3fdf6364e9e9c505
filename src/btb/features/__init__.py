"""Tabular features of a de-identified video: per face track and frame, boxes, landmarks, scores, head pose
and motion, without face pixels or identity embeddings (``table``, ``headpose``)."""
