"""Train the Chinese NER pipeline (PER, ORG, LOC) shipped in models/nlp_guard-ner.

    python -m training.train_ner [--epochs 12] [--seed 7] [--max-minutes 18] [--out models/nlp_guard-ner]

A blank spaCy ``zh`` pipeline with the character segmenter (one token per character, so every entity
boundary is a token boundary) and a transition-based NER over a CNN tok2vec. Seeded; the epoch with
the best Weibo *dev* PER F1 is kept. Data: ``training/ner_data.py`` and ``training/DATA_CARD_NER.md``.
"""
from __future__ import annotations

import argparse
import json
import random
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

from training.ner_data import LABELS, Example, Vocab, corpus_examples, read_weibo, template_examples

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "models" / "nlp_guard-ner"
CLASSIFIER = ROOT / "models" / "nlp_guard-zh"
VECTOR_DIMS = 128
VERSION = "nlp_guard-ner-0.1.0"

#: NER model: HashEmbed over NORM/PREFIX/SUFFIX/SHAPE of each character plus a static character
#: vector (see :func:`add_char_vectors`), a CNN with a window of one character per layer (4 layers:
#: 4 characters of context each side), a small parser head. A leaner variant (width 64, 2 maxout
#: pieces) was tried: Weibo dev PER F1 0.637 vs 0.641, multipriv person recall 0.897 vs 0.946; not shipped.
NER_MODEL = {
    "@architectures": "spacy.TransitionBasedParser.v2",
    "state_type": "ner",
    "extra_state_tokens": False,
    "hidden_width": 64,
    "maxout_pieces": 2,
    "use_upper": True,
    "nO": None,
    "tok2vec": {
        "@architectures": "spacy.HashEmbedCNN.v2",
        "pretrained_vectors": True,
        "width": 96,
        "depth": 4,
        "embed_size": 4000,
        "window_size": 1,
        "maxout_pieces": 3,
        "subword_features": True,
    },
}


def add_char_vectors(nlp, model_dir: Path = CLASSIFIER, dims: int = VECTOR_DIMS) -> int:
    """Static character vectors from the shipped classifier's input embeddings.

    Weibo NER has 1,350 training messages: too few to learn what 13,000 characters mean from
    scratch. The classifier (multilingual-e5-small, MIT) already has an embedding per vocabulary
    piece; each single-character piece (with or without the word-start mark) gives its character
    a vector, reduced to ``dims`` by PCA. Stored in the pipeline's vocabulary, so the classifier
    is needed to train, not to run.
    """
    import numpy as np
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(model_dir / "model.onnx")).graph
    emb = next(numpy_helper.to_array(t) for t in graph.initializer if t.name.endswith("word_embeddings.weight"))
    pieces = json.loads((model_dir / "tokenizer.json").read_text("utf-8"))["model"]["vocab"]
    rows: dict[str, list[int]] = {}
    for i, (piece, _score) in enumerate(pieces):
        ch = piece[1:] if piece.startswith("\u2581") else piece
        if len(ch) == 1 and not ch.isspace():
            rows.setdefault(ch, []).append(i)
    chars = sorted(rows)
    x = np.stack([emb[rows[c]].mean(axis=0) for c in chars]).astype("float32")
    x -= x.mean(axis=0)
    _, _, vt = np.linalg.svd(x, full_matrices=False)
    x = x @ vt[:dims].T
    x /= x.std()
    nlp.vocab.reset_vectors(width=dims)
    for ch, vec in zip(chars, x, strict=True):
        nlp.vocab.set_vector(ch, vec)
    return len(chars)


#: tok2vec settings a training run may change; all of them scale the CNN's matrix products, which
#: are most of the NER's time. ``subword_features`` off keeps NORM alone: with one character per
#: token, PREFIX and SUFFIX are the character again (SHAPE is almost constant).
TUNABLE = ("width", "depth", "maxout_pieces", "subword_features")


def ner_model(**tok2vec: object) -> dict:
    """:data:`NER_MODEL` with some of its tok2vec settings (:data:`TUNABLE`) changed."""
    unknown = set(tok2vec) - set(TUNABLE)
    if unknown:
        raise ValueError(f"not a tunable tok2vec setting: {', '.join(sorted(unknown))}")
    return {**NER_MODEL, "tok2vec": {**NER_MODEL["tok2vec"], **tok2vec}}


def blank_pipeline(model: dict = NER_MODEL):
    """A blank zh pipeline with character segmentation, character vectors and an untrained NER."""
    import spacy

    nlp = spacy.blank("zh", config={"nlp": {"tokenizer": {"segmenter": "char"}}})
    add_char_vectors(nlp)
    ner = nlp.add_pipe("ner", config={"model": model})
    for label in LABELS:
        ner.add_label(label)
    return nlp


def to_spacy(nlp, examples: Iterable[Example]) -> list:
    """spaCy Examples; spans that do not align with tokens (none, with one char per token) are errors."""
    from spacy.training import Example as SpacyExample

    out = []
    for ex in examples:
        doc = nlp.make_doc(ex.text)
        ents = [(s, e, label) for s, e, label in ex.spans if ex.text[s:e].strip()]
        spacy_ex = SpacyExample.from_dict(doc, {"entities": ents})
        out.append(spacy_ex)
    return out


def span_scores(gold: Sequence[Example], predicted: Sequence[Sequence[tuple[int, int, str]]]) -> dict[str, dict[str, float]]:
    """Exact-span precision, recall and F1 per label (and micro over all)."""
    out: dict[str, dict[str, float]] = {}
    for label in (*LABELS, "ALL"):
        tp = fp = fn = 0
        for ex, pred in zip(gold, predicted, strict=True):
            g = {s for s in ex.spans if label in ("ALL", s[2])}
            p = {s for s in pred if label in ("ALL", s[2])}
            tp += len(g & p)
            fp += len(p - g)
            fn += len(g - p)
        prec = tp / (tp + fp) if tp + fp else 0.0
        rec = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
        out[label] = {"precision": round(prec, 4), "recall": round(rec, 4), "f1": round(f1, 4), "support": tp + fn}
    return out


def predict(nlp, texts: Sequence[str]) -> list[list[tuple[int, int, str]]]:
    return [[(e.start_char, e.end_char, e.label_) for e in doc.ents] for doc in nlp.pipe(texts, batch_size=64)]


def build_examples(seed: int) -> tuple[list[Example], dict[str, int]]:
    rng = random.Random(seed)
    vocab = Vocab.load()
    weibo = read_weibo("train")
    corpus = corpus_examples(vocab, rng)
    templates = template_examples(vocab, rng)
    counts = {"weibo_train": len(weibo), "corpus_train_lines": len(corpus), "templates_and_negatives": len(templates)}
    return weibo + corpus + templates, counts


def train(epochs: int, seed: int, max_minutes: float, out: Path, **tok2vec: object) -> dict:
    import spacy
    from spacy.util import compounding, fix_random_seed, minibatch

    fix_random_seed(seed)
    rng = random.Random(seed)
    examples, counts = build_examples(seed)
    dev = read_weibo("dev")
    model = ner_model(**tok2vec)
    nlp = blank_pipeline(model)
    train_set = to_spacy(nlp, examples)
    optimizer = nlp.initialize(lambda: train_set)
    t0 = time.monotonic()
    best: tuple[float, int, bytes] | None = None
    history = []
    for epoch in range(1, epochs + 1):
        rng.shuffle(train_set)
        losses: dict[str, float] = {}
        for batch in minibatch(train_set, size=compounding(8.0, 32.0, 1.001)):
            nlp.update(batch, sgd=optimizer, drop=0.2, losses=losses)
        scores = span_scores(dev, predict(nlp, [d.text for d in dev]))
        minutes = (time.monotonic() - t0) / 60
        history.append({"epoch": epoch, "loss": round(float(losses.get("ner", 0.0)), 1), "dev_per_f1": scores["PER"]["f1"],
                        "dev_all_f1": scores["ALL"]["f1"], "minutes": round(minutes, 2)})
        print(json.dumps(history[-1]), flush=True)
        if best is None or scores["PER"]["f1"] > best[0]:
            best = (scores["PER"]["f1"], epoch, nlp.to_bytes())
        if minutes > max_minutes * epoch / (epoch + 1):
            print(f"stopping after epoch {epoch}: {minutes:.1f} min used of {max_minutes}", flush=True)
            break
    assert best is not None
    nlp = spacy.blank("zh", config={"nlp": {"tokenizer": {"segmenter": "char"}}})
    nlp.add_pipe("ner", config={"model": model})
    nlp.from_bytes(best[2])
    dev_scores = span_scores(dev, predict(nlp, [d.text for d in dev]))
    nlp.meta.update({"name": "nlp_guard_ner", "version": VERSION.rsplit("-", 1)[1], "license": "CC BY-SA 3.0",
                     "description": "Chinese NER (PER, ORG, LOC) for nlp_guard PII; see MODEL_CARD.md",
                     "sources": [{"name": "Weibo NER 2nd (He & Sun 2016)", "license": "CC BY-SA 3.0"},
                                 {"name": "Chinese-Names-Corpus", "license": "Apache-2.0"}]})
    out.mkdir(parents=True, exist_ok=True)
    nlp.to_disk(out)
    report = {"version": VERSION, "seed": seed, "tok2vec": model["tok2vec"], "best_epoch": best[1],
              "examples": counts, "dev_weibo": dev_scores, "history": history, "minutes": round((time.monotonic() - t0) / 60, 2)}
    (out / "training.json").write_text(json.dumps(report, ensure_ascii=False, indent=1) + "\n", "utf-8")
    _write_card(out, report)
    return report


def _write_card(out: Path, report: dict) -> None:
    d = report["dev_weibo"]
    rows = "\n".join(f"| {k} | {v['precision']:.3f} | {v['recall']:.3f} | {v['f1']:.3f} | {v['support']} |"
                     for k, v in d.items())
    (out / "MODEL_CARD.md").write_text(f"""# {report['version']}

Chinese named-entity recognizer (PER, ORG, LOC; GPE folded into LOC) used by `nlp_guard.pii` to find person
and organisation names. spaCy blank `zh`, one token per character, transition-based NER over a 4-layer CNN
(`training/train_ner.py`). Trained by `make train-ner` (seed {report['seed']}, {report['minutes']} min on 2 cores, best
epoch {report['best_epoch']} by Weibo dev PER F1).

Training data ({sum(report['examples'].values())} texts; `training/DATA_CARD_NER.md`): {report['examples']}.
The annotations of Weibo NER are CC BY-SA 3.0, so this model is shared under CC BY-SA 3.0 as well.

Weibo NER dev (named mentions, exact spans; used to pick the epoch, so it is not a blind figure):

| label | precision | recall | F1 | support |
|---|---|---|---|---|
{rows}

Blind figures (Weibo test, multipriv paragraphs): `bench/RESULTS.md`, section "PII: names and ID numbers".
""", "utf-8")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--max-minutes", type=float, default=18.0)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    t2v = NER_MODEL["tok2vec"]
    ap.add_argument("--width", type=int, default=t2v["width"], help="tok2vec width (default: %(default)s)")
    ap.add_argument("--depth", type=int, default=t2v["depth"], help="CNN layers (default: %(default)s)")
    ap.add_argument("--maxout-pieces", type=int, default=t2v["maxout_pieces"],
                    help="maxout pieces of the CNN's layers (default: %(default)s)")
    ap.add_argument("--subword-features", action=argparse.BooleanOptionalAction, default=t2v["subword_features"],
                    help="embed PREFIX/SUFFIX/SHAPE beside NORM (default: %(default)s)")
    args = ap.parse_args()
    report = train(args.epochs, args.seed, args.max_minutes, args.out, width=args.width, depth=args.depth,
                   maxout_pieces=args.maxout_pieces, subword_features=args.subword_features)
    print(json.dumps({k: report[k] for k in ("version", "best_epoch", "minutes", "examples")}, ensure_ascii=False))
    print(json.dumps(report["dev_weibo"], ensure_ascii=False))


if __name__ == "__main__":
    main()
