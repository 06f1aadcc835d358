"""tests/downstream_helpers.py: the tiny model dirs it writes are what the downstream tests assume."""

from __future__ import annotations

from downstream_helpers import make_model_dir


def test_fixture_tokenizers_round_trip(tmp_path):
    """A saved model dir reloads with the same tokenizer behaviour."""
    from transformers import AutoTokenizer

    for kind in ("masked", "causal"):
        model_dir, sidecar = make_model_dir(tmp_path / kind, kind)
        tokenizer = AutoTokenizer.from_pretrained(model_dir)
        ids = tokenizer("the movie was good")["input_ids"]
        assert tokenizer.convert_ids_to_tokens(ids)[-1] == ("[SEP]" if kind == "masked" else "good")
        assert len(sidecar.read_text().strip()) == 64
