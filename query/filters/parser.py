"""Parse MLflow's run filter and order-by strings into `filter_ast` trees (pure).

Filter grammar (keywords are case-insensitive; OR and parentheses are an
extension, MLflow has only AND):

    filter      := [ disjunction ] END
    disjunction := conjunction ( OR conjunction )*
    conjunction := primary ( AND primary )*
    primary     := "(" disjunction ")" | comparison
    comparison  := identifier ( op literal | [NOT] IN "(" literal ("," literal)* ")"
                               | IS [NOT] NULL )
    identifier  := WORD                      bare attribute name: `status`
                 | PREFIX "." key            `metrics.acc`, `tags.mlflow.runName`
                 | PREFIX "." (`key` | "key") quoted key: metrics.`my key`
    order_by    := identifier [ ASC | DESC ] END

Every syntax or type error is an `InvalidArgument` naming the position
(a 0-based character offset) and what was expected there.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from tracklog.query.errors import InvalidArgument
from tracklog.query.filters.lexer import Token, syntax_error, tokenize
from tracklog.query.filters.syntax import (
    ATTRIBUTES,
    DATASET_KEYS,
    DATASET_OPERATORS,
    NUMERIC_OPERATORS,
    RUN_NAME_TAG,
    STRING_OPERATORS,
    AllOf,
    AnyOf,
    Comparison,
    EntityKind,
    Expression,
    Identifier,
    Operator,
    OrderKey,
    Scalar,
)

_PREFIXES: dict[str, EntityKind] = {
    "metric": "metric",
    "metrics": "metric",
    "param": "param",
    "params": "param",
    "parameter": "param",
    "parameters": "param",
    "tag": "tag",
    "tags": "tag",
    "attribute": "attribute",
    "attributes": "attribute",
    "attr": "attribute",
    "run": "attribute",
    "dataset": "dataset",
    "datasets": "dataset",
}
MAX_DEPTH = 32
MAX_COMPARISONS = 100
_KEYWORDS = frozenset({"AND", "OR", "NOT", "IN", "LIKE", "ILIKE", "IS", "NULL", "ASC", "DESC"})


class _Parser:
    def __init__(self, text: str, what: str) -> None:
        self._what = what
        self._tokens = tokenize(text, what)
        self._index = 0
        self._depth = 0  # open parentheses
        self._comparisons = 0

    # --- token helpers -------------------------------------------------------------------

    @property
    def _token(self) -> Token:
        return self._tokens[self._index]

    def _advance(self) -> Token:
        token = self._token
        if token.kind != "END":
            self._index += 1
        return token

    def _keyword(self, *words: str) -> bool:
        token = self._token
        return token.kind == "WORD" and token.text.upper() in words

    def _error(self, expected: str, token: Token | None = None) -> InvalidArgument:
        token = token or self._token
        return syntax_error(
            self._what, token.position, f"expected {expected}, got {token.describe()}"
        )

    def _expect(self, kind: str, expected: str) -> Token:
        if self._token.kind != kind:
            raise self._error(expected)
        return self._advance()

    def _end(self, expected: str) -> None:
        if self._token.kind != "END":
            raise self._error(expected)

    # --- filter --------------------------------------------------------------------------

    def filter(self) -> Expression | None:
        if self._token.kind == "END":
            return None
        expression = self._disjunction()
        self._end("AND, OR or the end of the filter")
        return expression

    def _disjunction(self) -> Expression:
        items = [self._conjunction()]
        while self._keyword("OR"):
            self._advance()
            items.append(self._conjunction())
        return items[0] if len(items) == 1 else AnyOf(tuple(items))

    def _conjunction(self) -> Expression:
        items = [self._primary()]
        while self._keyword("AND"):
            self._advance()
            items.append(self._primary())
        return items[0] if len(items) == 1 else AllOf(tuple(items))

    def _primary(self) -> Expression:
        if self._token.kind == "LPAREN":
            if self._depth >= MAX_DEPTH:
                raise syntax_error(
                    self._what, self._token.position, f"parentheses nest deeper than {MAX_DEPTH}"
                )
            self._depth += 1
            self._advance()
            inner = self._disjunction()
            self._expect("RPAREN", "')' or AND or OR")
            self._depth -= 1
            return inner
        if self._comparisons >= MAX_COMPARISONS:
            raise syntax_error(
                self._what, self._token.position, f"more than {MAX_COMPARISONS} comparisons"
            )
        self._comparisons += 1
        return self._comparison()

    def _comparison(self) -> Comparison:
        identifier = self.identifier()
        at = self._token
        if self._keyword("IS"):
            self._advance()
            negated = self._keyword("NOT")
            if negated:
                self._advance()
            if not self._keyword("NULL"):
                raise self._error("NULL after IS" + (" NOT" if negated else ""))
            self._advance()
            nullness: Operator = "IS NOT NULL" if negated else "IS NULL"
            self._check_operator(identifier, nullness, at)
            return Comparison(identifier, nullness, None)
        if self._keyword("NOT", "IN"):
            operator: Operator = "NOT IN" if self._advance().text.upper() == "NOT" else "IN"
            if operator == "NOT IN":
                if not self._keyword("IN"):
                    raise self._error("IN after NOT")
                self._advance()
            self._check_operator(identifier, operator, at)
            return Comparison(identifier, operator, self._list(identifier))
        if self._keyword("LIKE", "ILIKE"):
            operator = "LIKE" if self._advance().text.upper() == "LIKE" else "ILIKE"
            self._check_operator(identifier, operator, at)
            literal = self._token
            pattern = self._literal(identifier)
            if _dangling_escape(str(pattern)):
                raise syntax_error(
                    self._what,
                    literal.position,
                    "the LIKE pattern must not end with an escape character",
                )
            return Comparison(identifier, operator, pattern)
        if self._token.kind != "OP":
            raise self._error(f"a comparison operator after {str(identifier)!r}")
        symbol: Operator = self._advance().text  # type: ignore[assignment]
        self._check_operator(identifier, symbol, at)
        return Comparison(identifier, symbol, self._literal(identifier))

    def _check_operator(self, identifier: Identifier, operator: Operator, at: Token) -> None:
        allowed = NUMERIC_OPERATORS if identifier.numeric else STRING_OPERATORS
        if identifier.kind == "dataset":
            allowed = DATASET_OPERATORS
        if operator not in allowed:
            raise syntax_error(
                self._what,
                at.position,
                f"operator {operator} is not valid for {identifier}"
                f" (expected one of {', '.join(allowed)})",
            )

    def _list(self, identifier: Identifier) -> tuple[Scalar, ...]:
        self._expect("LPAREN", "'(' to start the IN list")
        values = [self._literal(identifier)]
        while self._token.kind == "COMMA":
            self._advance()
            values.append(self._literal(identifier))
        self._expect("RPAREN", "',' or ')' in the IN list")
        return tuple(values)

    def _literal(self, identifier: Identifier) -> Scalar:
        token = self._token
        if identifier.numeric:
            if token.kind != "NUMBER":
                raise self._error(f"a number to compare {identifier} with")
            self._advance()
            try:
                return Decimal(token.text)
            except InvalidOperation:  # pragma: no cover - the lexer only yields numbers
                raise self._error("a number", token) from None
        if token.kind != "STRING":
            raise self._error(f"a quoted string to compare {identifier} with")
        self._advance()
        return token.text

    # --- identifiers and order-by --------------------------------------------------------

    def identifier(self) -> Identifier:
        token = self._token
        if token.kind != "WORD" or token.text.upper() in _KEYWORDS:
            raise self._error("an identifier such as metrics.acc, params.lr or status")
        self._advance()
        prefix, dot, key = token.text.partition(".")
        if not dot:
            return self._attribute(prefix, token)
        kind = _PREFIXES.get(prefix.lower())
        if kind is None:
            raise syntax_error(
                self._what,
                token.position,
                f"expected metrics., params., tags., attributes. or datasets. before a key,"
                f" got {prefix + '.'!r}",
            )
        if not key:
            quoted = self._token
            if quoted.kind not in ("QUOTED", "STRING") or quoted.position != token.end:
                raise self._error(f"a key right after {token.text!r}")
            self._advance()
            key = quoted.text
            if not key:
                raise syntax_error(self._what, quoted.position, "expected a key, got ''")
        if kind == "attribute":
            return self._attribute(key, token)
        if kind == "tag" and key == RUN_NAME_TAG:
            return Identifier("attribute", "run_name")
        if kind == "dataset" and key not in DATASET_KEYS:
            raise syntax_error(
                self._what,
                token.position,
                f"expected a dataset key ({', '.join(DATASET_KEYS)}), got {key!r}",
            )
        return Identifier(kind, key)

    def _attribute(self, name: str, token: Token) -> Identifier:
        if name not in ATTRIBUTES:
            raise syntax_error(
                self._what,
                token.position,
                f"expected an attribute ({', '.join(ATTRIBUTES)}) or a prefixed key"
                f" such as metrics.acc, got {name!r}",
            )
        return Identifier("attribute", name)

    def order_key(self) -> OrderKey:
        at = self._token
        identifier = self.identifier()
        if identifier.kind == "dataset":
            raise syntax_error(self._what, at.position, f"runs cannot be ordered by {identifier}")
        ascending = True
        if self._keyword("ASC", "DESC"):
            ascending = self._advance().text.upper() == "ASC"
        self._end("ASC, DESC or the end of the order_by entry")
        return OrderKey(identifier, ascending)


def _dangling_escape(pattern: str) -> bool:
    """True when the pattern ends with a backslash that escapes nothing (Postgres rejects it)."""
    i = 0
    while i < len(pattern):
        if pattern[i] == "\\":
            if i == len(pattern) - 1:
                return True
            i += 1
        i += 1
    return False


def parse_filter(text: str) -> Expression | None:
    """The filter's tree; None for an empty (or all-whitespace) filter."""
    return _Parser(text, "filter").filter()


def parse_order_by(entries: list[str] | tuple[str, ...]) -> tuple[OrderKey, ...]:
    """One `OrderKey` per entry (`metrics.acc DESC`, `params.lr`, `start_time ASC`)."""
    return tuple(
        _Parser(entry, f"order_by[{index}]").order_key() for index, entry in enumerate(entries)
    )
