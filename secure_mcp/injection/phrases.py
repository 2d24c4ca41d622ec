"""Prompt-injection phrasing, role markers and model special tokens, on the normalised text.

The text is already NFKC-normalised, case-folded and stripped of invisible characters. Each word of
a phrase is compiled to a "fuzzy" form that also accepts common look-alikes (Cyrillic and Greek
homoglyphs, leetspeak digits) and one separator between letters ("i g n o r e", "ign.ore"), so the
look-alike handling costs nothing per character: it lives in the RE2 DFA, one linear pass.
"""

from __future__ import annotations

import re2

from .finding import Finding, quote

_LOOKALIKES = {
    "a": "a4@\u0430\u03b1", "b": "b\u0432\u03b2", "c": "c\u0441\u03f2", "d": "d", "e": "e3\u0435\u03b5\u0451",
    "g": "g9", "h": "h\u04bb", "i": "i1!|\u0456\u03b9\u00ed", "j": "j\u0458", "k": "k\u043a\u03ba",
    "l": "l1|", "m": "m\u043c", "n": "n\u043f\u03b7", "o": "o0\u043e\u03bf", "p": "p\u0440\u03c1",
    "r": "r\u0433", "s": "s5$\u0455", "t": "t7\u0442\u03c4", "u": "u\u03c5", "x": "x\u0445\u03c7",
    "y": "y\u0443\u03b3",
}
_GAP = r"[\s._*~-]?"
_SPACE = r"[\s\W_]{1,4}"


def _fuzzy(word: str) -> str:
    parts = []
    for char in word:
        options = _LOOKALIKES.get(char)
        parts.append(f"[{re2.escape(options)}]" if options else re2.escape(char))
    return _GAP.join(parts)


def _any(*words: str) -> str:
    return "(?:" + "|".join(_fuzzy(w) for w in words) + ")"


class _Opt(str):
    """A part of a phrase that may be absent; it carries its own trailing separator."""


def _opt(pattern: str, times: str = "?") -> _Opt:
    return _Opt(f"(?:{pattern}{_SPACE}){times}")


def _seq(*parts: str) -> str:
    out = []
    for i, part in enumerate(parts):
        out.append(part)
        if not isinstance(part, _Opt) and i < len(parts) - 1:
            out.append(_SPACE)
    return "".join(out)


_VERB = _any("ignore", "disregard", "forget", "override", "bypass", "skip", "neglect", "discard",
             "abandon", "drop", "overlook", "set aside")
_QUALIFIER = _any("all", "any", "every", "previous", "prior", "preceding", "above", "earlier", "former",
                  "initial", "original", "system", "safety", "your", "existing", "foregoing", "developer",
                  "current")
_FILLER = _any("the", "of", "my", "these", "those", "and", "given", "provided", "instructions", "rules",
               "content", "security")
_NOUN = _any("instructions", "instruction", "rules", "directions", "directives", "directive", "prompts", "prompt",
             "guidelines", "guidance", "constraints", "context", "commands", "orders", "messages",
             "restrictions", "policies", "policy", "programming", "training", "guardrails", "safeguards",
             "filters", "system prompt")
_WORDS_BETWEEN = rf"(?:{_SPACE}(?:{_QUALIFIER}|{_FILLER})){{0,3}}"

_AI = _any("ai", "assistant", "agent", "model", "llm", "language model", "chatbot", "claude", "chatgpt", "gpt",
           "copilot", "bot")
_SECRETS = _any("secrets", "secret", "credentials", "api keys", "api key", "tokens", "token", "passwords",
                "password", "ssh keys", "ssh key", "private key", "private keys", "environment variables",
                "env vars", ".env", "cookies", "session", "aws keys", "conversation", "chat history")

_RULES: tuple[tuple[str, str], ...] = (
    ("instruction_override", rf"{_VERB}{_WORDS_BETWEEN}{_SPACE}{_QUALIFIER}{_WORDS_BETWEEN}{_SPACE}{_NOUN}"),
    ("instruction_override", _seq(_any("you are now", "you're now", "from now on you are"),
                                  _opt(_any('a', 'an', 'in')),
                                  _any("dan", "unrestricted", "unfiltered", "uncensored", "jailbroken",
                                         "evil", "developer mode", "god mode", "no longer", "free"))),
    ("instruction_override", _seq(_any("enable", "activate", "enter", "switch to"),
                                  _any("developer mode", "dev mode", "god mode", "jailbreak mode", "dan mode"))),
    ("instruction_override", _any("do anything now", "developer mode enabled", "jailbreak mode enabled")),
    ("instruction_override", _seq(_any("new", "updated", "real", "actual", "revised", "true"),
                                  _opt(_any("system")), _any("instructions", "instruction", "task",
                                                             "directive", "orders"))
     + r"\s*(?::|are|follow)"),
    ("instruction_override", _seq(_any("from now on"), _opt(r"\S+", "{0,2}?"),
                                  _any("you will", "you must", "you shall", "you should", "you are", "respond",
                                       "answer", "act", "always", "only", "never"))),
    ("instruction_override", _seq(_any("pretend", "imagine", "act as if"),
                                  _any("you are", "to be", "you have"),
                                  _opt(_any('a', 'an')),
                                  _any("unrestricted", "unfiltered", "uncensored", "jailbroken", "evil", "dan",
                                       "no restrictions", "no rules", "no guidelines", "no filters"))),
    ("instruction_override", _seq(_any("if you are", "attention", "note to", "message for", "important for",
                                       "instructions for", "dear", "hey", "to the", "to any"),
                                  _opt(_any('a', 'an', 'the', 'any', 'all')),
                                  _AI + r"s?", _opt(r"\S+", "{0,2}?"),
                                  _any("reading", "processing", "you must", "please", "ignore", "execute",
                                       "run", "summarizing", "summarising", "that reads", "browsing"))),
    ("instruction_override", _seq(_any("ignora", "olvida"), _opt(r"\S+", "{0,3}?"),
                                  _any("instrucciones", "reglas", "indicaciones"))),
    ("instruction_override", _seq(_any("ignoriere", "ignorieren sie", "vergiss", "vergessen sie"),
                                  _opt(r"\S+", "{0,3}?"), _any("anweisungen", "regeln", "instruktionen"))),
    ("instruction_override", _seq(_any("ignorez", "ignore", "oubliez"), _opt(r"\S+", "{0,3}?"),
                                  _any("consignes", "instructions précédentes", "règles"))),
    ("instruction_override", r"(?:忽略|无视|忘记|忽视)(?:之前|以上|先前|上面|前面|所有)\S{0,6}(?:指令|指示|规则|提示)"),
    ("instruction_override", r"(?:игнорируй|игнорируйте|забудь|забудьте)\s+(?:\S+\s+){0,3}?"
                             r"(?:инструкции|указания|правила)"),
    ("prompt_leak", _seq(_any("reveal", "print", "show", "repeat", "output", "leak", "display", "dump", "tell me",
                              "disclose", "write out", "give me", "share", "return"),
                         _opt(_any('me', 'us')),
                         _any("your", "the"), _opt(r"\S+", "{0,2}?"),
                         _any("system prompt", "system message", "initial prompt", "hidden instructions",
                              "original instructions", "instructions above", "prompt above",
                              "developer message", "hidden prompt"))),
    ("concealment", _seq(_any("do not", "don't", "dont", "never"),
                         _any("tell", "inform", "mention", "alert", "notify", "reveal this to", "show",
                              "let"), _any("the user", "the human", "the operator"))),
    ("concealment", _seq(_any("without"), _any("telling", "informing", "alerting", "asking", "notifying",
                                               "letting"), _any("the user", "the human", "the operator"))),
    ("exfiltration_instruction", _seq(_any("send", "post", "upload", "exfiltrate", "forward", "email", "transmit",
                                           "leak", "copy", "paste", "append", "include"),
                                      _opt(_any('the', 'all', 'your', 'any', 'my', 'of'), "{0,3}"),
                                      _SECRETS, _opt(r"\S+", "{0,3}?"), _any("to", "into", "in"),
                                      _opt(_any('the', 'this', 'my')),
                                      _any("http", "https", "url", "this url", "webhook", "server", "endpoint",
                                           "address", "email", "link", "image", "attacker", "pastebin"))),
    ("role_marker", r"(?m:^[ \t]*#{1,6}[ \t]*(?:system|assistant|user|human|instruction|instructions|response)"
                    r"[ \t]*:)"),
    ("role_marker", r"</?(?:system|system_prompt|system-prompt|assistant|instructions|human|im_start)>"),
    ("role_marker", r"(?:^|\n[ \t]*\n)[ \t]*(?:human|assistant)[ \t]*:"),
    ("role_marker", r"(?m:^[ \t]*system[ \t]*:[ \t]*(?:you are|you're|your|ignore|new))"),
    ("special_token", r"<\|[a-z0-9_]{2,40}\|>|\[/?inst\]|<</?sys>>|<(?:start|end)_of_turn>"
                      r"|<\|?(?:bos|eos|eot)\|?>|\[/?(?:system|assistant)\]"),
)

_KINDS = tuple(kind for kind, _ in _RULES)
_OPTIONS = re2.Options()
_OPTIONS.max_mem = 256 << 20
_OPTIONS.log_errors = False
_COMBINED = re2.compile("|".join(f"(?P<r{i}>{p})" for i, (_, p) in enumerate(_RULES)), _OPTIONS)
_GROUPS = tuple(_COMBINED.groupindex[f"r{i}"] for i in range(len(_RULES)))
MAX_PHRASE_FINDINGS = 20


def phrase_findings(normalised: str) -> list[Finding]:
    """Findings for injection phrasing, role markers and special tokens (distinct, at most 20)."""
    seen: dict[tuple[str, str], None] = {}
    for match in _COMBINED.finditer(normalised):
        kind = next(_KINDS[i] for i, g in enumerate(_GROUPS) if match.span(g)[0] >= 0)
        seen.setdefault((kind, quote(match.group().strip())), None)
        if len(seen) >= MAX_PHRASE_FINDINGS:
            break
    return [Finding(kind, detail) for kind, detail in seen]
