"""An exact forward pass of a BERT masked LM specialised to pseudo-log-likelihood queries.

A PLL batch holds copies of texts that differ from the original in one masked position each, and only the
logits at that position are needed. Two position-wise facts make most of the work of a plain forward pass
redundant, without changing the arithmetic of what is computed:

* The first layer's input (embeddings + LayerNorm) and its query/key/value projections depend only on
  (token, position). The copies of one text share all but one of those pairs, so they are computed once per
  distinct (token, position) pair in the batch and gathered (L copies of L tokens need about 2L rows, not L^2).
* In the last layer only the masked position's output is used: keys and values are still needed at every
  position, but the query, attention output, feed-forward block and MLM head run on one row per copy.

Only exact `BertForMaskedLM` models built from the stock transformers BERT modules take this path (a subclass
may override `forward`, so it is not trusted); `supports_pll_encoder` says which. Every other model takes the
generic path in `masked.py`. tests/unit/scoring/test_masked.py checks this path against the model's own forward
pass to 1e-6.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

# Exact module class names the specialised forward pass reproduces (transformers' modeling_bert.py).
_BERT_TYPES = {
    "model": "BertForMaskedLM",
    "base": "BertModel",
    "embeddings": "BertEmbeddings",
    "layer": "BertLayer",
    "attention": "BertAttention",
    "self_attention": "BertSelfAttention",
    "self_output": "BertSelfOutput",
    "intermediate": "BertIntermediate",
    "output": "BertOutput",
    "head": "BertOnlyMLMHead",
}


def supports_pll_encoder(model: torch.nn.Module) -> bool:
    """True for a stock `BertForMaskedLM` encoder (absolute positions, no decoder / cross-attention)."""
    if type(model).__name__ != _BERT_TYPES["model"]:
        return False
    config: Any = model.config
    if config.is_decoder or getattr(config, "add_cross_attention", False):
        return False
    if getattr(config, "position_embedding_type", "absolute") != "absolute":
        return False
    base = getattr(model, "bert", None)
    if base is None or type(base).__name__ != _BERT_TYPES["base"]:
        return False
    if type(base.embeddings).__name__ != _BERT_TYPES["embeddings"]:
        return False
    if type(getattr(model, "cls", None)).__name__ != _BERT_TYPES["head"]:
        return False
    for layer in base.encoder.layer:
        parts = {
            "layer": layer,
            "attention": layer.attention,
            "self_attention": layer.attention.self,
            "self_output": layer.attention.output,
            "intermediate": layer.intermediate,
            "output": layer.output,
        }
        if any(type(module).__name__ != _BERT_TYPES[name] for name, module in parts.items()):
            return False
    return len(base.encoder.layer) > 0


def _split_heads(x: torch.Tensor, n_heads: int) -> torch.Tensor:
    """[B, L, H*d] -> [B, H, L, d]."""
    batch, length, width = x.shape
    return x.view(batch, length, n_heads, width // n_heads).transpose(1, 2)


def _project(linear: torch.nn.Module, source: torch.Tensor, gather: torch.Tensor | None) -> torch.Tensor:
    """A position-wise projection of `source`, gathered to [B, L, out] by `gather` when given."""
    out = linear(source)
    return out if gather is None else _gather_rows(out, gather)


def _gather_rows(rows: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """rows[index] for a 2-D `rows` and any-shaped `index`; index_select is ~5x faster than fancy indexing."""
    return rows.index_select(0, index.reshape(-1)).view(*index.shape, rows.shape[-1])


def _first_layer_rows(model: Any, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Embedding-layer output of each distinct (token, position) pair in `ids`, and each cell's pair index."""
    embeddings = model.bert.embeddings
    width = ids.shape[1]
    positions = torch.arange(width, device=ids.device)
    pairs, inverse = torch.unique(ids * width + positions, return_inverse=True)
    tokens, pair_positions = pairs // width, pairs % width
    # Same order of additions as BertEmbeddings.forward: (word + token type) + position, then LayerNorm.
    buffered = getattr(embeddings, "token_type_ids", None)  # all zeros, as BertEmbeddings uses it
    token_types = torch.zeros_like(pair_positions) if buffered is None else buffered[0, pair_positions]
    summed = embeddings.word_embeddings(tokens) + embeddings.token_type_embeddings(token_types)
    summed = summed + embeddings.position_embeddings(pair_positions)
    return embeddings.LayerNorm(summed), inverse


def pll_position_logits(
    model: Any, ids: torch.Tensor, attention: torch.Tensor, positions: torch.Tensor
) -> torch.Tensor:
    """Logits [B, vocab] of row b at `positions[b]`, equal to `model(ids, attention).logits[b, positions[b]]`.

    The model must satisfy `supports_pll_encoder` and be in eval mode (no dropout).
    """
    batch = ids.shape[0]
    rows = torch.arange(batch, device=ids.device)
    # SDPA key mask (True = attend); None when nothing is padded lets SDPA take its unmasked kernel.
    mask = None if bool(attention.all()) else attention.bool()[:, None, None, :]
    shared, inverse = _first_layer_rows(model, ids)
    hidden: torch.Tensor | None = None  # [B, L, hidden] input of the current layer, after the first
    layers = model.bert.encoder.layer
    for number, layer in enumerate(layers):
        self_attention = layer.attention.self
        heads = self_attention.num_attention_heads
        # First layer: project the shared rows once, then gather per cell; later layers: every cell.
        source, gather = (shared, inverse) if hidden is None else (hidden, None)
        layer_input = source if gather is None else _gather_rows(source, gather)
        key = _split_heads(_project(self_attention.key, source, gather), heads)
        value = _split_heads(_project(self_attention.value, source, gather), heads)
        if number == len(layers) - 1:  # only the masked position's output is read: one query row per copy
            layer_input = layer_input[rows, positions][:, None, :]
            query = _split_heads(self_attention.query(layer_input), heads)
        else:
            query = _split_heads(_project(self_attention.query, source, gather), heads)
        context = F.scaled_dot_product_attention(query, key, value, attn_mask=mask, scale=self_attention.scaling)
        context = context.transpose(1, 2).reshape(layer_input.shape)
        attended = layer.attention.output(context, layer_input)
        hidden = layer.output(layer.intermediate(attended), attended)
    assert hidden is not None
    return model.cls(hidden[:, 0])
