"""The claim registry: every claim the book judges, defined once.

A :class:`ClaimDef` holds what a referee needs to read a verdict: the paper's statement (quoted,
with where the paper makes it), the threshold the paper gives where it gives one, the threshold
the book asserts where it had to choose one, with *when* it was chosen (before or after the data
were seen) and the decisions-log entry that says why, the models it covers, and whether it is
evidence, a sanity check (it cannot fail on a trained model, so it never counts toward a verdict)
or a reported number (no statement to judge). Chapter check lines, the chapters' verdict tables,
the introduction's six verdicts and Methods' two-recipe table all evaluate these objects:

    SHARE_IN_WINDOW = register(ClaimDef(
        "arg1.share-in-window", 1, "a phase-change window holds {threshold} of the final ICL",
        paper="...", where="Argument 1", reading="share_in_window",
        threshold=Threshold(0.5, "at least", "book", BEFORE, "..."),
        paper_threshold=Threshold(0.75, "above", "paper")))

    with SHARE_IN_WINDOW.open(size) as c:          # one visible line, the models folded under it
        for n in models:
            c.measure(n, share[n], final_icl=icl[n])
    SHARE_IN_WINDOW.verdict(c)                     # the chapter's verdict row

The verdict rules (:meth:`ClaimDef.verdict`): a claim is *reproduced* only when it holds at the
paper's threshold (the book's, where the paper gives none) on every model it covers, recorded
deviations counted in the denominator; *differs* when it fails on most of them; *partly*
otherwise, naming what fails and by how much. Every verdict on a numeric threshold carries the
range of thresholds over which it stays the same (:meth:`Threshold.stable_range`) and a flag
when a model sits within 10% of the threshold (:data:`NEAR_FLIP`).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Callable, Iterable, Literal, Mapping, Sequence

from ..measure.intervals import Interval
from . import checks
from .chapter import NOT_JUDGED, PIPELINE_ONLY, Table

__all__ = ["Direction", "Threshold", "ClaimDef", "Reading", "REGISTRY", "register", "registered", "BEFORE", "AFTER",
           "NEAR_FLIP", "KINDS", "MARGIN_COLUMNS", "margins_table", "range_text", "claims_of", "number", "verdict_counts", "verdict_rule"]

Direction = Literal["at least", "above", "at most", "below"]
BEFORE, AFTER = "before the data", "after the data"
# A verdict "flips near its threshold" when a model's number lies within this share of the threshold.
NEAR_FLIP = 0.1
# A verdict's why names at most this many failing models (then "and k more").
MAX_NAMED = 6
# evidence counts toward a verdict; a sanity check cannot fail on any trained model and is printed
# apart; a reported number has no statement the book judges ("not decided").
KINDS = ("evidence", "sanity", "reported")


def number(x) -> float:
    """A reading as a float: an :class:`Interval` by its value, None as NaN."""
    if x is None:
        return math.nan
    return float(x.value if isinstance(x, Interval) else x)


@dataclass(frozen=True)
class Threshold:
    """A number a reading is compared with: it *holds* when the reading is ``direction`` ``value``
    (a NaN reading never holds). ``chosen_by``: the paper (its own figure) or the book; the book's
    carry ``when`` they were chosen (:data:`BEFORE` or :data:`AFTER` the data were seen) and the
    decisions-log entry that says why (``decision``, its heading)."""

    value: float
    direction: Direction
    chosen_by: Literal["paper", "book"]
    when: str | None = None
    decision: str = ""

    def __post_init__(self) -> None:
        if self.direction not in ("at least", "above", "at most", "below"):
            raise ValueError(f"direction must be 'at least', 'above', 'at most' or 'below', got {self.direction!r}")
        if self.chosen_by == "book" and self.when not in (BEFORE, AFTER):
            raise ValueError(f"a threshold the book chose says when: {BEFORE!r} or {AFTER!r}, got {self.when!r}")

    def holds(self, x) -> bool:
        v = number(x)
        if v != v:
            return False
        return {"at least": v >= self.value, "above": v > self.value,
                "at most": v <= self.value, "below": v < self.value}[self.direction]

    def margin(self, x) -> float:
        """How far ``x`` lies on the holding side of the threshold (negative: on the failing side)."""
        v = number(x)
        return v - self.value if self.direction in ("at least", "above") else self.value - v

    def text(self, fmt: str = "g") -> str:
        return f"{self.direction} {self.value:{fmt}}"

    def source(self) -> str:
        """Whose threshold it is, in words: ``the paper's`` or ``the book's, chosen before the data
        (decisions log: '...')``."""
        if self.chosen_by == "paper":
            return "the paper's"
        return f"the book's, chosen {self.when}" + (f" (decisions log: '{self.decision}')" if self.decision else "")

    def stable_range(self, values: Iterable) -> tuple[float | None, float | None]:
        """The neighbouring readings around the threshold: for every threshold strictly between
        them, exactly the same readings hold as at :attr:`value` (None: no reading on that side,
        the range is open). NaN readings fail at every threshold and are left out."""
        v = [x for x in map(number, values) if x == x]
        t = self.value
        if self.direction in ("at least", "below"):  # the threshold itself sits on the upper side
            lower, upper = [x for x in v if x < t], [x for x in v if x >= t]
        else:
            lower, upper = [x for x in v if x <= t], [x for x in v if x > t]
        return (max(lower) if lower else None, min(upper) if upper else None)

    def near(self, values: Iterable, share: float = NEAR_FLIP) -> list[float]:
        """The readings within ``share`` of the threshold (relative to its size): the ones whose
        verdict a small change of the threshold would flip."""
        scale = abs(self.value) or 1.0
        return [x for x in map(number, values) if x == x and abs(x - self.value) <= share * scale]


@dataclass(frozen=True)
class Reading:
    """One subject's reading of a claim evaluated on summary rows: the number compared with the
    claim's threshold (``value``) or, for a claim without one, whether it holds (``ok``), and the
    numbers shown beside it."""

    value: object = None
    ok: bool | None = None
    numbers: dict = field(default_factory=dict)


@dataclass(frozen=True)
class ClaimDef:
    """One claim of the book (see the module docstring).

    ``statement`` is what each model is checked for, as the check line prints it; ``{threshold}``
    in it is replaced by the asserted threshold's words. ``paper`` is the paper's statement (the
    verdict row's first column) and ``where`` where the paper makes it. ``reading`` names the
    number the threshold applies to (a key of the numbers each check records). ``threshold`` is the
    one the chapter asserts (a model that fails it stops the chapter, unless recorded in
    ``deviations``); ``paper_threshold`` the paper's where it differs: the verdict is judged at the
    paper's. ``subjects`` and ``read`` (optional) evaluate the claim on summary rows
    (:meth:`evaluate`), so the introduction and the chapters count it on the same models."""

    key: str
    argument: int  # 0: Methods, 1-6: the paper's arguments
    statement: str
    paper: str
    where: str = ""
    reading: str | None = None
    threshold: Threshold | None = None
    paper_threshold: Threshold | None = None
    kind: str = "evidence"
    unit: str = "models"
    deviations: frozenset[str] = frozenset()
    fmt: str = ".2f"
    note: str = ""  # one line a verdict adds (e.g. why a number above 1 is possible)
    # False: a known departure the book judges but does not assert (its check line says how many
    # hold and never stops the chapter; the verdict counts it like any claim)
    asserted: bool = True
    subjects: Callable[[Mapping[str, dict]], list[str]] | None = None
    read: Callable[[Mapping[str, dict], str], Reading] | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")
        if (self.threshold or self.paper_threshold) and not self.reading:
            raise ValueError(f"{self.key}: a claim with a threshold names the reading it applies to")
        if self.paper_threshold is not None and self.paper_threshold.chosen_by != "paper":
            raise ValueError(f"{self.key}: paper_threshold must be the paper's")

    # -------------------------------------------------------------- thresholds

    @property
    def judged_at(self) -> Threshold | None:
        """The threshold a verdict is judged at: the paper's where it gives one, else the book's."""
        return self.paper_threshold or self.threshold

    def claim_text(self) -> str:
        """The check line's statement, its threshold in words."""
        return self.statement.replace("{threshold}", self.threshold.text() if self.threshold else "")

    # -------------------------------------------------------------- checking

    def open(self, size: str):
        """A :class:`~induction_heads.book.checks.Claim` of this definition, to fill with
        :meth:`~induction_heads.book.checks.Claim.measure` (or ``check``) inside a ``with`` block."""
        return checks.Claim(size, self.claim_text(), self.unit, definition=self)

    def evaluate(self, size: str, rows: Mapping[str, dict], subjects: Sequence[str] | None = None):
        """The claim checked on summary rows (``subjects``: default :attr:`subjects` of ``rows``),
        without showing it: the :class:`~induction_heads.book.checks.Claim` the chapter shows and the
        introduction counts."""
        if self.read is None:
            raise ValueError(f"{self.key} is judged in its chapter only; it has no reading over summary rows")
        c = self.open(size)
        for s in (self.subjects(rows) if subjects is None else subjects):
            r = self.read(rows, s)
            if r.ok is None:
                c.measure(s, r.value, **r.numbers)
            else:
                c.check(s, r.ok, **r.numbers)
        return c

    def check(self, size: str, rows: Mapping[str, dict], subjects: Sequence[str] | None = None):
        """:meth:`evaluate`, shown as the chapter's check line (one visible line, the models folded),
        and asserted at a size that judges claims; returns the checked claim for :meth:`verdict`."""
        c = self.evaluate(size, rows, subjects)
        c.report()
        return c

    # -------------------------------------------------------------- the verdict

    def verdict(self, claim, why: str = ""):
        """The verdict row (:class:`~induction_heads.book.checks.Verdict`) of this claim checked as
        ``claim``, by the rules of the module docstring; ``why`` adds a sentence."""
        Verdict, value_range = checks.Verdict, checks.value_range
        items = claim.items
        values = [i.numbers.get(self.reading) for i in items] if self.reading else []
        ours = f"{len(items)} {self.unit}"
        if self.reading and values:
            ours += f"; {self.reading} {value_range(values, self.fmt)}"
        if not claim.asserted:
            return Verdict(self.paper, ours, NOT_JUDGED, f"size {claim.size!r} {PIPELINE_ONLY}", key=self.key)
        if self.kind == "reported" or not items:
            return Verdict(self.paper, ours, "not decided",
                           "; ".join(filter(None, ["reported, not asserted" if items else f"no {self.unit} to check",
                                                   self.note, why])), key=self.key)
        t = self.judged_at
        held = [t.holds(i.numbers.get(self.reading)) if t is not None and self.reading in i.numbers else
                (i.ok and not i.deviation) for i in items]
        passed, total = sum(held), len(held)
        verdict = verdict_rule(passed, total)
        ours = f"{passed}/{total} {self.unit}" + ours[len(f"{len(items)} {self.unit}"):]
        parts = []
        if t is not None:
            parts.append(f"judged at {t.source()} {t.text()}")
            if self.threshold is not None and t is not self.threshold:
                asserted = sum(i.ok and not i.deviation for i in items)
                parts.append(f"{asserted}/{total} at the book's asserted {self.threshold.text()}")
        fails = [i for i, h in zip(items, held) if not h]
        if fails:
            def short(i) -> str:
                v = i.numbers.get(self.reading) if self.reading else None
                if t is None or v is None or number(v) != number(v):
                    return ""
                return f" ({fine(number(v), self.fmt)}, {fine(abs(t.margin(v)), self.fmt)} short)"
            named = [i.name + short(i) + (" (recorded deviation)" if i.deviation else "") for i in fails[:MAX_NAMED]]
            more = f" and {len(fails) - MAX_NAMED} more" if len(fails) > MAX_NAMED else ""
            parts.append(f"fails for {len(fails)}: " + ", ".join(named) + more)
        if t is not None and values:
            lo, hi = t.stable_range(values)
            parts.append(f"the same verdict at any threshold {range_text(lo, hi, self.fmt)}")
            if t.near(values):
                parts.append(f"near its threshold: {len(t.near(values))} reading{'s' if len(t.near(values)) > 1 else ''} "
                             f"within {NEAR_FLIP:.0%} of {t.value:g}")
        if not fails:
            parts.append(f"holds for every {self.unit.rstrip('s')} checked")
        parts += [self.note, why]
        return Verdict(self.paper, ours, verdict, "; ".join(p for p in parts if p), key=self.key,
                       near_flip=bool(t is not None and values and t.near(values)))

    def margins(self, claim) -> list:
        """One row of a chapter's margins table for this claim checked as ``claim`` (empty without a
        numeric threshold or readings): the threshold the verdict is judged at (whose, when), the
        model nearest to it with its reading and signed margin (positive: on the holding side), the
        range of thresholds over which the verdict stays the same, and whether a model sits within
        :data:`NEAR_FLIP` of it."""
        t = self.judged_at
        named = [(i.name, i.numbers.get(self.reading)) for i in claim.items if self.reading in i.numbers]
        named = [(n, v) for n, v in named if number(v) == number(v)]
        if t is None or not named:
            return []
        name, v = min(named, key=lambda nv: abs(t.margin(nv[1])))
        lo, hi = t.stable_range([v for _, v in named])
        return [self.key, f"{t.text()} ({t.source().split(' (')[0]})", name, fine(number(v), self.fmt),
                fine(t.margin(v), self.fmt, "+"), range_text(lo, hi, self.fmt),
                "yes" if t.near([v for _, v in named]) else "no"]


MARGIN_COLUMNS = ["claim", "judged at", "nearest model", "its reading", "margin", "same verdict for thresholds",
                  f"a model within {NEAR_FLIP:.0%}"]


def _shown(x, fmt: str) -> str:
    v = number(x)
    return "nan" if v != v else f"{v:{fmt}}"


def fine(x: float, fmt: str, sign: str = "") -> str:
    """``x`` in ``fmt``, with up to two more decimals where ``fmt`` would round a nonzero number to
    zero (a margin of ``-0.004`` never shows as ``-0.00``)."""
    text = f"{x:{sign}{fmt}}"
    m = re.fullmatch(r"\.(\d+)f", fmt.lstrip(",+"))
    if m and x and float(text.replace(",", "")) == 0:
        text = f"{x:{sign}.{int(m.group(1)) + 2}f}"
    return text


def range_text(lo: float | None, hi: float | None, fmt: str = ".2f") -> str:
    """:meth:`Threshold.stable_range` in words: ``between 0.75 and 0.77``, ``up to 0.27`` (no
    reading below), ``above 0.140`` (none above), ``whatever its value`` (no reading)."""
    if lo is None and hi is None:
        return "whatever its value"
    if lo is None:
        return f"up to {hi:{fmt}}"
    if hi is None:
        return f"above {lo:{fmt}}"
    return f"between {lo:{fmt}} and {hi:{fmt}}"


def verdict_rule(passed: int, total: int) -> str:
    """*reproduced* when every covered model holds, *differs* when most fail (more than half),
    *partly* between; *not decided* with none."""
    if total == 0:
        return "not decided"
    if passed == total:
        return "reproduced"
    return "differs" if (total - passed) * 2 > total else "partly"


def verdict_counts(verdicts: Sequence[str]) -> str:
    """An argument's verdict from its evidence claims' verdicts: *reproduced* when all are,
    *differs* when most differ, *partly* between (the claims not decided left out)."""
    decided = [v for v in verdicts if v in ("reproduced", "partly", "differs")]
    if not decided:
        return "not decided"
    if all(v == "reproduced" for v in decided):
        return "reproduced"
    return "differs" if sum(v == "differs" for v in decided) * 2 > len(decided) else "partly"


# ------------------------------------------------------------------ the registry

REGISTRY: dict[str, ClaimDef] = {}


def register(definition: ClaimDef) -> ClaimDef:
    """Add a claim to :data:`REGISTRY` (its key once: a second definition is an error)."""
    if definition.key in REGISTRY and REGISTRY[definition.key] is not definition:
        raise ValueError(f"claim {definition.key!r} is defined twice")
    REGISTRY[definition.key] = definition
    return definition


def registered() -> dict[str, ClaimDef]:
    """Every claim of the book: the argument modules define them when they are imported, and the
    book package imports every one of them (``induction_heads/book/__init__.py``)."""
    return dict(REGISTRY)


def claims_of(argument: int, kind: str | None = "evidence") -> list[ClaimDef]:
    """The registered claims of one argument (of one ``kind``; None: every kind), in definition order."""
    return [d for d in registered().values() if d.argument == argument and (kind is None or d.kind == kind)]


def margins_table(checked: Sequence[tuple[ClaimDef, object]]):
    """A chapter's margins table: :meth:`ClaimDef.margins` of each (definition, checked claim) pair
    that has a numeric threshold."""
    return Table(MARGIN_COLUMNS, [row for d, c in checked if (row := d.margins(c))])
