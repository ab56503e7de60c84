"""Induction Heads, reproduced: the helper library of the book.

Three packages: :mod:`induction_heads.engine` (corpus, tokenizer, models, training, run store),
:mod:`induction_heads.measure` (the paper's measurements; imports neither of the others) and
:mod:`induction_heads.book` (what the chapters call). ``python -m induction_heads`` is the
command line over all three (:mod:`induction_heads.cli`). Apart from them,
:mod:`induction_heads.publish` turns the chapters into the site and checks it (``make book``).
"""

__version__ = "0.1.0"
