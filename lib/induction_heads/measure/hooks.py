"""Hook names, TransformerLens' vocabulary for activations: every analysis names the activation it
reads or patches through :func:`hook_name` (``hook_name("pattern", 1)`` is
``"blocks.1.attn.hook_pattern"``), never by formatting the string itself."""

from __future__ import annotations

__all__ = ["hook_name"]


def hook_name(kind: str, layer: int) -> str:
    """TransformerLens' name of activation ``kind`` (``"pattern"``, ``"z"``, ``"resid_pre"``, ...)
    in ``layer``: its own ``get_act_name``, imported on first use (TransformerLens is slow to
    import, and importing it draws tqdm's notebook warning before a chapter has set up)."""
    from transformer_lens.utilities import get_act_name

    return get_act_name(kind, layer)
