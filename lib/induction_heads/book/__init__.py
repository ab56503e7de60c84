"""How chapters read the runs and decide the paper's claims.

What a chapter imports:

- ``chapter``: the set-up every chapter calls first, the single claim checks and the small
  :class:`Table`, and ``checks``: a claim checked on many models, one visible line with the
  per-model numbers folded under it (``book.claim``); both re-exported here, so a chapter starts
  with ``book.setup_chapter(size)``;
- ``argument1`` ... ``argument6``: one module per argument of the paper, with the readings a
  chapter computes from a zoo and the thresholds its claims assert (``argument4`` is chapter
  05's, and so on: chapter ``0k`` is Argument ``k - 1``);
- ``figures``: every figure, in one house style (a package: ``figures.icl_curves``,
  ``figures.argument4.head_attribution``, ``figures.attention.show_attention``, ...);
- ``tables`` and ``summary``: the sizes and the zoo, and the reproduction in one table
  (``python -m induction_heads summary``), with its intervals and the six verdicts;
- ``recipes``: the natural-code control set against the repeat recipe, claim by claim (Methods);
- ``copying``: why the induction heads copy weakly, the copying diagnostics read on a run and on
  the hand-built circuit, and the recipe's facts (passes over the training split, memorisation);
- ``live``: the live mode of Argument 1 (train a model inside the chapter and watch it);
- ``pretrained`` and ``pythia``: the online paths (a pretrained model for Argument 4, Pythia's
  public checkpoints for Argument 6), off in the rendered book.

Apart from what chapters import: ``build``, which executes the chapters and builds the site
(``make book``, ``make chapters``, ``make sync``).
"""

from .chapter import (DEFAULT_SIZE, ParameterError, Table, check, check_claim, check_deviation, ensure_data, in_colab,
                      setup_chapter, validate_live)
from . import claims
from .checks import Claim, Verdict, claim, verdict_table

# Every argument module registers its claims when imported: importing the book registers them all
# (induction_heads.book.claims.registered).
from . import argument1, argument2, argument3, argument4, argument4_kept, argument5, argument6, recipes, referee  # noqa: E402,F401

__all__ = ["DEFAULT_SIZE", "ParameterError", "Table", "check", "check_claim", "check_deviation", "ensure_data",
           "in_colab", "setup_chapter", "validate_live", "Claim", "claim", "Verdict",
           "verdict_table", "claims"]
