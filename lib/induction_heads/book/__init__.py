"""How chapters read the runs: chapter set-up and claim checks (``chapter``, re-exported here so a
chapter starts with ``book.setup_chapter(size)``), tables, analyses over a zoo (``analysis``),
the reproduction in one table (``summary``), figures in one style (``figures``,
``circuit_figures``), attention views (``viz``) and the build (``build``)."""

from .chapter import (DEFAULT_SIZE, ParameterError, Table, check, check_claim, check_deviation, ensure_data, in_colab,
                      setup_chapter, validate_live)

__all__ = ["DEFAULT_SIZE", "ParameterError", "Table", "check", "check_claim", "check_deviation", "ensure_data",
           "in_colab", "setup_chapter", "validate_live"]
