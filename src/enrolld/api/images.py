"""Getting image bytes out of a request, with each dialect's limits, and analysing them."""

from __future__ import annotations

import base64
import binascii
import re
import http.client
import socket
import threading
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
_UNSAFE_URL = re.compile(r"[\\@\s\x00-\x1f\x7f]")


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


def fetch_url(url, allowed_hosts: tuple[str, ...], *, max_bytes: int, allowed_ports: tuple[int, ...] = (80, 443, 8080),
              timeout_s: float = URL_FETCH_TIMEOUT_S) -> bytes:
    """Fetch an image_url, only from hosts in api.url_fetch_hosts and ports in
    api.url_fetch_ports (SSRF guard), within timeout_s in total (not per read: a server
    sending one byte a second is cut off too). Every failure to fetch gets the same text, so
    the answer does not tell an open port from a closed one or from a non-HTTP service."""
    if not allowed_hosts:
        raise UrlRefusedError("image_url is disabled on this appliance (api.url_fetch_hosts is empty); send the image itself")
    host, port, target, secure = _checked_url(url, allowed_hosts, allowed_ports)
    connection_class = http.client.HTTPSConnection if secure else http.client.HTTPConnection
    connection = connection_class(host, port, timeout=timeout_s)
    # The deadline: shut the socket down from a timer, which ends any read in progress.
    timer = threading.Timer(timeout_s, _shut, args=(connection,))
    timer.daemon = True
    timer.start()
    try:
        connection.request("GET", target, headers={"Accept": "image/*", "User-Agent": "enrolld"})
        response = connection.getresponse()
        if response.status != 200:
            raise OSError(f"HTTP {response.status}")
        data = response.read(max_bytes + 1)
    except (OSError, http.client.HTTPException, ValueError):
        raise UrlRefusedError(f"image_url could not be fetched: no image came from that address within {timeout_s:g} s") from None
    finally:
        timer.cancel()
        connection.close()
    if len(data) > max_bytes:
        raise ImageError("too_large", "the image at image_url is too large")
    return data


def _checked_url(url, allowed_hosts, allowed_ports) -> tuple[str, int, str, bool]:
    """(host, port, request target, https?) of a URL that names exactly one allowed host and
    port. Backslashes, user info, whitespace and control characters are refused outright:
    parsers disagree on `http://host:80\\@127.0.0.1/`, so no such URL is ever interpreted."""
    if not isinstance(url, str) or len(url) > 2048:
        raise UrlRefusedError("image_url must be a URL of at most 2048 characters")
    if _UNSAFE_URL.search(url):
        raise UrlRefusedError("image_url must not contain backslashes, '@', spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:  # "Invalid IPv6 URL", a port out of range or not a number
        raise UrlRefusedError("image_url is not a valid URL (or has an invalid port)") from None
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.hostname not in allowed_hosts:
        raise UrlRefusedError(f"image_url host {parts.hostname!r} is not in api.url_fetch_hosts")
    port = port or (443 if parts.scheme == "https" else 80)
    if port not in allowed_ports:
        raise UrlRefusedError(f"image_url port {port} is not in api.url_fetch_ports")
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return parts.hostname, port, target, parts.scheme == "https"


def _shut(connection) -> None:
    sock = connection.sock
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


FRS_MAX_SIDE = 4095  # FRS: each side under 4096 px


def check_frs_image(data: bytes) -> None:
    """FRS's rule from the header alone: under 4096 px a side (the pipeline's own format and
    pixel checks follow when it decodes)."""
    decode.check_header(data, max_side=FRS_MAX_SIDE)


def check_accuauth_image(data: bytes) -> None:
    """AccuAuth's rules, from the header alone: JPG/PNG, 128-6000 px a side, at most 5 MB."""
    if len(data) > ACCUAUTH_FILE_MAX:
        raise ImageError("too_large", "the image is over 5 MB")
    low, high = ACCUAUTH_SIDES
    decode.check_header(data, formats=ACCUAUTH_FORMATS, min_side=low, max_side=high, max_pixels=high * high)

