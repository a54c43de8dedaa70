"""Text from input, made safe to print on a terminal through Rich.

Graph names, member names, seed keys, paths, error messages and model replies all come from
files a user may have been handed. Printed as they are, an ESC or OSC sequence in them would
reach the terminal (moving the cursor, retitling the window, hiding lines, on some terminals
writing files), and a ``[/]`` in them would be read as Rich markup and crash the print with a
``MarkupError``. :func:`safe` is the one function every place in the CLI and the progress
display passes such text through before it is printed.
"""

from __future__ import annotations

import re

from rich.markup import escape

# C0 controls, DEL and C1 controls, plus the Unicode bidirectional controls that can reorder
# what a terminal shows ("Trojan source"), and the line/paragraph separators.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def safe(text: object, *, multiline: bool = False) -> str:
    """``text`` as Rich markup that prints exactly its characters, controls made visible.

    Control characters become their escape form (ESC prints as ``\\x1b``), and Rich markup is
    escaped, so the result can be embedded in a markup string. With ``multiline``, newlines are
    kept (for messages made of several lines); every other control character, tab and carriage
    return included, is always replaced.

    >>> safe("x[/]\\x1b]0;title\\x07")
    'x\\\\[/]\\\\x1b]0;title\\\\x07'
    >>> safe("two\\nlines", multiline=True)
    'two\\nlines'
    """
    string = str(text)
    if multiline:
        string = "\n".join(_UNSAFE.sub(_visible, line) for line in string.split("\n"))
    else:
        string = _UNSAFE.sub(_visible, string)
    return escape(string)
