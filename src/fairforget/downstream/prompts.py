"""Zero-shot prompt templates and answer choices for GLUE, copied from lm-evaluation-harness's `glue` tasks.

`choices[label]` is the answer for GLUE label `label` (Hugging Face `glue` label order, given in
`label_names`); each choice is scored as the continuation " " + choice after the prompt.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fairforget.downstream.tasks import Example, TaskData
from fairforget.errors import ConfigError, DataError


def _with_period(text: str) -> str:
    text = text.strip()
    return text if text.endswith(".") else text + "."


@dataclass(frozen=True)
class PromptTemplate:
    task: str
    render: Callable[[str, str | None], str]
    choices: tuple[str, ...]  # indexed by GLUE label
    label_names: tuple[str, ...]  # the GLUE label order the choices assume
    needs_pair: bool

    def prompt(self, example: Example, where: str) -> str:
        if self.needs_pair and example.text_b is None:
            raise DataError(f"{where}: task '{self.task}' needs text_b for example {example.id!r}")
        return self.render(example.text_a, example.text_b)


TEMPLATES: dict[str, PromptTemplate] = {
    template.task: template
    for template in (
        PromptTemplate(
            "sst2",
            lambda a, b: f"{a}\nQuestion: Is this sentence positive or negative?\nAnswer:",
            ("negative", "positive"),
            ("negative", "positive"),
            False,
        ),
        PromptTemplate(
            "cola",
            lambda a, b: f"{a}\nQuestion: Does this sentence make sense?\nAnswer:",
            ("no", "yes"),
            ("unacceptable", "acceptable"),
            False,
        ),
        PromptTemplate(
            "mrpc",
            lambda a, b: f"Sentence 1: {a}\nSentence 2: {b}\nQuestion: Do both sentences mean the same thing?\nAnswer:",
            ("no", "yes"),
            ("not_equivalent", "equivalent"),
            True,
        ),
        PromptTemplate(
            "qqp",
            lambda a, b: f"Question 1: {a}\nQuestion 2: {b}\nQuestion: Do both questions ask the same thing?\nAnswer:",
            ("no", "yes"),
            ("not_duplicate", "duplicate"),
            True,
        ),
        PromptTemplate(
            "mnli",
            lambda a, b: f"{a}\nQuestion: {_with_period(b or '')} True, False or Neither?\nAnswer:",
            ("True", "Neither", "False"),
            ("entailment", "neutral", "contradiction"),
            True,
        ),
        PromptTemplate(
            "qnli",
            lambda a, b: f"{a}\n{b}\nQuestion: Does this response answer the question?\nAnswer:",
            ("yes", "no"),
            ("entailment", "not_entailment"),
            True,
        ),
        PromptTemplate(
            "rte",
            lambda a, b: f"{a}\nQuestion: {b} True or False?\nAnswer:",
            ("True", "False"),
            ("entailment", "not_entailment"),
            True,
        ),
        PromptTemplate(
            "wnli",
            lambda a, b: f"{a}\nQuestion: {b} True or False?\nAnswer:",
            ("False", "True"),
            ("not_entailment", "entailment"),
            True,
        ),
    )
}


def template_for(task: TaskData) -> PromptTemplate:
    """The task's template, after checking that the data's label order is the one the choices assume."""
    if task.is_regression:
        raise ConfigError(
            f"task '{task.name}': zero-shot evaluation needs a classification task; '{task.name}' is a regression "
            "task (STS-B) - use downstream mode 'finetune' for it (config key downstream.mode / "
            "models.<name>.downstream_mode)"
        )
    template = TEMPLATES.get(task.name)
    if template is None:
        raise ConfigError(
            f"task '{task.name}': no zero-shot prompt template; templates exist for {', '.join(sorted(TEMPLATES))}"
        )
    if task.num_labels != len(template.choices):
        raise DataError(
            f"task '{task.name}': meta.json has num_labels {task.num_labels}, "
            f"the zero-shot template has {len(template.choices)} choices"
        )
    names = task.meta.get("label_names")
    # A reordering of GLUE's label names would silently swap the answers: refuse it.
    if names and set(names) == set(template.label_names) and tuple(names) != template.label_names:
        raise DataError(
            f"task '{task.name}': meta.json label_names {names} are not in GLUE order "
            f"{list(template.label_names)}, which the zero-shot choices assume"
        )
    return template
