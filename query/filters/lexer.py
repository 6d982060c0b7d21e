"""Split a filter or order-by string into tokens that remember their position (pure).

Positions are 0-based character offsets into the text. Token kinds:
  WORD    a bare word: `metrics.acc`, `status`, `AND`, `tags.mlflow.runName`
          (letters, digits and `_ . : / -`, not starting with a digit or `-`)
  STRING  'single' or "double" quoted; the quote doubled inside stands for itself
  QUOTED  `backtick` quoted (a key); a doubled backtick stands for itself
  NUMBER  `12`, `-0.5`, `.5`, `1e-3`
  OP      = == != <> > >= < <=
  LPAREN, RPAREN, COMMA, END
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, TypeAlias

from tracklog.query.errors import InvalidArgument

TokenKind: TypeAlias = Literal[
    "WORD", "STRING", "QUOTED", "NUMBER", "OP", "LPAREN", "RPAREN", "COMMA", "END"
]


@dataclass(frozen=True, slots=True)
class Token:
    kind: TokenKind
    text: str  # the value: unquoted for STRING and QUOTED, normalised for OP
    position: int
    end: int  # offset just past the token in the source

    def describe(self) -> str:
        if self.kind == "END":
            return "the end of the input"
        if self.kind == "STRING":
            return f"the string {self.text!r}"
        if self.kind == "QUOTED":
            return f"the quoted name `{self.text}`"
        return repr(self.text)


_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_.:/\-]*")
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_OPERATORS = ("==", "!=", "<>", ">=", "<=", "=", ">", "<")
_PUNCTUATION: dict[str, TokenKind] = {"(": "LPAREN", ")": "RPAREN", ",": "COMMA"}
_QUOTES: dict[str, TokenKind] = {"'": "STRING", '"': "STRING", "`": "QUOTED"}


def syntax_error(what: str, position: int, message: str) -> InvalidArgument:
    """The error every syntax problem raises: `<what>: at position N, <message>`."""
    return InvalidArgument(f"{what}: at position {position}, {message}")


def _quoted(text: str, start: int, what: str) -> tuple[str, int]:
    """The unquoted content of the quoted token at `start` and the offset after it."""
    quote = text[start]
    parts: list[str] = []
    i = start + 1
    while True:
        close = text.find(quote, i)
        if close < 0:
            raise syntax_error(what, start, f"unterminated quoted text starting with {quote}")
        parts.append(text[i:close])
        if text.startswith(quote, close + 1):  # doubled quote: a literal quote character
            parts.append(quote)
            i = close + 2
            continue
        return "".join(parts), close + 1


def tokenize(text: str, what: str = "filter") -> list[Token]:
    """Every token of `text`, ending with one END token; `what` prefixes error messages."""
    nul = text.find("\x00")
    if nul >= 0:
        raise syntax_error(what, nul, "unexpected NUL character")
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char.isspace():
            i += 1
            continue
        if char in _QUOTES:
            value, end = _quoted(text, i, what)
            tokens.append(Token(_QUOTES[char], value, i, end))
            i = end
            continue
        if char in _PUNCTUATION:
            tokens.append(Token(_PUNCTUATION[char], char, i, i + 1))
            i += 1
            continue
        operator = next((op for op in _OPERATORS if text.startswith(op, i)), None)
        if operator is not None:
            normal = {"==": "=", "<>": "!="}.get(operator, operator)
            tokens.append(Token("OP", normal, i, i + len(operator)))
            i += len(operator)
            continue
        number = _NUMBER.match(text, i)
        if number is not None:
            tokens.append(Token("NUMBER", number.group(), i, number.end()))
            i = number.end()
            continue
        word = _WORD.match(text, i)
        if word is not None:
            tokens.append(Token("WORD", word.group(), i, word.end()))
            i = word.end()
            continue
        raise syntax_error(what, i, f"unexpected character {char!r}")
    tokens.append(Token("END", "", n, n))
    return tokens
