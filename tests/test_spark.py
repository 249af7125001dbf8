"""The Spark engine against the local engine, record for record, on a real local[2] SparkSession."""
from __future__ import annotations

import io
import json
import os
import random
from pathlib import Path

import pytest

pytest.importorskip("pyspark", reason="the 'spark' extra is not installed")

from click.testing import CliRunner  # noqa: E402

from nlp_guard import Guard  # noqa: E402
from nlp_guard.batch import read_records, scan  # noqa: E402
from nlp_guard.cli import main  # noqa: E402
from nlp_guard.model import STATIC_INT8  # noqa: E402

SAMPLES = Path(__file__).resolve().parents[1] / "nlp_guard" / "data" / "samples.jsonl"
FILLERS = ["", "喂，", "那个，", "我跟你说，"]
TAILS = ["", "！", "【回T退订】", "，收到请回复"]


def _records(n_copies: int = 30) -> list[dict]:
    rng = random.Random(5)
    base = [json.loads(line) for line in SAMPLES.read_text("utf-8").splitlines()]
    out = []
    for i in range(n_copies):
        for d in base:
            d = json.loads(json.dumps(d))
            d["id"] = f"{d['id']}-{i}"
            if "text" in d:
                d["text"] = rng.choice(FILLERS) + d["text"] + rng.choice(TAILS)
            out.append(d)
    return out


@pytest.fixture(scope="module")
def spark(tmp_path_factory: pytest.TempPathFactory):
    from nlp_guard.spark_engine import get_session

    log = tmp_path_factory.mktemp("spark") / "guard_builds.log"
    os.environ["NLP_GUARD_SPARK_BUILD_LOG"] = str(log)
    session = get_session("local[2]", "nlp-guard tests")
    session.build_log = log  # type: ignore[attr-defined]
    yield session
    session.stop()
    os.environ.pop("NLP_GUARD_SPARK_BUILD_LOG", None)


@pytest.fixture(scope="module")
def jsonl_input(tmp_path_factory: pytest.TempPathFactory) -> Path:
    lines = [json.dumps(d, ensure_ascii=False) for d in _records()]
    lines.insert(17, "{not json")
    lines.insert(40, "")
    lines.insert(41, json.dumps({"id": "bad-field", "txet": "你好"}))  # a near miss: an error naming 'text'
    lines.insert(42, json.dumps({"id": "qa-export", "text": "你好", "call_id": "C1", "labels": ["ok"]}))  # carried
    lines.insert(90, "[1, 2]")
    src = tmp_path_factory.mktemp("in") / "in.jsonl"
    src.write_bytes(("\n".join(lines) + "\n").encode() + b'{"id": "utf", "text": "\xe4\xbd\xa0\xff"}\n')
    return src


def _local(src: Path) -> list[str]:
    buf = io.StringIO()
    scan(Guard(), read_records(src), buf)
    return buf.getvalue().splitlines()


def test_jsonl_matches_local_engine_record_for_record(spark, jsonl_input: Path, tmp_path: Path) -> None:
    from nlp_guard.spark_engine import scan_path

    out = tmp_path / "out.jsonl"
    summary = scan_path(spark, str(jsonl_input), str(out), rules_only=True, partitions=8)
    local = _local(jsonl_input)
    assert len(local) > 300
    assert out.read_text("utf-8").splitlines() == local
    assert summary["records"] == len(local) and summary["errors"] == 4
    assert summary["decisions"]["block"] > 100
    # 8 partitions on 2 cores: the Guard was built once per executor Python process, not per task or batch
    builds = spark.build_log.read_text().split()
    assert 1 <= len(builds) <= 2 and len(set(builds)) == len(builds)


def test_csv_input_and_folder_output(spark, tmp_path: Path) -> None:
    from nlp_guard.spark_engine import scan_path

    rows = [d for d in _records(10) if "text" in d]
    src = tmp_path / "in.csv"
    body = "id,text,recipient,agent_id\n" + "".join(
        f"{d['id']},{d['text'].replace(',', '，')},{d.get('recipient', '')},{d.get('agent_id', '')}\n" for d in rows)
    src.write_text(body + "x1,太多,debtor,A1,extra\n", "utf-8")
    out = tmp_path / "out_dir"
    scan_path(spark, str(src), str(out), rules_only=True)
    parts = sorted(out.glob("part-*"))
    got = [line for p in parts for line in p.read_text("utf-8").splitlines()]
    assert got == _local(src)
    assert "more cells than the header" in got[-1]


def test_parquet_input_and_output_and_scan_dataframe(spark, tmp_path: Path) -> None:
    from pyspark.sql import functions as F

    from nlp_guard.spark_engine import scan_dataframe, write_results

    records = _records(10)
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps(d, ensure_ascii=False) + "\n" for d in records), "utf-8")
    expected = [json.loads(line) for line in _local(src)]

    df = spark.read.json(str(src))  # messages and transcripts in one frame: absent fields are null
    df.write.parquet(str(tmp_path / "in.parquet"))
    res = scan_dataframe(spark.read.parquet(str(tmp_path / "in.parquet")), rules_only=True)
    assert res.columns == ["line", "id", "decision", "error", "result"]
    got = [json.loads(r["result"]) for r in res.orderBy("line").collect()]
    assert got == expected

    write_results(res, str(tmp_path / "out.parquet"))
    back = spark.read.parquet(str(tmp_path / "out.parquet")).orderBy("line")
    assert {"id", "decision", "violations", "turns", "policy_version", "error"} <= set(back.columns)
    assert [(r["id"], r["decision"]) for r in back.select("id", "decision").collect()] == \
        [(str(e["id"]), e["decision"]) for e in expected]
    first_block = next(e for e in expected if e.get("violations"))
    row = back.filter(F.col("id") == first_block["id"]).first()
    assert row["violations"][0]["evidence"][0]["text"] == first_block["violations"][0]["evidence"][0]["text"]


def test_partitions_hold_whole_blocks_in_line_order(spark) -> None:
    """No partition boundary cuts a block of CHUNK lines, so a record meets the same batch as locally."""
    from pyspark.sql import functions as F

    from nlp_guard.batch import CHUNK
    from nlp_guard.spark_engine import _whole_blocks

    lines = [n for n in range(1, 301) if n % 7]  # blank lines leave gaps
    frame = spark.createDataFrame([(n, "{}") for n in lines], "line long, payload string").repartition(8)
    rows = _whole_blocks(frame).select("line", F.spark_partition_id().alias("part")).collect()
    assert [r["line"] for r in rows] == lines  # partitions in line order, sorted within
    part_of_block: dict[int, set[int]] = {}
    for r in rows:
        part_of_block.setdefault((r["line"] - 1) // CHUNK, set()).add(r["part"])
    assert all(len(parts) == 1 for parts in part_of_block.values())
    assert len({p for parts in part_of_block.values() for p in parts}) > 1


def _model_dir(tmp_path: Path, quantization: dict | None) -> str:
    from nlp_guard.model import REQUIRED_FILES, find_model_dir

    shipped = find_model_dir()
    out = tmp_path / "model"
    out.mkdir()
    for name in set(REQUIRED_FILES) - {"config.json"}:
        (out / name).symlink_to(shipped / name)
    config = json.loads((shipped / "config.json").read_text("utf-8"))
    config.pop("quantization", None)
    if quantization is not None:
        config["quantization"] = quantization
    (out / "config.json").write_text(json.dumps(config), "utf-8")
    return str(out)


@pytest.mark.parametrize(("rules_only", "quantization", "shuffles"), [
    (True, None, False),  # rules read one record at a time
    (False, {"int8": f"{STATIC_INT8}, per-channel MatMul weights"}, False),  # fixed activation ranges
    (False, {"int8": "dynamic, per-channel MatMul weights"}, True),  # ranges scale with the batch
    (False, None, True),  # says nothing: assume the worst
])
def test_only_a_batch_dependent_model_costs_the_block_shuffle(spark, tmp_path: Path, rules_only: bool,
                                                              quantization: dict | None, shuffles: bool) -> None:
    from nlp_guard.batch import GuardSpec
    from nlp_guard.spark_engine import _scan_prepared

    spec = GuardSpec(rules_only, model_dir=None if rules_only else _model_dir(tmp_path, quantization))
    frame = spark.createDataFrame([(1, "{}")], "line long, payload string")
    plan = _scan_prepared(frame, spec, "json", None, False)._jdf.queryExecution().executedPlan().toString()
    assert ("Exchange" in plan) is shuffles


@pytest.mark.parametrize("model_dir", [None, "on-the-executors-only"])
def test_a_model_the_driver_cannot_see_keeps_the_block_shuffle(tmp_path: Path, model_dir: str | None) -> None:
    """Unresolved (a cluster's executors find their own model) or not on the driver: assume the worst."""
    from nlp_guard.batch import GuardSpec
    from nlp_guard.spark_engine import _batch_invariant

    assert not _batch_invariant(GuardSpec(model_dir=model_dir and str(tmp_path / model_dir)))


def test_rewrites_only_when_asked_and_as_the_local_engine_writes_them(spark, tmp_path: Path) -> None:
    from nlp_guard.spark_engine import scan_dataframe

    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps(d, ensure_ascii=False) + "\n" for d in _records(2)), "utf-8")
    buf = io.StringIO()
    scan(Guard(), read_records(src), buf, suggest=True)
    expected = [json.loads(line) for line in buf.getvalue().splitlines()]
    assert any(e.get("rewrite") for e in expected)
    for suggest in (True, False):
        res = scan_dataframe(spark.read.json(str(src)), rules_only=True, suggest=suggest)
        got = [json.loads(r["result"]) for r in res.orderBy("line").collect()]
        assert got == (expected if suggest else [json.loads(line) for line in _local(src)])
        assert suggest or not any(g.get("rewrite") for g in got)


def test_cli_engine_spark_on_a_table_and_a_file(spark, jsonl_input: Path, tmp_path: Path) -> None:
    out = tmp_path / "cli.jsonl"
    r = CliRunner().invoke(main, ["scan", "--engine", "spark", "--master", "local[2]", "--rules-only",
                                  str(jsonl_input), "-o", str(out)], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert "errors 4" in r.output
    assert out.read_text("utf-8").splitlines() == _local(jsonl_input)

    spark.createDataFrame([("t1", "老赖快还钱"), ("t2", "您好，请按时还款")], "id string, text string") \
        .createOrReplaceTempView("qa_messages")
    out2 = tmp_path / "table.jsonl"
    r = CliRunner().invoke(main, ["scan", "--engine", "spark", "--master", "local[2]", "--rules-only",
                                  "--table", "qa_messages", "-o", str(out2)], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert [json.loads(x)["decision"] for x in out2.read_text("utf-8").splitlines()] == ["block", "allow"]

    r = CliRunner().invoke(main, ["scan", "--engine", "spark", "--resume", str(jsonl_input), "-o", str(out2)])
    assert r.exit_code == 2 and "--resume is for the local engine" in r.output


def test_local_master_without_a_model_fails_on_the_driver_before_any_task(spark, no_model: Path,
                                                                          tmp_path: Path) -> None:
    from nlp_guard import ModelNotFoundError
    from nlp_guard.spark_engine import scan_dataframe, scan_path

    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"id": "m1", "text": "老赖快还钱"}, ensure_ascii=False) + "\n", "utf-8")
    with pytest.raises(ModelNotFoundError, match="no model found"):
        scan_dataframe(spark.read.json(str(src)))
    with pytest.raises(ModelNotFoundError, match="no model found"):
        scan_path(spark, str(src), str(tmp_path / "out.jsonl"))
    assert not (tmp_path / "out.jsonl").exists()


def test_parquet_keeps_the_context_evidence_of_a_threat_split_across_turns(spark, tmp_path: Path) -> None:
    from nlp_guard.spark_engine import scan_dataframe, write_results

    src = tmp_path / "in.jsonl"
    call = {"id": "c1", "turns": [{"speaker": "agent", "text": "你女儿在二年级三班"}, {"speaker": "agent", "text": "放学路上注意点"}]}
    src.write_text(json.dumps(call, ensure_ascii=False) + "\n", "utf-8")
    write_results(scan_dataframe(spark.read.json(str(src)), rules_only=True), str(tmp_path / "out.parquet"))
    (row,) = spark.read.parquet(str(tmp_path / "out.parquet")).collect()
    v = row["turns"][1]["violations"][0]
    assert [(e["start"], e["end"], e["text"]) for e in v["evidence"]] == [(0, 2, "放学")]
    assert [(e["turn"], e["text"]) for e in v["context_evidence"]] == [(0, "女儿在二年级三班")]
