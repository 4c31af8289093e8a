"""Attention for packed sequences: conversations in one row never attend to each other.

One attention function is registered with ``transformers``' ``AttentionInterface`` under
:data:`ATTN_NAME`; the model is loaded with ``attn_implementation=ATTN_NAME``. Because no mask
function is registered under that name, ``transformers`` builds no ``[L, L]`` mask; the packing
boundaries travel instead as keyword arguments of the model call (``cu_seq_lens_q/k``,
``max_length_q/k``, the names ``transformers`` uses for varlen kernels), which the models pass
down to every attention call. The function dispatches to the selected backend:

* ``flash_attn``: ``flash_attn_varlen_func`` from the flash-attn package (CUDA);
* ``varlen``: ``torch.nn.attention.varlen.varlen_attn`` (CUDA, torch >= 2.9; its signature moved
  from ``is_causal=`` to ``window_size=``, so the wrapper inspects it);
* ``flex``: ``flex_attention`` with a causal document mask, compiled once;
* ``sdpa``: ``scaled_dot_product_attention`` with an explicit block-diagonal causal mask, the last
  resort (the CPU path); the mask is built once per forward and reused by every layer.

Without ``cu_seq_lens_q`` (a padded batch or generation), the function is plain SDPA with the
mask it is given, so an adapter can still be evaluated with the same model object.
"""

from __future__ import annotations

import importlib.util
import inspect
from typing import Any

import torch
import torch.nn.functional as F

from brightingest.errors import TrainerError

__all__ = ["ATTN_NAME", "packed_kwargs", "register", "select_backend"]

#: The ``attn_implementation`` name under which the packed attention is registered.
ATTN_NAME = "brightingest_packed"

_state: dict[str, Any] = {"backend": "sdpa", "mask_key": None, "mask": None, "flex": None}


def _varlen_fn() -> Any | None:
    try:
        from torch.nn.attention import varlen
    except ImportError:
        return None
    return getattr(varlen, "varlen_attn", None)


def available_backends(device: torch.device) -> list[str]:
    """The backends usable on ``device``, fastest first."""
    out: list[str] = []
    if device.type == "cuda":
        if importlib.util.find_spec("flash_attn") is not None:
            out.append("flash_attn")
        if _varlen_fn() is not None:
            out.append("varlen")
        out.append("flex")
    out.append("sdpa")
    return out


def select_backend(requested: str, device: torch.device) -> str:
    """Resolve ``"auto"`` (or check a named backend) for ``device``.

    Args:
        requested: ``"auto"``, ``"flash_attn"``, ``"varlen"``, ``"flex"`` or ``"sdpa"``.
        device: The training device.

    Returns:
        The backend name.

    Raises:
        TrainerError: ``bad_config`` when the named backend is not available here.
    """
    usable = available_backends(device)
    if requested == "auto":
        return usable[0]
    if requested not in usable:
        raise TrainerError(
            f"attention backend {requested!r} is not available on {device.type} "
            f"(available: {', '.join(usable)}).",
            code="bad_config",
            field="attention",
            hint='use attention = "auto".',
        )
    return requested


def register(backend: str) -> str:
    """Register the packed attention function with ``transformers`` using ``backend``.

    Returns:
        The ``attn_implementation`` name to load the model with.
    """
    from transformers import AttentionInterface

    _state["backend"] = backend
    _state["mask_key"] = None
    _state["mask"] = None
    AttentionInterface.register(ATTN_NAME, packed_attention)
    return ATTN_NAME


def packed_kwargs(cu_seqlens: torch.Tensor, max_seqlen: int) -> dict[str, Any]:
    """Model-call keyword arguments that carry the packing boundaries to the attention."""
    return {
        "cu_seq_lens_q": cu_seqlens,
        "cu_seq_lens_k": cu_seqlens,
        "max_length_q": int(max_seqlen),
        "max_length_k": int(max_seqlen),
    }


def packed_attention(
    module: torch.nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    dropout: float = 0.0,
    scaling: float | None = None,
    **kwargs: Any,
) -> tuple[torch.Tensor, None]:
    """The registered attention function (``transformers`` attention-interface signature).

    ``query`` is ``[B, H, L, D]`` and ``key``/``value`` ``[B, Hkv, L, D]``; returns
    ``[B, L, H, D]``.
    """
    cu = kwargs.get("cu_seq_lens_q")
    if cu is None:
        return _sdpa(query, key, value, attention_mask, dropout, scaling)
    if query.shape[0] != 1:
        raise TrainerError(
            "packed attention expects one packed row per micro-batch.", code="training_failed"
        )
    max_len = int(kwargs.get("max_length_q") or query.shape[2])
    backend = _state["backend"]
    if backend in ("flash_attn", "varlen"):
        q = query[0].transpose(0, 1)  # [L, H, D]
        k = key[0].transpose(0, 1)
        v = value[0].transpose(0, 1)
        cu32 = cu.to(torch.int32)
        if backend == "flash_attn":
            from flash_attn import flash_attn_varlen_func

            out = flash_attn_varlen_func(
                q, k, v, cu32, cu32, max_len, max_len, dropout, softmax_scale=scaling, causal=True
            )
        else:
            out = _torch_varlen(q, k, v, cu32, max_len, scaling)
        return out.unsqueeze(0), None
    if backend == "flex":
        return _flex(query, key, value, cu, scaling), None
    mask = _block_mask(cu, query.shape[2], query.device)
    return _sdpa(query, key, value, mask, dropout, scaling)


def _torch_varlen(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, cu: torch.Tensor, max_len: int, scale: Any
) -> torch.Tensor:
    fn = _varlen_fn()
    if fn is None:
        raise TrainerError(
            "torch.nn.attention.varlen.varlen_attn is not available in this torch.",
            code="bad_config",
            field="attention",
            hint='use attention = "auto".',
        )
    params = inspect.signature(fn).parameters
    kw: dict[str, Any] = {}
    if "scale" in params:
        kw["scale"] = scale
    if "is_causal" in params:
        kw["is_causal"] = True
    else:
        kw["window_size"] = (-1, 0)
    if k.shape[1] != q.shape[1]:
        if "enable_gqa" in params:
            kw["enable_gqa"] = True
        else:
            rep = q.shape[1] // k.shape[1]
            k = k.repeat_interleave(rep, dim=1)
            v = v.repeat_interleave(rep, dim=1)
    out = fn(q, k, v, cu, cu, max_len, max_len, **kw)
    result: torch.Tensor = out[0] if isinstance(out, tuple) else out
    return result


def _doc_ids(cu: torch.Tensor, length: int, device: torch.device) -> torch.Tensor:
    lens = (cu[1:] - cu[:-1]).to(device=device, dtype=torch.long)
    return torch.repeat_interleave(torch.arange(len(lens), device=device), lens, output_size=length)


def _block_mask(cu: torch.Tensor, length: int, device: torch.device) -> torch.Tensor:
    """``[1, 1, L, L]`` boolean mask: causal and within one conversation; cached per forward."""
    key = (cu, length)
    cached = _state["mask_key"]
    if cached is not None and cached[0] is cu and cached[1] == length:
        mask: torch.Tensor = _state["mask"]
        return mask
    doc = _doc_ids(cu, length, device)
    idx = torch.arange(length, device=device)
    mask = (doc[:, None] == doc[None, :]) & (idx[:, None] >= idx[None, :])
    mask = mask[None, None]
    _state["mask_key"] = key
    _state["mask"] = mask
    return mask


def _flex(
    query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, cu: torch.Tensor, scale: Any
) -> torch.Tensor:
    from torch.nn.attention.flex_attention import create_block_mask, flex_attention

    length = query.shape[2]
    cached = _state["mask_key"]
    if cached is not None and cached[0] is cu and cached[1] == length:
        block = _state["mask"]
    else:
        doc = _doc_ids(cu, length, query.device)

        def mask_mod(b: Any, h: Any, q_idx: Any, kv_idx: Any) -> Any:
            return (doc[q_idx] == doc[kv_idx]) & (q_idx >= kv_idx)

        block = create_block_mask(mask_mod, None, None, length, length, device=query.device)
        _state["mask_key"] = (cu, length)
        _state["mask"] = block
    if _state["flex"] is None:
        _state["flex"] = torch.compile(flex_attention, dynamic=True)
    out = _state["flex"](
        query, key, value, block_mask=block, scale=scale, enable_gqa=key.shape[1] != query.shape[1]
    )
    result: torch.Tensor = out.transpose(1, 2).contiguous()
    return result


def _sdpa(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    mask: torch.Tensor | None,
    dropout: float,
    scale: Any,
) -> tuple[torch.Tensor, None]:
    if key.shape[1] != query.shape[1]:
        rep = query.shape[1] // key.shape[1]
        key = key.repeat_interleave(rep, dim=1)
        value = value.repeat_interleave(rep, dim=1)
    if mask is not None and mask.dtype != torch.bool:
        mask = mask.to(query.dtype)
    out = F.scaled_dot_product_attention(
        query,
        key,
        value,
        attn_mask=mask,
        dropout_p=dropout,
        is_causal=mask is None and query.shape[2] > 1,
        scale=scale,
    )
    return out.transpose(1, 2).contiguous(), None
