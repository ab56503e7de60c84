"""How the models come to exist: sizes and model names (``config``), the corpus, the tokenizer,
the token store and batches (``dataset``), the fast twin and its TransformerLens conversion
(``model``), the training loop (``train``) and the run store under ``data/`` (``runs``)."""
