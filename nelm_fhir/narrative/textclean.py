"""Turning attachment bytes into safe plain text: HTML to visible text, PDF text layers, control characters."""

from __future__ import annotations

import io
import logging
import re
import unicodedata
from html.parser import HTMLParser

_BLOCK_TAGS = frozenset({
    "p", "div", "br", "li", "tr", "td", "th", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol",
    "section", "article", "header", "footer", "pre", "blockquote", "dt", "dd",
})
_HIDDEN_TAGS = frozenset({"script", "style", "head", "title", "template", "noscript"})
_HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zs", "Zl", "Zp"})
_SPACES = re.compile(r"[ \t\f\v]+")
_BLANK_LINES = re.compile(r"\n{3,}")


class _VisibleText(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _HIDDEN_TAGS:
            self._hidden += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _HIDDEN_TAGS:
            self._hidden = max(0, self._hidden - 1)
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)


def html_to_text(markup: str) -> str:
    """The text a browser would show (scripts, styles and the head dropped; blocks become lines)."""
    parser = _VisibleText()
    parser.feed(markup)
    parser.close()
    return "".join(parser.parts)


def neutralise(text: str) -> str:
    """Normalise line ends and whitespace, and drop control and bidirectional-override characters.

    Keeps newlines; tabs, no-break and other special spaces, C0/C1 controls, zero-width and bidi
    controls, line/paragraph separators, surrogates, private-use and unassigned code points all
    become plain spaces, so no hidden character reaches a card.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    out = []
    for ch in text:
        if ch == "\n":
            out.append(ch)
        elif unicodedata.category(ch) in _HIDDEN_CATEGORIES:
            out.append(" ")
        else:
            out.append(ch)
    cleaned = _SPACES.sub(" ", "".join(out))
    cleaned = "\n".join(line.strip() for line in cleaned.split("\n"))
    return _BLANK_LINES.sub("\n\n", cleaned).strip()


def looks_binary(data: bytes) -> bool:
    """True for bytes that are not text: NUL bytes, or more than 10% control bytes in the first 4 KiB."""
    head = data[:4096]
    if b"\x00" in head:
        return True
    controls = sum(1 for b in head if b < 32 and b not in (9, 10, 12, 13))
    return bool(head) and controls / len(head) > 0.10


class PdfTextError(ValueError):
    """A PDF whose text could not be read; the message says why (never the content)."""


def pdf_text(data: bytes, *, max_pages: int) -> str:
    """The text layer of a PDF (first ``max_pages`` pages); :class:`PdfTextError` when there is none."""
    try:
        from pypdf import PdfReader  # optional extra
    except ImportError as exc:
        raise PdfTextError("PDF reading is not installed (the 'text' extra)") from exc
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise PdfTextError("encrypted PDF")
        pages = [page.extract_text() or "" for page in reader.pages[:max_pages]]
    except PdfTextError:
        raise
    except Exception as exc:  # a malformed PDF can fail anywhere inside the parser
        raise PdfTextError(f"unreadable PDF ({type(exc).__name__})") from exc
    text = "\n".join(pages)
    if not text.strip():
        raise PdfTextError("no text layer (scanned image PDF)")
    return text
