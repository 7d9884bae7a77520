"""Files with provenance, made at test time: C2PA-signed images and generator metadata.

The certificate chain is generated here with `cryptography` (an ES256 root CA and
a signer certificate carrying what C2PA requires of one: not a CA, digitalSignature
key usage, an allowed extended key usage, key identifiers); manifests are signed
with c2pa-python's own Builder. Nothing here is committed or downloaded.
"""

from __future__ import annotations

import datetime
import io
import struct
import zlib
from dataclasses import dataclass
from functools import lru_cache

from PIL import Image, PngImagePlugin

IPTC = "http://cv.iptc.org/newscodes/digitalsourcetype/"
A1111_PARAMETERS = (
    "a lighthouse at dusk, oil painting\nNegative prompt: blurry\n"
    "Steps: 20, Sampler: DPM++ 2M, CFG scale: 7, Seed: 1234, Size: 512x512, Model hash: 6ce0161689, "
    "Model: v1-5-pruned-emaonly, Version: v1.10.1"
)
COMFYUI_PROMPT = '{"3": {"class_type": "KSampler", "inputs": {"seed": 1, "steps": 20}}}'
COMFYUI_WORKFLOW = '{"last_node_id": 9, "nodes": [{"id": 3, "type": "KSampler"}], "links": []}'
INVOKEAI_METADATA = '{"generation_mode": "txt2img", "positive_prompt": "a lighthouse", "app_version": "5.0.0"}'
# Each generator's PNG text chunks, as imageauth/generators.py cites them, with the generator expected.
PNG_GENERATOR_CHUNKS = {
    "parameters": ({"parameters": A1111_PARAMETERS}, "AUTOMATIC1111"),
    "prompt": ({"prompt": COMFYUI_PROMPT}, "ComfyUI"),
    "workflow": ({"workflow": COMFYUI_WORKFLOW}, "ComfyUI"),
    "invokeai_metadata": ({"invokeai_metadata": INVOKEAI_METADATA}, "InvokeAI"),
    "Software": ({"Software": "NovelAI", "Source": "NovelAI Diffusion V4 4F2DC3A2"}, "NovelAI"),
}


@dataclass(frozen=True)
class SigningChain:
    certificates_pem: bytes  # signer certificate, then the CA
    private_key_pem: bytes
    ca_pem: bytes


@lru_cache(maxsize=1)
def signing_chain() -> SigningChain:
    """A fresh ES256 CA and signer certificate, once per test session."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    def name(common_name: str) -> x509.Name:
        return x509.Name(
            [
                x509.NameAttribute(NameOID.COMMON_NAME, common_name),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "imageauth test signer"),
            ]
        )

    def usage(**enabled: bool) -> x509.KeyUsage:
        flags = ("digital_signature", "content_commitment", "key_encipherment", "data_encipherment")
        flags += ("key_agreement", "key_cert_sign", "crl_sign", "encipher_only", "decipher_only")
        return x509.KeyUsage(**{flag: enabled.get(flag, False) for flag in flags})

    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(name("imageauth test root CA"))
        .issuer_name(name("imageauth test root CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(usage(key_cert_sign=True, crl_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    signer = (
        x509.CertificateBuilder()
        .subject_name(name("imageauth test signer"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(usage(digital_signature=True), critical=True)
        # C2PA accepts signer certificates for e-mail protection, document signing and a few others.
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    private = key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return SigningChain(signer.public_bytes(pem) + ca.public_bytes(pem), private, ca.public_bytes(pem))


def photo(width: int = 120, height: int = 90, seed: int = 0) -> Image.Image:
    """A smooth random picture to sign or tag."""
    import numpy as np

    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, size=(max(2, height // 12), max(2, width // 12), 3), dtype=np.uint8)
    return Image.fromarray(small).resize((width, height), Image.Resampling.BILINEAR)


def encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    """`image` as a file of `fmt`; the tests' one writer of HEIC ("HEIF") too."""
    buffer = io.BytesIO()
    if fmt == "HEIF":  # serving's pi-heif only decodes: the test-only pillow-heif (x265) encodes
        import pillow_heif

        pillow_heif.from_pillow(image).save(buffer, **options)
    else:
        image.save(buffer, fmt, **options)
    return buffer.getvalue()


def sign(data: bytes, mime: str, source_type: str, software_agent: str = "Test Image Generator 2") -> bytes:
    """`data` with an embedded manifest whose c2pa.created action declares `source_type` (IPTC short name)."""
    created = {"action": "c2pa.created", "digitalSourceType": IPTC + source_type}
    manifest = {
        "claim_generator_info": [{"name": "imageauth-tests", "version": "1.0"}],
        "title": "test image",
        "assertions": [
            {"label": "c2pa.actions", "data": {"actions": [{**created, "softwareAgent": {"name": software_agent}}]}}
        ],
    }
    return sign_manifest(data, mime, manifest)


def sign_manifest(data: bytes, mime: str, manifest: dict, ingredient: tuple | None = None, remote: str | None = None):
    """`data` signed with `manifest`; `ingredient`: (json, mime, bytes); `remote`: keep the manifest elsewhere."""
    import c2pa

    chain = signing_chain()
    info = c2pa.C2paSignerInfo(c2pa.C2paSigningAlg.ES256, chain.certificates_pem, chain.private_key_pem, None)
    signer = c2pa.Signer.from_info(info)
    try:
        # No thumbnail: the tests need the manifest, not a preview inside it.
        context = c2pa.Context.from_dict({"builder": {"thumbnail": {"enabled": False}}})
        output = io.BytesIO()
        with c2pa.Builder(manifest, context=context) as builder:
            if ingredient is not None:
                builder.add_ingredient(ingredient[0], ingredient[1], io.BytesIO(ingredient[2]))
            if remote is not None:
                builder.set_no_embed()
                builder.set_remote_url(remote)
            builder.sign(signer, mime, io.BytesIO(data), output)
        return output.getvalue()
    finally:
        signer.close()


def png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """(type, payload) of every chunk of a PNG."""
    chunks, position = [], 8
    while position + 8 <= len(data):
        length, kind = struct.unpack_from(">I4s", data, position)
        chunks.append((kind, data[position + 8 : position + 8 + length]))
        position += 12 + length
    return chunks


def png_from_chunks(chunks: list[tuple[bytes, bytes]]) -> bytes:
    parts = [b"\x89PNG\r\n\x1a\n"]
    for kind, payload in chunks:
        crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
        parts.append(struct.pack(">I4s", len(payload), kind) + payload + struct.pack(">I", crc))
    return b"".join(parts)


def with_pixels_changed(signed_png: bytes) -> bytes:
    """The signed PNG with other pixels of the same size and mode, its manifest chunk kept as it was."""
    original = Image.open(io.BytesIO(signed_png))
    changed = original.convert("RGB").transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    new_data = [payload for kind, payload in png_chunks(encode(changed, "PNG")) if kind == b"IDAT"]
    chunks, replaced = [], False
    for kind, payload in png_chunks(signed_png):
        if kind == b"IDAT":
            if not replaced:
                chunks.extend((b"IDAT", part) for part in new_data)
                replaced = True
            continue
        chunks.append((kind, payload))
    return png_from_chunks(chunks)


def gif_header_end(gif: bytes) -> int:
    """Offset after a GIF's logical screen descriptor and global colour table: where blocks begin."""
    flags = gif[10]
    return 13 + (3 * 2 ** ((flags & 7) + 1) if flags & 0x80 else 0)


def png_with_text(image: Image.Image, texts: dict[str, str]) -> bytes:
    info = PngImagePlugin.PngInfo()
    for key, value in texts.items():
        info.add_text(key, value)
    return encode(image, "PNG", pnginfo=info)


def jpeg_with_user_comment(image: Image.Image, text: str) -> bytes:
    """A JPEG whose EXIF UserComment holds `text` as AUTOMATIC1111 writes it (piexif, UTF-16 big-endian)."""
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9286] = b"UNICODE\x00" + text.encode("utf-16-be")
    return encode(image, "JPEG", quality=90, exif=exif)


def jpeg_with_xmp_source_type(image: Image.Image, source_type: str) -> bytes:
    xmp = (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description rdf:about="" xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/" '
        f'Iptc4xmpExt:DigitalSourceType="{IPTC}{source_type}"/></rdf:RDF></x:xmpmeta>'
    )
    return encode(image, "JPEG", quality=90, xmp=xmp.encode("utf-8"))


def jpeg_with_app11(image: Image.Image, payload: bytes) -> bytes:
    """A JPEG with one APP11 JPEG XT segment (a JUMBF marker) holding `payload`, garbage or truncated."""
    plain = encode(image, "JPEG", quality=90)
    body = b"JP" + payload
    segment = b"\xff\xeb" + struct.pack(">H", len(body) + 2) + body
    return plain[:2] + segment + plain[2:]
