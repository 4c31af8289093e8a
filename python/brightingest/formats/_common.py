"""Role alias tables shared by the built-in formats."""

from __future__ import annotations

__all__ = ["SHAREGPT_ROLES"]

#: ShareGPT speaker names seen in real exports -> canonical roles.
SHAREGPT_ROLES: dict[str, str] = {
    "system": "system",
    "human": "user",
    "user": "user",
    "gpt": "assistant",
    "assistant": "assistant",
    "chatgpt": "assistant",
    "bing": "assistant",
    "chatbot": "assistant",  # Cohere
    "model": "assistant",  # Gemini
    # LLaMA-Factory's tool calling: the assistant's call, then the tool's observation.
    "function_call": "assistant",
    "observation": "tool",
    "tool": "tool",
    "function": "tool",
}
