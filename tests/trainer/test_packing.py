"""Packing: budgets, position ids, and packed loss == one-by-one loss on the tiny model."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pytest
import torch

from brightingest.train import attention
from brightingest.train.loss import labelled_loss_sum
from brightingest.train.packing import PackedRows, plan_epoch
from brightingest.train.tokenize import ChatTokenizer, TokenizeReport
from tests.trainer.support import chat_table, make_model, synthetic_chats


def tokenized(tokenizer: Any, n: int, turns: int = 1) -> pa.Table:
    ct = ChatTokenizer(tokenizer, max_length=512, truncation="truncate")
    report = TokenizeReport()
    batches = list(
        ct.tokenize(iter(chat_table(synthetic_chats(n, turns=turns)).to_batches()), report)
    )
    return pa.Table.from_batches(batches)


@pytest.mark.parametrize("packing", [True, False])
def test_plan_covers_every_row_once_within_budget(tokenizer: Any, packing: bool) -> None:
    rows = PackedRows(tokenized(tokenizer, 50))
    budget = 160
    plan = plan_epoch(rows.lengths, np.arange(50), budget, packing=packing, seed=1, epoch=0)
    seen = np.sort(np.concatenate(plan))
    assert seen.tolist() == list(range(50))
    for batch in plan:
        lens = rows.lengths[batch]
        used = lens.sum() if packing else lens.max() * len(batch)
        assert used <= budget
    again = plan_epoch(rows.lengths, np.arange(50), budget, packing=packing, seed=1, epoch=0)
    assert [b.tolist() for b in again] == [b.tolist() for b in plan]
    other = plan_epoch(rows.lengths, np.arange(50), budget, packing=packing, seed=1, epoch=1)
    assert [b.tolist() for b in other] != [b.tolist() for b in plan]


def test_position_ids_restart_per_conversation(tokenizer: Any) -> None:
    rows = PackedRows(tokenized(tokenizer, 3))
    micro = rows.collate(np.array([2, 0, 1]), packing=True)
    lens = rows.lengths[[2, 0, 1]]
    assert micro.input_ids.shape == (1, lens.sum())
    assert micro.cu_seqlens.tolist() == [0, lens[0], lens[0] + lens[1], lens.sum()]
    expected = np.concatenate([np.arange(n) for n in lens])
    assert micro.position_ids[0].tolist() == expected.tolist()
    assert micro.max_seqlen == lens.max()
    # the first token of every conversation is never a target
    assert not micro.label_mask[0, micro.cu_seqlens[:-1]].any()
    padded = rows.collate(np.array([2, 0, 1]), packing=False)
    assert padded.input_ids.shape == (3, lens.max())
    assert padded.attention_mask.sum(axis=1).tolist() == lens.tolist()
    assert padded.targets == micro.targets == padded.label_mask.sum()


def test_block_mask_is_causal_within_conversations() -> None:
    cu = torch.tensor([0, 2, 5], dtype=torch.int32)
    mask = attention._block_mask(cu, 5, torch.device("cpu"))[0, 0].int().tolist()
    assert mask == [
        [1, 0, 0, 0, 0],
        [1, 1, 0, 0, 0],
        [0, 0, 1, 0, 0],
        [0, 0, 1, 1, 0],
        [0, 0, 1, 1, 1],
    ]


def test_packed_loss_equals_one_by_one_loss(tokenizer: Any) -> None:
    table = tokenized(tokenizer, 4, turns=2)
    rows = PackedRows(table, pad_id=tokenizer.pad_token_id)
    model = make_model(tokenizer, seed=3)
    model.config._attn_implementation = attention.register("sdpa")
    order = np.array([3, 1, 0, 2])
    micro = rows.collate(order, packing=True)
    with torch.no_grad():
        packed = labelled_loss_sum(
            model,
            torch.from_numpy(micro.input_ids),
            torch.from_numpy(micro.position_ids),
            torch.from_numpy(micro.label_mask),
            **attention.packed_kwargs(torch.from_numpy(micro.cu_seqlens), micro.max_seqlen),
        )
        # reference: each conversation alone through the stock model and its own loss
        model.config._attn_implementation = "sdpa"
        total = torch.zeros(())
        count = 0
        for r in order:
            ids = torch.from_numpy(rows.ids[rows.offsets[r] : rows.offsets[r + 1]].astype(np.int64))
            mask = torch.from_numpy(rows.mask[rows.offsets[r] : rows.offsets[r + 1]].astype(bool))
            labels = torch.where(mask, ids, torch.full_like(ids, -100))
            out = model(input_ids=ids[None], labels=labels[None])
            n = int(mask[1:].sum())
            total += out.loss * n
            count += n
    assert count == micro.targets
    torch.testing.assert_close(packed / count, total / count, rtol=1e-5, atol=1e-5)
    # and packing really matters: without the boundaries, the loss differs
    model.config._attn_implementation = "sdpa"
    with torch.no_grad():
        crossing = labelled_loss_sum(
            model,
            torch.from_numpy(micro.input_ids),
            torch.zeros_like(torch.from_numpy(micro.position_ids))
            + torch.arange(micro.input_ids.shape[1]),
            torch.from_numpy(micro.label_mask),
        )
    assert abs(float(crossing - packed)) > 1e-3
