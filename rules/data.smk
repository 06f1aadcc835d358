# Stage 1, data preparation: shipped resources (resources/data, see its README.md) -> R/data/...
# Inputs are the shipped files themselves, so editing a resource reruns the rules that read it.


include: "inputs/data.smk"


rule prepare_general:
    input:
        valid=str(DATA_RES / "wikitext2" / "wiki.valid.raw"),
        test=str(DATA_RES / "wikitext2" / "wiki.test.raw"),
    output:
        pretrain=result(paths.GENERAL_PRETRAIN),
        heldout=result(paths.GENERAL_HELDOUT),
        meta=result(paths.GENERAL_META),
    log:
        log_of("prepare_general", "prepare_general"),
    benchmark:
        benchmark_of("prepare_general", "prepare_general")
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        settings=DATA["general"],
        seed=DATA["seed"],
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
        corpus=result(paths.PLANTED_CORPUS),
        train_pairs=result(paths.PLANTED_TRAIN_PAIRS),
        probes=result(paths.PROBES_PLANTED),
        meta=result(paths.PLANTED_META),
    log:
        log_of("prepare_planted", "prepare_planted"),
    benchmark:
        benchmark_of("prepare_planted", "prepare_planted")
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        settings=DATA["planted_stereotype"],
        occupation_split=OCCUPATION_SPLIT,
        seed=DATA["seed"],
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
        crows_pairs=result(paths.PROBES_CROWS_PAIRS),
        winobias=result(paths.PROBES_WINOBIAS),
        stereoset=result(paths.PROBES_STEREOSET),
        meta=result(paths.PROBES_META),
    log:
        log_of("prepare_probes", "prepare_probes"),
    benchmark:
        benchmark_of("prepare_probes", "prepare_probes")
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        settings=DATA["probes"],
        occupation_split=OCCUPATION_SPLIT,
        seed=DATA["seed"],
    script:
        "../workflow_scripts/prepare_probes.py"


rule prepare_debias:
    input:
        pretrain=result(paths.GENERAL_PRETRAIN),
        planted=result(paths.PLANTED_CORPUS),
        train_pairs=result(paths.PLANTED_TRAIN_PAIRS),
        planted_probes=result(paths.PROBES_PLANTED),
        winobias_dev=WINOBIAS_DEV,
        male=OCCUPATIONS_MALE,
        female=OCCUPATIONS_FEMALE,
        word_lists=debias_word_list_files,
        corpus=debias_corpus_files,
        replay_corpus=replay_corpus_files,
        crows=CROWS_CSV,
        stereoset=STEREOSET_JSONL,
        winobias_test=WINOBIAS_TEST,
    output:
        source=result(paths.DEBIAS_SOURCE),
        replay=result(paths.DEBIAS_REPLAY),
        pairs=result(paths.DEBIAS_PAIRS),
        word_pairs=result(paths.DEBIAS_WORD_PAIRS),
        meta=result(paths.DEBIAS_META),
    log:
        log_of("prepare_debias", "prepare_debias"),
    benchmark:
        benchmark_of("prepare_debias", "prepare_debias")
    conda:
        ENV
    # processes of the batched corpus filters (Dataset.map/filter num_proc)
    threads: DATA["debias"]["threads"]
    resources:
        mem_mb=DATA["debias"]["mem_mb"],
        runtime=DATA["debias"]["runtime"],
    params:
        settings=DATA["debias"],
        general=DATA["general"],
        occupation_split=OCCUPATION_SPLIT,
        seed=DATA["seed"],
    script:
        "../workflow_scripts/prepare_debias.py"


# Re-checks what the rules above wrote against every evaluation sentence (docs/metrics.md, "Training/evaluation
# separation") and fails on a leak; a target of `all` (LEAKAGE_CARD), so every study has its card.
rule leakage_card:
    input:
        pretrain=result(paths.GENERAL_PRETRAIN),
        planted=result(paths.PLANTED_CORPUS),
        source=result(paths.DEBIAS_SOURCE),
        pairs=result(paths.DEBIAS_PAIRS),
        winobias=result(paths.PROBES_WINOBIAS),
        planted_probes=result(paths.PROBES_PLANTED),
        male=OCCUPATIONS_MALE,
        female=OCCUPATIONS_FEMALE,
        crows=CROWS_CSV,
        stereoset=STEREOSET_JSONL,
        winobias_test=WINOBIAS_TEST,
    output:
        card=result(paths.LEAKAGE_CARD_JSON),
        markdown=result(paths.LEAKAGE_CARD_MD),
    log:
        log_of("leakage_card", "leakage_card"),
    benchmark:
        benchmark_of("leakage_card", "leakage_card")
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        occupation_split=OCCUPATION_SPLIT,
    script:
        "../workflow_scripts/leakage_card.py"


rule prepare_downstream:
    input:
        unpack(downstream_task_files),
    output:
        train=result(paths.DOWNSTREAM_TRAIN),
        dev=result(paths.DOWNSTREAM_DEV),
        meta=result(paths.DOWNSTREAM_META),
    log:
        log_of("prepare_downstream", "{task}"),
    benchmark:
        benchmark_of("prepare_downstream", "{task}")
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        settings=DATA["downstream"],
        seed=DATA["seed"],
    script:
        "../workflow_scripts/prepare_downstream.py"
