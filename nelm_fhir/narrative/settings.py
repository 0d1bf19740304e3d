"""Whether the text reader runs: the ``NELM_TEXT_READER`` setting and the optional extra."""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping

_OFF = frozenset({"off", "0", "false", "no", "disabled"})


class TextReaderUnavailableError(RuntimeError):
    """The text reader is switched off or its optional libraries (medspaCy) are not installed."""


def text_reader_installed() -> bool:
    """True when medspaCy can be imported (the ``text`` extra is installed)."""
    return importlib.util.find_spec("medspacy") is not None


def text_reader_enabled(environ: Mapping[str, str]) -> bool:
    """True unless ``NELM_TEXT_READER`` is off (``off``/``0``/``false``/``no``) or medspaCy is absent.

    The engine and the hooks never depend on this: when it is false they simply get no candidates.
    """
    if environ.get("NELM_TEXT_READER", "on").strip().lower() in _OFF:
        return False
    return text_reader_installed()
