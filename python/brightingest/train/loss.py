"""Causal-LM loss on labelled positions only, without materialising ``[T, vocab]`` logits.

The decoder's hidden states are gathered at the positions whose *next* token is a target, and
``lm_head`` + cross-entropy run on those rows only, in chunks whose logits are recomputed in the
backward pass (activation checkpointing per chunk). With a 150k vocabulary and ~30% trained
tokens, this is the difference between ~10 GB of fp32 logits and a few hundred MB. When
``liger-kernel`` is installed (CUDA), its fused linear cross-entropy does the same in one kernel.

Models whose head does more than a linear layer (logit soft-capping, logit scaling) use the
model's own forward instead (:func:`supports_fused_head`).
"""

from __future__ import annotations

import importlib.util
from typing import Any

import torch
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint

__all__ = ["labelled_loss_sum", "supports_fused_head"]

_CHUNK = 4096
_HEAD_EXTRAS = ("final_logit_softcapping", "logit_scale", "logits_scaling", "output_multiplier")


def supports_fused_head(causal_lm: Any) -> bool:
    """Whether ``causal_lm``'s logits are exactly ``lm_head(decoder(x))``."""
    cfg = getattr(causal_lm, "config", None)
    for name in _HEAD_EXTRAS:
        value = getattr(cfg, name, None)
        if value not in (None, 1, 1.0):
            return False
    return callable(getattr(causal_lm, "get_decoder", None)) and (
        causal_lm.get_output_embeddings() is not None
    )


def _chunk_ce(head: torch.nn.Module, hidden: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    logits = head(hidden).float()
    return F.cross_entropy(logits, targets, reduction="sum")


def _liger_loss(head: torch.nn.Module, hidden: torch.Tensor, targets: torch.Tensor) -> Any:
    if hidden.device.type != "cuda" or type(head) is not torch.nn.Linear:
        return None
    if importlib.util.find_spec("liger_kernel") is None:
        return None
    from liger_kernel.transformers import LigerFusedLinearCrossEntropyLoss

    fn = LigerFusedLinearCrossEntropyLoss(reduction="sum")
    return fn(head.weight, hidden, targets, head.bias)


def labelled_loss_sum(
    causal_lm: Any,
    input_ids: torch.Tensor,
    position_ids: torch.Tensor,
    label_mask: torch.Tensor,
    *,
    attention_mask: torch.Tensor | None = None,
    fused: bool = True,
    **model_kwargs: Any,
) -> torch.Tensor:
    """Summed cross-entropy over the tokens where ``label_mask`` is true.

    Token ``t`` is predicted from position ``t - 1``; ``label_mask[:, 0]`` is ignored (the
    tokenizer never marks a conversation's first token).

    Args:
        causal_lm: A ``transformers`` causal LM (possibly with PEFT layers injected).
        input_ids: ``[B, L]`` token ids.
        position_ids: ``[B, L]`` positions.
        label_mask: ``[B, L]`` booleans.
        attention_mask: ``[B, L]`` padding mask, or ``None`` for packed rows.
        fused: Gather + chunked head (else the model's full-logits forward).
        **model_kwargs: Passed to the model (the packing boundaries).

    Returns:
        A scalar: the summed loss (divide by the target count of the optimizer step).
    """
    sel = label_mask[:, 1:]
    targets = input_ids[:, 1:][sel]
    if not fused:
        out = causal_lm(
            input_ids=input_ids,
            position_ids=position_ids,
            attention_mask=attention_mask,
            use_cache=False,
            **model_kwargs,
        )
        logits = out.logits[:, :-1][sel].float()
        return F.cross_entropy(logits, targets, reduction="sum")
    decoder = causal_lm.get_decoder()
    hidden = decoder(
        input_ids=input_ids,
        position_ids=position_ids,
        attention_mask=attention_mask,
        use_cache=False,
        **model_kwargs,
    ).last_hidden_state
    picked = hidden[:, :-1][sel]
    head = causal_lm.get_output_embeddings()
    fused_out = _liger_loss(head, picked, targets)
    if fused_out is not None:
        as_tensor: torch.Tensor = torch.as_tensor(fused_out)
        return as_tensor
    total: torch.Tensor = picked.new_zeros((), dtype=torch.float32)
    for start in range(0, picked.shape[0], _CHUNK):
        h = picked[start : start + _CHUNK]
        t = targets[start : start + _CHUNK]
        if torch.is_grad_enabled() and h.requires_grad:
            part: torch.Tensor = checkpoint(_chunk_ce, head, h, t, use_reentrant=False)
            total = total + part
        else:
            whole: torch.Tensor = _chunk_ce(head, h, t)
            total = total + whole
    return total
