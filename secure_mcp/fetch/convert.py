"""Bytes to text: content types, charsets, and HTML to Markdown or plain text.

Markdown comes from ``markdownify`` over a ``BeautifulSoup`` tree: both are maintained, pure
Python, already dependencies, and markdownify works on the parsed tree (headings, lists, tables,
code blocks, links) rather than on regexes over markup. We hand it a tree we cleaned first: parts a
reader never sees (scripts, styles, templates, comments, hidden elements) are removed, because
they are where injected instructions hide, and images become their alt text so the output holds no
URLs that a Markdown renderer would fetch on its own.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

from bs4 import BeautifulSoup, Comment, Tag
from bs4.dammit import EncodingDetector
from markdownify import MarkdownConverter

_TEXT_APPLICATION = frozenset({"application/json", "application/x-ndjson", "application/xml", "application/javascript"})
_HTML = frozenset({"text/html", "application/xhtml+xml"})
_UNSEEN_TAGS = (
    "script",
    "style",
    "noscript",
    "template",
    "iframe",
    "object",
    "embed",
    "svg",
    "canvas",
    "head",
)
_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))
_BLANK_RUNS = re.compile(r"\n{3,}")


@dataclass(frozen=True)
class ContentType:
    """A parsed Content-Type: lowercased media type and its charset parameter, if any."""

    media_type: str
    charset: str | None

    @property
    def is_html(self) -> bool:
        """Whether the body is HTML (and so gets converted)."""
        return self.media_type in _HTML

    @property
    def is_text(self) -> bool:
        """Whether the body is text we return: ``text/*``, JSON, XML, JavaScript."""
        kind, _, subtype = self.media_type.partition("/")
        return (
            kind == "text"
            or self.media_type in _TEXT_APPLICATION
            or (kind == "application" and subtype.endswith(("+json", "+xml")))
        )


def parse_content_type(value: str | None) -> ContentType | None:
    """Parse a Content-Type header; ``None`` when absent or not ``type/subtype``."""
    if value is None:
        return None
    media_type, *params = value.split(";")
    media_type = media_type.strip().lower()
    if re.fullmatch(r"[a-z0-9!#$&^_.+-]+/[a-z0-9!#$&^_.+-]+", media_type) is None:
        return None
    charset = None
    for param in params:
        key, _, raw = param.partition("=")
        if key.strip().lower() == "charset":
            charset = raw.strip().strip("\"'") or None
    return ContentType(media_type, charset)


def decode_body(body: bytes, content_type: ContentType, *, truncated: bool) -> tuple[str, list[str]]:
    """Decode with the charset from the BOM, else the header, else an HTML meta tag, else UTF-8.

    Returns:
        The text and warnings (an unknown charset, a guessed fallback).
    """
    warnings: list[str] = []
    candidates: list[str] = [name for bom, name in _BOMS if body.startswith(bom)]
    if content_type.charset:
        candidates.append(content_type.charset)
    if content_type.is_html:
        declared = EncodingDetector.find_declared_encoding(body[:4096], is_html=True)
        if declared:
            candidates.append(declared)
    for name in candidates:
        try:
            if not codecs.lookup(name)._is_text_encoding:  # base64, zlib ... are bytes-to-bytes codecs
                raise LookupError(name)
            decoder = codecs.getincrementaldecoder(name)(errors="replace")
        except LookupError:
            warnings.append(f"unknown charset '{name[:40]}' ignored")
            continue
        text: str = decoder.decode(body, final=not truncated)
        return text.removeprefix("\ufeff"), warnings
    try:
        return codecs.getincrementaldecoder("utf-8")(errors="strict").decode(body, final=not truncated), warnings
    except UnicodeDecodeError:
        warnings.append("no charset declared and the body is not UTF-8; decoded as windows-1252")
        return body.decode("cp1252", errors="replace"), warnings


class _Converter(MarkdownConverter):
    """markdownify with images reduced to their alt text."""

    def convert_img(self, el: Tag, text: str, parent_tags: set[str]) -> str:
        alt = el.attrs.get("alt") or ""
        return str(alt).strip()


def clean_html(html: str) -> tuple[BeautifulSoup, int]:
    """Parse and drop what a reader never sees; returns the tree and how many hidden parts were cut."""
    soup = BeautifulSoup(html, "html.parser")
    for comment in soup.find_all(string=lambda node: isinstance(node, Comment)):
        comment.extract()
    for tag in soup.find_all(_UNSEEN_TAGS):
        tag.decompose()
    hidden = [tag for tag in soup.find_all(True) if _is_hidden(tag)]
    for tag in hidden:
        if not tag.decomposed:
            tag.decompose()
    return soup, len(hidden)


def _is_hidden(tag: Tag) -> bool:
    if tag.has_attr("hidden") or str(tag.get("aria-hidden", "")).strip().lower() == "true":
        return True
    for declaration in str(tag.get("style", "")).split(";"):
        prop, _, value = declaration.partition(":")
        value = value.replace("!important", "").strip().lower()
        if (prop.strip().lower(), value) in {("display", "none"), ("visibility", "hidden")}:
            return True
    return False


def html_to_markdown(html: str) -> tuple[str, int]:
    """Markdown of the visible page, and the number of hidden elements removed."""
    soup, hidden = clean_html(html)
    markdown = _Converter(heading_style="ATX", bullets="-", escape_misc=False).convert_soup(soup)
    return _BLANK_RUNS.sub("\n\n", str(markdown)).strip() + "\n", hidden


def html_to_text(html: str) -> tuple[str, int]:
    """The visible text of the page, one block per line, and the number of hidden elements removed."""
    soup, hidden = clean_html(html)
    lines = (line.strip() for line in soup.get_text("\n").splitlines())
    text = "\n".join(line for line in lines if line)
    return text + "\n" if text else "", hidden
