"""Trainer test helpers: a tiny Qwen2 model and a BPE tokenizer built offline, chat tables.

Nothing is downloaded: the tokenizer is a byte-level BPE trained in memory on the test texts and
carries Qwen2.5's real chat template (which has no ``{% generation %}`` markers); the model is a
randomly initialised ``Qwen2ForCausalLM`` two layers deep.
"""

from __future__ import annotations

import json
import random
from typing import Any

import pyarrow as pa

from brightingest.schema import CHAT_SCHEMA

QWEN25_TEMPLATE = (
    "{%- if tools %}\n"
    "    {{- '<|im_start|>system\\n' }}\n"
    "    {%- if messages[0]['role'] == 'system' %}\n"
    "        {{- messages[0]['content'] }}\n"
    "    {%- else %}\n"
    "        {{- 'You are Qwen, created by Alibaba Cloud. You are a helpful assistant.' }}\n"
    "    {%- endif %}\n"
    '    {{- "\\n\\n# Tools\\n\\nYou may call one or more functions to assist with the user '
    "query.\\n\\nYou are provided with function signatures within <tools></tools> XML tags:"
    '\\n<tools>" }}\n'
    "    {%- for tool in tools %}\n"
    '        {{- "\\n" }}\n'
    "        {{- tool | tojson }}\n"
    "    {%- endfor %}\n"
    '    {{- "\\n</tools>\\n\\nFor each function call, return a json object with function '
    "name "
    'and arguments within <tool_call></tool_call> XML tags:\\n<tool_call>\\n{\\"name\\": '
    '<function-name>, \\"arguments\\": <args-json-object>}\\n</tool_call><|im_end|>\\n" }}\n'
    "{%- else %}\n"
    "    {%- if messages[0]['role'] == 'system' %}\n"
    "        {{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}\n"
    "    {%- else %}\n"
    "        {{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a helpful "
    "assistant.<|im_end|>\\n' }}\n"
    "    {%- endif %}\n"
    "{%- endif %}\n"
    "{%- for message in messages %}\n"
    '    {%- if (message.role == "user") or (message.role == "system" and not loop.first) or '
    '(message.role == "assistant" and not message.tool_calls) %}\n'
    "        {{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + "
    "'\\n' }}\n"
    '    {%- elif message.role == "assistant" %}\n'
    "        {{- '<|im_start|>' + message.role }}\n"
    "        {%- if message.content %}\n"
    "            {{- '\\n' + message.content }}\n"
    "        {%- endif %}\n"
    "        {%- for tool_call in message.tool_calls %}\n"
    "            {%- if tool_call.function is defined %}\n"
    "                {%- set tool_call = tool_call.function %}\n"
    "            {%- endif %}\n"
    '            {{- \'\\n<tool_call>\\n{"name": "\' }}\n'
    "            {{- tool_call.name }}\n"
    '            {{- \'", "arguments": \' }}\n'
    "            {{- tool_call.arguments | tojson }}\n"
    "            {{- '}\\n</tool_call>' }}\n"
    "        {%- endfor %}\n"
    "        {{- '<|im_end|>\\n' }}\n"
    '    {%- elif message.role == "tool" %}\n'
    '        {%- if (loop.index0 == 0) or (messages[loop.index0 - 1].role != "tool") %}\n'
    "            {{- '<|im_start|>user' }}\n"
    "        {%- endif %}\n"
    "        {{- '\\n<tool_response>\\n' }}\n"
    "        {{- message.content }}\n"
    "        {{- '\\n</tool_response>' }}\n"
    '        {%- if loop.last or (messages[loop.index0 + 1].role != "tool") %}\n'
    "            {{- '<|im_end|>\\n' }}\n"
    "        {%- endif %}\n"
    "    {%- endif %}\n"
    "{%- endfor %}\n"
    "{%- if add_generation_prompt %}\n"
    "    {{- '<|im_start|>assistant\\n' }}\n"
    "{%- endif %}\n"
)

WORDS = (
    "the cat sat on a mat and the dog ran to the park while birds sang songs about rain "
    "sun moon stars we talk of numbers one two three four five six seven eight nine ten "
    "please answer kindly what is your name my name is bright how are you fine thanks"
).split()


def make_tokenizer() -> Any:
    """A byte-level BPE (vocab ~400) with ChatML specials and Qwen2.5's chat template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    corpus = [
        " ".join(WORDS),
        "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.",
    ]
    corpus += ["system user assistant tool <tool_call> </tool_call> name arguments"]
    tok.train_from_iterator(corpus * 20, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=["<|im_start|>"],
    )
    fast.chat_template = QWEN25_TEMPLATE
    return fast


def make_model(tokenizer: Any, *, hidden: int = 32, layers: int = 2, seed: int = 0) -> Any:
    """A randomly initialised two-layer Qwen2 causal LM matching ``tokenizer``."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(seed)
    cfg = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        intermediate_size=hidden * 2,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        tie_word_embeddings=False,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    return Qwen2ForCausalLM(cfg).eval()


def msg(role: str, content: str, weight: int | None = None, **extra: Any) -> dict[str, Any]:
    """One message of the normalized chat schema."""
    out: dict[str, Any] = {
        "role": role,
        "content": content,
        "weight": weight,
        "name": None,
        "tool_calls": None,
        "tool_call_id": None,
        "extra": None,
    }
    out.update(extra)
    return out


def chat_table(
    conversations: list[list[dict[str, Any]]],
    *,
    ids: list[str | None] | None = None,
    metadata: list[dict[str, Any] | None] | None = None,
    source_file: str = "data/train.jsonl",
) -> pa.Table:
    """A table with :data:`CHAT_SCHEMA` holding ``conversations``."""
    n = len(conversations)
    return pa.Table.from_pydict(
        {
            "messages": conversations,
            "tools": [None] * n,
            "id": ids if ids is not None else [None] * n,
            "metadata": [
                json.dumps(m) if m is not None else None for m in (metadata or [None] * n)
            ],
            "source_file": pa.array([source_file] * n).dictionary_encode(),
            "source_line": pa.array(range(1, n + 1), pa.uint64()),
            "format": pa.array(["openai"] * n).dictionary_encode(),
        },
        schema=CHAT_SCHEMA,
    )


def synthetic_chats(n: int, *, seed: int = 0, turns: int = 1) -> list[list[dict[str, Any]]]:
    """Learnable chats: the assistant repeats the user's words in order, then says thanks."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        conv = [msg("system", "please answer kindly")]
        for _ in range(turns):
            words = " ".join(rng.choice(WORDS[:20]) for _ in range(rng.randint(3, 12)))
            conv.append(msg("user", words))
            conv.append(msg("assistant", words + " thanks"))
        out.append(conv)
    return out
