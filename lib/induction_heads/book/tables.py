"""The book's tables: the sizes, the zoo, the runs, and the reproduction next to the paper."""

from __future__ import annotations

import html
from typing import NamedTuple, Sequence

import matplotlib.pyplot as plt

from ..engine.config import MODEL_NAMES, SIZES, get_size, model_config, parse_model_name
from ..engine.runs import available_runs
from ..engine.zoo import Zoo
from ..measure.phase import PhaseWindow
from IPython.display import HTML

from . import argument1, argument3, claims
from .figures.thumbnails import claim_thumbnail, hero_thumbnails, png_data_uri
from .argument1 import COPYING_REACHED
from .chapter import NOT_JUDGED, PIPELINE_ONLY, Table
from .checks import value_range
from .summary import PAPER, seed_spreads

__all__ = ["sizes_table", "zoo_table", "run_summary", "summary_table", "paper_vs_ours", "window_text", "window_span", "window_cells",
           "disagreements", "range_with_intervals", "seed_table", "ARGUMENTS", "ArgumentVerdict", "argument_verdicts",
           "argument_verdict_table", "verdict_strip"]


def sizes_table() -> Table:
    """Every size's tokenizer, model width, context and training recipe."""

    rows = []
    for p in SIZES.values():
        t = p.train
        rows.append([p.name, p.vocab_size, p.n_ctx, p.d_model, p.n_heads, p.d_head, p.d_mlp,
                     t.batch_size, t.total_steps, f"{t.batch_size * t.total_steps * p.n_ctx:,}",
                     f"{t.lr:g}", t.schedule, f"{t.repeat_frac:.0%}"])
    return Table(["size", "vocab", "n_ctx", "d_model", "heads", "d_head", "d_mlp", "batch", "steps",
                  "tokens", "lr", "schedule", "repeated windows"], rows)


def zoo_table(size: str) -> Table:
    """The zoo's models: their architecture in ``size``, and whether this build has trained them."""

    done = set(available_runs(size))
    rows = []
    for name in MODEL_NAMES:
        c = model_config(size, name)
        n = parse_model_name(name)
        rows.append([name, c.n_layers, c.d_model, "no" if c.attn_only else "yes", "yes" if c.smeared_key else "no",
                     ", ".join(filter(None, (n.variant, *n.recipes))) or "-", c.seed, "yes" if name in done else "no"])
    return Table(["model", "layers", "d_model", "MLPs", "smeared keys", "variant", "seed", "trained"], rows)


def run_summary(zoo: Zoo) -> Table:
    """One row per run of the zoo: its length and its final loss and ICL score."""
    rows = []
    for name, run in zoo.items():
        m = run.trajectory
        rows.append([name, int(m["step"][-1]), f"{int(m['tokens'][-1]):,}", float(m["train_loss"][-1]),
                     float(m["icl_score"][-1])])
    return Table(["model", "steps", "tokens", "final train loss", "final ICL score"], rows)


# ------------------------------------------------------------------ the reproduction in one table

def _fmt_range(values: list[float | None], fmt: str = "+.2f") -> str:
    return value_range(values, fmt, empty="none")


def value_ci(row: dict, key: str, fmt: str) -> str:
    """A summary row's ``key`` as ``value [lo, hi]`` (its ``key_ci``, if the row has one), or
    ``none`` when the row has no such number."""
    v = row.get(key)
    if v is None or v != v:
        return "none"
    ci = row.get(key + "_ci")
    return f"{v:{fmt}}" + ("" if ci is None else f" [{ci[0]:{fmt}}, {ci[1]:{fmt}}]")


def range_with_intervals(rows: Sequence[dict], key: str, fmt: str = "+.2f") -> str:
    """The smallest and the largest value of ``key`` over ``rows``, each with its 95% interval
    (``key + "_ci"``, where the summary has one): ``-0.97 [-1.02, -0.92] to -0.60 [-0.65, -0.55]``;
    one value once; ``none`` without values."""
    have = [r for r in rows if r.get(key) is not None and r[key] == r[key]]
    if not have:
        return "none"
    lo, hi = min(have, key=lambda r: r[key]), max(have, key=lambda r: r[key])
    first, last = value_ci(lo, key, fmt), value_ci(hi, key, fmt)
    return first if first == last else f"{first} to {last}"


def window_text(start: float | None, end: float | None, digits: int = 1) -> str:
    """A phase-change window in millions of tokens (``1.2M-4.2M``), or ``none``."""
    return "none" if start is None or end is None else f"{start / 1e6:.{digits}f}M-{end / 1e6:.{digits}f}M"


def window_span(window: PhaseWindow | None, digits: int = 1) -> str:
    """:func:`window_text` of a window (``none`` for None)."""
    return window_text(*((window.start, window.end) if window is not None else (None, None)), digits=digits)


def window_cells(window: PhaseWindow | None, fields: Sequence[str] = ("start", "end", "peak")) -> list[str]:
    """Table cells of a window's ``fields`` in tokens (``1,218,560``), or ``none`` in each."""
    return ["none"] * len(fields) if window is None else [f"{getattr(window, f):,.0f}" for f in fields]


def summary_table(rows: dict[str, dict]) -> Table:
    """``induction_heads.book.summary.summary`` as a table, one row per model."""
    def window(r):
        w = r["phase_change_window"] or {}
        return window_text(w.get("start"), w.get("end"))

    def opt(v):
        return "-" if v is None else v

    return Table(
        ["model", "final ICL", "ICL before window", "window (tokens)", "ICL in window", "max prefix",
         "induction heads", "bump", "ICL removed by ablation"],
        [[n, r["icl_score_final"], opt(r["icl_score_before_window"]), window(r), opt(r["icl_share_in_window"]),
          r["max_prefix_matching_score"], ", ".join(r["induction_heads"]) or "none", "yes" if r["loss_bump"] else "no",
          opt(r.get("ablation_icl_fraction_removed"))] for n, r in rows.items()],
    )


def paper_vs_ours(rows: dict[str, dict]) -> Table:
    """The paper's headline numbers beside ours (ranges over the models they concern: plain
    models, the co-perturbation experiment's interventions left out). A mean over samples is
    printed with its 95% bootstrap interval (``value [lo, hi]``, :func:`range_with_intervals`);
    readings of the curve over training (the window, the ICL before it and the share in it) and
    counts are printed without one."""

    plain = {n: r for n, r in rows.items() if n in set(argument1.plain(rows))}  # interventions are Argument 2's
    deep = {n: r for n, r in plain.items() if r["layers"] >= 2 and not r["smeared_key"]}
    one = {n: r for n, r in plain.items() if r["layers"] == 1 and not r["smeared_key"]}
    attn_deep = {n: r for n, r in deep.items() if r["attn_only"]}
    windows = [r["phase_change_window"] for r in deep.values() if r["phase_change_window"]]
    return Table(
        ["quantity", "models", "paper", "ours"],
        [
            ["ICL score before the window", "2+ layers", PAPER["icl_score_before_window"],
             _fmt_range([r["icl_score_before_window"] for r in deep.values()])],
            ["final ICL score", "2+ layers", PAPER["icl_score_final"], range_with_intervals(list(deep.values()), "icl_score_final")],
            ["final ICL score", "1 layer", PAPER["icl_score_final"], range_with_intervals(list(one.values()), "icl_score_final")],
            ["fraction of final ICL gained in the window", "2+ layers", PAPER["icl_share_in_window"],
             _fmt_range([r["icl_share_in_window"] for r in deep.values()], ".2f")],
            ["phase-change window", "2+ layers", PAPER["phase_change_window"],
             "none" if not windows else f"starts {_fmt_range([w['start'] / 1e6 for w in windows], '.1f')}M, "
             f"ends {_fmt_range([w['end'] / 1e6 for w in windows], '.1f')}M tokens"],
            ["max prefix-matching score", "2+ layers", PAPER["max_prefix_matching_score"],
             range_with_intervals(list(deep.values()), "max_prefix_matching_score", ".2f")],
            ["max prefix-matching score", "1 layer", PAPER["max_prefix_matching_score"],
             range_with_intervals(list(one.values()), "max_prefix_matching_score", ".2f")],
            ["loss bump", "2+ layers", PAPER["loss_bump"], f"{sum(r['loss_bump'] for r in deep.values())} of {len(deep)}"],
            ["loss bump", "1 layer", PAPER["loss_bump"], f"{sum(r['loss_bump'] for r in one.values())} of {len(one)}"],
            ["ICL removed by ablating induction heads (zero ablation, the paper's)", "2+ layers, attention-only",
             PAPER["ablation_icl_fraction_removed"],
             range_with_intervals(list(attn_deep.values()), "ablation_icl_fraction_removed", ".2f")],
            ["ICL removed by ablating induction heads (mean ablation, which decides)", "2+ layers, attention-only",
             PAPER["ablation_icl_fraction_removed"],
             range_with_intervals(list(attn_deep.values()), "ablation_icl_fraction_removed_mean", ".2f")],
            ["top-1 on repeated random tokens (copies 2-4)", "2+ layers", PAPER["repeat_top1"],
             range_with_intervals(list(deep.values()), "repeat_top1", ".2f")],
            ["copying score of the induction heads", "2+ layers", PAPER["copying_score"],
             _fmt_range([c for r in deep.values() for c in (r.get("copying_score_induction_heads") or [])], "+.2f")],
            ["top-1 on a held-out passage's second copy", "2+ layers", PAPER["passage_top1_second_copy"],
             range_with_intervals(list(deep.values()), "passage_top1_second_copy", ".2f")],
        ],
    )


def disagreements(verdicts: Sequence[ArgumentVerdict], rows: dict[str, dict]) -> list[str]:
    """One sentence for each claim of the six verdicts (:func:`argument_verdicts`) that is not
    *reproduced*: its argument, the paper's statement, our verdict, our count and why (the rules'
    words: what fails, by how much, and the thresholds over which the verdict holds). The copying
    claim's sentence adds the induction heads' copying score against the paper's positive one."""
    out = []
    for a in verdicts:
        for v in a.rows:
            if v.verdict in ("reproduced", NOT_JUDGED, "not decided"):
                continue
            sentence = f"{a.name}. {v.paper}: {v.verdict} ({v.ours}); {v.why}."
            if v.key == "arg1.copies":
                scores = [c for n in argument1.deep_plain(rows) for c in (rows[n].get("copying_score_induction_heads") or [])]
                if scores:
                    sentence += (f" The induction heads' copying score is {_fmt_range(scores, '+.2f')} (the paper: positive): see Argument 5's 'Why the "
                                 "heads copy weakly'.")
            out.append(sentence)
    return out


def seed_table(rows: dict[str, dict]) -> Table:
    """One row per model trained with several seeds (:func:`induction_heads.book.summary.seed_spreads`):
    the median and the range over its seeds of the window's start, the final ICL score, the
    largest prefix-matching score and the repeat test."""
    def cell(entry: dict, key: str, fmt: str, scale: float = 1.0, unit: str = "") -> str:
        s = entry.get(key)
        if s is None:
            return "none"
        f = lambda v: f"{v / scale:{fmt}}{unit}"  # noqa: E731
        return f"{f(s['median'])} ({f(s['lo'])} to {f(s['hi'])})" + ("" if s["n"] == len(entry["seeds"]) else f", {s['n']} with one")

    return Table(["model", "seeds", "window start", "final ICL", "max prefix matching", "repeat top-1"],
                 [[family, len(e["seeds"]), cell(e, "window_start", ".2f", 1e6, "M"), cell(e, "icl_score_final", "+.2f"),
                   cell(e, "max_prefix_matching_score", ".2f"), cell(e, "repeat_top1", ".2f")]
                  for family, e in seed_spreads(rows).items()])


# ------------------------------------------------------------------ the six verdicts

# Each argument's name (its chapter's title, the one name the book uses for it), its chapter and
# the paper's claim in it.
ARGUMENTS: tuple[tuple[str, str, str], ...] = (
    ("Argument 1: the phase change", "02_argument1_phase_change",
     "Induction heads form in a phase change, when models with two or more layers gain most of their in-context "
     "learning, with a bump in the loss; one-layer models have neither"),
    ("Argument 2: smeared keys move the phase change", "03_argument2_smeared_keys",
     "Letting induction heads form in one layer (smeared keys) moves the phase change with them; without "
     "K-composition or induction attention (the referee's tests) neither forms"),
    ("Argument 3: knocking out induction heads removes in-context learning", "04_argument3_ablation",
     "Ablating the induction heads removes almost all of the in-context learning of small attention-only models"),
    ("Argument 4: induction heads beyond literal copying", "05_argument4_abstract",
     "Induction heads copy: they carry most of the gain on a repeated passage, and match fuzzy repeats"),
    ("Argument 5: how an induction head works", "06_argument5_mechanism",
     "A two-layer attention-only model forms the induction circuit (a head that prefix-matches and copies)"),
    ("Argument 6: from small to large models", "07_argument6_continuity",
     "Models of every size have the phase change; in attention-only models the induction heads sit in the last layer"),
)


class ArgumentVerdict(NamedTuple):
    """One argument's verdict for the introduction: its evidence claims checked on the summary rows
    (:class:`~induction_heads.book.checks.Verdict` rows, each from a registered claim), the claims
    only its chapter can check (their keys), and the verdict they add up to."""

    name: str
    chapter: str
    paper: str
    rows: list  # [Verdict] of the claims read here
    chapter_only: list[str]
    verdict: str
    checked: list  # [(ClaimDef, Claim)]: each claim read here, as checked

    @property
    def lead(self):
        """The claim the front page draws: the first one read here with a numeric threshold and a
        reading, else the first one read here (None without any)."""
        numeric = [(d, c) for d, c in self.checked if d.judged_at is not None and c.items]
        return (numeric or [(d, c) for d, c in self.checked if c.items] or [None])[0]

    @property
    def near_flip(self) -> list[str]:
        return [v.key for v in self.rows if v.near_flip]


def argument_verdicts(size: str, rows: dict[str, dict]) -> list[ArgumentVerdict]:
    """The six verdicts: every registered evidence claim of each argument
    (:func:`induction_heads.book.claims.claims_of`) that reads summary rows, checked on ``rows``
    with the rules of :mod:`induction_heads.book.claims` (the same definitions, thresholds and
    models its chapter checks), and the argument's verdict from theirs
    (:func:`~induction_heads.book.claims.verdict_counts`: *reproduced* when all are). At a size
    that judges no claim, every verdict is *not judged at this size*."""
    out = []
    for i, (name, chapter, paper) in enumerate(ARGUMENTS, start=1):
        defs = claims.claims_of(i)
        read = [d for d in defs if d.read is not None and d.subjects(rows)]
        checked = [(d, d.evaluate(size, rows)) for d in read]
        verdicts = [d.verdict(c) for d, c in checked]
        judged = get_size(size).checks_claims
        verdict = claims.verdict_counts([v.verdict for v in verdicts]) if judged else NOT_JUDGED
        out.append(ArgumentVerdict(name, chapter, paper, verdicts, [d.key for d in defs if d.read is None], verdict,
                                   checked))
    return out


def argument_verdict_table(verdicts: Sequence[ArgumentVerdict]) -> Table:
    """The introduction's table: one row per argument, each claim not reproduced named with its
    count, and the claims whose verdict would flip within 10% of its threshold."""
    def why(a: ArgumentVerdict) -> str:
        if a.verdict == NOT_JUDGED:
            return PIPELINE_ONLY
        parts = [f"{v.paper.split(' (')[0]}: {v.verdict} ({v.ours.split(';')[0]})" for v in a.rows if v.verdict != "reproduced"]
        if a.near_flip:
            parts.append(f"near its threshold: {', '.join(a.near_flip)}")
        if a.chapter_only:
            parts.append(f"checked in the chapter only: {', '.join(a.chapter_only)}")
        return "; ".join(parts) or "every claim read here holds on every model"
    return Table(["argument", "the paper's claim", "claims read here", "verdict"],
                 [[a.name, a.paper, f"{sum(v.verdict == 'reproduced' for v in a.rows)} of {len(a.rows)} reproduced",
                   f"{a.verdict}: {why(a)}"] for a in verdicts])


def verdict_strip(verdicts: Sequence[ArgumentVerdict], size: str | None = None):
    """The six verdicts as a strip of cards (HTML for the front page), each with its badge, a
    thumbnail and a link to its chapter. With ``size``, the thumbnail of Arguments 1, 2, 5 and 6
    is a miniature of the chapter's hero figure drawn from that size's runs
    (:func:`induction_heads.book.figures.thumbnails.hero_thumbnails`); otherwise, and for
    Arguments 3 and 4 (whose hero is those readings), the readings its lead claim is judged on
    (:func:`induction_heads.book.figures.thumbnails.claim_thumbnail`)."""
    heroes = {} if size is None else hero_thumbnails(size)
    cards = []
    for i, a in enumerate(verdicts, start=1):
        lead = a.lead
        if i in heroes:
            fig = heroes.pop(i)
            img = (f'<img class="ih-verdict-thumb" src="{png_data_uri(fig)}" '
                   f'alt="{html.escape(fig.get_label())}">')
        else:
            img = "" if lead is None else (
                f'<img class="ih-verdict-thumb" src="{png_data_uri(claim_thumbnail(*lead))}" '
                f'alt="{html.escape(lead[0].claim_text())}: each model against the threshold">')
        title = "" if lead is None else f' title="{html.escape(lead[0].claim_text())}"'
        cards.append(f'<a class="ih-verdict" href="{a.chapter}.html"{title}><span class="ih-badge '
                     f'ih-badge-{a.verdict.split()[0]}">{html.escape(a.verdict)}</span>'
                     f'<span class="ih-verdict-title">{html.escape(a.name)}</span>{img}</a>')
    for fig in heroes.values():  # an argument this list does not hold: closed, not leaked
        plt.close(fig)
    return HTML(f'<div class="ih-verdict-strip">{"".join(cards)}</div>')
