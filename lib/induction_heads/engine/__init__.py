"""How the models come to exist: sizes and model names (``config``), the corpus (``corpus``), the
tokenizer (``tokenizer``), the token store and batches (``dataset``), the fast twin and its
TransformerLens conversion (``model``), the training loop (``train``), the store's checksummed
bytes (``store``), the run store's layout and readers under ``data/`` (``runs``) and a run as one
typed object (``zoo``: :class:`~induction_heads.engine.zoo.Run`, its
:class:`~induction_heads.engine.zoo.Trajectory`, a :class:`~induction_heads.engine.zoo.Zoo`)."""
