"""Value helpers shared by the ODCS mappers (pure)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import ValidationError

from contracts.spec import FieldSpec


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def plain(value: Any) -> Any:
    """YAML turns unquoted dates into date objects; the output must stay JSON-serializable."""
    return value.isoformat() if isinstance(value, date | datetime) else value


def probe(ftype: str, **attrs: Any) -> str | None:
    """Validate one rule the way ContractSpec will, so a bad rule is dropped, not fatal."""
    try:
        FieldSpec.model_validate({"name": "probe", "type": ftype, **attrs})
    except ValidationError as exc:
        return str(exc.errors(include_url=False)[0]["msg"])
    return None
