"""evaluate_downstream: the result JSON contract, the result store, settings and input checks."""

from __future__ import annotations

import json

import pytest

from downstream_helpers import contains_good_records, good_task_dir, make_model_dir, tiny_models, write_task  # noqa: F401
from fairforget.downstream.stage import evaluate_downstream
from fairforget.downstream.tasks import load_task
from fairforget.errors import ConfigError, DataError, ModelError

FAST = {"epochs": 1, "batch_size": 16, "learning_rate": 1e-3, "max_length": 32}


# tiny models train fastest, and reproducibly, on one thread
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_result_json_contract_and_cache_hit(tiny_models, good_task_dir, tmp_path):
    model_dir, sidecar = tiny_models["masked"]
    out = tmp_path / "seed0.json"
    store = tmp_path / "store"
    first = evaluate_downstream(model_dir, sidecar, good_task_dir, "sst2", 0, FAST, out, store, progress=False)
    written = json.loads(out.read_text())
    assert written == first
    assert written["kind"] == "downstream" and written["mode"] == "finetune"
    assert written["checkpoint_hash"] == sidecar.read_text().strip() == written["base_hash"]
    assert written["cache"]["hit"] is False
    assert written["primary_metric"] == "downstream.sst2.accuracy"
    assert set(written["metrics"]) == {"downstream.sst2.accuracy"}
    entry = written["metrics"]["downstream.sst2.accuracy"]
    assert entry["n"] == 40 and 0.0 <= entry["ci_low"] <= entry["value"] <= entry["ci_high"] <= 1.0
    assert entry["ci_low"] < entry["ci_high"]  # 40 examples: the dev-set interval is not a point
    labels = [json.loads(line)["label"] for line in (good_task_dir / "dev.jsonl").read_text().splitlines()]
    predictions = written["details"]["dev_predictions"]
    assert entry["value"] == pytest.approx(sum(p == g for p, g in zip(predictions, labels, strict=True)) / 40)

    again = evaluate_downstream(
        model_dir, sidecar, good_task_dir, "sst2", 0, FAST, tmp_path / "again.json", store, progress=False
    )
    assert again["cache"] == {"hit": True, "key": first["cache"]["key"]}
    assert again["metrics"] == first["metrics"]

    # another seed or other settings are new keys
    other_seed = evaluate_downstream(
        model_dir, sidecar, good_task_dir, "sst2", 1, FAST, tmp_path / "s1.json", store, progress=False
    )
    other_lr = evaluate_downstream(
        model_dir,
        sidecar,
        good_task_dir,
        "sst2",
        0,
        {**FAST, "learning_rate": 5e-4},
        tmp_path / "lr.json",
        store,
        progress=False,
    )
    assert len({first["cache"]["key"], other_seed["cache"]["key"], other_lr["cache"]["key"]}) == 3
    assert not other_seed["cache"]["hit"] and not other_lr["cache"]["hit"]


def test_changed_task_file_is_a_cache_miss(tiny_models, tmp_path):
    model_dir, sidecar = tiny_models["masked"]
    records = contains_good_records(16, 1, "t")
    task_dir = write_task(tmp_path / "a", "sst2", records, records)
    settings = {**FAST, "max_steps": 1}
    first = evaluate_downstream(
        model_dir, sidecar, task_dir, "sst2", 0, settings, tmp_path / "1.json", tmp_path / "store", progress=False
    )
    write_task(tmp_path / "a", "sst2", records, records[:-1])
    second = evaluate_downstream(
        model_dir, sidecar, task_dir, "sst2", 0, settings, tmp_path / "2.json", tmp_path / "store", progress=False
    )
    assert first["cache"]["key"] != second["cache"]["key"] and not second["cache"]["hit"]


def test_zero_shot_key_ignores_the_seed(tiny_models, tmp_path):
    model_dir, sidecar = tiny_models["causal"]
    records = contains_good_records(6, 1, "t")
    task_dir = write_task(tmp_path, "sst2", records, records, label_names=["negative", "positive"])
    cfg = {"mode": {"causal": "zeroshot"}}
    first = evaluate_downstream(
        model_dir, sidecar, task_dir, "sst2", 0, cfg, tmp_path / "0.json", tmp_path / "st", progress=False
    )
    second = evaluate_downstream(
        model_dir, sidecar, task_dir, "sst2", 1, cfg, tmp_path / "1.json", tmp_path / "st", progress=False
    )
    assert first["mode"] == "zeroshot" and second["cache"]["hit"]
    assert set(first["metrics"]) == {"downstream.sst2.accuracy", "downstream.sst2.accuracy_norm"}


def test_linear_probe_key_ignores_the_seed_and_fine_tuning_keys_ignore_its_settings(
    tiny_models, good_task_dir, tmp_path
):
    model_dir, sidecar = tiny_models["masked"]
    cfg = {"mode": {"masked": "linear_probe"}, "max_length": 32}
    store = tmp_path / "st"
    first = evaluate_downstream(model_dir, sidecar, good_task_dir, "sst2", 0, cfg, tmp_path / "0.json", store)
    second = evaluate_downstream(model_dir, sidecar, good_task_dir, "sst2", 1, cfg, tmp_path / "1.json", store)
    assert first["mode"] == "linear_probe" and not first["cache"]["hit"] and second["cache"]["hit"]
    assert set(first["metrics"]) == {"downstream.sst2.accuracy"} and first["details"]["n_train"] == 64
    assert first["details"]["dev_predictions"] == second["details"]["dev_predictions"]
    other_l2 = {**cfg, "linear_probe": {"l2": 1.0}}
    third = evaluate_downstream(model_dir, sidecar, good_task_dir, "sst2", 0, other_l2, tmp_path / "2.json", store)
    assert third["cache"]["key"] != first["cache"]["key"]
    # the linear_probe section is not part of a fine-tuned score's key (keys computed before it existed stay valid)
    fast = {**FAST, "max_steps": 1}
    tuned = evaluate_downstream(model_dir, sidecar, good_task_dir, "sst2", 0, fast, tmp_path / "3.json", store)
    again = evaluate_downstream(
        model_dir, sidecar, good_task_dir, "sst2", 0, {**fast, **other_l2, "mode": {}}, tmp_path / "4.json", store
    )
    assert again["cache"] == {"hit": True, "key": tuned["cache"]["key"]}


def test_per_model_override_and_base_hash(tmp_path, tiny_models):
    """models.<name>.downstream_mode overrides downstream.mode; base_hash comes from the base sidecar."""
    base_dir, base_sidecar = tiny_models["causal"]
    records = contains_good_records(6, 1, "t")
    task_dir = write_task(tmp_path, "sst2", records, records, label_names=["negative", "positive"])
    result = evaluate_downstream(
        base_dir,
        base_sidecar,
        task_dir,
        "sst2",
        0,
        {},
        tmp_path / "o.json",
        tmp_path / "s",
        mode_override="zeroshot",
        model_name="llama-tiny",
        base_sidecar=base_sidecar,
        run={"model": "llama-tiny"},
        progress=False,
    )
    assert result["mode"] == "zeroshot" and result["base_hash"] == base_sidecar.read_text().strip()
    assert result["run"] == {"model": "llama-tiny"}
    with pytest.raises(ConfigError, match="models.bert-tiny.downstream_mode"):
        masked_dir, masked_sidecar = tiny_models["masked"]
        evaluate_downstream(
            masked_dir,
            masked_sidecar,
            task_dir,
            "sst2",
            0,
            {},
            tmp_path / "m.json",
            tmp_path / "s",
            mode_override="zeroshot",
            model_name="bert-tiny",
            progress=False,
        )


def test_parent_hash_must_match_the_base(tmp_path, good_task_dir):
    from fairforget.models.modeldir import load_model_dir, save_model_dir, write_sidecar

    base_dir, base_sidecar = make_model_dir(tmp_path / "base", "masked")
    other_dir, other_sidecar = make_model_dir(tmp_path / "other", "masked", seed=1)
    loaded = load_model_dir(base_dir)
    child = tmp_path / "child"
    save_model_dir(loaded.model, loaded.tokenizer, child, "masked", parent_hash=loaded.content_hash)
    child_sidecar = tmp_path / "child.sha256"
    write_sidecar(child, child_sidecar)
    with pytest.raises(ModelError, match="parent_hash"):
        evaluate_downstream(
            child,
            child_sidecar,
            good_task_dir,
            "sst2",
            0,
            {**FAST, "max_steps": 1},
            tmp_path / "o.json",
            tmp_path / "s",
            base_sidecar=other_sidecar,
            progress=False,
        )


def test_stale_sidecar_is_refused(tiny_models, good_task_dir, tmp_path):
    model_dir, _ = tiny_models["masked"]
    stale = tmp_path / "stale.sha256"
    stale.write_text("0" * 64 + "\n")
    with pytest.raises(ModelError, match="stale"):
        evaluate_downstream(model_dir, stale, good_task_dir, "sst2", 0, FAST, tmp_path / "o.json", tmp_path / "s")


def test_missing_task_names_the_task_and_the_rule(tiny_models, tmp_path):
    model_dir, sidecar = tiny_models["masked"]
    with pytest.raises(DataError, match=r"'mrpc' is missing train.jsonl.*prepare_downstream"):
        evaluate_downstream(
            model_dir, sidecar, tmp_path / "downstream" / "mrpc", "mrpc", 0, FAST, tmp_path / "o.json", tmp_path / "s"
        )


def test_bad_label_names_file_and_line(tmp_path):
    records = contains_good_records(4, 1, "t")
    task_dir = write_task(tmp_path, "sst2", records, records)
    lines = (task_dir / "dev.jsonl").read_text().splitlines()
    bad = json.loads(lines[2])
    bad["label"] = 7
    lines[2] = json.dumps(bad)
    (task_dir / "dev.jsonl").write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"dev.jsonl:3: label 7"):
        load_task(task_dir, "sst2")
