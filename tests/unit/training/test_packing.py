"""Packed training (training.packing): the group_texts blocks, their batches, the engine's refusal of objectives
that train on sentence pairs, max_steps + gradient accumulation over blocks, and exact resume after a real
SIGTERM with packing on."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch

from engine_helpers import ENGINE_TEXTS, engine_setup, train_tiny
from fairforget.config.checks import check_config
from fairforget.errors import ConfigError
from fairforget.training.objectives._text import TextObjective
from fairforget.training.packing import collate_blocks, pack_texts, packing_order
from fairforget.training.plugins import OBJECTIVES
from fairforget.training.state import find_state

torch.set_num_threads(1)

PACKED = {"packing": True, "block_size": 16, "max_steps": 6}


def test_blocks_are_the_concatenated_token_stream_cut_to_block_size() -> None:
    tokenizer, _, _ = engine_setup("masked")
    texts = ENGINE_TEXTS[:7]
    blocks = pack_texts(tokenizer, texts, block_size=5, seed=3)
    # by hand: each text tokenised alone ([CLS] ... [SEP]), in the seeded order, concatenated, cut, remainder dropped
    stream = [t for i in packing_order(len(texts), 3) for t in tokenizer(texts[i])["input_ids"]]
    n_blocks = len(stream) // 5
    assert blocks.corpus_tokens == len(stream) and blocks.n_blocks == n_blocks
    assert blocks.input_ids.flatten().tolist() == stream[: n_blocks * 5]
    assert blocks.dropped_tokens == len(stream) % 5
    specials = {tokenizer.cls_token_id, tokenizer.sep_token_id}
    assert blocks.special.flatten().tolist() == [t in specials for t in stream[: n_blocks * 5]]
    with pytest.raises(ConfigError, match="config key 'training.block_size'.*fewer than one block"):
        pack_texts(tokenizer, texts[:1], block_size=500, seed=0)


@pytest.mark.parametrize("kind", ["masked", "causal"])
def test_packed_batches_have_no_padding_and_never_mask_special_tokens(kind: str) -> None:
    tokenizer, _, ctx = engine_setup(kind)
    blocks = pack_texts(tokenizer, ENGINE_TEXTS, block_size=16, seed=0)
    ctx.extra["packed_blocks"] = blocks
    examples = [{"type": "block", "block": k} for k in (0, 3, 5)]
    batch = collate_blocks(examples, ctx, torch.Generator().manual_seed(0))
    assert batch["attention_mask"].shape == (3, 16) and bool(batch["attention_mask"].all())
    labelled = batch["labels"] != -100
    if kind == "causal":
        assert torch.equal(batch["labels"], blocks.input_ids[[0, 3, 5]].long())
    else:
        assert bool(labelled.any()) and not bool((labelled & blocks.special[[0, 3, 5]]).any())


def test_pair_objectives_are_refused_with_the_config_key(tmp_path: Path) -> None:
    unlikelihood = OBJECTIVES.get("unlikelihood")(config_key="objectives.unlikelihood")
    # refused before the objective scores its reference pairs (there are none here, which would fail later)
    with pytest.raises(ConfigError, match=r"'training.packing': objective objectives.unlikelihood trains on sent"):
        train_tiny(tmp_path, "pairs", "causal", objective=unlikelihood, **PACKED)
    # before any job: the config check names the entry to change
    from conftest import load_config

    config = load_config("micro.yaml")
    config["training"]["packing"] = True
    config["objectives"]["ul"] = {"type": "unlikelihood"}
    with pytest.raises(ConfigError, match=r"objective 'ul' .* set objectives.ul.training: \{packing: false\}"):
        check_config(config)
    config["objectives"]["ul"]["training"] = {"packing": False}
    check_config(config)


def test_max_steps_and_accumulation_run_over_blocks_past_one_epoch(tmp_path: Path) -> None:
    _, result = train_tiny(tmp_path, "steps", objective=OBJECTIVES.get("none")(), **{**PACKED, "max_steps": 9})
    # 9 steps x 2 micro-batches x 4 blocks x 16 tokens, every one a real token
    assert result.steps == 9 and result.examples == 9 * 2 * 4 and result.tokens == 9 * 2 * 4 * 16
    tokenizer = engine_setup()[0]
    assert 9 * 2 * 4 > pack_texts(tokenizer, ENGINE_TEXTS, 16, seed=5).n_blocks  # more than one epoch


SIGTERM_SCRIPT = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    sys.path[:0] = [{here!r}, {tests!r}]  # this test file's folder and the helpers'
    import torch
    torch.set_num_threads(1)
    import test_packing as p
    from engine_helpers import train_tiny

    train_tiny(Path({tmp!r}), "killed", objective=p.SlowText(), **p.PACKED)
    """
)


class SlowText(TextObjective):
    """The plain LM loss, slowed down so the parent can signal mid-run."""

    name = "slow_text"

    def loss(self, model, batch, ctx):
        print("STEP", flush=True)
        time.sleep(0.3)
        return super().loss(model, batch, ctx)


def test_real_sigterm_with_packing_resumes_to_the_same_checkpoint(tmp_path: Path) -> None:
    reference, _ = train_tiny(tmp_path, "ref", objective=TextObjectiveNone(), **PACKED)
    script = SIGTERM_SCRIPT.format(
        here=str(Path(__file__).parent), tests=str(Path(__file__).parents[2]), tmp=str(tmp_path)
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    assert proc.stdout is not None
    seen, deadline = 0, time.monotonic() + 120
    while seen < 3 and time.monotonic() < deadline:  # into step 2 (2 micro-batches per step)
        if proc.stdout.readline().startswith("STEP"):
            seen += 1
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode != 0 and "received SIGTERM: stopped at step" in stderr
    assert find_state(tmp_path / "state_killed") is not None
    resumed, result = train_tiny(tmp_path, "killed", objective=TextObjectiveNone(), **PACKED)
    assert 1 <= result.resumed_from_step < PACKED["max_steps"]
    assert resumed["content_hash"] == reference["content_hash"]


class TextObjectiveNone(TextObjective):
    """SlowText without the sleep: the same loss, so the same checkpoint (a state records no objective class)."""

    name = "slow_text"
