"""Counting SQL statements for drivers that cannot: semicolons inside strings, quoted
names and comments do not end a statement."""

from __future__ import annotations

import pytest

from bdp.warehouse.base import QueryError, one_statement, split_statements


@pytest.mark.parametrize(
    ("sql", "statements"),
    [
        ("SELECT 1", ["SELECT 1"]),
        ("SELECT 1;", ["SELECT 1"]),
        ("  SELECT 1 ; ; ", ["SELECT 1"]),
        ("SELECT 1; SELECT 2", ["SELECT 1", "SELECT 2"]),
        ("SELECT ';' AS x", ["SELECT ';' AS x"]),
        ("SELECT 'it''s; fine'", ["SELECT 'it''s; fine'"]),
        ("SELECT 'a\\'; b'", ["SELECT 'a\\'; b'"]),
        ('SELECT "a;b" FROM t', ['SELECT "a;b" FROM t']),
        ("SELECT `a;``b` FROM t", ["SELECT `a;``b` FROM t"]),
        ("SELECT 1 -- a; b\n", ["SELECT 1 -- a; b"]),
        ("SELECT 1 # a; b", ["SELECT 1 # a; b"]),
        ("SELECT /* ; */ 1", ["SELECT /* ; */ 1"]),
        ("SELECT 1 /* unterminated ;", ["SELECT 1 /* unterminated ;"]),
        # MySQL reads `--` without a blank after it as two minus signs: two statements.
        ("SELECT 1--1; DROP TABLE t", ["SELECT 1--1", "DROP TABLE t"]),
        ("-- only a comment;", []),
        ("", []),
    ],
)
def test_statements_are_split_at_top_level_semicolons(sql: str, statements: list[str]) -> None:
    assert split_statements(sql) == statements


def test_one_statement_refuses_none_and_several() -> None:
    assert one_statement("SELECT 1;") == "SELECT 1"
    with pytest.raises(QueryError, match="no SQL statement"):
        one_statement(" ; -- nothing")
    with pytest.raises(QueryError, match="3 SQL statements"):
        one_statement("SELECT 1; SELECT 2; SELECT 3")
