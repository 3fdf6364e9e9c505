"""The reviewer page end to end, in a real headless Chromium (Debian's chromium + chromedriver, driven by
Selenium): a face the blur missed is held for review; the reviewer plays the clip at the item, approves one item,
draws blur regions over the faces; the next workflow run re-blurs, re-encodes and re-verifies that video only,
and releases it. The server answers only localhost requests with its session token, and writes nothing but the
review log and the manual-regions file.

Without Chromium the browser test skips with a reason (CI installs it and sets BTB_REQUIRE_BROWSER=1, where a
missing browser fails instead)."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import subprocess
import threading
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
from conftest import copy_clip, planted_config, run_snakemake

from btb.audit.chain import read_entries
from btb.cli import main
from btb.release.server import ReviewHTTPServer, ReviewService

pytestmark = pytest.mark.e2e

CHROMIUM = os.environ.get("BTB_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("BTB_CHROMEDRIVER", "/usr/bin/chromedriver")


def _need_browser() -> None:
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not shutil.which(p)]
    if missing:
        if os.environ.get("BTB_REQUIRE_BROWSER") == "1":
            pytest.fail(f"{missing} required (BTB_REQUIRE_BROWSER=1) but absent")
        pytest.skip(f"{missing} not installed (Debian: apt-get install chromium chromium-driver)")


@pytest.fixture(scope="module")
def held(tmp_path_factory, face_clip, models_dir):
    """A run whose blur thresholds no detector reaches, so the faces of ``bad`` stay visible and are flagged;
    ``plain`` (a test pattern, no face) passes. The reviewer Rivera's key is trusted by the run."""
    from btb.audit.signing import generate_keypair

    work = tmp_path_factory.mktemp("reviewer_page")
    bad = copy_clip(face_clip, work / "bad.mp4")
    plain = work / "plain.mp4"
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i",
                    "testsrc2=size=320x240:rate=12:duration=1", "-c:v", "libx264", "-pix_fmt", "yuv420p", str(plain)],
                   check=True)
    keys = work / "keys"
    generate_keypair(keys / "rivera.pem", keys / "rivera.pub.pem")
    sheet = work / "samples.tsv"
    sheet.write_text(f"video_id\tpath\nbad\t{bad}\nplain\t{plain}\n")
    cfg = planted_config(models_dir, sheet, keys / "rivera.pub.pem")
    run_snakemake(work, cfg)
    return work, cfg, keys


@pytest.fixture(scope="module")
def server(held):
    work, _, keys = held
    srv = ReviewHTTPServer(ReviewService(work / "results", "Rivera", keys / "rivera.pem"))
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def _request(srv: ReviewHTTPServer, method: str, path: str, headers: dict | None = None,
             body: bytes | None = None) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", srv.server_address[1], timeout=30)
    conn.request(method, path, body=body, headers=headers or {})
    res = conn.getresponse()
    return res.status, res.read()


def _tree(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_server_refuses_requests_without_its_token_or_from_another_host(server):
    port, token = server.server_address[1], server.token
    assert server.server_address[0] == "127.0.0.1"
    assert _request(server, "GET", "/")[0] == 403
    assert _request(server, "GET", "/api/videos?token=wrong")[0] == 403
    assert _request(server, "GET", "/media/bad")[0] == 403
    assert _request(server, "GET", f"/?token={token}")[0] == 200
    # a DNS-rebinding page reaches 127.0.0.1 under another name: refused even with the token
    assert _request(server, "GET", f"/?token={token}", {"Host": f"evil.example:{port}"})[0] == 421
    # a decision needs the token in a header (a form or image of another origin cannot send one)
    body = json.dumps({"reason": "x"}).encode()
    assert _request(server, "POST", f"/api/videos/bad/reject?token={token}", {"Content-Type": "application/json"},
                    body)[0] == 403
    assert _request(server, "POST", "/api/videos/bad/reject", {"X-BTB-Token": token, "Content-Type": "text/plain"},
                    body)[0] == 415
    assert _request(server, "POST", "/api/videos/bad/reject", {"X-BTB-Token": token, "Content-Type":
                                                               "application/json", "Content-Length": "-1"})[0] == 413
    assert _request(server, "GET", "/frame/bad/99999999999999.jpg", {"X-BTB-Token": token})[0] == 404
    assert _request(server, "GET", "/frame/bad/9999.jpg", {"X-BTB-Token": token})[0] == 400
    status, data = _request(server, "GET", "/api/videos/..%2Fetc", {"X-BTB-Token": token})
    assert status in (400, 404), data
    status, data = _request(server, "GET", "/api/videos", {"X-BTB-Token": token})
    assert status == 200 and {v["video_id"]: v["status"] for v in json.loads(data)} == {
        "bad": "needs_review", "plain": "released"}
    assert not read_entries(server.service.results / "bad" / "review.jsonl"), "nothing was decided by refused calls"


def test_frames_come_from_the_deidentified_output_with_byte_ranges(server, held):
    token = {"X-BTB-Token": server.token}
    out = held[0] / "results" / "bad" / "bad.deid.mp4"
    status, data = _request(server, "GET", "/media/bad", {**token, "Range": "bytes=100-199"})
    assert status == 206 and data == out.read_bytes()[100:200]
    status, data = _request(server, "GET", "/media/bad", token)
    assert status == 200 and data == out.read_bytes()
    assert _request(server, "HEAD", "/media/bad", token) == (200, b"")
    status, jpeg = _request(server, "GET", "/frame/bad/13.jpg", token)
    assert status == 200
    served = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR).astype(float)
    from btb.video.frames import iter_video_frames, read_frame_table

    table = read_frame_table(held[0] / "results" / "bad" / "frames.tsv")
    decoded = {f.index: f.image.astype(float) for f in iter_video_frames(out, table, 12, 15)}
    errors = {i: float(np.abs(served - img).mean()) for i, img in decoded.items()}
    assert min(errors, key=errors.get) == 13 and errors[13] < 3, errors


def test_reviewer_fixes_a_missed_face_in_the_browser_and_only_that_video_is_redone(server, held):
    _need_browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    work, cfg, _ = held
    results = work / "results"
    items = pd.read_csv(results / "bad" / "verification" / "review_items.tsv", sep="\t")
    flags = pd.read_csv(results / "bad" / "verification" / "flags.tsv", sep="\t")
    open_items = items[items["status"] == "open"]
    assert len(open_items) >= 2
    before = _tree(work)

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--window-size=1400,1100", "--autoplay-policy=no-user-gesture-required"):
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    try:
        wait = WebDriverWait(driver, 30)
        driver.get(server.url)
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#items tbody tr[data-item]"))
        listed = {li.get_attribute("data-video"): li.text for li in driver.find_elements(By.CSS_SELECTOR, "#videos li")}
        assert set(listed) == {"bad", "plain"} and "needs review" in listed["bad"]
        rows = driver.find_elements(By.CSS_SELECTOR, "#items tbody tr[data-item]")
        assert len(rows) == len(items)

        # play the clip at an item's time: the browser decodes the de-identified H.264 output and seeks there
        late = open_items.sort_values("start_s").iloc[-1]
        driver.find_element(By.CSS_SELECTOR, f'#items tr[data-item="{late["item"]}"] button.play').click()
        wait.until(lambda d: d.execute_script(
            "const p = document.querySelector('#player'); return p.readyState >= 2 && p.videoWidth > 0 && "
            f"p.currentTime >= {late['start_s'] - 0.05}"))

        # approve one item (signed with Rivera's key): recorded against the current file only
        reason = driver.find_element(By.ID, "reason")
        reason.send_keys("looked at: the flagged box is a hand")
        first = int(open_items["item"].iloc[0])
        driver.find_element(By.CSS_SELECTOR, f'#items tr[data-item="{first}"] button.approve').click()
        wait.until(lambda d: "Recorded: approve_item (signed)" in d.find_element(By.ID, "message").text
                   and d.find_elements(By.CSS_SELECTOR, "#log li[data-decision=approve_item]"))
        assert not driver.find_elements(By.CSS_SELECTOR, f'#items tr[data-item="{first}"] button.approve')

        # a blur region per open item over the whole clip: the first drawn with the mouse on the frame, the
        # others the page's offer (the item's flagged boxes, grown)
        n_frames = len(pd.read_csv(results / "bad" / "frames.tsv", sep="\t"))
        for k, number in enumerate(open_items["item"]):
            driver.find_element(By.CSS_SELECTOR, f'#items tr[data-item="{number}"] button.region').click()
            wait.until(lambda d, n=number: d.find_element(By.ID, "region-item").text == str(n))
            if k == 0:
                f = flags[flags["item"] == number]
                x0, y0 = f["x"].min() - 12, f["y"].min() - 12
                x1, y1 = (f["x"] + f["w"]).max() + 12, (f["y"] + f["h"]).max() + 12
                img = driver.find_element(By.ID, "frame")
                wait.until(lambda d: d.execute_script("return document.querySelector('#frame').naturalWidth") > 0)
                scale = driver.execute_script("const i = document.querySelector('#frame'); "
                                              "return i.clientWidth / i.naturalWidth")
                half_w, half_h = img.size["width"] / 2, img.size["height"] / 2
                (ActionChains(driver)
                 .move_to_element_with_offset(img, int(x0 * scale - half_w) + 1, int(y0 * scale - half_h) + 1)
                 .click_and_hold()
                 .move_by_offset(int((x1 - x0) * scale / 2), int((y1 - y0) * scale / 2))
                 .move_by_offset(int((x1 - x0) * scale / 2), int((y1 - y0) * scale / 2))
                 .release().perform())
                drawn = [int(driver.find_element(By.ID, f"region-{c}").get_attribute("value")) for c in "xywh"]
                assert abs(drawn[0] - x0) <= 3 / scale and abs(drawn[2] - (x1 - x0)) <= 6 / scale, (drawn, x0, x1)
            for field, value in (("region-first", 0), ("region-last", n_frames - 1)):
                box = driver.find_element(By.ID, field)
                box.clear()
                box.send_keys(str(value))
            reason.clear()
            reason.send_keys(f"face the detectors missed (item {number})")
            driver.find_element(By.ID, "add-region").click()
            wait.until(lambda d, n=k + 1: len(d.find_elements(By.CSS_SELECTOR, "#manual li[data-region]")) == n
                       and "Recorded: add_region (signed)" in d.find_element(By.ID, "message").text)
        driver.save_screenshot(str(work / "page.png"))
    finally:
        driver.quit()
    (work / "page.png").unlink(missing_ok=True)

    # the page wrote the review log and the manual regions, nothing else (no frame, no crop, no image)
    after = _tree(work)
    changed = {p for p in after if before.get(p) != after[p]}
    assert changed == {"results/bad/review.jsonl", "results/bad/review.jsonl.head", "results/bad/.review.jsonl.lock",
                       "results/bad/manual_regions.json", "results/bad/.manual_regions.json.lock"}
    assert (results / "bad" / ".review.jsonl.lock").stat().st_size == 0, "the lock files are empty"
    assert (results / "bad" / ".manual_regions.json.lock").stat().st_size == 0
    log = read_entries(results / "bad" / "review.jsonl")
    assert [e["decision"] for e in log] == ["approve_item", *["add_region"] * len(open_items)]
    assert all("signature" in e and e["reviewer"] == "Rivera" for e in log)
    manual = json.loads((results / "bad" / "manual_regions.json").read_text())["regions"]
    assert [r["item"] for r in manual] == list(open_items["item"])

    # the next run re-blurs, re-encodes and re-verifies bad only; plain's output is not touched
    plain_out = results / "plain" / "plain.deid.mp4"
    plain_mtime = plain_out.stat().st_mtime_ns
    jobs = _jobs(run_snakemake(work, cfg))
    assert {"merge_regions", "encode_video", "verify_residual", "decide_release", "write_manifest", "release"} <= {
        rule for rule, vid in jobs if vid == "bad"}
    assert not {rule for rule, vid in jobs if vid == "plain"}, jobs
    assert plain_out.stat().st_mtime_ns == plain_mtime
    regions = pd.read_parquet(results / "bad" / "regions.parquet")
    assert set(regions["source"]) == {"manual"} and regions["frame_index"].nunique() == n_frames
    state = json.loads((results / "bad" / "release.json").read_text())
    assert state["status"] == "released" and state["verdict"] == "pass", state
    assert state["items_approved"] == {}, "the item approval was of the earlier file"
    assert (results / "release" / "bad.deid.mp4").is_file()
    manifest = json.loads((results / "bad" / "manifest.json").read_text())
    assert "results/bad/manual_regions.json" in {f["path"] for f in manifest["files"]}
    assert manifest["stages"]["merge_regions"]["notes"]["manual_regions"][0]["reviewer"] == "Rivera"
    assert main(["verify", str(results)]) == 0

    # the page now shows the new, blurred output: its frame differs from the input inside the face's box
    status, jpeg = _request(server, "GET", "/frame/bad/6.jpg", {"X-BTB-Token": server.token})
    assert status == 200
    served = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR).astype(float)
    from btb.video.frames import iter_video_frames, read_frame_table

    table = read_frame_table(results / "bad" / "frames.tsv")
    source = next(iter_video_frames(work / "bad.mp4", table, 6, 7)).image.astype(float)
    f = flags[(flags["frame_index"] == 6) & flags["detector"].isin(["yunet", "yunet:input"])].iloc[0]
    x, y, w, h = (int(round(f[c])) for c in "xywh")
    assert np.abs(served - source)[y:y + h, x:x + w].mean() > 8, "the face is blurred in what the page shows"


def _jobs(proc: subprocess.CompletedProcess) -> list[tuple[str, str | None]]:
    """(rule, vid) of every job a finished Snakemake run executed, from its log."""
    jobs: list[tuple[str, str | None]] = []
    rule = None
    for line in (proc.stdout + proc.stderr).splitlines():
        text = line.strip()
        if text.startswith(("rule ", "localrule ")) and text.endswith(":"):
            rule = text.split()[1].rstrip(":")
            jobs.append((rule, None))
        elif text.startswith("wildcards:") and rule and jobs:
            vid = next((kv.split("=", 1)[1] for kv in text[len("wildcards:"):].split(", ")
                        if kv.strip().startswith("vid=")), None)
            jobs[-1] = (rule, vid)
    return jobs
