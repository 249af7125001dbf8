"""Export a fine-tuned classifier to the serving format: ONNX, int8, tokenizer
and a self-describing config, as ``nlp_guard.model`` loads it."""
from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

ONNX_OPSET = 17


def export_onnx(model: Any, path: Path, vocab_size: int) -> None:
    """fp32 ONNX with dynamic batch and sequence axes; outputs logits."""
    import torch

    model = model.eval()
    ids = torch.randint(5, vocab_size, (2, 16), dtype=torch.long)
    mask = torch.ones_like(ids)
    mask[1, 10:] = 0  # trace with padding, or the exporter may bake in an "all ones, no mask" shortcut

    class Logits(torch.nn.Module):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            return self.inner(input_ids=input_ids, attention_mask=attention_mask).logits

    wrapper = Logits(model).eval()  # the exporter restores the wrapper's mode afterwards: it must be eval
    torch.onnx.export(
        wrapper, (ids, mask), str(path), input_names=["input_ids", "attention_mask"], output_names=["logits"],
        dynamic_axes={"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"}, "logits": {0: "batch"}},
        opset_version=ONNX_OPSET, dynamo=False,
    )
    if model.training:
        raise RuntimeError("export left the model in training mode; predictions would use dropout")


def quantize_int8(src: Path, dst: Path) -> None:
    """Dynamic int8 (per-channel weights) for the MatMul/Gemm layers, except the FFN
    down-projections: their inputs are GELU outputs with outlier activations, and
    quantizing them alone flipped 4.7% of dev labels against torch (measured), while
    the rest together stay within the 1% decision-flip budget. The embedding table stays fp32.
    """
    import re

    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    ffn_down = [n.name for n in onnx.load(str(src), load_external_data=False).graph.node
                if re.search(r"/layer\.\d+/output/dense/MatMul$", n.name)]
    quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8, per_channel=True,
                     op_types_to_quantize=["MatMul", "Gemm"], nodes_to_exclude=ffn_down)


def write_model_dir(model: Any, tokenizer_json: Path, out: Path, *, labels: list[str], thresholds: dict[str, float],
                    version: str, max_length: int, stride: int, extra: dict[str, Any] | None = None,
                    quantize: bool = True) -> Path:
    """Write model.onnx (int8 unless ``quantize`` is False), tokenizer.json and config.json."""
    out.mkdir(parents=True, exist_ok=True)
    fp32 = out / "model.fp32.onnx"
    export_onnx(model, fp32, model.config.vocab_size)
    if quantize:
        quantize_int8(fp32, out / "model.onnx")
        fp32.unlink()
    else:
        fp32.rename(out / "model.onnx")
    shutil.copyfile(tokenizer_json, out / "tokenizer.json")
    config = {"version": version, "labels": labels, "thresholds": thresholds, "max_length": max_length,
              "stride": stride, **(extra or {})}
    (out / "config.json").write_text(json.dumps(config, ensure_ascii=False, indent=2) + "\n", "utf-8")
    return out
