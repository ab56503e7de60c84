"""A claim checked on several models prints one verdict line and folds the per-model lines."""

from html import escape

import pytest

from induction_heads import book


def test_all_pass_gives_one_pass_line_with_the_count(capsys):
    with book.claim("small", "the second copy costs less") as c:
        c.check("a", True, loss=1.0)
        c.check("b", True, loss=2.0)
    assert c.verdict() == "PASS 2 of 2 models hold: the second copy costs less"
    assert c.lines()[1:] == ["  PASS a (loss=1.000)", "  PASS b (loss=2.000)"]
    html = c._repr_html_()
    assert html.startswith('<details class="ih-check"><summary>PASS 2 of 2 models') and "PASS b (loss=2.000)" in html
    assert repr(c).splitlines()[0] == c.verdict()


def test_a_failure_is_named_and_stops_the_chapter_after_showing_the_lines():
    with pytest.raises(AssertionError, match=r"FAIL 1 of 2 models hold: x; fails for b"):
        with book.claim("small", "x") as c:
            c.check("a", True)
            c.check("b", False, share=0.2)
    assert c.items[1].line() == "FAIL b (share=0.200)"


def test_a_recorded_deviation_must_still_fail():
    c = book.claim("small", "heads in the last layer")
    c.check("a", True)
    c.deviation("d", False, per_layer="0 1 2 0")
    assert c.verdict() == ("PARTLY 1 of 2 models hold: heads in the last layer; 1 recorded deviation, checked to still fail: d")
    c.report()  # passes: the deviation still fails
    c.deviation("e", True)
    with pytest.raises(AssertionError, match="recorded as a deviation but now met, rewrite the text: e"):
        c.report()


def test_a_smoke_size_asserts_nothing_and_says_so():
    with book.claim("tiny", "forms an induction head") as c:
        c.check("a", False, share=0.2)
        c.check("b", True)
        c.deviation("d", False)
    verdict = c.verdict()
    assert verdict.startswith("not judged at size 'tiny'") and "tests the pipeline, not the science" in verdict
    assert "1/2 models would hold" in verdict and verdict.endswith(": forms an induction head")
    assert c.lines()[1:] == ["  would not hold at this size: a (share=0.200)", "  would hold: b",
                             "  would not hold at this size: d"]
    html = c._repr_html_()
    assert f"<summary>{escape(verdict)}</summary>" in html and "would not hold at this size: a" in html  # folded under it
    assert not any(w in "\n".join(c.lines()) + html for w in ("FAIL", "PASS", "DEVIATION", "NOT ASSERTED"))
    assert book.claim("small", "nothing to check").verdict() == "NONE: nothing to check (no models of this size to check)"


def test_verdict_tables_take_only_registered_claims():
    from induction_heads.book import argument1

    d = argument1.CLAIMS["loss-bump"]
    c = d.open("small")
    c.check("a", True)
    table = book.verdict_table([d.verdict(c)])
    assert table.header == ["the paper", "ours", "verdict"] and table.rows[0][2].startswith("reproduced")
    with pytest.raises(ValueError, match="not produced by a registered claim"):
        book.verdict_table([book.Verdict("typed by hand", "1/1", "reproduced", "why")])
    with pytest.raises(ValueError, match="verdict must be one of"):
        book.Verdict("p", "o", "maybe", "w")
    tiny = d.open("tiny")
    tiny.check("a", False)
    row = d.verdict(tiny)
    assert row.verdict == "not judged at this size" and "pipeline, not the science" in row.why


def test_value_range_leaves_out_missing_numbers():
    from induction_heads.book.checks import value_range

    assert value_range([0.5, None, float("nan"), 1.25]) == "0.50 to 1.25"
    assert value_range([None]) == "-" and value_range([2.0, 2.0]) == "2.00"


def test_a_number_with_its_interval_prints_and_counts_by_its_value():
    from induction_heads.book.checks import value_range
    from induction_heads.measure.intervals import Interval

    c = book.claim("small", "x")
    c.check("a", True, share=Interval(0.8, 0.7, 0.9), n=3)
    assert c.items[0].line() == "PASS a (share=0.800 [0.700, 0.900], n=3)"
    assert value_range([Interval(0.8, 0.7, 0.9), 0.5, Interval(float("nan"), 0.0, 1.0)]) == "0.50 to 0.80"
    assert value_range([i.numbers["share"] for i in c.items]) == "0.80"


def test_a_number_given_as_text_shows_without_an_exponent():
    from induction_heads.book.chapter import claim_line

    assert claim_line("bridge", {"max_abs_difference": "8.6e-06", "k": "nan"}) == "bridge (max_abs_difference=8.6\u00d710\u207b\u2076, k=none)"
