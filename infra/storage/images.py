"""Uploaded images, checked by their content (Pillow), never by name or declared type:
PNG, JPEG, WebP or GIF only, within byte and pixel limits, nothing appended, then re-encoded
so no metadata (EXIF, GPS, comments) or smuggled payload survives."""

from __future__ import annotations

import hashlib
import io
import re
import struct
import warnings

import msgspec
from PIL import Image, ImageOps, UnidentifiedImageError

from domain.errors import Invalid, TooLarge

FORMATS = {"PNG": ("png", "image/png"), "JPEG": ("jpg", "image/jpeg"),
           "WEBP": ("webp", "image/webp"), "GIF": ("gif", "image/gif")}
# Markup or script inside an image is how polyglots get served as something else.
_ACTIVE_CONTENT = re.compile(rb"<\s*(?:script|html|svg|iframe|body)\b|<\?php", re.I)


class CheckedImage(msgspec.Struct, frozen=True, kw_only=True):
    """A re-encoded image and its content address."""

    data: bytes
    format: str
    extension: str
    content_type: str
    width: int
    height: int
    sha256: str

    @property
    def key(self) -> str:
        return f"images/{self.sha256}.{self.extension}"


def _end_of_image(data: bytes, fmt: str) -> int | None:
    """Where the image's own bytes end, by its container's structure (None: unknown)."""
    if fmt == "PNG":
        at = data.rfind(b"IEND")
        return at + 8 if at >= 4 else None  # type, then a 4-byte CRC
    if fmt == "JPEG":
        at = data.rfind(b"\xff\xd9")
        return at + 2 if at >= 0 else None
    if fmt == "GIF":
        return len(data) if data.endswith(b";") else None
    if fmt == "WEBP":
        if len(data) < 12:
            return None
        size = struct.unpack("<I", data[4:8])[0]
        return 8 + size + (size & 1)
    return None


def check_image(data: bytes, *, max_bytes: int, max_pixels: int,
                field: str = "file") -> CheckedImage:
    """The image re-encoded, or Invalid / TooLarge naming `field`."""
    if not data:
        raise Invalid("the file is empty", field=field)
    if len(data) > max_bytes:
        raise TooLarge(f"the file is larger than {max_bytes} bytes", field=field)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=list(FORMATS))
            fmt = image.format or ""
            width, height = image.size
            # Checked from the header, before any pixel is decoded.
            if width * height > max_pixels:
                raise TooLarge(f"the image has more than {max_pixels} pixels", field=field)
            end = _end_of_image(data, fmt)
            if end is None:
                raise Invalid("the image is truncated or has data after its end", field=field)
            if data[end:].strip(b"\x00"):
                raise Invalid("the file has data after the image (a polyglot?)", field=field)
            if _ACTIVE_CONTENT.search(data):
                raise Invalid("the file carries markup or script", field=field)
            image.load()
            frame = ImageOps.exif_transpose(image)
    except (Invalid, TooLarge):
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise TooLarge("the image has too many pixels", field=field) from None
    except UnidentifiedImageError:
        raise Invalid("the file is not a PNG, JPEG, WebP or GIF image", field=field) from None
    except (OSError, SyntaxError, ValueError, struct.error, EOFError) as e:
        raise Invalid(f"the image is truncated or corrupt: {e}", field=field) from None
    return _reencode(frame, fmt)


def _reencode(image: Image.Image, fmt: str) -> CheckedImage:
    transparency = image.info.get("transparency")
    clean = image.copy()
    clean.info = {}  # drops EXIF, ICC, text chunks, comments
    params: dict[str, object] = {}
    if fmt == "JPEG":
        if clean.mode not in ("RGB", "L"):
            clean = clean.convert("RGB")
        params = {"quality": 90, "optimize": True}
    elif fmt == "WEBP":
        if clean.mode not in ("RGB", "RGBA"):
            clean = clean.convert("RGBA")
        params = {"quality": 90}
    elif fmt == "PNG":
        params = {"optimize": True}
        if transparency is not None:
            params["transparency"] = transparency
    elif fmt == "GIF" and transparency is not None:
        params["transparency"] = transparency
    out = io.BytesIO()
    clean.save(out, format=fmt, **params)
    data = out.getvalue()
    extension, content_type = FORMATS[fmt]
    return CheckedImage(data=data, format=fmt, extension=extension, content_type=content_type,
                        width=clean.width, height=clean.height,
                        sha256=hashlib.sha256(data).hexdigest())
