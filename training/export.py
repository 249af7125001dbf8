"""Export a fine-tuned classifier to the serving format: ONNX, int8, tokenizer
and a self-describing config, as ``nlp_guard.model`` loads it."""
from __future__ import annotations

import functools
import json
import shutil
from pathlib import Path
from collections.abc import Callable, Sequence
from typing import Any

from nlp_guard.model import STATIC_INT8

ONNX_OPSET = 17


def export_onnx(model: Any, path: Path, vocab_size: int) -> None:
    """fp32 ONNX with dynamic batch and sequence axes; outputs logits, and per-token
    logits when the model has an evidence head (a distilled student)."""
    import torch

    model = model.eval()
    ids = torch.randint(5, vocab_size, (2, 16), dtype=torch.long)
    mask = torch.ones_like(ids)
    mask[1, 10:] = 0  # trace with padding, or the exporter may bake in an "all ones, no mask" shortcut

    class Logits(torch.nn.Module):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> Any:
            out = self.inner(input_ids=input_ids, attention_mask=attention_mask)
            return out.logits if hasattr(out, "logits") else out[:2]

    token_head = getattr(model, "token_classifier", None) is not None
    names = ["logits", "token_logits"] if token_head else ["logits"]
    axes = {"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"}, "logits": {0: "batch"},
            "token_logits": {0: "batch", 1: "seq"}}
    wrapper = Logits(model).eval()  # the exporter restores the wrapper's mode afterwards: it must be eval
    torch.onnx.export(
        wrapper, (ids, mask), str(path), input_names=["input_ids", "attention_mask"], output_names=names,
        dynamic_axes={k: v for k, v in axes.items() if k in names or k.startswith(("input", "attention"))},
        opset_version=ONNX_OPSET, dynamo=False,
    )
    if model.training:
        raise RuntimeError("export left the model in training mode; predictions would use dropout")


def ffn_down_projections(src: Path) -> list[str]:
    """The FFN down-projection MatMuls: their inputs are GELU outputs with outlier
    activations, the layers most likely to move a decision under dynamic int8."""
    import re

    import onnx

    return [n.name for n in onnx.load(str(src), load_external_data=False).graph.node
            if re.search(r"/layer\.\d+/output/dense/MatMul$", n.name)]


def quantize_int8(src: Path, dst: Path, keep_fp32: Sequence[str] = ()) -> None:
    """Dynamic int8 (per-channel weights) for the MatMul/Gemm layers except ``keep_fp32``.
    The embedding table stays fp32."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8, per_channel=True,
                     op_types_to_quantize=["MatMul", "Gemm"], nodes_to_exclude=list(keep_fp32),
                     extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})


def quantize_static_int8(src: Path, dst: Path, keep_fp32: Sequence[str] = (), *,
                         calibration: Sequence[Sequence[int]], max_length: int, pad_id: int) -> None:
    """Static QDQ int8: per-channel MatMul weights, activation ranges fixed once from
    ``calibration`` (token ids, padded to ``max_length``; percentile, so a few outlier
    activations do not stretch the range). Unlike dynamic int8, whose activation scale is
    taken over the whole batch, a message scores the same whatever it is batched with."""
    import numpy as np
    from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType,
                                          quantize_static)

    feeds = [{"input_ids": np.array([list(ids[:max_length]) + [pad_id] * (max_length - len(ids[:max_length]))], np.int64),
              "attention_mask": np.array([[1] * len(ids[:max_length]) + [0] * (max_length - len(ids[:max_length]))], np.int64)}
             for ids in calibration]

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.items = iter(feeds)

        def get_next(self) -> dict | None:
            return next(self.items, None)

    quantize_static(str(src), str(dst), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                    weight_type=QuantType.QInt8, activation_type=QuantType.QUInt8, op_types_to_quantize=["MatMul"],
                    calibrate_method=CalibrationMethod.Percentile, nodes_to_exclude=list(keep_fp32))


Quantizer = Callable[[Path, Path, Sequence[str]], None]


def fit_quantization(src: Path, dst: Path, flip_rate: Callable[[Path], float],
                     budget: float, quantize: Quantizer = quantize_int8) -> tuple[list[str], float, float]:
    """Quantize as much as the parity budget allows.

    Everything goes int8 first. If more than ``budget`` of the (dev) decisions
    flip, the FFN down-projections are ranked by how much keeping each one fp32
    alone helps, and kept fp32 in that order until the flip rate fits. Returns
    the fp32 layers, the final flip rate and the all-int8 one; ``dst`` holds
    the chosen model (over budget when even all six kept fp32 do not fit).
    """
    quantize(src, dst, [])
    rate = all_int8 = flip_rate(dst)
    if rate <= budget:
        return [], rate, all_int8
    gain = []
    for name in ffn_down_projections(src):
        quantize(src, dst, [name])
        gain.append((flip_rate(dst), name))
    keep: list[str] = []
    for _, name in sorted(gain):
        keep.append(name)
        quantize(src, dst, keep)
        rate = flip_rate(dst)
        if rate <= budget:
            break
    return keep, rate, all_int8


def write_model_dir(model: Any, tokenizer_json: Path, out: Path, *, labels: list[str], thresholds: dict[str, float],
                    version: str, max_length: int, stride: int, extra: dict[str, Any] | None = None,
                    quantize: bool = True, flip_rate: Callable[[Path], float] | None = None,
                    budget: float = 0.005, calibration: Sequence[Sequence[int]] | None = None) -> Path:
    """Write tokenizer.json, config.json and model.onnx: int8 unless ``quantize``
    is False, and with ``flip_rate`` (a candidate model.onnx → share of decisions
    that flip) only as much int8 as ``budget`` allows. With ``calibration`` (fixed token
    ids), static QDQ is fitted first and ships when it holds the budget: its scores do not
    depend on a message's batch neighbours; otherwise dynamic int8 is fitted. The config
    records the scheme, both fits and which layers stayed fp32."""
    out.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(tokenizer_json, out / "tokenizer.json")
    config = {"version": version, "labels": labels, "thresholds": thresholds, "max_length": max_length,
              "stride": stride, **(extra or {})}

    def write_config() -> None:
        (out / "config.json").write_text(json.dumps(config, ensure_ascii=False, indent=2) + "\n", "utf-8")

    write_config()  # a candidate model.onnx is loadable while the quantization is fitted
    fp32 = out / "model.fp32.onnx"
    export_onnx(model, fp32, model.config.vocab_size)
    if not quantize:
        fp32.rename(out / "model.onnx")
        return out
    if flip_rate is None:
        quantize_int8(fp32, out / "model.onnx")
    else:
        fits: dict[str, dict[str, Any]] = {}
        schemes: list[tuple[str, Quantizer]] = []
        if calibration is not None:
            pad = json.loads(tokenizer_json.read_text("utf-8")).get("padding") or {}
            static = functools.partial(quantize_static_int8, calibration=calibration, max_length=max_length,
                                       pad_id=int(pad.get("pad_id", 1)))
            schemes.append((f"{STATIC_INT8}, per-channel MatMul weights, percentile-calibrated activations", static))
        schemes.append(("dynamic, per-channel MatMul weights", quantize_int8))
        for name, quantizer in schemes:
            keep, rate, all_int8 = fit_quantization(fp32, out / "model.onnx", flip_rate, budget, quantizer)
            fits[name] = {"fp32_layers": keep, "dev_decision_flip_rate": round(rate, 4),
                          "all_int8_dev_flip_rate": round(all_int8, 4)}
            if rate <= budget:
                break
        config["quantization"] = {"int8": name, **fits[name], "budget": budget,
                                  **({"tried": fits} if len(fits) > 1 else {}),
                                  **({"calibration_texts": len(calibration)} if calibration is not None else {})}
        write_config()
    fp32.unlink()
    return out


def write_reference_dir(base: Path, out: Path, labels: Sequence[str], max_length: int = 64) -> Path:
    """The untrimmed multilingual-e5-small with an untrained head, all int8: the encoder
    behind issue 3's reference speed figures, timed beside the shipped model in one run
    (its scores mean nothing; only its speed is used)."""
    import torch
    from transformers import BertForSequenceClassification

    torch.manual_seed(0)
    model = BertForSequenceClassification.from_pretrained(str(base), num_labels=len(labels), attn_implementation="eager")
    return write_model_dir(model, base / "tokenizer.json", out, labels=list(labels), thresholds=dict.fromkeys(labels, 0.5),
                           version="multilingual-e5-small-untrimmed-reference", max_length=max_length, stride=16,
                           extra={"layers": model.config.num_hidden_layers, "vocab_size": model.config.vocab_size})
