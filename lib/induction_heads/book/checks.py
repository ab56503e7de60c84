"""A claim of the paper checked on several models: one visible verdict line, the per-model numbers
folded under it; and the table of verdicts an argument chapter ends with.

A chapter checks most claims once per model. Printed one line a model, a chapter's few verdicts
drown in dozens of PASS lines; here each claim prints **one** visible line with its verdict, the
count and the claim (``PASS 14/14 models: the second copy costs less than the first``), and the
per-model lines with every number they rest on in a collapsed block under it (an HTML
``<details>``, which the book, Jupyter and Colab render; the plain-text output that nbval compares
holds every line). Failures and recorded deviations are named in the visible line::

    with book.claim(size, "a phase-change window holds at least half of the final ICL") as c:
        for n in models:
            c.check(n, share >= 0.5, share_in_window=share, final_icl=icl)

At a size that asserts the paper's claims (``small``, ``base``) a failing model stops the chapter
after the lines are shown; at a smoke size (``tiny``) nothing is judged: the visible line says that
the size tests the pipeline, not the science, and the per-model lines say *would hold* or *would
not hold at this size* in place of PASS and FAIL.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Sequence

from IPython.display import display

from ..engine.config import get_size
from ..measure.intervals import Interval
from . import claims
from .chapter import NOT_JUDGED, PIPELINE_ONLY, Table, claim_line, smoke_line, would_hold

__all__ = ["Claim", "ClaimItem", "claim", "VERDICTS", "Verdict", "value_range", "verdict_table"]


@dataclass(frozen=True)
class ClaimItem:
    """One model's check of a claim: its verdict and the numbers it rests on."""

    name: str
    ok: bool
    numbers: dict
    deviation: bool = False  # recorded as not holding: asserted to still fail

    @property
    def tag(self) -> str:
        if self.deviation:
            return "MET" if self.ok else "DEVIATION"
        return "PASS" if self.ok else "FAIL"

    def line(self, judged: bool = True) -> str:
        """``TAG name (numbers)``; at a size that judges no claim (``judged=False``) the tag is
        :func:`~induction_heads.book.chapter.would_hold`'s words instead."""
        return f"{self.tag if judged else would_hold(self.ok) + ':'} {claim_line(self.name, self.numbers)}"


@dataclass
class Claim:
    """A claim checked on several models (``unit``); see the module docstring."""

    size: str
    claim: str
    unit: str = "models"
    items: list[ClaimItem] = field(default_factory=list)
    definition: object = None  # the registered ClaimDef (induction_heads.book.claims) this checks, if any

    def check(self, name: str, ok: bool, **numbers: float) -> None:
        """Record ``name``'s check of the claim with the numbers it rests on (a model the claim's
        definition records among its deviations is recorded as one)."""
        if self.definition is not None and name in self.definition.deviations:
            self.deviation(name, ok, **numbers)
            return
        self.items.append(ClaimItem(name, bool(ok), numbers))

    def measure(self, name: str, value, **numbers: float) -> None:
        """Record ``name``'s reading ``value`` of a registered claim: it holds when the value meets
        the definition's asserted threshold; the value is kept under the definition's reading."""
        d = self.definition
        if d is None or d.threshold is None:
            raise ValueError(f"measure() needs a registered claim with a threshold: {self.claim!r}")
        self.check(name, d.threshold.holds(value), **{d.reading: value, **numbers})

    def deviation(self, name: str, ok: bool, **numbers: float) -> None:
        """Record a model for which the claim was measured *not* to hold (the decisions log says
        so): it is asserted to still fail, so that new data meeting it stops the chapter and its
        text, which says it fails, is rewritten."""
        self.items.append(ClaimItem(name, bool(ok), numbers, deviation=True))

    @property
    def asserted(self) -> bool:
        """Whether this size asserts the paper's claims (not at the ``tiny`` smoke size)."""
        return get_size(self.size).checks_claims

    @property
    def regular(self) -> list[ClaimItem]:
        return [i for i in self.items if not i.deviation]

    @property
    def failures(self) -> list[str]:
        """Models that fail the claim, and recorded deviations that now meet it."""
        return [i.name for i in self.items if i.ok == i.deviation]

    @property
    def kind(self) -> str:
        """``evidence``, ``sanity`` or ``reported`` (the definition's; evidence without one)."""
        return getattr(self.definition, "kind", "evidence")

    def verdict(self) -> str:
        """The visible line: how many of the models checked hold, how many deviate, and the claim.
        PASS only when every model checked holds (at the paper's threshold too, where the claim
        has one); PARTLY when the chapter's assertion holds but recorded deviations or the paper's
        threshold leave some models out, DIFFERS when they leave most out (a registered claim's line says
        its verdict row's word); FAIL when the assertion fails. A sanity check says so."""
        total = len(self.items)
        if not self.items:
            return f"NONE: {self.claim} (no {self.unit} of this size to check)"
        held = sum(i.ok for i in self.regular)
        if not self.asserted:
            line = smoke_line(self.size, f"{held}/{len(self.regular)} {self.unit} would hold", self.claim)
            return {"sanity": "SANITY CHECK, not evidence: ", "reported": "REPORTED, not asserted: "}.get(self.kind, "") + line
        if self.kind == "reported":
            return f"REPORTED, not asserted ({total} {self.unit}): {self.claim.removeprefix('reported, not asserted: ')}"
        fails = [i.name for i in self.regular if not i.ok]
        met = [i.name for i in self.items if i.deviation and i.ok]
        devs = [i.name for i in self.items if i.deviation and not i.ok]
        d = self.definition
        paper = d.paper_threshold if d is not None else None
        paper_fails = [i.name for i in self.regular if i.ok and paper is not None
                       and not paper.holds(i.numbers.get(d.reading))]
        tag = "FAIL" if fails or met else "PARTLY" if devs or paper_fails else "PASS"
        if tag == "PARTLY" and d is not None and claims.verdict_rule(held - len(paper_fails), total) == "differs":
            tag = "DIFFERS"  # the verdict row's word: most models fail at the threshold it is judged at
        if d is not None and not d.asserted and tag == "FAIL":  # judged, not asserted: the verdict's word
            tag = "DIFFERS" if 2 * len(fails) > total else "PARTLY"
            tag += " (a departure the book judges, not asserts)"
        if self.kind == "sanity":
            tag = f"SANITY CHECK, not evidence ({tag})"
        line = f"{tag} {held} of {total} {self.unit} hold: {self.claim}"
        if paper_fails:
            line += (f"; at the paper's {paper.text()}: {total - len(paper_fails) - len(devs) - len(fails)} of "
                     f"{total} (not {', '.join(paper_fails)})")
        if fails:
            line += f"; fails for {', '.join(fails)}"
        if met:
            line += f"; recorded as a deviation but now met, rewrite the text: {', '.join(met)}"
        if devs:
            line += f"; {len(devs)} recorded deviation{'s' if len(devs) > 1 else ''}, checked to still fail: {', '.join(devs)}"
        return line

    def lines(self) -> list[str]:
        """The verdict line, then one line per model."""
        return [self.verdict(), *("  " + i.line(self.asserted) for i in self.items)]

    def __repr__(self) -> str:
        return "\n".join(self.lines())

    def _repr_html_(self) -> str:
        rows = html.escape("\n".join(i.line(self.asserted) for i in self.items))
        return (f'<details class="ih-check"><summary>{html.escape(self.verdict())}</summary>'
                f'<pre class="ih-check-lines">{rows}</pre></details>')

    def report(self) -> None:
        """Show the claim (visible line and folded lines); raise ``AssertionError`` with the
        visible line if a model fails at a size that asserts claims."""
        display(self)
        asserted = getattr(self.definition, "asserted", True)
        if self.asserted and self.failures and self.kind != "reported" and asserted:
            raise AssertionError(self.verdict())

    def __enter__(self) -> "Claim":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.report()


def claim(size: str, claim: str, unit: str = "models") -> Claim:
    """A :class:`Claim` to check on several models inside a ``with`` block."""
    return Claim(size, claim, unit)


# ------------------------------------------------------------------ a chapter's closing table

VERDICTS = ("reproduced", "partly", "differs", "not decided", NOT_JUDGED)


@dataclass(frozen=True)
class Verdict:
    """One row of an argument chapter's closing table: the paper's statement, our number with the
    models it covers, and the verdict (:data:`VERDICTS`) with one line of why."""

    paper: str
    ours: str
    verdict: str
    why: str
    key: str = ""  # the registered claim (induction_heads.book.claims) the row judges
    near_flip: bool = False  # a model sits within 10% of the threshold the row is judged at

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}, got {self.verdict!r}")


def value_range(values: Sequence[float | None], fmt: str = ".2f", empty: str = "-") -> str:
    """``lo to hi`` of some numbers (one number once), or ``empty`` for none; None and NaN are
    left out (a model without the quantity, e.g. no copying onset); a number with its interval
    counts by its value. The book's one range format:
    the verdict tables and the reproduction-in-one-table use it."""
    v = [float(x.value if isinstance(x, Interval) else x) for x in values if x is not None]
    v = [x for x in v if x == x]
    if not v:
        return empty
    lo, hi = min(v), max(v)
    return f"{lo:{fmt}}" if f"{lo:{fmt}}" == f"{hi:{fmt}}" else f"{lo:{fmt}} to {hi:{fmt}}"


def verdict_table(rows: Sequence[Verdict]) -> Table:
    """A chapter's closing table: one row per claim, each produced by a registered claim
    (:meth:`induction_heads.book.claims.ClaimDef.verdict`; a row whose key is not in the registry
    is refused: no verdict is typed by hand)."""
    known = claims.registered()
    stray = [r.paper for r in rows if r.key not in known]
    if stray:
        raise ValueError(f"verdict rows not produced by a registered claim: {stray}")
    return Table(["the paper", "ours", "verdict"], [[r.paper, r.ours, f"{r.verdict}: {r.why}"] for r in rows])
