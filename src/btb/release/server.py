"""The reviewer page: ``btb review serve``.

A local web page for the videos the release gate holds. Per review item a reviewer plays the de-identified
clip at the item's time, then approves the item, rejects the video, or draws a blur region on the de-identified
frame over a frame range (``btb.release.manual``). Every decision goes through ``btb.release.review`` into the
video's signed, hash-chained review log; the next run of the workflow re-blurs and re-verifies the videos with
new regions, decides again and writes the manifest.

What it guards:

- it binds to 127.0.0.1 only and answers only requests that carry the per-session token it prints (query
  ``token`` for pages and media, header ``X-BTB-Token`` for the JSON API; POSTs must use the header, which a
  page of another origin cannot set without a CORS preflight this server never grants), and only with a
  ``Host`` of 127.0.0.1 or localhost (a DNS-rebinding page is refused);
- it shows de-identified pixels only: the output file, and frames decoded from it into memory. It never reads
  the input video or writes an image: what it writes is the review log and the manual-regions file.
"""

from __future__ import annotations

import hmac
import json
import mimetypes
import re
import secrets
import subprocess
import threading
import traceback
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pandas as pd

from btb.audit.chain import read_entries
from btb.errors import BTBError
from btb.release.manual import manual_regions_path, read_manual
from btb.release.review import pending, read_items, record_decision, record_region, release_state
from btb.video.ffmpeg import require

TOKEN_HEADER = "X-BTB-Token"
MAX_BODY = 64 * 1024
MAX_CHUNK = 8 * 1024 * 1024  # bytes of media per response
ITEM_MARGIN = 0.25  # the box offered for an item: the union of its flags' boxes, grown by this share per side
STATIC = {"/": ("review.html", "text/html; charset=utf-8"),
          "/static/review.js": ("review.js", "text/javascript; charset=utf-8"),
          "/static/review.css": ("review.css", "text/css; charset=utf-8")}
ROUTE = re.compile(r"^/(api/videos|media|frame)/([^/]+)(?:/([^/]+))?$")
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; media-src 'self'; "
                               "frame-ancestors 'none'; form-action 'none'",
}


def _web(name: str) -> str:
    return resources.files("btb.release").joinpath("web", name).read_text(encoding="utf-8")


class ReviewService:
    """What the page shows and does, over one results folder, for one reviewer (and key)."""

    def __init__(self, results: str | Path, reviewer: str, key: str | Path | None) -> None:
        self.results = Path(results).resolve()
        self.reviewer = reviewer
        self.key = str(key) if key else None
        self._lock = threading.Lock()  # one decision at a time (the log has its own file lock too)

    # -- reading -------------------------------------------------------------------------------------------
    def _video_dir(self, video_id: str) -> Path:
        release_state(self.results, video_id)  # checks the id and that the workflow decided on it
        return self.results / video_id

    def videos(self) -> list[dict[str, Any]]:
        out = []
        for st in pending(self.results):
            items = read_items(self.results, st["video_id"])
            out.append({"video_id": st["video_id"], "status": st["status"], "why": st["why"],
                        "verdict": st["verdict"], "open_items": sum(r["status"] == "open" for r in items),
                        "items": len(items)})
        return out

    def video(self, video_id: str) -> dict[str, Any]:
        folder = self._video_dir(video_id)
        state, output = release_state(self.results, video_id)
        probe = json.loads((folder / "probe.json").read_text())
        times = _times(folder)
        width, height = int(probe["width"]), int(probe["height"])
        n = len(times)
        fps = float((n - 1) / times.iloc[-1]) if n > 1 and times.iloc[-1] > 0 else 0.0
        flags_path = folder / "verification" / "flags.tsv"
        flags = pd.read_csv(flags_path, sep="\t") if flags_path.is_file() else pd.DataFrame()
        items = []
        for r in read_items(self.results, video_id):
            number = int(r["item"])
            box = _item_box(flags[flags["item"] == number] if len(flags) else flags, r, width, height)
            items.append({"item": number, "status": r["status"], "reason": r["reason"],
                          "first_frame": int(r["first_frame"]), "last_frame": int(r["last_frame"]),
                          "start": r["start"], "end": r["end"], "start_s": float(r["start_s"]),
                          "end_s": float(r["end_s"]), "frames": int(r["frames"]), "detectors": r["detectors"],
                          "max_score": float(r["max_score"]), "best_frame": int(r["best_frame"]),
                          "box": [round(float(r[k]), 1) for k in ("x", "y", "w", "h")], "offer": box})
        decisions = [{k: e.get(k) for k in ("time_utc", "decision", "item", "reviewer", "reason")}
                     | {"signed": "signature" in e, "current_file": e.get("output_sha256") == state["output_sha256"]}
                     for e in read_entries(folder / "review.jsonl")]
        kind = ("features" if output.name.endswith(".features.zip") else
                "video" if output.suffix.lower() in (".mp4", ".mov", ".mkv") else "image")
        return {"video_id": video_id, "status": state["status"], "why": state["why"], "verdict": state["verdict"],
                "kind": kind,
                "width": width, "height": height, "n_frames": n, "fps": round(fps, 3),
                "items": items, "manual_regions": read_manual(manual_regions_path(self.results, video_id)),
                "decisions": decisions, "reviewer": self.reviewer, "can_approve": self.key is not None,
                "times": times.round(4).tolist()}

    def output_file(self, video_id: str) -> Path:
        self._video_dir(video_id)
        output = release_state(self.results, video_id)[1]
        if output.name.endswith(".features.zip"):
            raise BTBError(f"{video_id} releases features, not a picture (outputs.video false)")
        return output

    def frame_jpeg(self, video_id: str, index: int) -> bytes:
        """Frame ``index`` of the de-identified output as JPEG bytes, decoded in memory."""
        folder = self._video_dir(video_id)
        output = self.output_file(video_id)
        times = _times(folder)
        if not 0 <= index < len(times):
            raise BTBError(f"{video_id} has no frame {index}")
        seek = []
        if len(times) > 1:  # accurate seek to the frame's time (less a quarter frame: rounding never skips it)
            step = float(times.diff().median())
            seek = ["-ss", f"{max(0.0, float(times.iloc[index]) - step / 4):.6f}"]
        cmd = [require("ffmpeg"), "-nostdin", "-hide_banner", "-loglevel", "error", *seek, "-i", str(output),
               "-map", "0:V:0", "-frames:v", "1", "-f", "image2pipe", "-c:v", "mjpeg", "-q:v", "3", "pipe:1"]
        proc = subprocess.run(cmd, capture_output=True, timeout=60, check=False)
        if proc.returncode != 0 or not proc.stdout:
            raise BTBError(f"cannot decode frame {index} of {output.name}: "
                           f"{proc.stderr.decode(errors='replace')[-300:]}")
        return proc.stdout

    # -- deciding ------------------------------------------------------------------------------------------
    def act(self, video_id: str, action: str, body: dict[str, Any]) -> dict[str, Any]:
        self._video_dir(video_id)
        reason = str(body.get("reason", ""))
        item = body.get("item")
        item = int(item) if item not in (None, "") else None
        with self._lock:
            if action == "approve_item":
                if item is None:
                    raise BTBError("approve_item needs an item")
                entry = record_decision(self.results, video_id, "approve", self.reviewer, reason, self.key, item)
            elif action == "reject":
                entry = record_decision(self.results, video_id, "reject", self.reviewer, reason, self.key)
            elif action == "regions":
                region = {k: body.get(k) for k in ("first_frame", "last_frame", "x", "y", "w", "h")}
                entry = record_region(self.results, video_id, region, self.reviewer, reason, self.key, item)
            else:
                raise BTBError(f"unknown action {action!r}")
        return {"recorded": entry["decision"], "signed": "signature" in entry, "time_utc": entry["time_utc"],
                "next": "run the workflow again (as before): it re-blurs and re-verifies videos with new regions, "
                        "decides again, writes the manifest and only then releases"}


def _times(folder: Path) -> pd.Series:
    """Frame times in seconds from the first frame (what a player and ffmpeg's -ss count from: an input whose
    first timestamp is not 0 is shifted)."""
    t = pd.read_csv(folder / "frames.tsv", sep="\t")["pts_time"].astype(float)
    return t - float(t.iloc[0]) if len(t) else t


def _item_box(flags: pd.DataFrame, row: dict[str, str], width: int, height: int) -> list[int]:
    """The region offered for an item: the union of its flags' boxes (its strongest box without flags), grown
    by ``ITEM_MARGIN`` on each side and clipped to the frame."""
    if len(flags):
        x0, y0 = float(flags["x"].min()), float(flags["y"].min())
        x1, y1 = float((flags["x"] + flags["w"]).max()), float((flags["y"] + flags["h"]).max())
    else:
        x0, y0 = float(row["x"]), float(row["y"])
        x1, y1 = x0 + float(row["w"]), y0 + float(row["h"])
    mx, my = (x1 - x0) * ITEM_MARGIN, (y1 - y0) * ITEM_MARGIN
    x0, y0 = max(0.0, x0 - mx), max(0.0, y0 - my)
    x1, y1 = min(float(width), x1 + mx), min(float(height), y1 + my)
    return [int(x0), int(y0), int(round(x1 - x0)), int(round(y1 - y0))]


class _Handler(BaseHTTPRequestHandler):
    server: ReviewHTTPServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base class's name)
        # request lines carry the token: log method and path only
        if self.server.verbose:
            print(f"[review] {self.command} {urlsplit(self.path).path} -> {args[1] if len(args) > 1 else ''}")

    # -- checks --------------------------------------------------------------------------------------------
    def _host_ok(self) -> bool:
        host = (self.headers.get("Host") or "").strip().lower()
        port = self.server.server_address[1]
        return host in (f"127.0.0.1:{port}", f"localhost:{port}")

    def _token_ok(self, allow_query: bool) -> bool:
        given = self.headers.get(TOKEN_HEADER) or ""
        if not given and allow_query:
            given = (parse_qs(urlsplit(self.path).query).get("token") or [""])[0]
        return bool(given) and hmac.compare_digest(given.encode(), self.server.token.encode())

    def _send(self, status: int, body: bytes, ctype: str, extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for k, v in {**SECURITY_HEADERS, "Content-Type": ctype, "Content-Length": str(len(body)),
                     **(extra or {})}.items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            try:
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):  # the browser gave up on it (a newer frame asked for)
                self.close_connection = True

    def _json(self, status: int, data: Any) -> None:
        self._send(status, json.dumps(data).encode(), "application/json")

    def _refuse(self, status: int, why: str) -> None:
        self.close_connection = True  # an unread request body must not be read as the next request
        self._json(status, {"error": why})

    def _guard(self, allow_query: bool) -> bool:
        if not self._host_ok():
            self._refuse(HTTPStatus.MISDIRECTED_REQUEST, "this server answers 127.0.0.1 and localhost only")
            return False
        if not self._token_ok(allow_query):
            self._refuse(HTTPStatus.FORBIDDEN, "missing or wrong session token")
            return False
        return True

    # -- GET -----------------------------------------------------------------------------------------------
    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        if not self._guard(allow_query=True):
            return
        path = urlsplit(self.path).path
        svc = self.server.service
        try:
            if path in STATIC:
                name, ctype = STATIC[path]
                text = _web(name)
                if name == "review.html":
                    text = text.replace("{{TOKEN}}", self.server.token)
                self._send(HTTPStatus.OK, text.encode(), ctype)
            elif path == "/api/videos":
                self._json(HTTPStatus.OK, svc.videos())
            elif m := ROUTE.match(path):
                kind, vid, rest = m.groups()
                if kind == "api/videos" and rest is None:
                    self._json(HTTPStatus.OK, svc.video(vid))
                elif kind == "media" and rest is None:
                    self._file(svc.output_file(vid))
                elif kind == "frame" and rest and re.fullmatch(r"\d{1,9}\.jpg", rest):
                    self._send(HTTPStatus.OK, svc.frame_jpeg(vid, int(rest[:-4])), "image/jpeg")
                else:
                    self._refuse(HTTPStatus.NOT_FOUND, "not found")
            else:
                self._refuse(HTTPStatus.NOT_FOUND, "not found")
        except (BTBError, ValueError) as exc:
            self._refuse(HTTPStatus.BAD_REQUEST, str(exc))
        except Exception:  # noqa: BLE001
            traceback.print_exc()
            self._refuse(HTTPStatus.INTERNAL_SERVER_ERROR, "internal error: see the server's terminal")

    do_HEAD = do_GET

    def _file(self, path: Path) -> None:
        """The de-identified output, with byte ranges (a browser seeks a video through them)."""
        size = path.stat().st_size
        ctype = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        start, end, status = 0, size - 1, HTTPStatus.OK
        if m := re.fullmatch(r"bytes=(\d*)-(\d*)", (self.headers.get("Range") or "").strip()):
            if m.group(1):
                start, end = int(m.group(1)), min(size - 1, int(m.group(2)) if m.group(2) else size - 1)
            elif m.group(2):
                start = max(0, size - int(m.group(2)))
            if start > end or start >= size:
                self._send(HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE, b"", ctype, {"Content-Range": f"bytes */{size}"})
                return
            status = HTTPStatus.PARTIAL_CONTENT
        if status == HTTPStatus.PARTIAL_CONTENT:
            end = min(end, start + MAX_CHUNK - 1)  # a browser asks for the rest: it gets a slice at a time
        elif size > MAX_CHUNK:  # a whole large file is served in slices too
            status, end = HTTPStatus.PARTIAL_CONTENT, MAX_CHUNK - 1
        body = b""
        if self.command != "HEAD":
            with open(path, "rb") as fh:
                fh.seek(start)
                body = fh.read(end - start + 1)
        extra = {"Accept-Ranges": "bytes", "Content-Length": str(end - start + 1)}
        if status == HTTPStatus.PARTIAL_CONTENT:
            extra["Content-Range"] = f"bytes {start}-{end}/{size}"
        self._send(status, body, ctype, extra)

    # -- POST ----------------------------------------------------------------------------------------------
    def do_POST(self) -> None:  # noqa: N802
        if not self._guard(allow_query=False):
            return
        if (self.headers.get("Content-Type") or "").split(";")[0].strip() != "application/json":
            self._refuse(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "send application/json")
            return
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_BODY:
            self._refuse(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "request too large")
            return
        m = ROUTE.match(urlsplit(self.path).path)
        if not m or m.group(1) != "api/videos" or m.group(3) not in ("approve_item", "reject", "regions"):
            self._refuse(HTTPStatus.NOT_FOUND, "not found")
            return
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
            if not isinstance(body, dict):
                raise BTBError("send a JSON object")
            self._json(HTTPStatus.OK, self.server.service.act(m.group(2), m.group(3), body))
        except (BTBError, ValueError, OverflowError) as exc:
            self._refuse(HTTPStatus.BAD_REQUEST, str(exc))
        except Exception:  # noqa: BLE001 (the page gets an answer; the details stay on the terminal)
            traceback.print_exc()
            self._refuse(HTTPStatus.INTERNAL_SERVER_ERROR, "internal error: see the server's terminal")


class ReviewHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, service: ReviewService, port: int = 0, token: str | None = None,
                 verbose: bool = False) -> None:
        self.service = service
        self.token = token or secrets.token_urlsafe(32)
        self.verbose = verbose
        super().__init__(("127.0.0.1", port), _Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/?token={self.token}"


def serve(results: str | Path, reviewer: str, key: str | Path | None, port: int = 0) -> None:
    """Run the reviewer page until interrupted, printing its address (with the session token)."""
    server = ReviewHTTPServer(ReviewService(results, reviewer, key), port, verbose=True)
    print(f"Reviewer page for {Path(results).resolve()} (reviewer {reviewer!r}"
          f"{', approvals signed' if key else ', no key: approvals disabled'}):\n  {server.url}\n"
          "Open it in a browser on this machine; Ctrl-C stops the server.", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
