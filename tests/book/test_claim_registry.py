"""The claim registry (induction_heads.book.claims): thresholds, verdict rules, margins and
sensitivity on cases with known answers, and the rules that keep every claim defined once."""

import ast
from pathlib import Path

import pytest

from induction_heads.book import claims
from induction_heads.book.checks import Claim
from induction_heads.book.claims import AFTER, BEFORE, ClaimDef, Reading, Threshold, verdict_counts, verdict_rule
from induction_heads.measure.intervals import Interval

LIB = Path(claims.__file__).resolve().parents[1]


def test_threshold_holds_and_margin_in_each_direction():
    assert Threshold(0.5, "at least", "paper").holds(0.5) and not Threshold(0.5, "above", "paper").holds(0.5)
    assert Threshold(0.2, "at most", "paper").holds(0.2) and not Threshold(0.2, "below", "paper").holds(0.2)
    assert not Threshold(0.5, "at least", "paper").holds(float("nan")) and not Threshold(0.5, "at most", "paper").holds(None)
    assert Threshold(0.5, "at least", "paper").margin(0.75) == pytest.approx(0.25)
    assert Threshold(0.2, "at most", "paper").margin(0.35) == pytest.approx(-0.15)
    assert Threshold(0.7, "at least", "paper").holds(Interval(0.71, 0.5, 0.9))  # an interval counts by its value


def test_a_book_threshold_says_when_it_was_chosen():
    with pytest.raises(ValueError, match="says when"):
        Threshold(0.5, "at least", "book")
    assert Threshold(0.5, "at least", "book", BEFORE, "X").source() == "the book's, chosen before the data (decisions log: 'X')"
    assert Threshold(0.5, "at least", "paper").source() == "the paper's"


def test_stable_range_is_the_neighbouring_readings():
    values = [0.1, 0.2, 0.3, 0.4, float("nan")]
    assert Threshold(0.25, "at least", "paper").stable_range(values) == (0.2, 0.3)
    assert Threshold(0.3, "at least", "paper").stable_range(values) == (0.2, 0.3)  # 0.3 holds at 0.3
    assert Threshold(0.3, "above", "paper").stable_range(values) == (0.3, 0.4)    # 0.3 fails "above 0.3"
    assert Threshold(0.05, "at most", "paper").stable_range(values) == (None, 0.1)
    # the knockout example of the issue: peaks 0.140 and 0.131 against a minimum rate of 0.15
    assert Threshold(0.15, "below", "paper").stable_range([0.140, 0.131, 0.66]) == (0.140, 0.66)


def test_near_flags_readings_within_ten_percent():
    t = Threshold(0.75, "above", "paper")
    assert t.near([0.746, 0.9, 0.5]) == [0.746]
    assert t.near([0.5, 0.9]) == []


def test_verdict_rule_counts():
    assert [verdict_rule(p, 4) for p in (4, 3, 2, 1, 0)] == ["reproduced", "partly", "partly", "differs", "differs"]
    assert verdict_rule(0, 0) == "not decided"
    assert verdict_counts(["reproduced", "reproduced", "not decided"]) == "reproduced"
    assert verdict_counts(["reproduced", "differs"]) == "partly"
    assert verdict_counts(["differs", "differs", "partly"]) == "differs"


def _share_claim(**kw):
    return ClaimDef("test.share", 1, "a window holds {threshold} of the ICL", paper="most of the ICL (more than 75%)",
                    reading="share", threshold=Threshold(0.5, "at least", "book", AFTER, "why"),
                    paper_threshold=Threshold(0.75, "above", "paper"), **kw)


def _checked(definition, values, size="small"):
    c = definition.open(size)
    for n, v in values.items():
        c.measure(n, v)
    return c


def test_a_verdict_is_judged_at_the_papers_threshold_with_the_margin_named():
    d = _share_claim()
    c = _checked(d, {"a": 0.94, "b": 0.746, "c": 0.81})
    assert c.failures == []  # the chapter's assertion (the book's 0.5) holds for all three
    assert c.verdict().startswith("PARTLY 3 of 3 models hold") and "at the paper's above 0.75: 2 of 3 (not b)" in c.verdict()
    v = d.verdict(c)
    assert v.verdict == "partly" and v.ours == "2/3 models; share 0.75 to 0.94" and v.key == "test.share"
    assert "fails for 1: b (0.75, 0.0040 short)" in v.why and "3/3 at the book's asserted at least 0.5" in v.why
    assert "the same verdict at any threshold between 0.75 and 0.81" in v.why and v.near_flip
    assert claims.range_text(None, 0.27) == "up to 0.27" and claims.range_text(0.14, None, ".3f") == "above 0.140"


def test_a_line_says_differs_when_its_verdict_row_does():
    """The chapter's assertion holds on every model, but most fail at the paper's threshold: the
    visible line's word is the verdict row's (DIFFERS), never PARTLY or PASS."""
    d = _share_claim()
    c = _checked(d, {"a": 0.6, "b": 0.7, "c": 0.9})
    assert c.failures == []
    assert c.verdict().startswith("DIFFERS 3 of 3 models hold") and "at the paper's above 0.75: 1 of 3 (not a, b)" in c.verdict()
    assert d.verdict(c).verdict == "differs"
    c.report()  # asserted at the book's 0.5: it does not stop the chapter


def test_deviations_count_in_the_denominator():
    d = ClaimDef("test.onset", 1, "starts in the window", paper="p", deviations=frozenset({"x"}))
    c = d.open("small")
    for n in ("a", "b", "c"):
        c.check(n, True)
    c.check("x", False)  # recorded as a deviation by the definition
    assert c.failures == [] and [i.name for i in c.items if i.deviation] == ["x"]
    assert c.verdict() == "PARTLY 3 of 4 models hold: starts in the window; 1 recorded deviation, checked to still fail: x"
    v = d.verdict(c)
    assert (v.verdict, v.ours) == ("partly", "3/4 models")


def test_most_failing_differs_and_a_failure_stops_the_chapter():
    d = _share_claim()
    c = _checked(d, {"a": 0.4, "b": 0.3, "c": 0.9})
    assert c.failures == ["a", "b"]
    with pytest.raises(AssertionError, match="FAIL 1 of 3"):
        c.report()
    assert d.verdict(c).verdict == "differs"


def test_sanity_and_reported_claims():
    s = ClaimDef("test.sanity", 1, "beats a uniform guess", paper="p", kind="sanity")
    c = s.open("small")
    c.check("a", True)
    assert c.verdict().startswith("SANITY CHECK, not evidence (PASS) 1 of 1")
    r = ClaimDef("test.reported", 1, "the paths turn", paper="p", kind="reported")
    c = r.open("small")
    c.check("a", True)
    assert r.verdict(c).verdict == "not decided" and r.verdict(c).why.startswith("reported, not asserted")


def test_at_a_smoke_size_nothing_is_judged():
    d = _share_claim()
    v = d.verdict(_checked(d, {"a": 0.1}, size="tiny"))
    assert v.verdict == "not judged at this size"


def test_evaluate_on_rows_uses_subjects_and_read():
    d = _share_claim(subjects=lambda rows: sorted(rows), read=lambda rows, n: Reading(rows[n]["s"], numbers={"k": 1}))
    c = d.evaluate("small", {"b": {"s": 0.8}, "a": {"s": 0.6}})
    assert [(i.name, i.ok, i.numbers["share"]) for i in c.items] == [("a", True, 0.6), ("b", True, 0.8)]
    assert d.margins(c) == ["test.share", "above 0.75 (the paper's)", "b", "0.80", "+0.05", "between 0.60 and 0.80", "yes"]


def test_a_key_is_registered_once():
    d = ClaimDef("test.once", 1, "s", paper="p")
    claims.register(d)
    claims.register(d)  # the same object again is harmless
    with pytest.raises(ValueError, match="defined twice"):
        claims.register(ClaimDef("test.once", 1, "s", paper="p"))
    del claims.REGISTRY["test.once"]


def test_no_threshold_is_defined_twice():
    """Two claims that judge with the same threshold share one Threshold object: two equal
    objects (value, direction, whose, when, why) defined apart are one threshold written twice."""
    objects = [t for d in claims.registered().values() for t in (d.threshold, d.paper_threshold) if t is not None]
    assert objects, "no threshold registered: the test would pass vacuously"
    distinct = {}
    for t in objects:
        distinct.setdefault(t, set()).add(id(t))
    twice = [t for t, ids in distinct.items() if len(ids) > 1]
    assert twice == [], f"defined twice: {twice}"


def test_no_threshold_constant_outside_the_registry():
    """A module-level number named like a threshold (``..._MIN``, ``..._MAX``, ``..._TOLERANCE``)
    in the book is a second definition beside the registry's Threshold objects."""
    suffixes = ("_MIN", "_MAX", "_TOLERANCE", "_MARGIN", "_CORNER", "MAX_PREFIX_MATCHING")
    found = []
    for path in sorted((LIB / "book").glob("*.py")):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, (ast.Assign, ast.AnnAssign)) and isinstance(getattr(node, "value", None), ast.Constant):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for t in targets:
                    if isinstance(t, ast.Name) and t.id.endswith(suffixes) and isinstance(node.value.value, float):
                        found.append(f"{path.name}:{t.id}")
    assert found == []


def test_every_registered_claim_has_a_paper_statement_and_a_known_kind():
    for key, d in claims.registered().items():
        assert d.paper and d.statement and d.kind in claims.KINDS, key
        assert key.split(".")[0] in {f"arg{i}" for i in range(7)} | {"methods"}, key
        if d.threshold is not None and d.threshold.chosen_by == "book":
            assert d.threshold.when in (BEFORE, AFTER), key


def test_a_departure_judged_not_asserted_never_stops_the_chapter():
    d = ClaimDef("test.departure", 1, "copies as a circuit does ({threshold})", paper="p", reading="top1",
                 threshold=Threshold(0.9, "at least", "book", BEFORE, "X"), asserted=False)
    c = _checked(d, {"a": 0.34, "b": 0.4, "c": 0.95})
    assert c.failures == ["a", "b"]
    assert c.verdict().startswith("DIFFERS (a departure the book judges, not asserts) 1 of 3 models hold")
    c.report()  # shown, not raised
    assert d.verdict(c).verdict == "differs"


def test_a_margin_that_rounds_to_zero_shows_its_digits():
    assert claims.fine(-0.004, ".2f", "+") == "-0.0040" and claims.fine(0.746, ".2f") == "0.75"
    assert claims.fine(0.0, ".2f", "+") == "+0.00" and claims.fine(0.14, ".3f") == "0.140"
    d = _share_claim()
    c = _checked(d, {"a": 0.746, "b": 0.9})
    assert "fails for 1: a (0.75, 0.0040 short)" in d.verdict(c).why
    assert d.margins(c)[3:5] == ["0.75", "-0.0040"]
