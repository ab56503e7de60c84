"""Publishing the book, apart from its content (:mod:`induction_heads.book`): what turns the
chapters into the site and checks the site as a reader gets it.

- :mod:`~induction_heads.publish.build`: papermill once per chapter and size with its cache, the
  per-size pages, figure captions, the Colab cell, Jupyter Book and the finished HTML
  (``python -m induction_heads.publish.build book|chapters|html|sync|sizes``; ``make book``,
  ``make chapters``, ``make sync``);
- :mod:`~induction_heads.publish.check_site`: every page of the built site in headless Chromium
  (``make check-site``);
- :mod:`~induction_heads.publish.check_colab`: the "Open in Colab" path end to end without Colab
  (``make check-colab``).

It imports the book and the engine; neither imports it.
"""
