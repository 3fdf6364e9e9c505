"""Photos are inputs too: JPEG/PNG through the same detect -> merge -> blur -> manifest stages, metadata removed."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from conftest import run_snakemake, workflow_config
from PIL import Image, PngImagePlugin

from btb.audit.verify import verify_manifest
from btb.regions.blur import region_mask
from btb.video.image import read_image

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def photo_run(tmp_path_factory, models_dir, face_clip):
    from skimage import data

    work = tmp_path_factory.mktemp("photos")
    rgb = data.astronaut()
    jpg = work / "in" / "family photo.jpg"
    jpg.parent.mkdir()
    exif = Image.Exif()
    exif[0x010F] = "Apple"  # Make
    exif[0x0110] = "iPhone 12"  # Model
    exif[0x0132] = "2024:05:01 10:21:33"  # DateTime
    exif[0x0112] = 6  # Orientation: the camera was turned; viewers rotate 90 degrees clockwise
    Image.fromarray(np.ascontiguousarray(np.rot90(rgb, k=1))).save(jpg, exif=exif, quality=95)
    png = work / "in" / "scan.png"
    meta = PngImagePlugin.PngInfo()
    meta.add_text("Author", "Jane Doe")
    Image.fromarray(rgb).save(png, pnginfo=meta)
    sheet = work / "samples.tsv"
    sheet.write_text(f"video_id\tpath\nphoto1\t{jpg}\nphoto2\t{png}\nclip1\t{face_clip}\n")
    run_snakemake(work, workflow_config(models_dir, sheet))
    return work, jpg, png


def test_outputs_are_blurred_and_metadata_free(photo_run):
    work, jpg, png = photo_run
    for vid, src, ext in (("photo1", jpg, "jpg"), ("photo2", png, "png")):
        out = work / "results" / vid / f"{vid}.deid.{ext}"
        with Image.open(out) as im:
            assert not dict(im.getexif()) and "exif" not in im.info and "Author" not in im.info
            assert im.size == (512, 512), "display orientation applied, size kept"
        before, after = read_image(src), read_image(out)
        regions = pd.read_parquet(work / "results" / vid / "regions.parquet")
        assert len(regions) >= 1
        mask = region_mask(512, 512, regions)
        assert np.abs(before.astype(int) - after)[mask].mean() > 8
        assert np.abs(before.astype(int) - after)[~mask].mean() < 2.5
        assert b"iPhone" not in out.read_bytes() and b"Jane Doe" not in out.read_bytes()


def test_oriented_photo_face_found_upright(photo_run):
    work, _, _ = photo_run
    regions = pd.read_parquet(work / "results" / "photo1" / "regions.parquet")
    # the astronaut's face, upright after EXIF orientation: about x 178-268, y 63-176
    best = regions.sort_values("score").iloc[-1]
    assert 150 < best.x + best.w / 2 < 300 and 60 < best.y + best.h / 2 < 180


def test_manifests_and_summary_cover_mixed_sheet(photo_run):
    work, _, _ = photo_run
    for vid in ("photo1", "photo2", "clip1"):
        m = work / "results" / vid / "manifest.json"
        assert verify_manifest(m)[0] == []
    m = json.loads((work / "results" / "photo1" / "manifest.json").read_text())
    assert m["input"]["probe"]["media"] == "image"
    assert {"DateTime", "Make", "Model", "Orientation"} <= set(m["input"]["probe"]["exif_tag_names"])
    assert "iPhone" not in json.dumps(m)
    assert "blur_image.jpg" in m["stages"] and "encode_video" not in m["stages"]
    summary = pd.read_csv(work / "results" / "summary.tsv", sep="\t")
    assert sorted(summary.video_id) == ["clip1", "photo1", "photo2"] and set(summary.status) == {"done"}
