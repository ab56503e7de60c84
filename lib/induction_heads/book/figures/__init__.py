"""The book's figures, in one house style (``style``: colours, the training-tokens axis, the
window band; ``palette``: the colours themselves). Each function draws one figure from run-store
data and returns it. One module per chapter:

- ``methods``: chapter 01 (the zoo in training, the two recipes side by side);
- ``argument1``: chapter 02 (ICL, prefix-matching, previous-token and repeat curves, loss
  heatmaps, the loss bump, the per-token-loss PCA, a text's loss change, the seeds' curves and
  onsets), several of them drawn again by chapters 03 and 07;
- ``argument2``: chapter 03 (loss heatmaps of each control beside its interventions);
- ``argument3``: chapter 04 (the ablation grid, the ablation methods beside their control, the ICL
  score split by class);
- ``argument4``, ``argument5``, ``argument6``: chapters 05, 06 and 07;
- ``attention``: attention views (a circuitsvis widget and its matplotlib twin);
- ``thumbnails``: the introduction's verdict-strip thumbnails (``hero_thumbnails``: a miniature of
  the hero of Arguments 1, 2, 5 and 6, drawn by the hero's own drawing function; ``claim_thumbnail``:
  a claim's readings against its threshold, for Arguments 3 and 4) and those readings full size
  (``claim_readings``, the hero of Arguments 3 and 4).

The figures the chapters call without their module's name (``figures.icl_curves(...)``) are
imported here by name.
"""

from . import argument1, argument2, argument3, argument4, argument5, argument6, attention, methods, palette, style, thumbnails
from .argument1 import (icl_curves, loss_curves, loss_heatmaps, onset_spread, pca_trajectories, prefix_matching_curves,
                        repeat_curves, seed_curves, token_loss_strip)
from .argument2 import loss_heatmap_pairs
from .argument3 import ablation_grid
from .argument5 import repeat_loss_profiles
from .methods import RECIPE_COLORS, recipe_pairs, training_curves

__all__ = [
    "methods", "argument1", "argument2", "argument3", "argument4", "argument5", "argument6", "attention", "palette",
    "style", "thumbnails",
    "icl_curves", "loss_heatmaps", "prefix_matching_curves", "repeat_curves", "loss_curves", "pca_trajectories",
    "token_loss_strip", "onset_spread", "seed_curves", "loss_heatmap_pairs", "ablation_grid", "repeat_loss_profiles",
    "RECIPE_COLORS", "recipe_pairs", "training_curves",
]
