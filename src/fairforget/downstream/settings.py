"""The `downstream:` config section, parsed once into typed settings with defaults.

Defaults are the bias-bench GLUE settings (its run_glue.py = Hugging Face Trainer defaults): max length 128,
batch 32, lr 2e-5, 3 epochs, AdamW (no weight decay), linear decay without warmup, max grad norm 1.0.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from fairforget.errors import ConfigError

MODES = ("finetune", "lora", "zeroshot", "linear_probe")
KIND_MODES = {
    "masked": ("finetune", "lora", "linear_probe"),
    "causal": ("finetune", "lora", "zeroshot", "linear_probe"),
}
PRECISIONS = ("no", "bf16")


@dataclass(frozen=True)
class LoraSettings:
    r: int = 8
    alpha: int = 16
    dropout: float = 0.1
    target_modules: tuple[str, ...] = ("q_proj", "v_proj")


@dataclass(frozen=True)
class ZeroshotSettings:
    # Prepend BOS to every prompt. Llama models were pretrained with BOS at document start; set false for
    # lm-evaluation-harness's default (no BOS for causal models).
    add_bos: bool = True


@dataclass(frozen=True)
class LinearProbeSettings:
    # the linear_probe mode (fairforget.downstream.linear_probe): L2 penalty l2 / 2 * ||W||^2 on the mean loss of
    # the standardised features, and the L-BFGS iterations of the fit
    l2: float = 0.01
    max_iter: int = 200


@dataclass(frozen=True)
class DownstreamSettings:
    mode: dict[str, str] = field(default_factory=lambda: {"masked": "finetune", "causal": "finetune"})
    seeds: tuple[int, ...] = (0,)
    epochs: float = 3  # may be fractional: steps = ceil(epochs * batches per epoch)
    batch_size: int = 32
    eval_batch_size: int = 64
    learning_rate: float = 2e-5
    weight_decay: float = 0.0
    warmup_ratio: float = 0.0
    max_grad_norm: float = 1.0
    max_length: int = 128
    max_steps: int | None = None  # cap on optimizer steps (smoke tests); None = epochs decide
    mixed_precision: str = "no"
    # dev-set percentile-bootstrap intervals, computed from stored predictions (not part of the store key)
    bootstrap_samples: int = 1000
    bootstrap_seed: int = 0
    lora: LoraSettings = field(default_factory=LoraSettings)
    zeroshot: ZeroshotSettings = field(default_factory=ZeroshotSettings)
    linear_probe: LinearProbeSettings = field(default_factory=LinearProbeSettings)

    def mode_for(self, kind: str, override: str | None = None, model: str | None = None) -> str:
        """The evaluation mode of a model: `models.<model>.downstream_mode`, else `downstream.mode.<kind>`."""
        key = f"models.{model}.downstream_mode" if override is not None else f"downstream.mode.{kind}"
        mode = override if override is not None else self.mode.get(kind)
        if mode is None:
            raise ConfigError(f"config key 'downstream.mode': no mode for model kind '{kind}'")
        if mode not in KIND_MODES.get(kind, ()):
            raise ConfigError(
                f"config key '{key}': mode {mode!r} is not available for {kind} models; "
                f"allowed: {', '.join(KIND_MODES.get(kind, ()))}"
            )
        return mode

    def training_settings(self) -> dict[str, Any]:
        """What determines a fine-tuned score (part of the result-store key)."""
        settings = asdict(self)
        for key in ("mode", "seeds", "zeroshot", "linear_probe", "bootstrap_samples", "bootstrap_seed"):
            settings.pop(key)
        return settings

    def zeroshot_settings(self) -> dict[str, Any]:
        return {
            "max_length": self.max_length,
            "eval_batch_size": self.eval_batch_size,
            "mixed_precision": self.mixed_precision,
            **asdict(self.zeroshot),
        }

    def linear_probe_settings(self) -> dict[str, Any]:
        """What determines a linear probe's scores (no seed: nothing in it is random)."""
        return {"max_length": self.max_length, "eval_batch_size": self.eval_batch_size, **asdict(self.linear_probe)}


def _number(
    section: dict[str, Any],
    key: str,
    kind: type,
    default: Any,
    minimum: float | None = None,
    prefix: str = "downstream",
) -> Any:
    value = section.get(key, default)
    if value is None and default is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or (kind is int and not isinstance(value, int)):
        raise ConfigError(f"config key '{prefix}.{key}': expected {kind.__name__}, got {value!r}")
    if minimum is not None and value < minimum:
        raise ConfigError(f"config key '{prefix}.{key}': must be >= {minimum}, got {value!r}")
    return kind(value)


def parse_settings(section: dict[str, Any] | None) -> DownstreamSettings:
    """Check the `downstream:` section; every error names the offending key."""
    section = dict(section or {})
    defaults = DownstreamSettings()
    known = set(asdict(defaults))
    unknown = sorted(set(section) - known)
    if unknown:
        raise ConfigError(
            f"config key 'downstream': unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )
    mode = {**defaults.mode, **dict(section.get("mode") or {})}
    for kind, value in mode.items():
        if kind not in KIND_MODES:
            raise ConfigError(f"config key 'downstream.mode.{kind}': unknown model kind; allowed: masked, causal")
        if value not in KIND_MODES[kind]:
            raise ConfigError(
                f"config key 'downstream.mode.{kind}': {value!r} not allowed; allowed: {', '.join(KIND_MODES[kind])}"
            )
    seeds = section.get("seeds", list(defaults.seeds))
    if not isinstance(seeds, list) or not seeds or any(isinstance(s, bool) or not isinstance(s, int) for s in seeds):
        raise ConfigError(f"config key 'downstream.seeds': expected a non-empty list of integers, got {seeds!r}")
    precision = section.get("mixed_precision", defaults.mixed_precision)
    if precision not in PRECISIONS:
        raise ConfigError(f"config key 'downstream.mixed_precision': {precision!r}; allowed: {', '.join(PRECISIONS)}")
    warmup = _number(section, "warmup_ratio", float, defaults.warmup_ratio, 0.0)
    if warmup >= 1.0:
        raise ConfigError(f"config key 'downstream.warmup_ratio': must be < 1, got {warmup!r}")

    lora_section = dict(section.get("lora") or {})
    lora_unknown = sorted(set(lora_section) - set(asdict(LoraSettings())))
    if lora_unknown:
        raise ConfigError(f"config key 'downstream.lora': unknown key(s) {', '.join(lora_unknown)}")
    lora_defaults = LoraSettings()
    targets = lora_section.get("target_modules", list(lora_defaults.target_modules))
    if not isinstance(targets, list) or not targets or not all(isinstance(t, str) for t in targets):
        raise ConfigError(
            f"config key 'downstream.lora.target_modules': expected a list of module names, got {targets!r}"
        )
    lora = LoraSettings(
        r=_number(lora_section, "r", int, lora_defaults.r, 1, "downstream.lora"),
        alpha=_number(lora_section, "alpha", int, lora_defaults.alpha, 1, "downstream.lora"),
        dropout=_number(lora_section, "dropout", float, lora_defaults.dropout, 0.0, "downstream.lora"),
        target_modules=tuple(targets),
    )
    zeroshot_section = dict(section.get("zeroshot") or {})
    if set(zeroshot_section) - {"add_bos"}:
        unknown_zeroshot = sorted(set(zeroshot_section) - {"add_bos"})
        raise ConfigError(f"config key 'downstream.zeroshot': unknown key(s) {unknown_zeroshot}")
    add_bos = zeroshot_section.get("add_bos", ZeroshotSettings().add_bos)
    if not isinstance(add_bos, bool):
        raise ConfigError(f"config key 'downstream.zeroshot.add_bos': expected true/false, got {add_bos!r}")
    probe_section = dict(section.get("linear_probe") or {})
    probe_unknown = sorted(set(probe_section) - set(asdict(LinearProbeSettings())))
    if probe_unknown:
        raise ConfigError(f"config key 'downstream.linear_probe': unknown key(s) {', '.join(probe_unknown)}")
    probe_defaults = LinearProbeSettings()
    linear_probe = LinearProbeSettings(
        l2=_number(probe_section, "l2", float, probe_defaults.l2, 0.0, "downstream.linear_probe"),
        max_iter=_number(probe_section, "max_iter", int, probe_defaults.max_iter, 1, "downstream.linear_probe"),
    )

    return DownstreamSettings(
        mode=mode,
        seeds=tuple(seeds),
        epochs=_number(section, "epochs", float, defaults.epochs, 0),
        batch_size=_number(section, "batch_size", int, defaults.batch_size, 1),
        eval_batch_size=_number(section, "eval_batch_size", int, defaults.eval_batch_size, 1),
        learning_rate=_number(section, "learning_rate", float, defaults.learning_rate, 0.0),
        weight_decay=_number(section, "weight_decay", float, defaults.weight_decay, 0.0),
        warmup_ratio=warmup,
        max_grad_norm=_number(section, "max_grad_norm", float, defaults.max_grad_norm, 0.0),
        max_length=_number(section, "max_length", int, defaults.max_length, 2),
        max_steps=_number(section, "max_steps", int, defaults.max_steps, 0),
        mixed_precision=precision,
        bootstrap_samples=_number(section, "bootstrap_samples", int, defaults.bootstrap_samples, 0),
        bootstrap_seed=_number(section, "bootstrap_seed", int, defaults.bootstrap_seed),
        lora=lora,
        zeroshot=ZeroshotSettings(add_bos=add_bos),
        linear_probe=linear_probe,
    )
