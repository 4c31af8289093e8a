"""Token-budget micro-batches: packing without padding, or padding to the longest row.

A *plan* is the list of micro-batches of one epoch, each a numpy array of row indices into the
tokenized table. Plans are a pure function of ``(lengths, rows, budget, seed, epoch)``, so a
resumed run rebuilds the same plan and continues at the saved position.

Packed micro-batches hold several conversations in one sequence of at most ``token_budget``
tokens. Collation restarts ``position_ids`` at every conversation and returns ``cu_seqlens`` (the
conversation boundaries, ``[0, l0, l0 + l1, ...]``), which the attention backends use so that no
token attends across a boundary. Rows are shuffled, then first-fit-decreasing packed within
windows of a few thousand rows: near-full sequences, still a random mix.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

__all__ = ["MicroBatch", "PackedRows", "plan_epoch"]

_WINDOW = 4096


def plan_epoch(
    lengths: np.ndarray,
    rows: np.ndarray,
    token_budget: int,
    *,
    packing: bool,
    seed: int,
    epoch: int,
    shuffle: bool = True,
) -> list[np.ndarray]:
    """Split ``rows`` into micro-batches of at most ``token_budget`` tokens.

    Args:
        lengths: Token count of every row of the tokenized table.
        rows: The rows to plan (e.g. the training split).
        token_budget: Packed length, or rows x longest row when padding.
        packing: Pack without padding (else pad to the longest row of each micro-batch).
        seed: Run seed.
        epoch: Epoch number (a different order each epoch).
        shuffle: Shuffle rows and micro-batches (off for evaluation).

    Returns:
        Micro-batches as arrays of row indices.
    """
    rows = np.asarray(rows, dtype=np.int64)
    if len(rows) == 0:
        return []
    rng = np.random.default_rng([seed, epoch])
    order = rng.permutation(rows) if shuffle else rows.copy()
    batches: list[np.ndarray] = []
    for start in range(0, len(order), _WINDOW):
        window = order[start : start + _WINDOW]
        window = window[np.argsort(-lengths[window], kind="stable")]
        if packing:
            batches.extend(_first_fit(window, lengths, token_budget))
        else:
            batches.extend(_pad_groups(window, lengths, token_budget))
    if shuffle:
        perm = rng.permutation(len(batches))
        batches = [batches[i] for i in perm]
    return batches


def _first_fit(window: np.ndarray, lengths: np.ndarray, budget: int) -> list[np.ndarray]:
    remaining = np.zeros(0, dtype=np.int64)
    members: list[list[int]] = []
    for row in window:
        n = int(lengths[row])
        fits = np.flatnonzero(remaining >= n)
        if len(fits):
            b = int(fits[0])
            remaining[b] -= n
            members[b].append(int(row))
        else:
            remaining = np.append(remaining, budget - n)
            members.append([int(row)])
    return [np.asarray(m, dtype=np.int64) for m in members]


def _pad_groups(window: np.ndarray, lengths: np.ndarray, budget: int) -> list[np.ndarray]:
    out: list[np.ndarray] = []
    current: list[int] = []
    longest = 0
    for row in window:
        n = int(lengths[row])
        if current and max(longest, n) * (len(current) + 1) > budget:
            out.append(np.asarray(current, dtype=np.int64))
            current, longest = [], 0
        current.append(int(row))
        longest = max(longest, n)
    if current:
        out.append(np.asarray(current, dtype=np.int64))
    return out


@dataclass
class MicroBatch:
    """One micro-batch as numpy arrays (moved to the device by the loader).

    Attributes:
        input_ids: ``[1, T]`` packed or ``[B, L]`` padded token ids.
        position_ids: Positions, restarting at 0 for every conversation.
        label_mask: ``True`` where the token is a training target.
        attention_mask: ``[B, L]`` padding mask (padded batches only).
        cu_seqlens: Conversation boundaries in the packed sequence (packed batches only).
        max_seqlen: Longest conversation in the micro-batch.
        tokens: Real (non-padding) tokens.
        targets: Tokens trained on (``label_mask`` sum).
    """

    input_ids: np.ndarray
    position_ids: np.ndarray
    label_mask: np.ndarray
    attention_mask: np.ndarray | None
    cu_seqlens: np.ndarray | None
    max_seqlen: int
    tokens: int
    targets: int


class PackedRows:
    """Zero-copy access to the token ids and masks of a tokenized table.

    Args:
        table: A tokenized table (:data:`~brightingest.train.tokenize.TOKENIZED_SCHEMA`).
        pad_id: Token id used to pad (padded batches only).
    """

    def __init__(self, table: pa.Table, pad_id: int = 0) -> None:
        ids = table.column("input_ids").combine_chunks()
        mask = table.column("label_mask").combine_chunks()
        if isinstance(ids, pa.ChunkedArray):  # pragma: no cover - older pyarrow
            ids = ids.chunk(0) if ids.num_chunks else pa.array([], pa.list_(pa.int32()))
            mask = mask.chunk(0) if mask.num_chunks else pa.array([], pa.list_(pa.int8()))
        self.offsets = ids.offsets.to_numpy().astype(np.int64)
        self.ids = ids.values.to_numpy()
        self.mask = mask.values.to_numpy()
        self.lengths = np.diff(self.offsets)
        self.pad_id = int(pad_id)

    def __len__(self) -> int:
        return len(self.lengths)

    def _row(self, r: int) -> tuple[np.ndarray, np.ndarray]:
        a, b = self.offsets[r], self.offsets[r + 1]
        return self.ids[a:b], self.mask[a:b]

    def collate(self, rows: np.ndarray, *, packing: bool) -> MicroBatch:
        """Build one micro-batch from row indices.

        Args:
            rows: Row indices (from :func:`plan_epoch`).
            packing: One packed sequence, or a padded ``[B, L]`` batch.

        Returns:
            The micro-batch.
        """
        lens = self.lengths[rows]
        if packing:
            ids = np.concatenate([self._row(int(r))[0] for r in rows]).astype(np.int64)
            mask = np.concatenate([self._row(int(r))[1] for r in rows]).astype(bool)
            cu = np.zeros(len(rows) + 1, dtype=np.int32)
            np.cumsum(lens, out=cu[1:])
            starts = np.repeat(cu[:-1], lens)
            pos = np.arange(len(ids), dtype=np.int64) - starts
            return MicroBatch(
                input_ids=ids[None, :],
                position_ids=pos[None, :],
                label_mask=mask[None, :],
                attention_mask=None,
                cu_seqlens=cu,
                max_seqlen=int(lens.max()),
                tokens=int(len(ids)),
                targets=int(mask.sum()),
            )
        width = int(lens.max())
        ids = np.full((len(rows), width), self.pad_id, dtype=np.int64)
        mask = np.zeros((len(rows), width), dtype=bool)
        attn = np.zeros((len(rows), width), dtype=np.int64)
        for i, r in enumerate(rows):
            row_ids, row_mask = self._row(int(r))
            ids[i, : len(row_ids)] = row_ids
            mask[i, : len(row_ids)] = row_mask.astype(bool)
            attn[i, : len(row_ids)] = 1
        pos = np.broadcast_to(np.arange(width, dtype=np.int64), (len(rows), width)).copy()
        return MicroBatch(
            input_ids=ids,
            position_ids=pos,
            label_mask=mask,
            attention_mask=attn,
            cu_seqlens=None,
            max_seqlen=width,
            tokens=int(lens.sum()),
            targets=int(mask.sum()),
        )
