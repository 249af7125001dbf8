"""A tiny character-level tokenizer and BERT for tests of the model plumbing (no real weights)."""
from __future__ import annotations

from pathlib import Path

LABELS = ["threat", "abuse", "deception", "privacy", "coercion"]
CHARS = "你我他的了是不还钱款逾期天元老赖后果自负请尽快处理谢谢0123456789，。"


def write_tokenizer(path: Path) -> None:
    from tokenizers import Regex, Tokenizer, models, pre_tokenizers, processors

    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3, **{c: i + 4 for i, c in enumerate(CHARS)}}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")
    tok.post_processor = processors.TemplateProcessing(single="<s> $A </s>", special_tokens=[("<s>", 0), ("</s>", 2)])
    tok.save(str(path))


def bert_config_kwargs() -> dict:
    return {"vocab_size": len(CHARS) + 4, "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2,
            "intermediate_size": 64, "max_position_embeddings": 64, "pad_token_id": 1}
