"""Tiny models and tokenizers shared by the objectives/remedies tests (built in-process, nothing downloaded)."""

from __future__ import annotations

import torch
from tokenizers import Tokenizer, models, pre_tokenizers, processors
from transformers import BertConfig, BertForMaskedLM, LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

from fairforget.training.plugins import TrainingContext

WORDS = (
    "he she him her his man woman men women father mother boy girl king queen "
    "the a an is was said that and to of in at for with who works as nurse doctor engineer "
    "secretary teacher cook pilot because tired late early asked told helped good bad very "
    "today yesterday house car book city river"
).split()
WORD_PAIRS = [
    ("he", "she"),
    ("him", "her"),
    ("man", "woman"),
    ("men", "women"),
    ("father", "mother"),
    ("boy", "girl"),
    ("king", "queen"),
]
BERT_SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
LLAMA_SPECIALS = ["<pad>", "<unk>", "<s>", "</s>"]
DEBIAS_TEXTS = [
    "he is a nurse",
    "she works as a doctor",
    "the man said that the nurse was tired",
    "the house is very good",
    "his father asked the engineer",
    "a woman who works as a pilot",
]
STEREO_PAIRS = [
    ("he is a doctor", "she is a doctor"),
    ("she is a nurse", "he is a nurse"),
    ("the man works as an engineer", "the woman works as an engineer"),
]
GENERAL_TEXTS = [
    "the city is very good",
    "a book of the river",
    "the car was late today",
    "the house in the city",
    "a river and a house",
    "the book was good yesterday",
    "the cook was early",
    "a teacher at the house",
]


def bert_tokenizer() -> PreTrainedTokenizerFast:
    vocab = {w: i for i, w in enumerate(BERT_SPECIALS + WORDS)}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B [SEP]",
        special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])],
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        pad_token="[PAD]",
        unk_token="[UNK]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
    )


def llama_tokenizer() -> PreTrainedTokenizerFast:
    vocab = {w: i for i, w in enumerate(LLAMA_SPECIALS + WORDS)}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", vocab["<s>"])])
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token="<pad>", unk_token="<unk>", bos_token="<s>", eos_token="</s>"
    )


def tiny_bert(seed: int = 0, **overrides) -> BertForMaskedLM:
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=len(BERT_SPECIALS) + len(WORDS),
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
        **overrides,
    )
    return BertForMaskedLM(config)


def tiny_llama(seed: int = 0, **overrides) -> LlamaForCausalLM:
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(LLAMA_SPECIALS) + len(WORDS),
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
        pad_token_id=0,
        bos_token_id=2,
        eos_token_id=3,
        **overrides,
    )
    return LlamaForCausalLM(config)


def tiny(kind: str, seed: int = 0, **overrides) -> tuple[torch.nn.Module, PreTrainedTokenizerFast]:
    if kind == "masked":
        return tiny_bert(seed, **overrides), bert_tokenizer()
    return tiny_llama(seed, **overrides), llama_tokenizer()


def context(kind: str, tokenizer, seed: int = 0, **overrides) -> TrainingContext:
    fields = dict(
        kind=kind,
        tokenizer=tokenizer,
        seed=seed,
        max_length=16,
        debias_texts=list(DEBIAS_TEXTS),
        stereo_pairs=list(STEREO_PAIRS),
        word_pairs=list(WORD_PAIRS),
        general_texts=list(GENERAL_TEXTS),
    )
    fields.update(overrides)
    return TrainingContext(**fields)


def generator(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)
