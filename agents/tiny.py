r"""A tiny Qwen3-style chat model with a byte-level BPE tokenizer trained on generated CRM text.

``build_tiny_model(path, seed)`` writes a normal Hugging Face directory (``config.json``,
safetensors weights, ``tokenizer.json`` with a ChatML chat template) that
``AutoModelForCausalLM.from_pretrained`` and ``AutoTokenizer.from_pretrained`` load, entirely
offline and in seconds. The weights are random: the model is for tests, benchmarks and the CPU
quickstart, not for solving tasks.

Example:
    >>> import tempfile
    >>> from transformers import AutoModelForCausalLM, AutoTokenizer
    >>> path = build_tiny_model(tempfile.mkdtemp(), seed=0)
    >>> tokenizer = AutoTokenizer.from_pretrained(path)
    >>> model = AutoModelForCausalLM.from_pretrained(path)
    >>> model.config.hidden_size, model.config.num_hidden_layers
    (64, 2)
    >>> tokenizer.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False)
    '<|im_start|>user\nhi<|im_end|>\n'
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

from agents._deps import require_train

SPECIAL_TOKENS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")
"""Padding / end of text, then the ChatML turn markers (Qwen's names)."""

CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
"""ChatML, as Qwen uses it: system, user, assistant and tool messages all render the same way."""


def build_tiny_model(
    path: str | Path,
    seed: int = 0,
    *,
    vocab_size: int = 1024,
    hidden_size: int = 64,
    num_layers: int = 2,
    num_conversations: int = 60,
) -> Path:
    """Train the tokenizer, initialise the model from ``seed``, save both under ``path``.

    Args:
        path: the directory to write (created if missing).
        seed: seeds the generated training text and the weights; same seed, same files.
        vocab_size: BPE vocabulary size, special tokens included.
        hidden_size: model width (4 heads of ``hidden_size // 4``, 2 key-value heads).
        num_layers: decoder layers.
        num_conversations: generated conversations the tokenizer is trained on.

    Returns:
        The directory, for ``from_pretrained``.
    """
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    tokenizer = train_tokenizer(crm_corpus(num_conversations, seed), vocab_size)
    tokenizer.save_pretrained(path)
    model = tiny_model(tokenizer, seed, hidden_size=hidden_size, num_layers=num_layers)
    model.save_pretrained(path)
    return path


def crm_corpus(num_conversations: int, seed: int) -> Iterator[str]:
    """Text a CRM agent reads and writes: requests, tool calls, replies and the tool catalogue."""
    from crm_gym.actions import format_tool_call
    from crm_gym.crm.tools import tool_schemas
    from crm_gym.generator import generate

    for schema in tool_schemas():
        yield json.dumps(schema)
    for conversation in generate(num_conversations, seed=seed):
        for turn in conversation.turns:
            yield f"User: {turn.user_utterance}"
            yield format_tool_call(turn.expected_tool, turn.expected_args)
            if turn.expected_response is not None:
                yield turn.expected_response.text


def train_tokenizer(texts: Iterator[str], vocab_size: int) -> Any:
    """A byte-level BPE tokenizer (GPT-2 / Qwen style) with ChatML special tokens."""
    require_train()
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    core = Tokenizer(models.BPE())
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    core.train_from_iterator(texts, trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=core,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        chat_template=CHAT_TEMPLATE,
        padding_side="left",
    )


def tiny_model(tokenizer: Any, seed: int, *, hidden_size: int = 64, num_layers: int = 2) -> Any:
    """A randomly initialised Qwen3 causal LM sized for ``tokenizer``'s vocabulary."""
    require_train()
    import torch
    from transformers import GenerationConfig, Qwen3Config, Qwen3ForCausalLM

    eos = tokenizer.convert_tokens_to_ids(["<|im_end|>", "<|endoftext|>"])
    config = Qwen3Config(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=2 * hidden_size,
        num_hidden_layers=num_layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=hidden_size // 4,
        max_position_embeddings=32_768,
        tie_word_embeddings=True,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=None,
        eos_token_id=eos[0],
    )
    # fork_rng: initialise from ``seed`` and leave the caller's global torch RNG as it was
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = Qwen3ForCausalLM(config)
    model.generation_config = GenerationConfig(eos_token_id=eos, pad_token_id=eos[1])
    return model.eval()
