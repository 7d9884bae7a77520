"""Evidence and verdicts through the core (`predict_bytes`): every file is made here, at test time.

C2PA files are signed by c2pa-python's Builder with a certificate chain generated
for the session (tests/credentials.py); generator metadata is written the way
each generator writes it (cited in imageauth/generators.py).
"""

from __future__ import annotations

import io
import json
import struct
import subprocess
import sys
import time
from dataclasses import replace

import numpy as np
import pytest
from cpu_clock import cpu_clock
from credentials import (
    A1111_PARAMETERS,
    PNG_GENERATOR_CHUNKS,
    encode,
    gif_header_end,
    jpeg_with_app11,
    jpeg_with_user_comment,
    jpeg_with_xmp_source_type,
    photo,
    png_with_text,
    sign,
    signing_chain,
    with_pixels_changed,
)
from PIL import Image
from serving_helpers import REPO_ROOT, model_only_verdict

from imageauth import container_chunks, manifest_markers, provenance
from imageauth.predict import predict_bytes
from imageauth.settings import Settings

SETTINGS = Settings()


@pytest.fixture(scope="module")
def trust_file(tmp_path_factory) -> Settings:
    path = tmp_path_factory.mktemp("trust") / "anchors.pem"
    path.write_bytes(signing_chain().ca_pem)
    return path


@pytest.mark.parametrize(("fmt", "mime"), [("JPEG", "image/jpeg"), ("PNG", "image/png"), ("AVIF", "image/avif")])
def test_signed_ai_image_is_ai_generated_by_credentials(fmt, mime):
    data = sign(encode(photo(), fmt), mime, "trainedAlgorithmicMedia", software_agent="Test Image Generator 2")
    item = predict_bytes(data, f"generated.{fmt.lower()}", SETTINGS)
    assert item["verdict"] == "ai_generated_by_credentials"
    [entry] = item["evidence"]
    assert entry["kind"] == "c2pa" and entry["status"] == "valid" and entry["ai_generated"] is True
    assert entry["trusted"] is False and "signingCredential.untrusted" in entry["codes"]
    assert entry["generator"] == "Test Image Generator 2"
    assert entry["signer"] == "imageauth test signer"
    assert entry["claim_generator"] == "imageauth-tests 1.0"
    assert entry["actions"] == [{"action": "c2pa.created", "digitalSourceType": "trainedAlgorithmicMedia"}]
    assert "AI generator" in entry["detail"] and "not on this service's trust list" in entry["detail"]
    # The model's own fields keep their meaning.
    assert item["label"] == ("fake" if item["probability_fake"] >= item["threshold"] else "real")


def test_composite_with_ai_counts_as_ai():
    data = sign(encode(photo(), "JPEG"), "image/jpeg", "compositeWithTrainedAlgorithmicMedia")
    assert predict_bytes(data, "composite.jpg", SETTINGS)["verdict"] == "ai_generated_by_credentials"


def test_capture_manifest_says_not_ai_but_decides_nothing_untrusted(trust_file):
    data = sign(encode(photo(48, 48), "JPEG"), "image/jpeg", "digitalCapture", software_agent="Test Camera")
    item = predict_bytes(data, "capture.jpg", SETTINGS)
    [entry] = item["evidence"]
    assert entry["status"] == "valid" and entry["ai_generated"] is False and entry["generator"] is None
    assert "captured" in entry["detail"]
    assert item["verdict"] == model_only_verdict(item)
    # With the CA as a trust anchor, the same file's signer is trusted and the claim decides.
    trusted = predict_bytes(data, "capture.jpg", replace(SETTINGS, c2pa_trust_anchors=trust_file))
    [entry] = trusted["evidence"]
    assert entry["trusted"] is True and "signingCredential.untrusted" not in entry["codes"]
    assert trusted["verdict"] == "likely_real"


def test_trusted_ai_manifest_is_marked_trusted(trust_file):
    data = sign(encode(photo(), "PNG"), "image/png", "trainedAlgorithmicMedia")
    item = predict_bytes(data, "generated.png", replace(SETTINGS, c2pa_trust_anchors=trust_file))
    assert item["evidence"][0]["trusted"] is True
    assert "trust list" not in item["evidence"][0]["detail"]


def test_pixels_changed_after_signing_is_invalid_and_the_model_decides():
    signed = sign(encode(photo(48, 48), "PNG"), "image/png", "trainedAlgorithmicMedia")
    changed = with_pixels_changed(signed)
    assert Image.open(io.BytesIO(changed)).tobytes() != Image.open(io.BytesIO(signed)).tobytes()
    item = predict_bytes(changed, "changed.png", SETTINGS)
    [entry] = item["evidence"]
    assert entry["status"] == "invalid" and entry["ai_generated"] is True
    assert "assertion.dataHash.mismatch" in entry["codes"]
    assert "prove nothing" in entry["detail"]
    assert item["verdict"] == model_only_verdict(item)


def test_avif_pixels_changed_after_signing_is_invalid():
    """In an AVIF the manifest covers the boxes by hash (`bmffHash`), the coded pixels in `mdat` among them."""
    signed = sign(encode(photo(48, 48), "AVIF", quality=70), "image/avif", "trainedAlgorithmicMedia")
    start = signed.index(b"mdat")
    end = start - 4 + struct.unpack(">I", signed[start - 4 : start])[0]
    pixels = Image.open(io.BytesIO(signed)).tobytes()
    for at in range(end - 1, start + 4, -1):  # the last coded byte whose change still decodes
        changed = signed[:at] + bytes([signed[at] ^ 1]) + signed[at + 1 :]
        try:
            if Image.open(io.BytesIO(changed)).tobytes() != pixels:
                break
        except (OSError, RuntimeError):
            continue
    item = predict_bytes(changed, "changed.avif", SETTINGS)
    [entry] = item["evidence"]
    assert entry["status"] == "invalid" and "assertion.bmffHash.mismatch" in entry["codes"]
    assert item["verdict"] == model_only_verdict(item)


def test_reencoded_by_pillow_loses_the_manifest():
    signed = sign(encode(photo(), "JPEG"), "image/jpeg", "trainedAlgorithmicMedia")
    reencoded = encode(Image.open(io.BytesIO(signed)), "JPEG", quality=90)
    item = predict_bytes(reencoded, "reencoded.jpg", SETTINGS)
    assert item["evidence"] == []
    assert item["verdict"] == model_only_verdict(item)


@pytest.mark.parametrize("chunk", sorted(PNG_GENERATOR_CHUNKS))
def test_png_generator_chunks(chunk):
    texts, generator = PNG_GENERATOR_CHUNKS[chunk]
    item = predict_bytes(png_with_text(photo(), texts), f"{chunk}.png", SETTINGS)
    [entry] = item["evidence"]
    assert entry == {
        "kind": "metadata",
        "source": f"png:{chunk}",
        "ai_generated": True,
        "generator": generator,
        "detail": entry["detail"],
    }
    assert generator in entry["detail"] and "unsigned" in entry["detail"]
    # Unsigned metadata moves the verdict to likely_ai, never to the credentials verdict.
    assert item["verdict"] == "likely_ai"


@pytest.mark.parametrize(
    ("parameters", "generator"),
    [
        (A1111_PARAMETERS.replace("Version: v1.10.1", "Version: f2.0.1v1.10.1"), "Stable Diffusion WebUI Forge"),
        (A1111_PARAMETERS + ", App: SD.Next", "SD.Next"),
        ('{"prompt": "a lighthouse", "sui_image_params": {"steps": 20}}', "SwarmUI"),
        ('{"Prompt": "a lighthouse", "Version": "Fooocus v2.5.5"}', "Fooocus"),
    ],
)
def test_parameters_of_other_front_ends(parameters, generator):
    item = predict_bytes(png_with_text(photo(), {"parameters": parameters}), "p.png", SETTINGS)
    assert [entry["generator"] for entry in item["evidence"]] == [generator]


def test_text_chunks_that_are_not_generator_metadata_are_ignored():
    texts = {"parameters": "exposure bracket 3", "Software": "Adobe Photoshop 25.0", "prompt": "hello"}
    assert predict_bytes(png_with_text(photo(), texts), "edited.png", SETTINGS)["evidence"] == []


def test_jpeg_with_a1111_parameters_in_exif_user_comment():
    item = predict_bytes(jpeg_with_user_comment(photo(), A1111_PARAMETERS), "a1111.jpg", SETTINGS)
    [entry] = item["evidence"]
    assert entry["source"] == "exif:UserComment" and entry["generator"] == "AUTOMATIC1111"
    assert item["verdict"] == "likely_ai"


def test_generator_metadata_in_an_avif():
    """AVIF keeps EXIF and XMP in items of its own; Pillow hands them over like JPEG's."""
    jpeg = Image.open(io.BytesIO(jpeg_with_user_comment(photo(), A1111_PARAMETERS)))
    a1111 = predict_bytes(encode(jpeg, "AVIF", exif=jpeg.info["exif"]), "a1111.avif", SETTINGS)
    assert [(e["source"], e["generator"]) for e in a1111["evidence"]] == [("exif:UserComment", "AUTOMATIC1111")]
    xmp = Image.open(io.BytesIO(jpeg_with_xmp_source_type(photo(), "trainedAlgorithmicMedia"))).info["xmp"]
    tagged = predict_bytes(encode(photo(), "AVIF", xmp=xmp), "xmp.avif", SETTINGS)
    assert [(e["source"], e["ai_generated"]) for e in tagged["evidence"]] == [("xmp:DigitalSourceType", True)]


def test_exif_software_of_a_generator():
    exif = Image.Exif()
    exif[0x0131] = "Fooocus v2.5.5"
    item = predict_bytes(encode(photo(), "JPEG", exif=exif), "fooocus.jpg", SETTINGS)
    assert [(e["source"], e["generator"]) for e in item["evidence"]] == [("exif:Software", "Fooocus")]


def test_xmp_digital_source_type():
    ai = predict_bytes(jpeg_with_xmp_source_type(photo(), "trainedAlgorithmicMedia"), "xmp.jpg", SETTINGS)
    [entry] = ai["evidence"]
    assert entry["source"] == "xmp:DigitalSourceType" and entry["ai_generated"] is True
    assert ai["verdict"] == "likely_ai"
    # Unsigned capture metadata is reported but never makes an image "likely real".
    capture = predict_bytes(jpeg_with_xmp_source_type(photo(), "digitalCapture"), "xmp.jpg", SETTINGS)
    assert capture["evidence"][0]["ai_generated"] is False
    assert capture["verdict"] == model_only_verdict(capture)


def test_plain_photo_has_no_evidence_and_never_loads_c2pa():
    # In a fresh interpreter: a file without a manifest marker must not import the native library.
    script = (
        "import sys, json\n"
        "from imageauth.predict import predict_bytes\n"
        "item = predict_bytes(open(sys.argv[1], 'rb').read(), 'plain.jpg')\n"
        "print(json.dumps({'evidence': item['evidence'], 'c2pa': 'c2pa' in sys.modules}))\n"
    )
    path = REPO_ROOT / "tests" / "data" / "smoke.jpg"
    finished = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True, text=True, check=True)
    assert json.loads(finished.stdout.strip().splitlines()[-1]) == {"evidence": [], "c2pa": False}


def signed_jpeg_app11(data: bytes) -> tuple[int, int]:
    """Offset and total length of the first APP11 segment of a signed JPEG."""
    start = data.index(b"\xff\xeb")
    return start, 2 + struct.unpack_from(">H", data, start + 2)[0]


def test_truncated_manifest_is_reported_unreadable():
    signed = sign(encode(photo(), "JPEG"), "image/jpeg", "trainedAlgorithmicMedia")
    start, length = signed_jpeg_app11(signed)
    payload = signed[start + 6 : start + length][: (length - 6) // 2]  # the JUMBF, cut in half
    truncated = jpeg_with_app11(photo(), payload)
    item = predict_bytes(truncated, "truncated.jpg", SETTINGS)
    [entry] = item["evidence"]
    assert entry["kind"] == "c2pa" and entry["status"] == "unreadable" and entry["ai_generated"] is None
    assert "could not be read" in entry["detail"]
    assert item["verdict"] == model_only_verdict(item)


@pytest.mark.parametrize(
    "payload",
    [
        b"\x00\x00\x00\x00\x00\x01" + struct.pack(">I", 64) + b"jumb" + bytes(range(56)),
        struct.pack(">I", 0xFFFFFFF0) + b"jumb" + struct.pack(">I", 40) + b"jumd" + b"c2pa" + b"\xff" * 100,
        b"\x00\x01",
    ],
    ids=["garbage-box", "lying-lengths", "two-bytes"],
)
def test_garbage_manifests_never_fail_the_request(payload):
    item = predict_bytes(jpeg_with_app11(photo(), payload), "garbage.jpg", SETTINGS)
    assert 0.0 <= item["probability_fake"] <= 1.0
    assert [entry["status"] for entry in item["evidence"]] in ([], ["unreadable"])


def test_garbage_caBX_chunk_in_a_png():
    from credentials import png_chunks, png_from_chunks

    chunks = png_chunks(encode(photo(), "PNG"))
    garbage = struct.pack(">I", 40) + b"jumb" + struct.pack(">I", 32) + b"jumd" + b"c2pa" + b"\x13" * 24
    data = png_from_chunks([chunks[0], (b"caBX", garbage), *chunks[1:]])
    [entry] = predict_bytes(data, "garbage.png", SETTINGS)["evidence"]
    assert entry["status"] == "unreadable"


def test_an_oversize_manifest_is_not_read(monkeypatch):
    signed = sign(encode(photo(), "JPEG"), "image/jpeg", "trainedAlgorithmicMedia")
    monkeypatch.setattr(provenance, "MAX_MANIFEST_BYTES", 100)
    [entry] = predict_bytes(signed, "big.jpg", SETTINGS)["evidence"]
    assert entry["status"] == "unreadable" and "more than the 100 read" in entry["detail"]


def test_manifest_markers():
    plain_jpeg = encode(photo(), "JPEG")
    assert manifest_markers.manifest_size(plain_jpeg) is None
    assert manifest_markers.manifest_size(encode(photo(), "PNG")) is None
    assert manifest_markers.manifest_size(encode(photo(), "WEBP")) is None
    assert manifest_markers.manifest_size(jpeg_with_app11(photo(), b"x" * 10)) == 2 + 2 + 10
    # APP11 segments of other JPEG XT uses (not "JP") are not manifests.
    other = plain_jpeg[:2] + b"\xff\xeb\x00\x06XX\x00\x00" + plain_jpeg[2:]
    assert manifest_markers.manifest_size(other) is None


def test_marker_walks_stop_at_the_end_of_the_file_and_after_a_chunk_flood():
    """A walk is Python: PNG chunks after IEND and RIFF chunks beyond MAX_CHUNKS are not walked."""
    png = encode(photo(), "PNG")
    store = b"\x00" * 16
    cabx = struct.pack(">I", len(store)) + b"caBX" + store + b"\x00" * 4
    assert manifest_markers.manifest_size(png[:33] + cabx + png[33:]) == len(store)  # after IHDR: found
    assert manifest_markers.manifest_size(png + cabx * 100_000) is None  # after IEND: not part of the PNG
    webp = encode(photo(), "WEBP")
    c2pa = b"C2PA" + struct.pack("<I", len(store)) + store
    empty = b"JUNK" + bytes(4)

    def riff(chunks: bytes) -> bytes:
        body = webp[12:] + chunks
        return b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WEBP" + body

    assert manifest_markers.manifest_size(riff(empty * 10 + c2pa)) == len(store)
    assert manifest_markers.manifest_size(riff(empty * container_chunks.MAX_CHUNKS + c2pa)) is None


def test_alpha_and_animation_are_noted():
    rgba = photo(40, 40).convert("RGBA")
    item = predict_bytes(encode(rgba, "PNG"), "alpha.png", SETTINGS)
    assert "transparent areas were filled with white" in item["note"].lower()
    keyed = io.BytesIO()
    photo(40, 40).save(keyed, "PNG", transparency=(0, 0, 0))  # a colour key (tRNS), as optipng writes
    assert "filled with white" in predict_bytes(keyed.getvalue(), "keyed.png", SETTINGS)["note"].lower()
    frames = [photo(40, 40, seed) for seed in range(3)]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=100)
    animated = predict_bytes(buffer.getvalue(), "animated.gif", SETTINGS)
    assert "only the first frame" in animated["note"].lower()


@pytest.mark.parametrize(("fmt", "mime"), [("JPEG", "image/jpeg"), ("PNG", "image/png"), ("AVIF", "image/avif")])
def test_mutated_manifests_never_raise(fmt, mime):
    # Random byte flips and cuts inside the manifest of a signed file: examine() must answer each.
    import random

    signed = bytearray(sign(encode(photo(64, 48), fmt), mime, "trainedAlgorithmicMedia"))
    start = signed.index(b"jumb") - 4
    rng = random.Random(13)
    statuses = set()
    for _ in range(150):
        mutated = bytearray(signed)
        for _ in range(rng.randint(1, 8)):
            mutated[rng.randrange(start, start + 2000)] = rng.randrange(256)
        if rng.random() < 0.3:
            mutated = mutated[: rng.randrange(start, len(mutated))]
        facts = provenance.examine(bytes(mutated))
        statuses.update(entry.get("status") for entry in facts.evidence if entry["kind"] == "c2pa")
    assert statuses <= {"valid", "invalid", "unreadable"} and statuses - {"valid"}


def test_concurrent_reads_share_one_context():
    from concurrent.futures import ThreadPoolExecutor

    files = [sign(encode(photo(80, 60, seed), "JPEG"), "image/jpeg", "trainedAlgorithmicMedia") for seed in range(4)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        statuses = list(pool.map(lambda data: provenance.examine(data).evidence[0]["status"], files * 5))
    assert statuses == ["valid"] * 20


def test_examine_never_decodes_pixels(monkeypatch):
    # Evidence is read from headers and chunks only: decoding is preprocess's job, with its limits.
    from PIL import ImageFile

    decoded = []

    def refuse(self):
        decoded.append(self.format)  # examine() swallows exceptions, so record rather than raise
        raise AssertionError(f"examine() decoded a {self.format}")

    files = [
        png_with_text(photo(), {"parameters": A1111_PARAMETERS}),
        encode(photo().convert("RGBA"), "PNG"),
        jpeg_with_user_comment(photo(), A1111_PARAMETERS),
        encode(photo(), "WEBP"),
        encode(photo(), "TIFF"),
        encode(photo().convert("P"), "GIF"),
        encode(photo(), "GIF", save_all=True, append_images=[photo(seed=1), photo(seed=2)]),
        encode(photo(), "WEBP", save_all=True, append_images=[photo(seed=1)]),
    ]
    from PIL import TiffImagePlugin, WebPImagePlugin

    for image_class in (ImageFile.ImageFile, TiffImagePlugin.TiffImageFile, WebPImagePlugin.WebPImageFile):
        monkeypatch.setattr(image_class, "load", refuse)
    for data in files:
        provenance.examine(data)
    assert decoded == []


def _rechunk_first_frame(gif: bytes) -> bytes:
    """The same GIF with its first frame's LZW data split into 1-byte sub-blocks (2 bytes on disk each).

    Pillow's C decoder reads image data in bulk, but looking for the next frame
    (`is_animated`) walks the sub-blocks one Python read at a time: a parser-step flood.
    """
    position = gif_header_end(gif)
    while gif[position] == 0x21:  # extensions before the first image: label, then sub-blocks
        position += 2
        while gif[position]:
            position += gif[position] + 1
        position += 1
    assert gif[position] == 0x2C
    local = gif[position + 9]
    position += 10 + (3 * 2 ** ((local & 7) + 1) if local & 0x80 else 0)
    start, data = position + 1, bytearray()
    position = start
    while gif[position]:
        data += gif[position + 1 : position + 1 + gif[position]]
        position += gif[position] + 1
    rechunked = b"".join(b"\x01" + data[i : i + 1] for i in range(len(data)))
    return gif[:start] + rechunked + gif[position:]


def test_examine_is_bounded_on_a_sub_block_flood():
    """Evidence reading opens the file through the same parser-step cap as `load_image`."""
    rng = np.random.default_rng(3)
    frames = [Image.fromarray(rng.integers(0, 256, (1200, 1200), dtype=np.uint8), "L") for _ in range(2)]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:])
    flood = _rechunk_first_frame(buffer.getvalue())
    with Image.open(io.BytesIO(flood)) as reopened:  # still a valid two-frame GIF
        assert reopened.n_frames == 2
    with cpu_clock() as cpu_seconds:
        facts = provenance.examine(flood)
        assert cpu_seconds() < 0.5
    assert facts.evidence == [] and facts.animated is False  # not read, so not claimed


# The 16 bytes `manifest_markers.manifest_size` takes for a C2PA store (a "jumb" superbox whose
# description box starts with the store's UUID): enough to send a file to c2pa-rs.
STORE_MARKER = struct.pack(">I4s", 40, b"jumb") + struct.pack(">I4s", 24, b"jumd") + b"c2pa" + bytes(12)


def avif_box_flood(boxes: int) -> bytes:
    """An AVIF, a `free` box holding the store marker, then `boxes` empty `free` boxes (8 bytes each)."""
    marker = struct.pack(">I4s", 8 + len(STORE_MARKER), b"free") + STORE_MARKER
    return encode(photo(96, 64), "AVIF") + marker + struct.pack(">I4s", 8, b"free") * boxes


def gif_sub_block_flood(sub_blocks: int) -> bytes:
    """A GIF whose comment extension holds the store marker, then `sub_blocks` 1-byte sub-blocks."""
    gif = encode(photo(96, 64), "GIF")
    comment = b"\x21\xfe" + bytes([len(STORE_MARKER)]) + STORE_MARKER + b"\x01a" * sub_blocks + b"\x00"
    return gif[:-1] + comment + gif[-1:]


def tiff_sub_ifd_flood(pointers: int, entries: int) -> bytes:
    """A TIFF (with the store marker) whose first page points `pointers` times to one IFD of `entries` entries.

    c2pa-rs reads a SubIFDs directory once for each pointer to it: 13 us an entry.
    """
    tiff = encode(photo(96, 64), "TIFF") + STORE_MARKER
    assert tiff[:4] == b"II*\x00"
    (first,) = struct.unpack_from("<I", tiff, 4)
    (count,) = struct.unpack_from("<H", tiff, first)
    page_at = len(tiff) + len(tiff) % 2
    pointers_at = page_at + 2 + 12 * (count + 1) + 4
    target = pointers_at + 4 * pointers
    page = (
        struct.pack("<H", count + 1)
        + tiff[first + 2 : first + 2 + 12 * count]
        + struct.pack("<HHII", 330, 4, pointers, pointers_at)  # SubIFDs, the last tag in order
        + bytes(4)
    )
    directory = struct.pack("<H", entries) + struct.pack("<HHII", 50_000, 1, 1, 0) * entries + bytes(4)
    padded = tiff + bytes(page_at - len(tiff))
    sub_ifds = struct.pack("<I", target) * pointers
    return padded[:4] + struct.pack("<I", page_at) + padded[8:] + page + sub_ifds + directory


@pytest.mark.parametrize(
    "flood",
    [
        # c2pa-rs's box tree is quadratic in the boxes under one parent: over 10 s of CPU for these 480 KB.
        pytest.param(lambda: avif_box_flood(60_000), id="avif-60k-boxes"),
        # A call back into Python for each sub-block, about 3.5 us: about 10 s for this 6 MB.
        pytest.param(lambda: gif_sub_block_flood(3_000_000), id="gif-3M-sub-blocks"),
        # 100 pointers to one 20 000-entry directory: 2 million entries read, about 30 s.
        pytest.param(lambda: tiff_sub_ifd_flood(100, 20_000), id="tiff-2M-entries"),
    ],
)
def test_a_container_flood_is_not_handed_to_c2pa(flood):
    data = flood()
    assert manifest_markers.manifest_size(data) is not None  # it carries a marker: c2pa-rs would read it
    with cpu_clock() as cpu_seconds:
        facts = provenance.examine(data)
        assert cpu_seconds() < 2.0
    [entry] = [entry for entry in facts.evidence if entry["kind"] == "c2pa"]
    assert entry["status"] == "unreadable" and entry["ai_generated"] is None
    assert "could not be read" in entry["detail"] and "too many to read" in entry["detail"]


def test_a_box_flood_gets_a_verdict_quickly_with_an_unreadable_manifest():
    data = avif_box_flood(60_000)
    with cpu_clock(time.process_time) as cpu_seconds:
        item = predict_bytes(data, "flood.avif", SETTINGS)
        assert cpu_seconds() < 2.0
    [entry] = item["evidence"]
    assert entry["status"] == "unreadable" and "more than 4096 boxes" in entry["detail"]
    assert item["verdict"] == model_only_verdict(item)


@pytest.mark.parametrize(("fmt", "mime"), [("AVIF", "image/avif"), ("GIF", "image/gif"), ("TIFF", "image/tiff")])
def test_real_containers_are_far_from_the_flood_limits(fmt, mime):
    """What a real file of each container holds, against the caps: signed, animated, and a multi-page TIFF."""
    frames = [photo(96, 64, seed) for seed in range(8)]
    animated = encode(frames[0], fmt, save_all=True, append_images=frames[1:])
    signed = sign(animated, mime, "trainedAlgorithmicMedia")
    assert manifest_markers.crowded_container(signed) is None
    assert provenance.examine(signed).evidence[0]["status"] == "valid"
    if fmt == "AVIF":
        assert sum(1 for _ in container_chunks.bmff_boxes(signed, 10**6)) < 100
    elif fmt == "GIF":
        assert sum(1 for _ in container_chunks.gif_blocks(signed, 10**6)) < 1000
    else:
        directories = list(container_chunks.tiff_directories(signed, 10**6))
        assert len(directories) >= 8 and sum(entries for _, entries in directories) < 300
