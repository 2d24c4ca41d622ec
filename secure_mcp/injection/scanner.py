"""The sanitize scan: raw-text checks plus phrase checks on a normalised copy."""

from __future__ import annotations

from collections.abc import Iterable

from .ansi import ansi_findings
from .exfil import exfiltration_findings
from .finding import Finding
from .forged import forged_marker_findings
from .phrases import phrase_findings
from .unicode import normalise, unicode_findings


def scan(text: str, *, allowed_domains: Iterable[str] = ()) -> list[Finding]:
    """Every prompt-injection finding in ``text``, most structural first.

    Invisible, bidi and ANSI checks look at the raw text (that is where those characters are);
    phrases, role markers, special tokens, exfiltration links and forged untrusted-content markers
    are searched in a normalised copy
    (NFKC, case-folded, invisibles removed, tag characters decoded) so obfuscation does not hide
    them. This is a detection layer, not a boundary: a paraphrase it does not know passes.

    Args:
        text: the input argument or output text to examine.
        allowed_domains: hosts (and their subdomains) that images and links may point to with data.

    Returns:
        The findings; empty when nothing was seen.
    """
    findings = unicode_findings(text)
    findings.extend(ansi_findings(text))
    normalised = normalise(text)
    findings.extend(phrase_findings(normalised))
    findings.extend(exfiltration_findings(normalised, allowed_domains))
    findings.extend(forged_marker_findings(text, normalised))
    return findings
