"""HEIC/HEIF, read through pi-heif: what its decoder may cost, what the model sees and what is read as evidence.

The corpus files (a still, a truncated file, header bombs, a clean-aperture bomb, a HEIC brand
with no image) go through every serving surface in `badinputs.py` and `amplification.py`; these
are the HEIF-only rules. Files are encoded here with pillow-heif (x265), a test-only package:
pi-heif, which serving uses, only decodes.
"""

from __future__ import annotations

import io
import os
import signal
import struct
import subprocess
import sys
import time

import numpy as np
import pi_heif.as_plugin
import pi_heif.options
import pillow_heif
import pytest
from badinputs import CRASHING_HEIC, heic, photo_like
from credentials import A1111_PARAMETERS, IPTC, sign
from PIL import Image

from imageauth import heif, heif_process, provenance
from imageauth.predict import predict_bytes
from imageauth.preprocess import ImageError, load_image
from imageauth.settings import Settings

ORIENTATION_TAG = 0x0112
SETTINGS = Settings()
DECODE_IN_PROCESS = (  # as the decoder's child does
    "import sys; from imageauth import heif_process; heif_process.IN_CHILD = True\n"
    "from imageauth.preprocess import load_image; load_image(sys.stdin.buffer.read(), 32)"
)
XMP_AI = (
    '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    '<rdf:Description xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/" '
    f'Iptc4xmpExt:DigitalSourceType="{IPTC}trainedAlgorithmicMedia"/></rdf:RDF></x:xmpmeta>'
)


def test_a_heic_decodes_on_one_thread():
    """libheif decodes a grid image's tiles on four threads by default: one upload would take every
    core of a small instance. The threads exist only during the decode of a grid (iPhone photos are
    512x512 tiles, which pillow-heif does not write), so the setting itself is checked."""
    heif.register()
    assert pi_heif.options.DECODE_THREADS == 1
    assert (pi_heif.options.THUMBNAILS, pi_heif.options.DEPTH_IMAGES, pi_heif.options.AUX_IMAGES) == (False,) * 3


def test_a_heic_is_the_same_picture_as_a_png_of_it():
    """Through the one preprocessing path: the model input of a HEIC matches the lossless file's."""
    picture = photo_like(400, 300, seed=5)
    as_heic = load_image(heic(picture, quality=95), 32)
    as_png = load_image(_png(picture), 32)
    assert (as_heic.width, as_heic.height, as_heic.format) == (400, 300, "HEIF")
    assert np.abs(as_heic.pixels.astype(int) - as_png.pixels.astype(int)).mean() < 3


def test_heif_rotation_is_applied_once():
    """A HEIC's `irot` box is applied by libheif, which reports the EXIF orientation as upright:
    applying the EXIF tag as well would turn the picture twice."""
    picture = photo_like(120, 60, seed=2)
    exif = Image.Exif()
    exif[ORIENTATION_TAG] = 6  # pillow-heif writes it as `irot`, and keeps the tag
    turned = load_image(heic(picture, quality=95, exif=exif.tobytes()), 32)
    upright = load_image(_png(picture.transpose(Image.Transpose.ROTATE_270)), 32)
    twice = load_image(_png(picture.transpose(Image.Transpose.ROTATE_180)), 32)
    assert (turned.width, turned.height) == (60, 120)
    assert np.abs(turned.pixels.astype(int) - upright.pixels.astype(int)).mean() < 3
    assert np.abs(turned.pixels.astype(int) - twice.pixels.astype(int)).mean() > 10


def test_a_heif_collection_is_judged_by_its_primary_image():
    colours = [Image.new("RGB", (40, 30), colour) for colour in ("red", "blue")]
    collection = pillow_heif.from_pillow(colours[0])
    collection.add_from_pillow(colours[1])
    buffer = io.BytesIO()
    collection.save(buffer, quality=90, primary_index=1)
    item = predict_bytes(buffer.getvalue(), "burst.heic", SETTINGS)
    assert "holds 2 images, and only its primary image was judged" in item["note"]
    assert "animated" not in item["note"]
    blue = load_image(buffer.getvalue(), 32).pixels.reshape(-1, 3).mean(axis=0)
    assert blue[2] > 200 and blue[0] < 50


def test_heif_alpha_is_noted():
    item = predict_bytes(heic(Image.new("RGBA", (40, 30), (0, 0, 255, 0))), "alpha.heic", SETTINGS)
    assert "filled with white" in item["note"].lower()


def test_the_server_process_never_loads_the_heif_decoder(tmp_path):
    """HEIC is decoded in a child process: the process that serves requests never loads pi-heif."""
    program = (
        "import sys; from imageauth.preprocess import load_image\n"
        "print(load_image(open(sys.argv[1], 'rb').read(), 32).format, 'pi_heif' in sys.modules)\n"
        "print(load_image(open(sys.argv[2], 'rb').read(), 32).format, 'pi_heif' in sys.modules)\n"
    )
    png, heic_file = tmp_path / "photo.png", tmp_path / "photo.heic"
    png.write_bytes(_png(photo_like(64, 48)))
    heic_file.write_bytes(heic(photo_like(64, 48)))
    output = subprocess.run([sys.executable, "-c", program, png, heic_file], capture_output=True, text=True, check=True)
    assert output.stdout.split() == ["PNG", "False", "HEIF", "False"]


def test_the_file_that_crashed_the_decoder_costs_a_415_and_the_next_heic_is_read():
    """A 1 kB HEIC found by fuzzing (docs/reliability.md, "Fuzzing") that kills any process
    pi-heif 1.4.0 opens it in. In the decoder's child, it is one file's 415."""
    crashing = CRASHING_HEIC.read_bytes()
    in_process = subprocess.run(
        [sys.executable, "-c", DECODE_IN_PROCESS], input=crashing, capture_output=True, check=False
    )
    assert in_process.returncode == -signal.SIGSEGV, "the decoder no longer crashes on it: update docs/reliability.md"
    with pytest.raises(ImageError) as refused:
        load_image(crashing, 32)
    assert (refused.value.status, refused.value.code) == (415, "undecodable_image")
    assert load_image(heic(photo_like(64, 48)), 32).format == "HEIF"  # a new child took over


@pytest.mark.parametrize("kilobytes", [3, 700], ids=["small", "larger-than-the-pipe"])
def test_a_hung_decoder_is_stopped_and_replaced(monkeypatch, kilobytes):
    """A child that stops (an endless loop in the decoder) costs one 422 after the timeout, even
    when the upload is too large for the pipe's buffer and writing it would block."""
    if kilobytes > 64:
        noise = np.random.default_rng(0).integers(0, 256, (600, 800, 3), dtype=np.uint8)
        upload = heic(Image.fromarray(noise), quality=90)
    else:
        upload = heic(photo_like(64, 48))
    assert (len(upload) > 64 * 1024) == (kilobytes > 64)  # over a Linux pipe buffer or not
    load_image(heic(photo_like(64, 48)), 32)  # the child is running
    child = heif_process._child.process
    monkeypatch.setattr(heif_process, "TIMEOUT_S", 1.0)
    os.kill(child.pid, signal.SIGSTOP)  # as stuck as a decoder in an endless loop
    with pytest.raises(ImageError) as refused:
        load_image(upload, 32)
    assert (refused.value.status, refused.value.code) == (422, "image_too_complex")
    assert child.poll() is not None  # killed, not left behind
    assert load_image(heic(photo_like(64, 48)), 32).format == "HEIF"
    assert heif_process._child.process.pid != child.pid


def test_a_decoder_that_died_between_files_is_restarted_unnoticed():
    load_image(heic(photo_like(64, 48)), 32)
    child = heif_process._child.process
    child.kill()
    child.wait()
    item = predict_bytes(heic(photo_like(64, 48)), "next.heic", SETTINGS)
    assert item["label"] in ("real", "fake")
    assert heif_process._child.process.pid != child.pid


def test_an_avif_with_the_generic_brand_is_still_an_avif():
    """The generic brand "mif1" opens HEIF and AVIF alike; Pillow's AVIF plug-in is tried first."""
    avif = io.BytesIO()
    photo_like(64, 48).save(avif, "AVIF")
    data = avif.getvalue()
    generic = data[:8] + b"mif1" + data[12:]
    assert load_image(generic, 32).format == "AVIF"


@pytest.mark.parametrize(
    ("exif", "xmp", "expected"),
    [
        ({0x0131: "NovelAI"}, None, ("exif:Software", "NovelAI")),
        (None, XMP_AI, ("xmp:DigitalSourceType", None)),
    ],
    ids=["exif-software", "xmp-digital-source-type"],
)
def test_generator_metadata_in_a_heic_is_read_without_decoding(monkeypatch, exif, xmp, expected):
    options = {}
    if exif:
        block = Image.Exif()
        for tag, value in exif.items():
            block[tag] = value
        options["exif"] = block.tobytes()
    if xmp:
        options["xmp"] = xmp.encode()
    data = heic(photo_like(64, 48), **options)

    def refuse(self):
        raise AssertionError("evidence decoded the pixels")

    heif.register()
    monkeypatch.setattr(pi_heif.as_plugin.HeifImageFile, "load", refuse)
    monkeypatch.setattr(heif_process, "IN_CHILD", True)  # examine here, as the decoder's child does
    entries = [entry for entry in provenance.examine(data).evidence if entry["kind"] == "metadata"]
    assert [entry["source"] for entry in entries] == [expected[0]]
    assert entries[0]["ai_generated"] is True
    if expected[1]:
        assert entries[0]["generator"] == expected[1]


def test_an_a1111_user_comment_in_a_heic_makes_it_likely_ai():
    block = Image.Exif()
    block.get_ifd(0x8769)[0x9286] = b"UNICODE\x00" + A1111_PARAMETERS.encode("utf-16-be")
    item = predict_bytes(heic(photo_like(64, 48), exif=block.tobytes()), "generated.heic", SETTINGS)
    assert item["verdict"] == "likely_ai"
    assert [entry["source"] for entry in item["evidence"]] == ["exif:UserComment"]


def test_content_credentials_in_a_heic_are_read_and_validated():
    signed = sign(heic(photo_like(64, 48)), "image/heic", "trainedAlgorithmicMedia")
    item = predict_bytes(signed, "generated.heic", SETTINGS)
    assert item["verdict"] == "ai_generated_by_credentials"
    (entry,) = item["evidence"]
    assert (entry["kind"], entry["status"], entry["ai_generated"]) == ("c2pa", "valid", True)


def test_a_box_flood_in_a_heic_does_not_hold_the_decoders_child():
    """The evidence of a HEIC is read in the decoder's child, which serves one file at a time: a box
    flood that c2pa-rs would map for seconds (quadratic in the boxes) held every HEIC upload behind it."""
    store = struct.pack(">I4s", 40, b"jumb") + struct.pack(">I4s", 24, b"jumd") + b"c2pa" + bytes(12)
    marker = struct.pack(">I4s", 8 + len(store), b"free") + store
    flood = heic(photo_like(64, 48)) + marker + struct.pack(">I4s", 8, b"free") * 60_000
    started = time.monotonic()
    item = predict_bytes(flood, "flood.heic", SETTINGS)
    assert time.monotonic() - started < 5.0  # before: over 10 s in the child (30 s killed it)
    (entry,) = item["evidence"]
    assert entry["status"] == "unreadable" and "too many to read" in entry["detail"]


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()
