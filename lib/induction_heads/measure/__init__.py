"""What the paper measures, as functions of tensors, models and TransformerLens bridges: the ICL
score and head scores (``metrics``), phase-change windows and per-token-loss analyses
(``phase``), weight-based circuit statistics (``circuits``), head ablations (``ablation``), head
classes (``heads``), the hand-built induction circuit (``handbuilt``), bootstrap intervals (``intervals``) and the
per-snapshot recorder (``recorder``). Nothing here imports the engine or the book: models, evaluation sets and
token pools come in as arguments."""
