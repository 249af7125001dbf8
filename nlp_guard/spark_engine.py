"""The Spark engine: the same scan as ``nlp-guard scan``, spread over a Spark cluster.

    from nlp_guard.spark_engine import scan_dataframe
    results = scan_dataframe(spark.table("qa.call_transcripts").select("id", "turns", "agent_id", "call_time"))

Each input record becomes exactly the JSON object the local engine writes
(``nlp_guard.batch.screen_records``, a block of input lines per ``check_many`` call),
so results match the local engine record for record. Records are numbered on the JVM
and screened in the input's own partitions: a record's result does not depend on its batch
neighbours (rules, and a static-int8 model: ``ModelConfig.batch_invariant``); only a model
without that guarantee costs a shuffle that re-cuts partitions at the local engine's block
boundaries. Screening runs in ``mapInPandas``; the Guard (policy pack and, when
installed, the ONNX model) is built once per executor Python process by a
module-level lazy singleton (``executor_guard``) and reused by every batch and
task that process runs (Spark reuses Python workers by default).

Result columns (``RESULT_DDL``):

    line     long    1-based position of the record in its input (the line number for text inputs)
    id       string  the record's id (its line number when it has none), JSON-encoded when not a string
    decision string  allow | flag | block; null for a bad record
    error    string  the error message for a bad record, else null
    result   string  the full result object, serialised exactly as the local engine writes it

Written output: JSONL is the ``result`` column, one line per record, in input
order; Parquet holds the result object's own fields as columns (``PARQUET_DDL``,
with ``id`` as a string) plus ``line``.

On a cluster, executors need nlp_guard installed; its wheel carries the model, so
they find it as package data. To run another model, ship its directory (e.g.
``--archives model.tgz#model``) and set ``spark.executorEnv.NLP_GUARD_MODEL_DIR=model``,
or pass ``model_dir``. An executor without a model fails its task (ModelNotFoundError);
it never screens with rules only unless ``rules_only=True``. With a local master the
model is looked up once on the driver first, so a missing one fails before any task.

PySpark is an optional extra: ``pip install 'nlp_guard[spark]'`` (it needs Java 17+).
"""
from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .batch import CHUNK, GuardSpec, Record, blocks, csv_line_record, parse_line, record_id, screen_records
from .errors import InputError, ModelError, RecordError
from .guard import Guard
from .model import check_model_dir

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    from pyspark.sql import DataFrame, SparkSession

__all__ = ["INPUT_FORMATS", "PARQUET_DDL", "RESULT_DDL", "executor_guard", "get_session", "read_input",
           "scan_dataframe", "scan_path", "write_results"]

RESULT_DDL = "line long, id string, decision string, error string, result string"
INPUT_FORMATS = ("jsonl", "csv", "txt", "parquet")
_DECISIONS = ("allow", "flag", "block")
_EVIDENCE = "array<struct<start:int,end:int,text:string>>"
_VIOLATIONS = (f"array<struct<category:string,subcategory:string,score:double,source:string,action:string,"
               f"severity:string,evidence:{_EVIDENCE},citations:array<string>,suggestion:string,"
               f"detectors:array<string>,explanation:string,"
               f"context_evidence:array<struct<start:int,end:int,text:string,turn:int>>>>")
_PII = "array<struct<type:string,start:int,end:int,text:string,score:double,validated:boolean>>"
_SIGNALS = f"array<struct<code:string,name:string,escalate:boolean,evidence:{_EVIDENCE}>>"
PARQUET_DDL = (
    f"id string, agent_id string, channel string, sent_at string, call_time string, debtor_id string, "
    f"decision string, escalate boolean, violations {_VIOLATIONS}, pii {_PII}, rewrite string, "
    f"scores map<string,double>, "
    f"turns array<struct<index:int,speaker:string,decision:string,violations:{_VIOLATIONS},signals:{_SIGNALS},"
    f"pii:{_PII}>>, policy_version string, model_version string, "
    f"error struct<line:long,code:string,message:string>"
)

warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas", category=FutureWarning)


def _require_pyspark() -> None:
    try:
        import pyspark  # noqa: F401
    except ImportError:
        raise InputError("the Spark engine needs PySpark: pip install 'nlp_guard[spark]' (and Java 17 or newer)") from None


# -- the per-process Guard ---------------------------------------------------------------
_GUARDS: dict[GuardSpec, Guard] = {}
TASK_THREADS = 1  # one Python worker per task slot (spark.task.cpus = 1): one model thread each


def executor_guard(spec: GuardSpec) -> Guard:
    """The Guard for ``spec`` in this Python process, built on first use and then reused."""
    guard = _GUARDS.get(spec)
    if guard is None:
        guard = _GUARDS[spec] = spec.build()
        log = os.environ.get("NLP_GUARD_SPARK_BUILD_LOG")  # lets tests count builds across executor processes
        if log:
            with open(log, "a", encoding="utf-8") as fh:
                fh.write(f"{os.getpid()}\n")
    return guard


# -- records from payloads ------------------------------------------------------------------
def _text_record(text: str, line: int, kind: str, header: list[str] | None) -> Record | None:
    if "\ufffd" in text:  # Spark decodes lines leniently; report bad bytes as the local reader does
        byte = len(text[:text.index("\ufffd")].encode("utf-8"))
        return Record(line, None, RecordError(f"not valid UTF-8 (byte {byte})", line).message)
    text = text.rstrip("\r")
    if kind == "csv":
        return csv_line_record(header or [], text, line)
    return parse_line(text, line, kind)


_RESULT_COLUMNS = ["line", "id", "decision", "error", "result"]
_ROWS_PER_FRAME = 1024  # result rows per frame handed back to Spark: not one small frame per block


def _partition_records(batches: Iterator[pd.DataFrame], kind: str, header: list[str] | None) -> Iterator[Record]:
    """The partition's records in line order, blank lines left out (the local engine writes nothing for them)."""
    for pdf in batches:
        for line, payload in zip(pdf["line"].tolist(), pdf["payload"].tolist(), strict=True):
            line = int(line)
            rec = Record(line, json.loads(payload)) if kind == "json" else _text_record(payload, line, kind, header)
            if rec is not None:
                yield rec


def _screen_partition(spec: GuardSpec, kind: str, header: list[str] | None,
                      suggest: bool) -> Callable[[Iterator[pd.DataFrame]], Iterator[pd.DataFrame]]:
    def run(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        import pandas as pd

        guard = executor_guard(spec)
        rows: list[tuple[int, str, str | None, str | None, str]] = []
        for block in blocks(_partition_records(batches, kind, header)):  # blocks span Arrow batches
            for rec, out in zip(block, screen_records(guard, block, suggest), strict=True):
                rid = record_id(rec) if rec.data is not None else rec.line
                err = out.get("error")
                rows.append((rec.line, rid if isinstance(rid, str) else json.dumps(rid, ensure_ascii=False),
                             out.get("decision"), err["message"] if err else None,
                             json.dumps(out, ensure_ascii=False)))
            if len(rows) >= _ROWS_PER_FRAME:
                yield pd.DataFrame(rows, columns=_RESULT_COLUMNS)
                rows = []
        if rows:
            yield pd.DataFrame(rows, columns=_RESULT_COLUMNS)
    return run


# -- session, input and output --------------------------------------------------------------
def get_session(master: str = "local[*]", app_name: str = "nlp-guard scan") -> SparkSession:
    """A SparkSession; on a local master the executors use this very Python."""
    _require_pyspark()
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.master(master).appName(app_name)
    if master.startswith("local") and not os.environ.get("PYSPARK_PYTHON"):
        builder = builder.config("spark.pyspark.python", sys.executable)
        os.environ["PYSPARK_PYTHON"] = sys.executable
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    return spark


def _encoders(spark: SparkSession) -> Any:
    """The JVM's ``org.apache.spark.sql.Encoders`` (through py4j)."""
    return spark.sparkContext._jvm.org.apache.spark.sql.Encoders


def _lines_frame(spark: SparkSession, jrdd: Any) -> DataFrame:
    """(1-based line number, payload) for a JVM RDD of strings, numbered on the JVM.

    ``zipWithIndex`` there counts each partition and numbers it without a Python worker; numbering
    in Python cost a pass that serialised every record out to Python and back."""
    from pyspark.sql import DataFrame
    from pyspark.sql import functions as F

    encoders = _encoders(spark)
    pairs = spark._jsparkSession.createDataset(jrdd.zipWithIndex().rdd(),
                                               encoders.tuple(encoders.STRING(), encoders.LONG()))
    return DataFrame(pairs.toDF(), spark).select((F.col("_2") + 1).alias("line"), F.col("_1").alias("payload"))


def _numbered(spark: SparkSession, path: str, partitions: int | None) -> DataFrame:
    """(line, line text) for every line of a text input, blank ones included."""
    sc = spark.sparkContext
    return _lines_frame(spark, sc._jsc.textFile(path, partitions or max(2, sc.defaultParallelism * 4)))


def _prepare_frame(df: DataFrame) -> DataFrame:
    """(line, payload) rows for a DataFrame of records: payload is the row as a JSON object, nulls left out."""
    from pyspark.sql import functions as F

    payload = df.select(F.to_json(F.struct(*[F.col(f"`{c}`") for c in df.columns])).alias("payload"))
    strings = getattr(payload._jdf, "as")(_encoders(df.sparkSession).STRING())
    return _lines_frame(df.sparkSession, strings.javaRDD())


def read_input(spark: SparkSession, source: str, fmt: str = "auto", *, table: bool = False,
               partitions: int | None = None) -> tuple[DataFrame, str, list[str] | None]:
    """The (line, payload) frame for a file, folder or table, with its payload kind and CSV header."""
    if table:
        return _prepare_frame(spark.table(source)), "json", None
    if fmt == "auto":
        suffix = Path(source.rstrip("/")).suffix.lower()
        fmt = {".csv": "csv", ".txt": "txt", ".parquet": "parquet", ".pq": "parquet"}.get(suffix, "jsonl")
    if fmt not in INPUT_FORMATS:
        raise InputError(f"input format {fmt!r} is not one of {', '.join(INPUT_FORMATS)}")
    if fmt == "parquet":
        return _prepare_frame(spark.read.parquet(source)), "json", None
    numbered = _numbered(spark, source, partitions)
    header = None
    if fmt == "csv":
        import csv

        first = numbered.first()
        header = next(csv.reader([first["payload"].lstrip("\ufeff")])) if first else []
        numbered = numbered.filter("line > 1")
    return numbered, fmt, header


def _whole_blocks(prepared: DataFrame) -> DataFrame:
    """The (line, payload) frame re-cut so that no partition boundary splits a block of ``CHUNK``
    lines, partitions in line order: each record is then screened with the same neighbours as in
    the local engine, whose int8 model scores shift slightly with the batch. Costs one shuffle."""
    from pyspark.sql import functions as F

    return (prepared.withColumn("_block", F.floor((F.col("line") - 1) / CHUNK))
            .repartitionByRange(prepared.rdd.getNumPartitions(), "_block")
            .sortWithinPartitions("line").drop("_block"))


def _scan_prepared(prepared: DataFrame, spec: GuardSpec, kind: str, header: list[str] | None,
                   suggest: bool) -> DataFrame:
    frame = prepared if _batch_invariant(spec) else _whole_blocks(prepared)
    return frame.mapInPandas(_screen_partition(spec, kind, header, suggest), RESULT_DDL)


def _batch_invariant(spec: GuardSpec) -> bool:
    """Whether a record's result is the same whatever it is batched with: rules only, or a model
    whose config says so (static int8). Then the input's own partitions are screened as they are.
    A spec without a model directory (a cluster's executors find their own, which the driver
    cannot see) or with one the driver cannot read keeps the shuffle."""
    if spec.rules_only:
        return True
    if spec.model_dir is None:
        return False
    try:
        return check_model_dir(spec.model_dir).batch_invariant
    except ModelError:
        return False


def _spec(spark: SparkSession, rules_only: bool, policy_path: str | None, model_dir: str | None) -> GuardSpec:
    """The executors' GuardSpec. A local master's executors share this machine, so their model is
    found here first; a cluster's executors find their own (package data or NLP_GUARD_MODEL_DIR)."""
    spec = GuardSpec(rules_only, policy_path, model_dir, threads=TASK_THREADS)
    return spec.resolved() if spark.sparkContext.master.startswith("local") else spec


def scan_dataframe(df: DataFrame, rules_only: bool = False, policy_path: str | None = None,
                   model_dir: str | None = None, suggest: bool = False) -> DataFrame:
    """Screen a DataFrame of messages (id, text, recipient, …) or transcripts (id, turns, …).

    Columns must be the record fields the local engine accepts (``batch.MESSAGE_FIELDS`` /
    ``batch.TRANSCRIPT_FIELDS``); null cells count as absent. Returns the ``RESULT_DDL`` frame,
    in input order. Numbering the rows costs one extra pass over the input. ``suggest`` adds
    verified rewrites (a scan does not need them by default).
    """
    _require_pyspark()
    spec = _spec(df.sparkSession, rules_only, policy_path, model_dir)
    return _scan_prepared(_prepare_frame(df), spec, "json", None, suggest)


def write_results(results: DataFrame, output: str, fmt: str = "auto") -> str:
    """Write a result frame: ``.jsonl`` → one JSONL file; ``jsonl`` otherwise → a folder of part files;
    ``parquet`` → a Parquet folder of the result object's fields. Returns the format written."""
    from pyspark.sql import functions as F

    if fmt == "auto":
        fmt = "parquet" if Path(output).suffix.lower() in (".parquet", ".pq") else "jsonl"
    if fmt == "parquet":
        parsed = results.select("line", F.from_json("result", PARQUET_DDL).alias("r")).select("line", "r.*")
        parsed.write.mode("overwrite").parquet(output)
        return fmt
    if fmt != "jsonl":
        raise InputError(f"output format {fmt!r} is not jsonl or parquet")
    text = results.select("result")
    if not output.endswith(".jsonl"):
        text.write.mode("overwrite").text(output)
        return fmt
    # one file: the executors write part files in parallel, then they are joined in partition (= input) order
    parts = Path(tempfile.mkdtemp(prefix="nlp_guard_spark_", dir=Path(output).resolve().parent))
    try:
        text.write.mode("overwrite").text(str(parts / "out"))
        with open(output, "wb") as out:
            for part in sorted((parts / "out").glob("part-*")):
                with part.open("rb") as fh:
                    shutil.copyfileobj(fh, out)
    finally:
        shutil.rmtree(parts, ignore_errors=True)
    return fmt


def scan_path(spark: SparkSession, source: str, output: str, *, fmt: str = "auto", out_fmt: str = "auto",
              table: bool = False, rules_only: bool = False, policy_path: str | None = None,
              model_dir: str | None = None, partitions: int | None = None, suggest: bool = False) -> dict[str, Any]:
    """Read, screen and write; returns a summary (records, errors, decisions) computed from the output."""
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    spec = _spec(spark, rules_only, policy_path, model_dir)
    prepared, kind, header = read_input(spark, source, fmt, table=table, partitions=partitions)
    results = _scan_prepared(prepared, spec, kind, header, suggest).persist(StorageLevel.MEMORY_AND_DISK)
    try:
        written = write_results(results, output, out_fmt)
        # one aggregate row, not a grouping: a group-by shuffles into spark.sql.shuffle.partitions tasks
        counts = results.agg(F.count("*").alias("records"), F.count("error").alias("errors"),
                             *[F.count(F.when(F.col("decision") == k, 1)).alias(k) for k in _DECISIONS]).first()
    finally:
        results.unpersist()
    return {"records": counts["records"], "errors": counts["errors"], "format": written,
            "decisions": {k: counts[k] for k in _DECISIONS}}
