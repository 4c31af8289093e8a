"""Role alias tables shared by the built-in formats."""

from __future__ import annotations

__all__ = ["LLAMA_FACTORY_MEDIA", "SHAREGPT_ROLES"]

#: LLaMA-Factory's multimodal columns: rows with media are refused, not trained as text alone.
LLAMA_FACTORY_MEDIA: tuple[str, ...] = ("images", "videos", "audios")

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
