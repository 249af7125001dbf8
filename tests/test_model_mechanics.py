"""The ONNX classifier's mechanics on a tiny randomly initialised model:
batching, truncation into windows, thresholds, and load errors."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from nlp_guard import Guard, ModelError
from nlp_guard.model import calibrate, load_classifier

from tiny_model import CHARS, LABELS, bert_config_kwargs, write_tokenizer


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch = pytest.importorskip("torch")
    from transformers import BertConfig, BertForSequenceClassification

    from training.export import write_model_dir

    torch.manual_seed(0)
    cfg = BertConfig(**bert_config_kwargs(), num_labels=5)
    model = BertForSequenceClassification(cfg).eval()
    out = tmp_path_factory.mktemp("tiny")
    write_tokenizer(out / "src_tokenizer.json")
    write_model_dir(model, out / "src_tokenizer.json", out / "model", labels=LABELS,
                    thresholds=dict.fromkeys(LABELS, 0.4), version="tiny-0", max_length=12, stride=4, quantize=False)
    return out / "model"


def test_batching_matches_one_by_one(tiny_dir: Path) -> None:
    clf = load_classifier(tiny_dir)
    clf.batch_size = 2
    texts = ["老赖还钱", "请尽快处理，谢谢", "你", "后果自负后果自负", "逾期30天"]
    together = np.array(clf.logits(texts))
    alone = np.array([clf.logits([t])[0] for t in texts])
    assert np.allclose(together, alone, atol=1e-5)


def test_long_text_is_split_into_windows_and_takes_the_max(tiny_dir: Path) -> None:
    clf = load_classifier(tiny_dir)
    text = "请尽快处理谢谢" * 3 + "老赖后果自负"  # 27 characters, max_length 12 → several windows
    ids = clf.tokenizer.encode(text).ids
    windows = [w for start, w in clf._windows(ids)]
    assert len(windows) > 1
    assert all(len(w) <= 12 and w[0] == 0 and w[-1] == 2 for w in windows)
    assert all(w[1:-1] == ids[1 + start:start + len(w) - 1] for start, w in clf._windows(ids))  # the token map
    body = [i for w in windows for i in w[1:-1]]
    assert set(body) == set(ids[1:-1])  # every token is seen by some window
    per_window = np.array([clf.logits([clf.tokenizer.decode(w[1:-1]).replace(" ", "")])[0] for w in windows])
    assert np.allclose(clf.logits([text])[0], per_window.max(axis=0), atol=1e-5)


@pytest.mark.parametrize(("p", "t", "expected"), [
    (0.4, 0.4, 0.5), (0.0, 0.4, 0.0), (1.0, 0.4, 1.0), (0.2, 0.4, 0.25), (0.7, 0.4, 0.75), (0.9, 0.9, 0.5),
])
def test_calibration_puts_the_threshold_at_one_half(p: float, t: float, expected: float) -> None:
    assert calibrate(p, t) == pytest.approx(expected)


def test_predict_applies_thresholds_and_plugs_into_guard(tiny_dir: Path) -> None:
    clf = load_classifier(tiny_dir)
    raw = clf.logits(["老赖还钱"])[0]
    scores = clf.predict(["老赖还钱"])[0]
    assert list(scores) == LABELS
    for lab, p in zip(LABELS, raw, strict=True):
        assert (scores[lab] >= 0.5) == (p >= 0.4)
    d = Guard(classifier=clf).check("老赖还钱")
    assert d.model_version == "tiny-0" and d.decision == "block"


def test_int8_export_loads(tiny_dir: Path, tmp_path: Path) -> None:
    from training.export import quantize_int8

    q = tmp_path / "q"
    shutil.copytree(tiny_dir, q)
    quantize_int8(tiny_dir / "model.onnx", q / "model.onnx")
    assert np.allclose(load_classifier(q).logits(["老赖还钱"]), load_classifier(tiny_dir).logits(["老赖还钱"]), atol=0.05)


def test_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="does not exist"):
        load_classifier(tmp_path / "nope")


@pytest.mark.parametrize(("damage", "message"), [
    ("delete:model.onnx", "missing model.onnx"),
    ("delete:tokenizer.json", "missing tokenizer.json"),
    ("garbage:model.onnx", "model.onnx cannot be loaded"),
    ("garbage:tokenizer.json", "tokenizer.json cannot be read"),
    ("garbage:config.json", "not a valid model config"),
    ("nothreshold:config.json", "no threshold for labels"),
])
def test_corrupt_directory(tiny_dir: Path, tmp_path: Path, damage: str, message: str) -> None:
    broken = tmp_path / "m"
    shutil.copytree(tiny_dir, broken)
    how, name = damage.split(":")
    if how == "delete":
        (broken / name).unlink()
    elif how == "garbage":
        (broken / name).write_bytes(b"\x00not a model")
    else:
        cfg = json.loads((broken / name).read_text())
        cfg["thresholds"].pop("abuse")
        (broken / name).write_text(json.dumps(cfg))
    with pytest.raises(ModelError, match=message):
        load_classifier(broken)


def test_export_matches_torch_and_leaves_the_model_in_eval_mode(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    import onnxruntime as ort
    from transformers import BertConfig, BertForSequenceClassification

    from training.export import export_onnx

    torch.manual_seed(1)
    cfg = BertConfig(vocab_size=50, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                     intermediate_size=64, num_labels=5)
    model = BertForSequenceClassification(cfg).eval()
    export_onnx(model, tmp_path / "m.onnx", 50)
    assert not model.training
    ids = np.array([[0, 5, 6, 7, 8, 2], [0, 9, 10, 2, 1, 1]], dtype=np.int64)
    mask = np.array([[1] * 6, [1, 1, 1, 1, 0, 0]], dtype=np.int64)
    onnx_out = ort.InferenceSession(str(tmp_path / "m.onnx")).run(None, {"input_ids": ids, "attention_mask": mask})[0]
    with torch.no_grad():
        torch_out = model(input_ids=torch.tensor(ids), attention_mask=torch.tensor(mask)).logits.numpy()
    assert np.allclose(onnx_out, torch_out, atol=1e-5)


def test_fit_quantization_keeps_only_what_parity_needs(tiny_dir: Path, tmp_path: Path) -> None:
    import onnx

    from training.export import ffn_down_projections, fit_quantization

    src = tiny_dir / "model.onnx"
    downs = ffn_down_projections(src)
    assert downs and all("/output/dense/MatMul" in d for d in downs)

    def flips_unless_last_kept(candidate: Path) -> float:  # stands in for a dev-set parity run
        fp32 = {n.name for n in onnx.load(str(candidate)).graph.node if n.op_type == "MatMul"}
        return 0.0 if downs[-1] in fp32 else 0.02

    q = tmp_path / "model.onnx"
    assert fit_quantization(src, q, lambda _: 0.0, 0.005) == ([], 0.0, 0.0)
    assert fit_quantization(src, q, flips_unless_last_kept, 0.005) == ([downs[-1]], 0.0, 0.02)
    assert downs[-1] in {n.name for n in onnx.load(str(q)).graph.node if n.op_type == "MatMul"}
