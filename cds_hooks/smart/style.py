"""The EHR's look (SMART ``smart_style_url``) applied as CSS custom properties, never as raw CSS.

When the token response names a ``smart_style_url``, the app fetches it once, server-side, at the
end of the launch — only when its origin is the ``iss`` origin or one the registration allow-lists
(``style_origins``), over https in production, with a timeout, no redirects and at most
``MAX_STYLE_BYTES``. From the JSON it keeps the SMART keys it can map (colours, fonts, font size,
border radius), each value checked against a strict pattern, and serves them as
``:root { --bg: …; }`` from ``/smart/app/theme.css`` (the page's Content-Security-Policy allows
only same-origin style sheets). Clinical status colours are never restyled. A style that cannot
be fetched or parsed is logged and ignored: the page keeps its own look.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

import requests

__all__ = ["MAX_STYLE_BYTES", "STYLE_VARIABLES", "StyleRefused", "fetch_style", "parse_style", "theme_css"]

log = logging.getLogger("nelm.smart")
MAX_STYLE_BYTES = 64 * 1024

_COLOUR = re.compile(
    r"^(#[0-9a-fA-F]{3,4}|#[0-9a-fA-F]{6}|#[0-9a-fA-F]{8}|[a-zA-Z]{3,24}"
    r"|rgba?\(\s*\d{1,3}%?\s*(,\s*\d{1,3}%?\s*){2}(,\s*(0|1|0?\.\d{1,3})\s*)?\))$"
)
_LENGTH = re.compile(r"^\d{1,3}(\.\d{1,3})?(px|em|rem)$")
_FONT = re.compile(r"""^[A-Za-z0-9 ,'"\-]{1,200}$""")
_CSS_WORDS = re.compile(r"(?i)expression|url|import|javascript")

# SMART style key -> (CSS variable used by smart.css, value pattern)
STYLE_VARIABLES: dict[str, tuple[str, re.Pattern[str]]] = {
    "color_background": ("--bg", _COLOUR),
    "color_text": ("--ink", _COLOUR),
    "color_highlight": ("--accent", _COLOUR),
    "color_error": ("--error", _COLOUR),
    "color_success": ("--success", _COLOUR),
    "font_family_body": ("--font-body", _FONT),
    "font_family_heading": ("--font-heading", _FONT),
    "dim_font_size": ("--font-size", _LENGTH),
    "dim_border_radius": ("--radius", _LENGTH),
}

Getter = Callable[..., requests.Response]


class StyleRefused(Exception):
    """The style URL is not allowed or its answer is unusable; ``str()`` is safe to log."""


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def _safe(value: str, pattern: re.Pattern[str]) -> bool:
    # Balanced quotes: an open string would swallow the declarations after it.
    return bool(pattern.match(value)) and not _CSS_WORDS.search(value) and value.count('"') % 2 == 0 \
        and value.count("'") % 2 == 0


def parse_style(data: object) -> dict[str, str]:
    """Return CSS variable -> value for the SMART style keys whose values pass their pattern."""
    if not isinstance(data, dict):
        raise StyleRefused("the style is not a JSON object")
    out: dict[str, str] = {}
    for key, (variable, pattern) in STYLE_VARIABLES.items():
        value = data.get(key)
        if not isinstance(value, str):
            continue
        value = value.strip()
        if _safe(value, pattern):
            out[variable] = value
        else:
            log.info("smart style value ignored", extra={"fields": {"key": key}})
    return out


def fetch_style(
    url: str,
    *,
    iss: str,
    allowed_origins: Iterable[str],
    timeout: float,
    production: bool,
    get: Getter = requests.get,
) -> dict[str, str]:
    """Return the CSS variables of the EHR's style at ``url``; raises StyleRefused."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.netloc or parts.username or parts.password:
        raise StyleRefused("the style URL is not an absolute http(s) URL")
    if production and parts.scheme != "https":
        raise StyleRefused("the style URL is not https")
    allowed = {_origin(iss), *(_origin(o) for o in allowed_origins)}
    if _origin(url) not in allowed:
        raise StyleRefused(f"the style URL's origin {_origin(url)} is neither the EHR's nor allow-listed")
    try:
        response = get(url, timeout=timeout, allow_redirects=False, stream=True,
                       headers={"Accept": "application/json"})
    except requests.RequestException as exc:
        raise StyleRefused(f"the style could not be fetched ({type(exc).__name__})") from exc
    with response:
        if response.status_code != 200:
            raise StyleRefused(f"the style URL answered HTTP {response.status_code}")
        body = b""
        for chunk in response.iter_content(chunk_size=16384):
            body += chunk
            if len(body) > MAX_STYLE_BYTES:
                raise StyleRefused("the style is too large")
    try:
        data: Any = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise StyleRefused("the style is not JSON") from exc
    return parse_style(data)


def theme_css(variables: Mapping[str, object]) -> str:
    """Return the style sheet that sets the launch's CSS variables (values re-checked; others dropped)."""
    patterns = dict(STYLE_VARIABLES.values())
    lines = []
    for variable, value in variables.items():
        pattern = patterns.get(variable)
        if pattern is not None and isinstance(value, str) and _safe(value, pattern):
            lines.append(f"  {variable}: {value};")
    return ":root {\n" + "\n".join(lines) + "\n}\n" if lines else "/* no EHR style for this launch */\n"
