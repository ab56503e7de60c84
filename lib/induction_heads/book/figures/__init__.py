"""The book's figures, in one house style (``style``: colours, the training-tokens axis, the
window band). Each function draws one figure from run-store data and returns it.

- ``common``: the figures of Arguments 1-3 and the methods chapter (ICL curves, loss heatmaps,
  prefix-matching and repeat curves, seed curves, loss curves, per-token-loss PCA, ablation grids), re-exported
  here: ``figures.icl_curves(...)``;
- ``argument3``: the referee's second round (the ICL score split by class, ablation methods and
  their control);
- ``argument4``, ``argument5``, ``argument6``: the figures of chapters 05, 06 and 07;
- ``attention``: attention views (a circuitsvis widget and its matplotlib twin).
"""

from . import argument3, argument4, argument5, argument6, attention, style
from .common import *  # noqa: F403
from .common import __all__ as _common

__all__ = ["argument3", "argument4", "argument5", "argument6", "attention", "style", *_common]
