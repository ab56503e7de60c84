"""What the paper measures, as functions of tensors, models and TransformerLens bridges:

- ``metrics``: the ICL score, prefix-matching, previous-token and copying scores, the paper's
  repeated-random-token evaluator;
- ``phase``: phase-change windows, the loss bump, per-token-loss vectors and their PCA;
- ``circuits``: weight-based circuit statistics (OV eigenvalue positivity, K-composition);
- ``ablation``: head ablations (pattern-preserving and full) and the before-and-after projection;
- ``heads``: head classes (induction, previous-token) and their thresholds;
- ``repeats``: the repeat test (a random sequence or a held-out passage shown again);
- ``attribution``: direct-path logit attribution; ``recall``: lag curves; ``fuzzy``: fuzzy
  matching; ``translation``: attention along a translation; ``patterns``: the pattern task
  (Argument 4);
- ``scaling``: Argument 6's comparisons across sizes and the onset law;
- ``intervals``: bootstrap intervals and seed spreads;
- ``copying``: why copying fails (the winners of the repeat test's misses, copying by frequency,
  the full OV map over the vocabulary, the induction heads' output scaled by a gain);
- ``handbuilt``: the hand-built induction circuit, every metric's known answer;
- ``hooks``: hook names; ``recorder``: every measurement at one training snapshot.

Nothing here imports the engine or the book: models, evaluation sets and token pools come in as
arguments."""
