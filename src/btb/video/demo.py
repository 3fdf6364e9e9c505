"""A demo clip with real faces that any machine can make: scikit-image's ``astronaut`` photograph (public
domain, NASA) moving over a plain background, with a tone as audio and identifying container tags (GPS,
device make/model, creation time, title) that the pipeline must remove."""

from __future__ import annotations

import subprocess
from pathlib import Path

import cv2
import numpy as np

from btb.audit.io import atomic_output
from btb.errors import ToolError
from btb.video.ffmpeg import require

IDENTIFYING_TAGS = {
    "title": "Infant session 0423 - Jane Doe",
    "comment": "recorded at home",
    "creation_time": "2024-05-01T10:21:33.000000Z",
    "location": "+40.7128-074.0060/",
    "com.apple.quicktime.location.ISO6709": "+40.7128-074.0060+010.000/",
    "com.apple.quicktime.make": "Apple",
    "com.apple.quicktime.model": "iPhone 12",
    "make": "Apple",
    "model": "iPhone 12",
}


def _face_sprite() -> np.ndarray:
    from skimage import data  # imported here: only the demo needs scikit-image

    rgb = data.astronaut()  # 512x512, face at about x 160-270, y 40-200
    return cv2.cvtColor(rgb[20:260, 120:330], cv2.COLOR_RGB2BGR)  # head and shoulders


# The face inside the sprite (astronaut pixels 178..268 x 63..176, sprite origin at 120, 20): x, y, w, h
SPRITE_FACE = (58, 43, 90, 113)


def _placements(i: int, n_frames: int) -> list[tuple[float, int, int, bool]]:
    """(scale, x, y, mirrored) of the two sprites in frame ``i``."""
    t = i / max(1, n_frames - 1)
    out = []
    for scale, x0, x1, y, flip in ((0.75 + 0.35 * t, 40, 330, 60, False), (0.45, 560, 420, 170, True)):
        out.append((scale, int(x0 + (x1 - x0) * t), y, flip))
    return out


def demo_frames(width: int = 640, height: int = 360, n_frames: int = 48) -> list[np.ndarray]:
    """Frames with two faces: one crossing the frame and growing, one smaller and mirrored."""
    sprite = _face_sprite()
    yy, xx = np.mgrid[0:height, 0:width]
    background = np.dstack([80 + 60 * xx / width, 90 + 50 * yy / height, 110 + 0 * xx]).astype(np.uint8)
    frames = []
    for i in range(n_frames):
        img = background.copy()
        for scale, x, y, flip in _placements(i, n_frames):
            sp = cv2.resize(sprite, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
            if flip:
                sp = sp[:, ::-1]
            h, w = sp.shape[:2]
            h, w = min(h, height - y), min(w, width - x)
            img[y : y + h, x : x + w] = sp[:h, :w]
        frames.append(img)
    return frames


def demo_ground_truth(n_frames: int = 48) -> list[tuple[int, float, float, float, float]]:
    """The demo's face boxes, ``(frame_index, x, y, w, h)``, known by construction: the demo is labeled."""
    sprite_w = 210  # width of the sprite crop
    fx, fy, fw, fh = SPRITE_FACE
    rows = []
    for i in range(n_frames):
        for scale, x, y, flip in _placements(i, n_frames):
            left = (sprite_w - fx - fw) if flip else fx
            rows.append((i, x + left * scale, y + fy * scale, fw * scale, fh * scale))
    return rows


def write_demo_video(out: str | Path, fps: int = 12, seconds: float = 4.0, width: int = 640, height: int = 360,
                     audio: bool = True, tags: dict[str, str] | None = None,
                     frames: list[np.ndarray] | None = None) -> Path:
    """Write the demo clip (H.264 + AAC tone, identifying tags) atomically to ``out``; ``frames`` replaces
    the demo's own frames (same size) when given."""
    out = Path(out)
    if frames is None:
        frames = demo_frames(width, height, int(round(fps * seconds)))
    cmd = [require("ffmpeg"), "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
           "-f", "rawvideo", "-pix_fmt", "bgr24", "-s", f"{width}x{height}", "-r", str(fps), "-i", "pipe:0"]
    if audio:
        cmd += ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=44100:duration={seconds}",
                "-c:a", "aac", "-b:a", "96k"]
    cmd += ["-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-pix_fmt", "yuv420p", "-threads", "1",
            "-movflags", "+use_metadata_tags"]
    for key, value in (IDENTIFYING_TAGS if tags is None else tags).items():
        cmd += ["-metadata", f"{key}={value}"]
    with atomic_output(out, keep_suffix=True) as tmp:
        proc = subprocess.Popen([*cmd, "-shortest", str(tmp)], stdin=subprocess.PIPE, stderr=subprocess.PIPE)
        assert proc.stdin is not None
        for f in frames:
            proc.stdin.write(f.tobytes())
        proc.stdin.close()
        err = proc.stderr.read().decode() if proc.stderr else ""
        if proc.wait() != 0:
            raise ToolError(f"ffmpeg could not write the demo video {out}: {err}")
    return out
