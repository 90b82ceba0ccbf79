"""Untrusted text: what a submission wrote (a test's output, compiler
diagnostics, the names it gave its FIFOs and queues, its file names, a
student's name on a course platform), made safe to show to people.

A submission is written by someone who has read the grader. What it prints
must reach the TA's terminal, the feedback files and the course platform as
text the reader can see, never as commands to the terminal (ESC sequences:
clear the screen, write the clipboard with OSC 52, hide a link with OSC 8;
a carriage return that overwrites a line) and never as markup (rich's
`[link=…]`, Markdown links and headings, HTML, a spreadsheet formula).

    escape_controls(text)        every control character as a visible escape: the one rule
    terminal_text(text)          for rich: a Text, which rich never parses as markup
    markdown_literal(text)       for Markdown outside a code block
    markdown_code_block(text)    for Markdown: a fenced block the text cannot close
    spreadsheet_cell(text)       for CSV: no cell a spreadsheet would run as a formula

Each medium's function applies escape_controls first, so a medium cannot
forget it.
"""

from __future__ import annotations

import re

from rich.text import Text

# Bidirectional controls (the "Trojan Source" characters, CVE-2021-42574):
# embeddings and overrides U+202A–U+202E, isolates U+2066–U+2069, and the
# marks U+200E, U+200F, U+061C. They make a terminal or a browser show text
# in an order other than the one it has, so a line can read as something it
# is not (a file name, a forged grader line). Test output and diagnostics in
# a systems lab have no use for them, so they are escaped like controls,
# not dropped: the TA sees that they were there.
_BIDI = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
# LINE SEPARATOR and PARAGRAPH SEPARATOR end a line for Python's splitlines
# and for some viewers, not for others: one reader would see a line start
# where another sees none.
_SEPARATORS = "\u2028\u2029"
# C0 controls except \t (0x09) and \n (0x0a), DEL, C1 controls (0x80–0x9f:
# 0x9b is a one-byte CSI, 0x9d a one-byte OSC on some terminals).
_UNSAFE = re.compile(f"[\x00-\x08\x0b-\x1f\x7f-\x9f{_BIDI}{_SEPARATORS}]")


def escape_controls(text: str) -> str:
    r"""Text with every control character shown as an escape: ESC becomes the
    four characters `\x1b`, BEL `\x07`, a lone carriage return `\x0d`, a
    bidi override `\u202e`. Newlines and tabs stay. A CRLF line end becomes
    a newline: it overwrites nothing, and a file written on Windows should
    not read as `\x0d` on every line.

    Backslashes are not doubled: the point is that nothing is hidden or
    executed, not that the original bytes can be recovered (a printed
    `\x1b` and a real ESC look alike, and neither does anything)."""
    return _UNSAFE.sub(_escape, text.replace("\r\n", "\n"))


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def terminal_text(text: str, style: str = "") -> Text:
    """For rich: a Text is printed as it is (a str passed to console.print or
    to a table would be parsed for `[markup]` and `:emoji:` codes)."""
    return Text(escape_controls(text), style=style)


# What makes Markdown act inside a line: escapes, code spans, emphasis,
# links and images, HTML and entities, table cells, strikethrough.
_MARKDOWN_INLINE = re.compile(r"([\\`*\[\]<>&|~!])")
# `_` emphasises only at a word's edge (CommonMark): snake_case names stay readable.
_MARKDOWN_UNDERSCORE = re.compile(r"(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")
# What makes Markdown act at the start of a line: a heading, a quote, a list
# item, a thematic break or setext underline.
_MARKDOWN_LINE_START = re.compile(r"^([ \t]*)([#>+=-]|\d+[.)])", re.MULTILINE)


def markdown_literal(text: str) -> str:
    """Text outside a code block that Markdown shows as written: no link, no
    image, no HTML, no heading, no emphasis."""
    text = _MARKDOWN_INLINE.sub(r"\\\1", escape_controls(text))
    text = _MARKDOWN_UNDERSCORE.sub(r"\\_", text)
    return _MARKDOWN_LINE_START.sub(lambda m: m.group(1) + "\\" + m.group(2), text)


def markdown_code_block(text: str, info: str = "text") -> list[str]:
    """The lines of a fenced code block that the text cannot close: the
    fence is longer than any run of backticks inside it. Inside, Markdown
    renders nothing, HTML included."""
    text = escape_controls(text)
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return [fence + info, text, fence]


# A spreadsheet runs a cell that starts with one of these as a formula
# (OWASP "CSV injection"): =HYPERLINK(…) or a DDE command in a student's name.
_FORMULA_START = ("=", "+", "-", "@", "\t")


def spreadsheet_cell(text: str) -> str:
    """A text cell of a CSV file that a spreadsheet shows as text: one that
    would start a formula gets a leading apostrophe, which spreadsheets
    read as "this is text". Only for text fields: a number such as -2 is
    written as it is."""
    text = escape_controls(text)
    return "'" + text if text.startswith(_FORMULA_START) else text
