"""The hand-built 2-layer induction circuit the tests use as a known answer; it lives in the
library (:mod:`induction_heads.handbuilt`) because the Argument 5 chapter shows it too."""

from induction_heads.handbuilt import (  # noqa: F401
    C,
    D_HEAD,
    D_MODEL,
    G,
    J,
    JUNK,
    N,
    OUT,
    POS,
    PREV,
    TOK,
    V,
    handbuilt_bridge,
    handbuilt_weights,
    repeated_tokens,
)
