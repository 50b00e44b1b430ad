"""The subset of SOQL a CRM sync uses: SELECT fields FROM object [WHERE …] [ORDER BY …]
[LIMIT n], with AND / OR / NOT, parentheses, = != < <= > >= IN, LIKE, and string, number,
boolean, null, date and datetime literals. Unknown fields answer INVALID_FIELD, as
Salesforce does ("No such column")."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:[^'\\]|\\.)*')|(?P<dt>\d{4}-\d{2}-\d{2}T[\d:.]+(?:Z|[+-]\d{2}:?\d{2}))"
    r"|(?P<date>\d{4}-\d{2}-\d{2})|(?P<num>-?\d+(?:\.\d+)?)|(?P<op><=|>=|!=|<>|=|<|>|\(|\)|,)"
    r"|(?P<word>[A-Za-z_][\w.]*))"
)


class SoqlError(ValueError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class Query:
    fields: list[str]
    sobject: str
    where: Callable[[dict[str, Any]], bool]
    order: list[tuple[str, bool]]  # (field, descending)
    limit: int | None


def _tokens(text: str) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        m = TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise SoqlError("MALFORMED_QUERY", f"unexpected token at: {text[pos : pos + 20]}")
        pos = m.end()
        kind = m.lastgroup
        value = m.group(kind)  # type: ignore[arg-type]
        if kind == "str":
            out.append(("lit", re.sub(r"\\(.)", r"\1", value[1:-1])))
        elif kind == "dt":
            out.append(("lit", dt.datetime.fromisoformat(value.replace("Z", "+00:00"))))
        elif kind == "date":
            out.append(("lit", dt.date.fromisoformat(value)))
        elif kind == "num":
            out.append(("lit", float(value)))
        elif kind == "op":
            out.append(("op", "!=" if value == "<>" else value))
        else:
            upper = value.upper()
            if upper in {"TRUE", "FALSE"}:
                out.append(("lit", upper == "TRUE"))
            elif upper == "NULL":
                out.append(("lit", None))
            elif upper in {
                "SELECT",
                "FROM",
                "WHERE",
                "AND",
                "OR",
                "NOT",
                "ORDER",
                "BY",
                "LIMIT",
                "IN",
                "ASC",
                "DESC",
                "LIKE",
                "NULLS",
                "FIRST",
                "LAST",
            }:
                out.append(("kw", upper))
            else:
                out.append(("name", value))
    return out


def parse(text: str, fields_of: Callable[[str], set[str] | None]) -> Query:
    toks = _tokens(text)
    i = 0

    def peek(kind: str | None = None, value: Any = None) -> bool:
        if i >= len(toks):
            return False
        k, v = toks[i]
        return (kind is None or k == kind) and (value is None or v == value)

    def take(kind: str, value: Any = None) -> Any:
        nonlocal i
        if not peek(kind, value):
            got = toks[i][1] if i < len(toks) else "end of query"
            raise SoqlError("MALFORMED_QUERY", f"expecting {value or kind}, found {got!r}")
        i += 1
        return toks[i - 1][1]

    take("kw", "SELECT")
    fields = [take("name")]
    while peek("op", ","):
        take("op", ",")
        fields.append(take("name"))
    take("kw", "FROM")
    sobject = take("name")
    known = fields_of(sobject)
    if known is None:
        raise SoqlError("INVALID_TYPE", f"sObject type '{sobject}' is not supported.")

    def field(name: str) -> str:
        if name not in known:
            raise SoqlError("INVALID_FIELD", f"No such column '{name}' on entity '{sobject}'.")
        return name

    for f in fields:
        field(f)

    def literal() -> Any:
        return take("lit")

    def comparison() -> Callable[[dict[str, Any]], bool]:
        if peek("kw", "NOT"):
            take("kw", "NOT")
            inner = comparison()
            return lambda row: not inner(row)
        if peek("op", "("):
            take("op", "(")
            inner = disjunction()
            take("op", ")")
            return inner
        name = field(take("name"))
        if peek("kw", "IN"):
            take("kw", "IN")
            take("op", "(")
            values = [literal()]
            while peek("op", ","):
                take("op", ",")
                values.append(literal())
            take("op", ")")
            wanted = set(values)
            return lambda row: row.get(name) in wanted
        if peek("kw", "LIKE"):
            take("kw", "LIKE")
            pattern = re.compile(
                re.escape(str(literal())).replace("%", ".*").replace("_", "."), re.I
            )
            return lambda row: row.get(name) is not None and bool(pattern.fullmatch(str(row[name])))
        op = take("op")
        value = literal()
        return lambda row: _cmp(row.get(name), op, value)

    def conjunction() -> Callable[[dict[str, Any]], bool]:
        parts = [comparison()]
        while peek("kw", "AND"):
            take("kw", "AND")
            parts.append(comparison())
        return lambda row: all(p(row) for p in parts)

    def disjunction() -> Callable[[dict[str, Any]], bool]:
        parts = [conjunction()]
        while peek("kw", "OR"):
            take("kw", "OR")
            parts.append(conjunction())
        return lambda row: any(p(row) for p in parts)

    where: Callable[[dict[str, Any]], bool] = lambda row: True  # noqa: E731
    if peek("kw", "WHERE"):
        take("kw", "WHERE")
        where = disjunction()
    order: list[tuple[str, bool]] = []
    if peek("kw", "ORDER"):
        take("kw", "ORDER")
        take("kw", "BY")
        while True:
            name = field(take("name"))
            desc = False
            if peek("kw", "ASC") or peek("kw", "DESC"):
                desc = take("kw") == "DESC"
            order.append((name, desc))
            if not peek("op", ","):
                break
            take("op", ",")
    limit = None
    if peek("kw", "LIMIT"):
        take("kw", "LIMIT")
        limit = int(literal())
    if i != len(toks):
        raise SoqlError("MALFORMED_QUERY", f"unexpected {toks[i][1]!r}")
    return Query(fields, sobject, where, order, limit)


def _norm(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC)
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}T.*", value):
        try:
            return dt.datetime.fromisoformat(
                value.replace("Z", "+00:00").replace("+0000", "+00:00")
            )
        except ValueError:
            return value
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return dt.date.fromisoformat(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def _cmp(actual: Any, op: str, value: Any) -> bool:
    a, b = _norm(actual), _norm(value)
    if op == "=":
        return a == b
    if op == "!=":
        return a != b
    if a is None or b is None:
        return False
    try:
        return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]
    except TypeError:
        return False


def sort_key(order: list[tuple[str, bool]]) -> Callable[[dict[str, Any]], Any]:
    def key(row: dict[str, Any]) -> Any:
        return tuple(
            (row.get(f) is None, _norm(row.get(f)) if row.get(f) is not None else 0)
            for f, _ in order
        )

    return key
