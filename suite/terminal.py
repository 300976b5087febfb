"""Text from users (operation and label names, fields of synced provenance records) as it
may be printed to a terminal: control characters shown as escapes, so that a name can
neither forge a line of a table nor move the cursor or change colours."""

import unicodedata

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
# bidirectional overrides and isolates reorder what follows them on the line
_BIDI = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def visible(value):
    """``str(value)`` with C0 and C1 control characters (ESC, DEL, CSI...), line and
    paragraph separators and bidirectional controls written as ``\\n``, ``\\x1b``,
    ``\\u2028``; printable text, backslashes included, unchanged."""
    text = str(value)
    if text.isprintable():
        return text
    return "".join(_escape(c) if _hidden(c) else c for c in text)


def _hidden(c):
    return unicodedata.category(c) in ("Cc", "Zl", "Zp") or c in _BIDI


def _escape(c):
    if c in _NAMED:
        return _NAMED[c]
    n = ord(c)
    return f"\\x{n:02x}" if n < 0x100 else f"\\u{n:04x}"
