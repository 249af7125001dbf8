"""Distillation on tiny models: the teacher read back from int8 ONNX, the layer map,
occlusion and rule targets, a smoke run of training.distill, and a student with an
evidence head serving word spans in one forward pass."""
from __future__ import annotations

import gzip
import json
import random
import sys
from pathlib import Path

import numpy as np
import pytest

from tiny_model import LABELS, bert_config_kwargs, write_tokenizer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
torch = pytest.importorskip("torch")

from training import distill  # noqa: E402
from training.augment import expand  # noqa: E402
from training.export import write_model_dir  # noqa: E402

TEXTS = ["老赖还钱", "请尽快处理，谢谢。", "逾期30天，后果自负", "你还不还钱", "我是他的老赖"]


@pytest.fixture(scope="module")
def teacher_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(0)
    model = BertForSequenceClassification(BertConfig(**bert_config_kwargs(), num_labels=5)).eval()
    out = tmp_path_factory.mktemp("teacher")
    write_tokenizer(out / "src_tokenizer.json")
    return write_model_dir(model, out / "src_tokenizer.json", out / "model", labels=LABELS,
                           thresholds=dict.fromkeys(LABELS, 0.5), version="tiny-teacher", max_length=16, stride=4,
                           extra={"attention_heads": 2})


@pytest.mark.parametrize(("student", "expected"), [(1, [11]), (2, [0, 11]), (4, [0, 4, 7, 11]), (6, [0, 2, 4, 7, 9, 11])])
def test_layer_map_spreads_evenly_with_both_ends(student: int, expected: list[int]) -> None:
    assert distill.layer_map(student) == expected


def test_teacher_read_back_from_int8_onnx_matches_its_scores(teacher_dir: Path) -> None:
    from nlp_guard.model import load_classifier

    config, state = distill.teacher_from_onnx(teacher_dir / "model.onnx", heads=2)
    assert config["num_hidden_layers"] == 2 and config["hidden_size"] == 32
    net = distill.build_net({**config, "attn_implementation": "eager"}, len(LABELS), token_head=False)
    distill.load_state(net, state)
    enc = distill.Encoder(teacher_dir / "tokenizer.json", 16)
    ids, _ = enc.encode(TEXTS)
    torch_p = distill.predict(net, ids, enc.pad, torch.device("cpu"))
    onnx_p = np.array(load_classifier(teacher_dir).logits(TEXTS))
    assert np.abs(torch_p - onnx_p).max() < 0.02  # int8 activations are the only difference


def test_student_copies_the_mapped_layers() -> None:
    state = {f"bert.encoder.layer.{i}.output.dense.weight": np.full((2, 2), i, np.float32) for i in range(12)}
    state["classifier.weight"] = np.zeros((5, 2), np.float32)
    out = distill.student_state(state, [0, 11])
    assert sorted(out) == ["bert.encoder.layer.0.output.dense.weight", "bert.encoder.layer.1.output.dense.weight",
                           "classifier.weight"]
    assert out["bert.encoder.layer.1.output.dense.weight"][0, 0] == 11


def test_rule_targets_mark_overlapping_tokens_of_the_category() -> None:
    offsets = [(0, 0), (0, 2), (2, 4), (4, 5), (0, 0)]
    y = distill.rule_targets(offsets, [[2, 5, "abuse"], [0, 1, "nonsense"]])
    assert y[:, LABELS.index("abuse")].tolist() == [0, 0, 1, 1, 0]
    assert y.sum() == 2


def test_occlusion_targets_only_for_flagged_categories(teacher_dir: Path) -> None:
    config, state = distill.teacher_from_onnx(teacher_dir / "model.onnx", heads=2)
    net = distill.build_net({**config, "attn_implementation": "eager"}, len(LABELS), token_head=False)
    distill.load_state(net, state)
    enc = distill.Encoder(teacher_dir / "tokenizer.json", 16)
    ids, _ = enc.encode(TEXTS)
    probs = distill.predict(net, ids, enc.pad, torch.device("cpu"))
    th = np.full(len(LABELS), 0.5, np.float32)
    th[0] = 0.0  # everything is flagged for threat, nothing else can be
    th[1:] = 1.1
    ys = distill.occlusion_targets(net, ids, probs, th, enc.pad, torch.device("cpu"))
    assert [y.shape for y in ys] == [(len(i), len(LABELS)) for i in ids]
    assert all(y[:, 1:].sum() == 0 for y in ys)
    assert all(y[0].sum() == 0 and y[-1].sum() == 0 for y in ys)  # special tokens are never evidence


def test_expand_is_seeded_and_never_repeats_a_seed() -> None:
    seeds = ["你好，请尽快还款。", "再不还钱，后果自负！", "逾期30天，请处理"]
    a, b = expand(seeds, 40, random.Random(1)), expand(seeds, 40, random.Random(1))
    assert a == b and len(set(a)) == len(a)
    assert not set(a) & set(seeds)


def _write_gz(path: Path, rows: list[dict]) -> None:
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        fh.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


def _transfer(tmp_path: Path, rows: list[dict]) -> Path:
    """A transfer folder whose dev split is the rows themselves and whose test split is the first five."""
    transfer = tmp_path / "transfer"
    transfer.mkdir()
    _write_gz(transfer / "transfer.jsonl.gz", rows)
    _write_gz(transfer / "dev.jsonl.gz", [{"t": r["t"], "y": r["y"], "o": False} for r in rows])
    _write_gz(transfer / "test.jsonl.gz", [{"t": r["t"], "y": r["y"], "o": False} for r in rows[:5]])
    return transfer


def _tiny_student(teacher_dir: Path, transfer: Path, out: Path, size: int, teacher_epochs: float) -> Path:
    distill.main(["--teacher", str(teacher_dir), "--transfer_dir", str(transfer), "--out", str(out), "--layers", "1",
                  "--size", str(size), "--epochs", "1", "--teacher_epochs", str(teacher_epochs), "--batch_size", "8",
                  "--max_length", "16", "--device", "cpu"])
    return out


@pytest.mark.slow
def test_distill_smoke_run_writes_a_loadable_student_with_an_evidence_head(teacher_dir: Path, tmp_path: Path) -> None:
    rows = [{"t": t, "k": "train", "y": ["abuse"] if "老赖" in t else [], "r": [[t.find("老赖"), t.find("老赖") + 2, "abuse"]]
             if "老赖" in t else []} for t in TEXTS * 4]
    out = _tiny_student(teacher_dir, _transfer(tmp_path, rows), tmp_path / "student", size=60, teacher_epochs=0.5)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["layer_map"] == [1] and metrics["transfer_sentences"] >= 20
    assert set(metrics["dev_student"]["per_category"]) == set(LABELS)
    assert isinstance(metrics["shippable"], bool)

    from nlp_guard import Guard
    from nlp_guard.model import load_classifier
    from training.ship_student import load_student

    net, cfg = load_student(out)
    served = write_model_dir(net, teacher_dir / "tokenizer.json", tmp_path / "served", labels=LABELS,
                             thresholds=cfg["thresholds"], version="tiny-student", max_length=16, stride=4)
    clf = load_classifier(served)
    assert clf.evidence_head
    text = "请尽快处理，谢谢。老赖还钱，后果自负，逾期30天"  # longer than one window
    scored = clf.predict_with_evidence([text])[0]
    assert scored.scores == pytest.approx(clf.predict([text])[0], abs=1e-6)
    for spans in scored.evidence.values():
        assert spans and all(0 <= s.start < s.end <= len(text) and text[s.start:s.end].strip() for s in spans)
    guard = Guard(classifier=clf)
    assert guard.explain == "head"
    calls = []
    original = clf.session.run
    clf.session.run = lambda *a, **k: calls.append(1) or original(*a, **k)
    decision = guard.check("   老赖，还钱！", suggest=False)
    assert len(calls) == 1  # evidence in the same forward pass, no occlusion rounds
    for v in decision.violations:
        for e in v.evidence:
            assert "   老赖，还钱！"[e.start:e.end] == e.text


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["head", "occlusion"])
def test_cli_check_explains_a_model_only_violation_either_way(mode: str) -> None:
    from click.testing import CliRunner

    from nlp_guard.cli import main

    text = "你这种人活着有什么意思，赶紧去借点钱还上"
    out = CliRunner().invoke(main, ["check", text, "--json", "--explain", mode])
    assert out.exit_code == 0, out.output
    decision = json.loads(out.output)
    model = [v for v in decision["violations"] if v["source"] == "model"]
    assert model, decision
    word = "evidence head marks" if mode == "head" else "lowers the"
    assert all(word in v["explanation"] for v in model)
    assert all(text[e["start"]:e["end"]] == e["text"] for v in model for e in v["evidence"])


def test_two_exports_of_the_same_weights_are_identical(tmp_path: Path) -> None:
    """Quantization that reproduces (issue 13): eager attention, dynamic int8 with no
    calibration data, so the same weights give the same bytes and so the same flip rate."""
    torch.manual_seed(3)
    net = distill.build_net({**bert_config_kwargs(), "attn_implementation": "eager"}, len(LABELS), token_head=True).eval()
    write_tokenizer(tmp_path / "tok.json")
    a, b = (write_model_dir(net, tmp_path / "tok.json", tmp_path / name, labels=LABELS, thresholds=dict.fromkeys(LABELS, 0.5),
                            version="tiny", max_length=16, stride=4) for name in ("a", "b"))
    assert (a / "model.onnx").read_bytes() == (b / "model.onnx").read_bytes()


@pytest.mark.parametrize("seed", range(8))
def test_wrap_keeps_the_message_whole_and_only_adds_service_text(seed: int) -> None:
    from training.augment import WRAP_CLOSINGS, WRAP_OPENINGS, WRAP_WARNINGS, wrap

    text = "你丫的钱还不还"
    dressed = wrap(text, random.Random(seed))
    assert text in dressed and dressed != text
    rest = dressed.replace(text, "", 1)
    pieces = WRAP_OPENINGS + WRAP_CLOSINGS + WRAP_WARNINGS
    assert any(p in rest for p in pieces) or rest.count("“") == 2


def test_wrap_lists_share_nothing_with_the_adversarial_bench() -> None:
    """The bench measures how hardening carries over to wording training never saw."""
    from bench.adversarial import CLOSINGS, GREETINGS, WARNINGS
    from training.augment import WRAP_CLOSINGS, WRAP_OPENINGS, WRAP_WARNINGS

    ours, bench = WRAP_OPENINGS + WRAP_CLOSINGS + WRAP_WARNINGS, GREETINGS + CLOSINGS + WARNINGS
    assert not [(a, b) for a in ours for b in bench if a in b or b in a]


def test_dressed_rate_counts_only_what_the_bare_line_decided() -> None:
    from training.harden import dressed_rate

    th = np.full(2, 0.5)
    bare = np.array([[0.9, 0], [0.9, 0], [0.1, 0], [0.1, 0], [0.9, 0]])
    dressed = np.array([[0.2, 0], [0.9, 0], [0.9, 0], [0.1, 0], [0.1, 0]])
    violating = np.array([True, True, True, False, False])
    got = dressed_rate(bare, dressed, th, violating)
    # one of two violations caught bare is missed dressed; the third was never caught; the compliant
    # line flagged bare (index 4) is not an allowed line, the other stays allowed
    assert got == {"bypass": 0.5, "caught_bare": 2, "false_alarm": 0.0, "allowed_bare": 1}


@pytest.mark.slow
def test_harden_smoke_run_keeps_the_student_loadable(teacher_dir: Path, tmp_path: Path) -> None:
    from training import harden
    from training.ship_student import load_student

    rows = [{"t": t, "k": "train", "y": ["abuse"] if "老赖" in t else []} for t in TEXTS * 4]
    transfer = _transfer(tmp_path, rows)
    student = _tiny_student(teacher_dir, transfer, tmp_path / "student", size=30, teacher_epochs=0)
    out = tmp_path / "hardened"
    harden.main(["--student", str(student), "--transfer_dir", str(transfer), "--tokenizer", str(teacher_dir / "tokenizer.json"),
                 "--teacher", str(teacher_dir), "--out", str(out), "--batch_size", "8", "--threads", "1"])
    metrics = json.loads((out / "metrics.json").read_text())
    h = metrics["hardening"]
    assert h["dressed_lines"] == len(rows) and h["anchors"] == len(rows) and h["steps"] == 5  # 40 items, batches of 8
    assert set(h["evidence_token_f1"]) == {"reference", "before", "after"}
    assert isinstance(metrics["shippable"], bool) and metrics["layer_map"] == [1]
    net, cfg = load_student(out)
    assert cfg["thresholds"] == metrics["student_thresholds"]
    before, _ = load_student(student)
    changed = [k for k, v in net.state_dict().items() if not torch.equal(v, before.state_dict()[k])]
    assert changed and "bert.embeddings.word_embeddings.weight" not in changed


@pytest.mark.slow
def test_the_shipped_student_read_back_from_its_export_scores_as_the_export_does(tmp_path: Path) -> None:
    """``training.student_from_model``: the starting point for hardening when the fp16 weights are gone."""
    import numpy as np

    from nlp_guard.model import OnnxClassifier
    from nlp_guard.normalize import normalize
    from training.ship_student import load_student, torch_probs
    from training.student_from_model import read_back

    shipped = Path(__file__).resolve().parents[1] / "models" / "nlp_guard-zh"
    read_back(shipped, tmp_path)
    net, cfg = load_student(tmp_path)
    run = json.loads((tmp_path / "metrics.json").read_text("utf-8"))
    assert run["dev_teacher"]["compliant_false_positive_rate"] > 0 and run["args"]["seed"] == 13
    texts = [normalize(t).text for t in ("再不还钱我找人打死你", "您好，请按时还款，谢谢。", "你就是个老赖，全村都知道了", "您的账单已逾期三天")]
    torch_p = torch_probs(net, shipped / "tokenizer.json", texts, cfg["max_length"])
    onnx_p = np.array(OnnxClassifier(shipped).logits(texts))
    th = np.array([cfg["thresholds"][lab] for lab in cfg["labels"]])
    assert ((torch_p >= th) == (onnx_p >= th)).all()
    assert np.abs(torch_p - onnx_p).max() < 0.1
