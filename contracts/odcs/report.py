"""What an ODCS import tells its caller: the error that stops it, the report of what it did."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field


class OdcsImportError(ValueError):
    """The document cannot be imported at all; `path` names the offending ODCS element."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path


@dataclass
class ImportReport:
    """What the import carried over (`source -> target`) and what it dropped, with reasons."""

    mapped: list[str] = field(default_factory=list)
    ignored: list[dict[str, str]] = field(default_factory=list)

    def note_mapped(self, source: str, target: str, note: str | None = None) -> None:
        self.mapped.append(f"{source} -> {target}" + (f" ({note})" if note else ""))

    def note_ignored(self, path: str, reason: str) -> None:
        self.ignored.append({"path": path, "reason": reason})

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)
