"""Custom row-level expression rules, written in SQL and run by polars (no Python eval)."""

from __future__ import annotations

from typing import Any


def compile_expression(expr: str) -> Any:
    """Parse `expr` into a polars expression; raise ValueError with the parser's message."""
    import polars as pl

    if "\x00" in expr:
        raise ValueError("expression contains a NUL character")
    try:
        return pl.sql_expr(expr)
    except Exception as exc:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
        raise ValueError(f"expression does not parse: {message}") from None


def referenced_columns(expr: str) -> list[str]:
    return list(compile_expression(expr).meta.root_names())
