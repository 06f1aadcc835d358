"""A GGUF checkpoint (llama.cpp's format) converted once into a normal fairforget model directory.

transformers reads GGUF files (`from_pretrained(folder, gguf_file=name)`, with the `gguf` package) and
dequantizes every tensor to float32, but a model loaded that way refuses `save_pretrained` ("quantized with
gguf"). So the loaded config is copied without its `quantization_config`, a plain model is built from it, the
dequantized state dict is loaded into it (strictly: no missing or unexpected key) and saved as safetensors with
the tokenizer the GGUF file carries; it is then reloaded and compared tensor by tensor (`check_reload`). The
conversion is deterministic: the same file gives the same content hash (tests/real/test_real_model.py).

Nothing is downloaded: the file is read from disk with the hub switched off, and remote code is never run.
"""

from __future__ import annotations

import importlib.metadata
import logging
from collections import Counter
from pathlib import Path
from typing import Any

from fairforget.errors import ModelError
from fairforget.hashing import sha256_file
from fairforget.models.hub import offline
from fairforget.models.modeldir import MANIFEST, save_model_dir

log = logging.getLogger(__name__)

# transformers' GGUF loader builds these architectures' causal LMs; masked LMs have no GGUF route here.
GGUF_KINDS = ("causal",)


def _version(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def gguf_metadata(path: str | Path) -> dict[str, Any]:
    """Facts about the file from its own header (memory-mapped, nothing dequantized): architecture, name,
    llama.cpp's file type and how many tensors are stored in each quantization type."""
    from gguf import GGUFReader  # the reader transformers uses too

    reader = GGUFReader(str(path))

    def field(key: str) -> Any:
        item = reader.fields.get(key)
        return None if item is None else item.contents()

    return {
        "architecture": field("general.architecture"),
        "name": field("general.name"),
        "file_type": field("general.file_type"),
        "tensor_types": dict(sorted(Counter(t.tensor_type.name for t in reader.tensors).items())),
    }


def convert_gguf(
    gguf_path: str | Path,
    kind: str,
    out_dir: str | Path,
    source: dict[str, Any],
    expected_sha256: str | None = None,
) -> dict[str, Any]:
    """Convert the GGUF file into the model directory `out_dir` (float32 safetensors, tokenizer, manifest).

    `source`: what the manifest records about where the file came from (package, version, ...); the file's
    sha256 and header facts are added here. `expected_sha256`: refuse a file with another hash.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf_path = Path(gguf_path)
    if kind not in GGUF_KINDS:
        raise ModelError(f"{gguf_path}: GGUF models are converted as {' or '.join(GGUF_KINDS)} LMs, not {kind!r}")
    if not gguf_path.is_file():
        raise ModelError(f"{gguf_path}: GGUF file not found")
    digest = sha256_file(gguf_path)
    if expected_sha256 is not None and digest != expected_sha256.lower():
        raise ModelError(f"{gguf_path}: sha256 is {digest}, the config expects {expected_sha256}")
    common: dict[str, Any] = {"gguf_file": gguf_path.name, "local_files_only": True, "trust_remote_code": False}
    with offline():
        tokenizer = AutoTokenizer.from_pretrained(gguf_path.parent, **common)
        loaded = AutoModelForCausalLM.from_pretrained(gguf_path.parent, dtype=torch.float32, **common)
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config  # the dequantized weights are plain float32 tensors
    # Initialisation is irrelevant (every tensor is overwritten); a fixed seed keeps even that reproducible.
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    incompatible = model.load_state_dict(loaded.state_dict(), strict=False)
    if incompatible.missing_keys or incompatible.unexpected_keys:
        raise ModelError(
            f"{gguf_path}: the dequantized weights do not fit {type(model).__name__} "
            f"(missing {incompatible.missing_keys[:5]}, unexpected {incompatible.unexpected_keys[:5]})"
        )
    del loaded
    n_parameters = sum(p.numel() for p in model.parameters())
    log.info("converted %s: %s, %d parameters", gguf_path.name, type(model).__name__, n_parameters)
    Path(out_dir, MANIFEST).unlink(missing_ok=True)
    facts = {
        "type": "gguf",
        **source,
        "gguf_file": gguf_path.name,
        "gguf_path": str(gguf_path.resolve()),
        "gguf_sha256": digest,
        "gguf_header": gguf_metadata(gguf_path),
        "converted_to": {"dtype": "float32", "architecture": type(model).__name__, "parameters": n_parameters},
        "converted_with": {name: _version(name) for name in ("transformers", "gguf", "torch")},
    }
    manifest = save_model_dir(model, tokenizer, out_dir, kind, extra={"source": facts})
    check_reload(model, out_dir)
    return manifest


def check_reload(model: Any, out_dir: str | Path) -> None:
    """The saved directory must load back (offline, safetensors only) to exactly the converted weights, bit for bit;
    a mismatch (a tensor dropped as "tied" that was not, a dtype change) stops the conversion."""
    import torch
    from transformers import AutoModelForCausalLM

    with offline():
        reloaded = AutoModelForCausalLM.from_pretrained(
            out_dir, dtype=torch.float32, use_safetensors=True, local_files_only=True, trust_remote_code=False
        )
    expected, found = model.state_dict(), reloaded.state_dict()
    differing = sorted(k for k in expected.keys() | found.keys() if k not in expected or k not in found)
    differing += sorted(k for k in expected.keys() & found.keys() if not torch.equal(expected[k], found[k]))
    if differing:
        raise ModelError(f"{out_dir}: the saved model does not reload to the converted weights ({differing[:5]})")
