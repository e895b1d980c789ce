"""Credentials for both dialects, checked before any handler runs.

FRS accepts `X-Auth-Token` (the REST documentation's scheme) and AK/SK signatures
(`SDK-HMAC-SHA256`, the only scheme the official SDK speaks). The signature is recomputed
exactly as huaweicloudsdkcore/signer/signer.py builds it:

    canonical = METHOD \n URI/ \n sorted query \n "name:value\n" per signed header \n
                signed;headers \n payload hash
    string_to_sign = "SDK-HMAC-SHA256" \n X-Sdk-Date \n sha256hex(canonical)
    signature = hex(HMAC-SHA256(SK, string_to_sign))

The payload hash is sha256 of the body, the empty hash for no body, or the value of
`X-Sdk-Content-Sha256` (multipart: UNSIGNED-PAYLOAD) when that header is itself signed.
`host` and `x-sdk-date` must be signed; the date must lie within `api.frs.clock_skew_s`.

AccuAuth sends `X-DF-API-ID` and `X-DF-API-SECRET`. Every comparison is constant-time and
no credential is ever logged. With no credentials configured, a dialect refuses everything.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import time
from calendar import timegm
from urllib.parse import quote

from flask import Request

from ..config import AccuAuthConfig, FrsConfig
from .errors import AccuAuthError, FrsError

log = logging.getLogger(__name__)

ALGORITHM = "SDK-HMAC-SHA256"
EMPTY_HASH = hashlib.sha256(b"").hexdigest()
_AUTH_HEADER = re.compile(r"SDK-HMAC-SHA256\s+Access=([^,\s]+),\s*SignedHeaders=([^,\s]+),\s*Signature=([0-9a-fA-F]+)\s*")


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


def _refused(message: str) -> FrsError:
    return FrsError(403, "FRS.0002", message)


def check_frs(request: Request, project_id: str, settings: FrsConfig, *, now: float | None = None) -> None:
    """Raise FrsError unless the request carries valid FRS credentials for this project."""
    token = request.headers.get("X-Auth-Token")
    authorization = request.headers.get("Authorization")
    if token is None and authorization is None:
        raise FrsError(400, "FRS.0010", "X-Auth-Token or Authorization (SDK-HMAC-SHA256) header missing")
    if authorization is not None:
        _check_signature(request, authorization, settings, time.time() if now is None else now)
    elif not settings.token or not _same(token, settings.token):
        raise _refused("the authentication token is abnormal")
    header_project = request.headers.get("X-Project-Id")  # with a token as with AK/SK
    if header_project is not None and not _same(header_project, project_id):
        raise FrsError(403, "FRS.0028", "X-Project-Id does not match the project id in the path")
    if not _same(project_id, settings.project_id):
        raise FrsError(403, "FRS.0028", "the project id does not match this appliance's project")


def _check_signature(request: Request, authorization: str, settings: FrsConfig, now: float) -> None:
    if not settings.access_key or not settings.secret_key:
        raise _refused("AK/SK authentication is not configured on this appliance")
    m = _AUTH_HEADER.fullmatch(authorization.strip())
    if not m:
        raise _refused("Authorization header is not an SDK-HMAC-SHA256 signature")
    access, signed, signature = m.groups()
    signed_headers = signed.lower().split(";")
    if not _same(access, settings.access_key):
        raise _refused("unknown access key")
    if "host" not in signed_headers or "x-sdk-date" not in signed_headers:
        raise _refused("host and x-sdk-date must be signed headers")
    date = request.headers.get("X-Sdk-Date", "")
    try:
        signed_at = timegm(time.strptime(date, "%Y%m%dT%H%M%SZ"))
    except ValueError:
        raise _refused("X-Sdk-Date must look like 20240131T235959Z") from None
    if abs(now - signed_at) > settings.clock_skew_s:
        raise _refused(f"X-Sdk-Date is more than {settings.clock_skew_s} s away from the appliance's clock")
    canonical = canonical_request(request, signed_headers)
    if canonical is None:
        raise _refused("a signed header is missing from the request")
    string_to_sign = f"{ALGORITHM}\n{date}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
    expected = hmac.new(settings.secret_key.encode(), string_to_sign.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature.lower()):
        raise _refused("the request signature does not match")


def _encode(value: str) -> str:
    return quote(value, safe="~")


def canonical_request(request: Request, signed_headers: list[str]) -> str | None:
    uri = "/".join(_encode(part) for part in request.path.split("/"))
    if not uri.endswith("/"):
        uri += "/"
    pairs = sorted(request.args.items(multi=True))
    query = "&".join(f"{_encode(k)}={_encode(v)}" for k, v in pairs)
    lines = []
    for name in signed_headers:
        value = request.headers.get(name)
        if value is None:
            return None
        lines.append(f"{name}:{value.strip()}")
    headers = "\n".join(lines) + "\n"
    return "\n".join([request.method.upper(), uri, query, headers, ";".join(signed_headers), _payload_hash(request, signed_headers)])


def _payload_hash(request: Request, signed_headers: list[str]) -> str:
    declared = request.headers.get("X-Sdk-Content-Sha256")
    if declared is not None and "x-sdk-content-sha256" in signed_headers:
        if not request.content_length:
            return EMPTY_HASH
        return declared
    body = request.get_data(cache=True)  # cached: the handler parses the same bytes
    return hashlib.sha256(body).hexdigest() if body else EMPTY_HASH


def check_accuauth(request: Request, settings: AccuAuthConfig) -> None:
    api_id = request.headers.get("X-DF-API-ID")
    secret = request.headers.get("X-DF-API-SECRET")
    if not api_id or not secret:
        raise AccuAuthError(401, "UNAUTHORIZED", "X-DF-API-ID and X-DF-API-SECRET headers are required")
    if not settings.api_id or not settings.api_secret:
        raise AccuAuthError(401, "UNAUTHORIZED", "AccuAuth credentials are not configured on this appliance")
    # Evaluate both comparisons so timing does not tell which one failed.
    ok_id = _same(api_id, settings.api_id)
    ok_secret = _same(secret, settings.api_secret)
    if not (ok_id and ok_secret):
        raise AccuAuthError(401, "UNAUTHORIZED", "invalid API credentials")


def check_either_dialect(request: Request, api_settings) -> None:
    """For the appliance's own routes outside both contracts (/openapi.json, /metrics,
    /enrollment): either dialect's credentials will do, and a refusal comes in the FRS shape
    like every path outside /faceset/."""
    if request.headers.get("X-DF-API-ID") is None:
        check_frs(request, api_settings.frs.project_id, api_settings.frs)
        return
    try:
        check_accuauth(request, api_settings.accuauth)
    except AccuAuthError as e:
        raise _refused(e.reason) from None


def check_metrics_scrape(request: Request, api_settings) -> None:
    """/metrics: Prometheus sends `Authorization: Bearer <api.metrics_token>` (its scrape
    config's `authorization`; it cannot send X-Auth-Token before 3.0), a scrape-only secret
    that opens no other route. Without a Bearer header either dialect's credentials will do."""
    scheme, _, credential = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        check_either_dialect(request, api_settings)
        return
    if not api_settings.metrics_token:
        raise _refused("a Bearer token opens /metrics only when api.metrics_token is set on this appliance")
    if not _same(credential.strip(), api_settings.metrics_token):
        raise _refused("the metrics token does not match")
