"""Getting image bytes out of a request, with each dialect's limits, and analysing them."""

from __future__ import annotations

import base64
import binascii
import re
import urllib.error
import urllib.request
from urllib.parse import urlsplit

from ..errors import ImageError
from ..vision import decode

FRS_BASE64_MAX = 8 * 1024 * 1024
ACCUAUTH_FILE_MAX = 5 * 1024 * 1024
ACCUAUTH_SIDES = (128, 6000)
ACCUAUTH_FORMATS = ("jpeg", "png")
URL_FETCH_TIMEOUT_S = 10.0
_DATA_URI = re.compile(r"^data:image/[A-Za-z0-9.+-]+;base64,")
_WHITESPACE = re.compile(r"\s+")


class Base64Error(ValueError):
    """The text is not base64."""


class UrlRefusedError(ValueError):
    """image_url is disabled, or names a host that is not allowed, or cannot be fetched."""


def decode_base64(text, *, max_chars: int) -> bytes:
    if not isinstance(text, str):
        raise Base64Error("the image must be a base64 string")
    text = _WHITESPACE.sub("", _DATA_URI.sub("", text, count=1))
    if len(text) > max_chars:
        raise ImageError("too_large", f"the base64 image is over {max_chars // (1024 * 1024)} MB")
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise Base64Error("the image is not valid base64") from None
    if not data:
        raise ImageError("empty", "the image is empty")
    return data


def fetch_url(url, allowed_hosts: tuple[str, ...], *, max_bytes: int) -> bytes:
    """Fetch an image_url, only from hosts listed in api.url_fetch_hosts (SSRF guard)."""
    if not allowed_hosts:
        raise UrlRefusedError("image_url is disabled on this appliance (api.url_fetch_hosts is empty); send the image itself")
    if not isinstance(url, str):
        raise UrlRefusedError("image_url must be a string")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or parts.hostname not in allowed_hosts:
        raise UrlRefusedError(f"image_url host {parts.hostname!r} is not in api.url_fetch_hosts")
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(url, timeout=URL_FETCH_TIMEOUT_S) as response:
            data = response.read(max_bytes + 1)
    except (urllib.error.URLError, OSError, ValueError) as e:
        raise UrlRefusedError(f"image_url could not be fetched: {e}") from None
    if len(data) > max_bytes:
        raise ImageError("too_large", "the image at image_url is too large")
    return data


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # a redirect could leave the allowed hosts
        return None


def check_accuauth_image(data: bytes) -> None:
    """AccuAuth's rules, from the header alone: JPG/PNG, 128-6000 px a side, at most 5 MB."""
    if len(data) > ACCUAUTH_FILE_MAX:
        raise ImageError("too_large", "the image is over 5 MB")
    low, high = ACCUAUTH_SIDES
    decode.check_header(data, formats=ACCUAUTH_FORMATS, min_side=low, max_side=high, max_pixels=high * high)

