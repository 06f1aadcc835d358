"""Tiny tokenizers and models trained from scratch by the workflow (the embedded toy study).

Masked models get a lowercase WordPiece tokenizer with BERT's special tokens; causal models a byte-level BPE
tokenizer with Llama-style `<s>` / `</s>` / `<pad>`. Both are wrapped as `PreTrainedTokenizerFast`, so
`AutoTokenizer.from_pretrained(dir)` reloads them offline from a saved directory.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

import torch
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from transformers import (
    BertConfig,
    BertForMaskedLM,
    LlamaConfig,
    LlamaForCausalLM,
    PretrainedConfig,
    PreTrainedModel,
    PreTrainedTokenizerFast,
)

from fairforget.errors import ConfigError

MASKED_SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
CAUSAL_SPECIAL_TOKENS = ("<s>", "</s>", "<pad>")
# Architecture keys each model family accepts; anything else in `models.<name>.architecture` is a config error.
_BERT_KEYS = {
    "hidden_size",
    "num_hidden_layers",
    "num_attention_heads",
    "intermediate_size",
    "vocab_size",
    "max_position_embeddings",
    "hidden_dropout_prob",
    "attention_probs_dropout_prob",
    "type_vocab_size",
}
_LLAMA_KEYS = {
    "hidden_size",
    "num_hidden_layers",
    "num_attention_heads",
    "num_key_value_heads",
    "intermediate_size",
    "vocab_size",
    "max_position_embeddings",
    "rope_theta",
    "tie_word_embeddings",
    "attention_dropout",
}


def train_tokenizer(
    texts: Iterable[str], kind: str, vocab_size: int, model_max_length: int = 128
) -> PreTrainedTokenizerFast:
    """Train a tokenizer of the given kind ("masked" | "causal") on `texts` (deterministic for a given input)."""
    if kind == "masked":
        return _train_wordpiece(texts, vocab_size, model_max_length)
    if kind == "causal":
        return _train_byte_bpe(texts, vocab_size, model_max_length)
    raise ConfigError(f"model kind must be 'masked' or 'causal', got {kind!r}")


def _train_wordpiece(texts: Iterable[str], vocab_size: int, model_max_length: int) -> PreTrainedTokenizerFast:
    """A WordPiece vocabulary derived from a BPE run, deterministically.

    The `tokenizers` WordPiece trainer is not deterministic (continuation-piece ids follow hash-map order and
    then break merge ties), whereas its plain BPE trainer is. So BPE learns the pieces; every training word is
    segmented with it, a piece at the start of a word counts for `piece` and elsewhere for `##piece`, and the
    vocabulary is: special tokens, every character in both forms (so every training word can be spelled),
    then the other forms by usage count (ties by spelling), up to `vocab_size`.
    """
    texts = list(texts)
    normalizer = normalizers.BertNormalizer(lowercase=True, strip_accents=True, clean_text=True)
    pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    bpe = Tokenizer(models.BPE(unk_token="[UNK]"))
    bpe.normalizer = normalizer
    bpe.pre_tokenizer = pre_tokenizer
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=list(MASKED_SPECIAL_TOKENS), show_progress=False
    )
    bpe.train_from_iterator(texts, trainer=trainer)
    word_counts: Counter[str] = Counter()
    for text in texts:
        word_counts.update(word for word, _ in pre_tokenizer.pre_tokenize_str(normalizer.normalize_str(text)))
    usage: Counter[str] = Counter()
    characters: set[str] = set()
    for word, count in word_counts.items():
        characters.update(word)
        for position, token in enumerate(bpe.model.tokenize(word)):
            usage[token.value if position == 0 else f"##{token.value}"] += count
    vocab = {token: index for index, token in enumerate(MASKED_SPECIAL_TOKENS)}
    for character in sorted(characters):
        for token in (character, f"##{character}"):
            vocab.setdefault(token, len(vocab))
    for token, _ in sorted(usage.items(), key=lambda item: (-item[1], item[0])):
        if len(vocab) >= vocab_size:
            break
        vocab.setdefault(token, len(vocab))
    tokenizer = Tokenizer(models.WordPiece(vocab=vocab, unk_token="[UNK]", max_input_chars_per_word=100))
    tokenizer.normalizer = normalizer
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    cls_id, sep_id = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)],
    )
    tokenizer.decoder = decoders.WordPiece(prefix="##")
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=model_max_length,
        padding_side="right",
    )


def _train_byte_bpe(texts: Iterable[str], vocab_size: int, model_max_length: int) -> PreTrainedTokenizerFast:
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(CAUSAL_SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer=trainer)
    bos_id = tokenizer.token_to_id("<s>")
    # Llama convention: BOS in front, no EOS, so a sentence's log-probability is scored after <s>.
    tokenizer.post_processor = processors.TemplateProcessing(
        single="<s> $A", pair="<s> $A <s> $B:1", special_tokens=[("<s>", bos_id)]
    )
    tokenizer.decoder = decoders.ByteLevel()
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        bos_token="<s>",
        eos_token="</s>",
        pad_token="<pad>",
        model_max_length=model_max_length,
        padding_side="right",
    )


def _check_architecture(architecture: Mapping[str, Any], allowed: set[str], key: str) -> None:
    unknown = sorted(set(architecture) - allowed)
    if unknown:
        raise ConfigError(
            f"config key '{key}': unknown architecture field(s) {', '.join(unknown)}; "
            f"allowed: {', '.join(sorted(allowed))}"
        )


def build_toy_model(
    kind: str,
    architecture: Mapping[str, Any],
    tokenizer: PreTrainedTokenizerFast,
    seed: int,
    key: str = "models.<name>.architecture",
) -> PreTrainedModel:
    """A freshly initialised BertForMaskedLM / LlamaForCausalLM; the same seed gives identical weights.

    The vocabulary size is the trained tokenizer's (a WordPiece/BPE trainer may stop below the requested size).
    """
    arch = dict(architecture)
    arch["vocab_size"] = len(tokenizer)
    if kind == "masked":
        _check_architecture(arch, _BERT_KEYS, key)
        config: PretrainedConfig = BertConfig(pad_token_id=tokenizer.pad_token_id, **arch)
        model_class: type[PreTrainedModel] = BertForMaskedLM
    elif kind == "causal":
        _check_architecture(arch, _LLAMA_KEYS, key)
        config = LlamaConfig(
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
            **arch,
        )
        model_class = LlamaForCausalLM
    else:
        raise ConfigError(f"config key '{key}': model kind must be 'masked' or 'causal', got {kind!r}")
    # Initialisation draws from the global torch RNG; fork it so the caller's RNG stream is untouched.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = model_class(config)
    return model
