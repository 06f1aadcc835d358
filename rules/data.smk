# Stage 1, data preparation: shipped resources (resources/data, see its README.md) -> R/data/...
# Inputs are the shipped files themselves, so editing a resource reruns the rules that read it.
# (input functions and settings of this stage: rules/common.smk)


rule prepare_general:
    input:
        valid=str(DATA_RES / "wikitext2" / "wiki.valid.raw"),
        test=str(DATA_RES / "wikitext2" / "wiki.test.raw"),
    output:
        pretrain=f"{R}/data/general/pretrain.jsonl",
        heldout=f"{R}/data/general/heldout.jsonl",
        meta=f"{R}/data/general/meta.json",
    params:
        settings=DATA["general"],
        seed=DATA["seed"],
    log:
        f"{R}/logs/prepare_general/prepare_general.log",
    benchmark:
        f"{R}/benchmarks/prepare_general/prepare_general.tsv"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        ENV
    script:
        "../workflow_scripts/prepare_general.py"


rule prepare_planted:
    input:
        male=OCCUPATIONS_MALE,
        female=OCCUPATIONS_FEMALE,
        crows=CROWS_CSV,
        stereoset=STEREOSET_JSONL,
        winobias_test=WINOBIAS_TEST,
    output:
        corpus=f"{R}/data/stereotype/planted.jsonl",
        train_pairs=f"{R}/data/stereotype/train_pairs.jsonl",
        probes=f"{R}/data/probes/planted.jsonl",
        meta=f"{R}/data/stereotype/meta.json",
    params:
        settings=DATA["planted_stereotype"],
        occupation_split=OCCUPATION_SPLIT,
        seed=DATA["seed"],
    log:
        f"{R}/logs/prepare_planted/prepare_planted.log",
    benchmark:
        f"{R}/benchmarks/prepare_planted/prepare_planted.tsv"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        ENV
    script:
        "../workflow_scripts/prepare_planted.py"


rule prepare_probes:
    input:
        male=OCCUPATIONS_MALE,
        female=OCCUPATIONS_FEMALE,
        crows=CROWS_CSV,
        stereoset=STEREOSET_JSONL,
        winobias_test=WINOBIAS_TEST,
    output:
        crows_pairs=f"{R}/data/probes/crows_pairs.jsonl",
        winobias=f"{R}/data/probes/winobias.jsonl",
        stereoset=f"{R}/data/probes/stereoset.jsonl",
        meta=f"{R}/data/probes/meta.json",
    params:
        settings=DATA["probes"],
        occupation_split=OCCUPATION_SPLIT,
        seed=DATA["seed"],
    log:
        f"{R}/logs/prepare_probes/prepare_probes.log",
    benchmark:
        f"{R}/benchmarks/prepare_probes/prepare_probes.tsv"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        ENV
    script:
        "../workflow_scripts/prepare_probes.py"


rule prepare_debias:
    input:
        pretrain=f"{R}/data/general/pretrain.jsonl",
        planted=f"{R}/data/stereotype/planted.jsonl",
        train_pairs=f"{R}/data/stereotype/train_pairs.jsonl",
        planted_probes=f"{R}/data/probes/planted.jsonl",
        winobias_dev=WINOBIAS_DEV,
        male=OCCUPATIONS_MALE,
        female=OCCUPATIONS_FEMALE,
        word_lists=debias_word_list_files,
        extra_corpus=debias_extra_corpus,
        crows=CROWS_CSV,
        stereoset=STEREOSET_JSONL,
        winobias_test=WINOBIAS_TEST,
    output:
        source=f"{R}/data/debias/source.jsonl",
        pairs=f"{R}/data/debias/pairs.jsonl",
        word_pairs=f"{R}/data/debias/word_pairs.json",
        meta=f"{R}/data/debias/meta.json",
    params:
        settings=DATA["debias"],
        general=DATA["general"],
        occupation_split=OCCUPATION_SPLIT,
        seed=DATA["seed"],
    log:
        f"{R}/logs/prepare_debias/prepare_debias.log",
    benchmark:
        f"{R}/benchmarks/prepare_debias/prepare_debias.tsv"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        ENV
    script:
        "../workflow_scripts/prepare_debias.py"


# Re-checks what the rules above wrote against every evaluation sentence (docs/metrics.md, "Training/evaluation
# separation") and fails on a leak; a target of `all` (LEAKAGE_CARD), so every study has its card.
rule leakage_card:
    input:
        pretrain=f"{R}/data/general/pretrain.jsonl",
        planted=f"{R}/data/stereotype/planted.jsonl",
        source=f"{R}/data/debias/source.jsonl",
        pairs=f"{R}/data/debias/pairs.jsonl",
        winobias=f"{R}/data/probes/winobias.jsonl",
        planted_probes=f"{R}/data/probes/planted.jsonl",
        male=OCCUPATIONS_MALE,
        female=OCCUPATIONS_FEMALE,
        crows=CROWS_CSV,
        stereoset=STEREOSET_JSONL,
        winobias_test=WINOBIAS_TEST,
    output:
        card=f"{R}/data/leakage_card.json",
        markdown=f"{R}/data/leakage_card.md",
    params:
        occupation_split=OCCUPATION_SPLIT,
    log:
        f"{R}/logs/leakage_card/leakage_card.log",
    benchmark:
        f"{R}/benchmarks/leakage_card/leakage_card.tsv"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        ENV
    script:
        "../workflow_scripts/leakage_card.py"


rule prepare_downstream:
    input:
        unpack(downstream_task_files),
    output:
        train=f"{R}/data/downstream/{{task}}/train.jsonl",
        dev=f"{R}/data/downstream/{{task}}/dev.jsonl",
        meta=f"{R}/data/downstream/{{task}}/meta.json",
    params:
        settings=DATA["downstream"],
        seed=DATA["seed"],
    log:
        f"{R}/logs/prepare_downstream/{{task}}.log",
    benchmark:
        f"{R}/benchmarks/prepare_downstream/{{task}}.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        ENV
    script:
        "../workflow_scripts/prepare_downstream.py"
