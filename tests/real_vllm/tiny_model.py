"""Build a tiny Llama checkpoint for the real-vLLM suite: `python tiny_model.py OUT_DIR`.

Runs in the engine's venv (`.venv-vllm`, which has torch, transformers and tokenizers); nothing
is downloaded. The tokenizer is a 512-token byte-level BPE trained here on a few sentences, with
DeepSeek-V3.1-style `<think>`/`</think>` tokens and a one-line chat template that, like
DeepSeek's, ends the prompt with `<think>` when `chat_template_kwargs.thinking` is on and with
`</think>` otherwise (so vLLM's `deepseek_v3` reasoning parser applies).

The weights are random (seeded) except for one structure that makes greedy decoding predictable:
each token's embedding points the LM head at the token that should follow it, and the layers'
output projections are scaled down so they barely move the residual stream. Greedy output is then
`REASONING_TEXT`, `</think>`, `ANSWER_TEXT` and end of sequence after `<think>`, and `ANSWER_TEXT`
then end of sequence after anything else, so tests can assert exact text while the engine still
runs every attention and MLP kernel. The CPU attention kernels need a head size
vLLM supports (64 here; 16 is refused).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # torch, tokenizers and transformers exist in the engine's venv only; the tests import the plan
    from transformers import LlamaForCausalLM, PreTrainedTokenizerFast

SEED = 1234
VOCAB_SIZE = 512
HIDDEN = 256
HEADS = 4  # head size 64
LAYERS = 2
MAX_POSITIONS = 32768  # the suite serves it with --max-model-len 32768
LOGIT_SCALE = 8.0  # planned next token about 5 logits above any other: greedy is exact, temperature 2 near uniform
LAYER_OUTPUT_SCALE = 0.1  # o_proj and down_proj shrunk so the layers keep the residual near the embedding

BOS, EOS, THINK, END_THINK = "<s>", "</s>", "<think>", "</think>"
EOS_ID = 1  # the special tokens' order below: <s> 0, </s> 1
ROLE_TOKENS = ["<|system|>", "<|user|>", "<|assistant|>", "<|tool|>"]
REASONING_WORDS = [" let", " me", " think", " carefully"]
ANSWER_WORDS = [" the", " gateway", " routes", " each", " request", " to", " its", " cheapest", " backend"]  # no repeats: a bigram chain
REASONING_TEXT = "".join(REASONING_WORDS)  # what vLLM's reasoning parser returns as `reasoning`
ANSWER_TEXT = "".join(ANSWER_WORDS)  # the content of every greedy answer
CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% if thinking is defined and thinking %}<think>{% else %}</think>{% endif %}{% endif %}"
)
CORPUS = [
    "the gateway routes each request to the cheapest backend that meets its latency target",
    "let me think carefully about what is being asked before answering",
    "self hosted capacity fills first and managed providers absorb the overflow during peaks",
    "say hello summarise the plot of hamlet in three sentences count from one to ten",
    "a quick brown fox jumps over the lazy dog while seven wizards box and judge the vexing quiz",
    "prefill decode tokens queue running waiting kv cache usage metrics scrape health probe fallback",
    "json schema tool call function arguments stream usage chunk finish reason stop length",
]


def build_tokenizer() -> PreTrainedTokenizerFast:
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=VOCAB_SIZE - 2, special_tokens=[BOS, EOS, *ROLE_TOKENS],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    lines = [" " + line for line in CORPUS]
    tokenizer.train_from_iterator(lines[:2] * 200 + lines * 20, trainer=trainer)  # the planned words merge first
    # as in DeepSeek's tokenizer, <think> and </think> are added but not special: they stay in the
    # decoded text, where the reasoning parser looks for them
    tokenizer.add_tokens([AddedToken(t, special=False, normalized=False) for t in (THINK, END_THINK)])
    fast = PreTrainedTokenizerFast(tokenizer_object=tokenizer, bos_token=BOS, eos_token=EOS, pad_token=EOS)
    fast.chat_template = CHAT_TEMPLATE
    return fast


def _single_token(tokenizer: PreTrainedTokenizerFast, text: str) -> int:
    ids = tokenizer.encode(text, add_special_tokens=False)
    if len(ids) != 1:
        raise SystemExit(f"{text!r} is {len(ids)} tokens in the tiny vocabulary, not one")
    return ids[0]


def planned_successors(tokenizer: PreTrainedTokenizerFast) -> dict[int, int]:
    """token id -> the id greedy decoding should produce after it (the default for the rest)."""
    think, end_think, eos = (tokenizer.convert_tokens_to_ids(t) for t in (THINK, END_THINK, EOS))
    reasoning = [_single_token(tokenizer, w) for w in REASONING_WORDS]
    answer = [_single_token(tokenizer, w) for w in ANSWER_WORDS]
    chain = [think, *reasoning, end_think, *answer, eos]
    successors = dict(zip(chain, chain[1:]))
    successors[eos] = answer[0]  # with ignore_eos the answer repeats
    return successors


def build_model(successors: dict[int, int], vocab_size: int, seed: int = SEED) -> LlamaForCausalLM:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=vocab_size, hidden_size=HIDDEN, intermediate_size=2 * HIDDEN, num_hidden_layers=LAYERS,
        num_attention_heads=HEADS, num_key_value_heads=HEADS, max_position_embeddings=MAX_POSITIONS,
        tie_word_embeddings=False, bos_token_id=0, eos_token_id=EOS_ID, torch_dtype="float32",
    )
    model = LlamaForCausalLM(config)
    with torch.no_grad():
        directions = torch.nn.functional.normalize(torch.randn(vocab_size, HIDDEN), dim=1)
        default_direction = directions[0].clone()
        planned = set(successors)
        for token in range(vocab_size):  # tokens without a plan share one direction, so their row stays sharp
            if token not in planned:
                directions[token] = default_direction
        model.model.embed_tokens.weight.copy_(directions * HIDDEN**0.5)  # RMS 1 per component
        head = torch.zeros(vocab_size, HIDDEN)
        for token, following in successors.items():
            head[following] += directions[token]
        head[successors[EOS_ID]] += default_direction  # anything unplanned is followed by the answer's first word
        model.lm_head.weight.copy_(head * LOGIT_SCALE / HIDDEN**0.5)
        for layer in model.model.layers:
            layer.self_attn.o_proj.weight.mul_(LAYER_OUTPUT_SCALE)
            layer.mlp.down_proj.weight.mul_(LAYER_OUTPUT_SCALE)
    return model


def check_greedy(model: LlamaForCausalLM, tokenizer: PreTrainedTokenizerFast) -> str:
    """Greedy output after a thinking prompt, decoded; fails loudly if the plan does not hold."""
    import torch

    prompt = tokenizer.apply_chat_template([{"role": "user", "content": "Say hello."}], add_generation_prompt=True, tokenize=False,
                                           thinking=True)
    ids = torch.tensor([tokenizer.encode(prompt, add_special_tokens=False)])
    with torch.no_grad():
        out = model.generate(ids, max_new_tokens=20, do_sample=False, eos_token_id=EOS_ID, pad_token_id=EOS_ID)
    text = tokenizer.decode(out[0, ids.shape[1]:], skip_special_tokens=False)
    expected = REASONING_TEXT + END_THINK + ANSWER_TEXT + EOS
    if text != expected:
        raise SystemExit(f"the tiny model's greedy output is {text!r}, planned {expected!r}")
    return text


def main(out_dir: str) -> None:
    out = Path(out_dir)
    tokenizer = build_tokenizer()
    successors = planned_successors(tokenizer)
    model = build_model(successors, len(tokenizer))
    check_greedy(model, tokenizer)
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    (out / "generation_config.json").write_text(json.dumps({"bos_token_id": 0, "eos_token_id": EOS_ID}))


if __name__ == "__main__":
    main(sys.argv[1])
