"""The benchmark's output: aligned text tables for the terminal, Markdown for docs/performance.md,
and the issue's targets with a verdict each (met, missed by how much, or not measured and why)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

__all__ = ["Report", "Table", "Target"]


@dataclass
class Table:
    """A titled table of strings; ``note`` lines are printed under it."""

    title: str
    headers: Sequence[str]
    rows: list[list[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, *cells: object) -> None:
        """Append one row; raises ValueError when its width differs from the headers'."""
        if len(cells) != len(self.headers):
            raise ValueError(f"row has {len(cells)} cells, table {self.title!r} has {len(self.headers)} columns")
        self.rows.append([str(c) for c in cells])

    def to_text(self) -> str:
        """Return the table as aligned monospace text (numbers right-aligned)."""
        widths = [max(len(h), *(len(r[i]) for r in self.rows)) if self.rows else len(h)
                  for i, h in enumerate(self.headers)]

        def line(cells: Sequence[str]) -> str:
            parts = []
            for i, cell in enumerate(cells):
                numeric = i > 0 and cell[:1].isdigit()
                parts.append(cell.rjust(widths[i]) if numeric else cell.ljust(widths[i]))
            return "  ".join(parts).rstrip()

        out = [self.title, "=" * len(self.title), line(self.headers), line(["-" * w for w in widths])]
        out += [line(r) for r in self.rows]
        out += [f"  {n}" for n in self.notes]
        return "\n".join(out)

    def to_markdown(self) -> str:
        """Return the table as GitHub Markdown with its notes as a list below it."""

        def esc(cell: str) -> str:
            return cell.replace("|", "\\|")

        out = [f"### {self.title}", "", "| " + " | ".join(esc(h) for h in self.headers) + " |",
               "|" + "|".join("---" if i == 0 else "---:" for i in range(len(self.headers))) + "|"]
        out += ["| " + " | ".join(esc(c) for c in r) + " |" for r in self.rows]
        if self.notes:
            out.append("")
            out += [f"- {n}" for n in self.notes]
        return "\n".join(out)


@dataclass(frozen=True)
class Target:
    """One target of the issue: ``measured`` compared with ``limit`` (``at_most`` or at least)."""

    name: str
    limit: float
    unit: str
    measured: float | None = None
    at_most: bool = True
    why_missing: str = ""
    best: float | None = None  # the best run, shown beside the median (useful on a loaded machine)

    @property
    def met(self) -> bool | None:
        """Return True/False, or None when the figure was not measured."""
        if self.measured is None:
            return None
        return self.measured <= self.limit if self.at_most else self.measured >= self.limit

    def verdict(self) -> str:
        """Return ``met``, ``MISSED by N %`` or ``not measured: reason``."""
        if self.measured is None:
            return f"not measured: {self.why_missing or 'part skipped'}"
        if self.met:
            return "met"
        if self.limit == 0:
            return "MISSED"
        off = abs(self.measured - self.limit) / self.limit * 100
        return f"MISSED by {off:.0f} %"

    def row(self) -> list[str]:
        """Return the cells: name, target, measured, verdict."""
        sign = "≤" if self.at_most else "≥"
        measured = "—" if self.measured is None else f"{self.measured:.2f} {self.unit}".strip()
        if self.measured is not None and self.best is not None:
            measured += f" (best run {self.best:.2f})"
        return [self.name, f"{sign} {self.limit:g} {self.unit}".strip(), measured, self.verdict()]


@dataclass
class Report:
    """Every table of one benchmark run, plus the targets table built from them."""

    header: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)

    def targets_table(self) -> Table:
        """Return the targets as a table (name, target, measured, verdict)."""
        table = Table("Targets of issue 8", ["target", "limit", "measured (median)", "verdict"])
        for target in self.targets:
            table.add(*target.row())
        return table

    def to_text(self) -> str:
        """Return the whole report for the terminal."""
        parts = ["\n".join(self.header)] + [t.to_text() for t in self.tables]
        if self.targets:
            parts.append(self.targets_table().to_text())
        return "\n\n".join(parts) + "\n"

    def to_markdown(self) -> str:
        """Return the whole report as Markdown (pasted into docs/performance.md)."""
        parts = ["\n".join(f"- {h}" for h in self.header)] + [t.to_markdown() for t in self.tables]
        if self.targets:
            parts.append(self.targets_table().to_markdown())
        return "\n\n".join(parts) + "\n"
