"""Materialization written from Spark executors on a real standalone cluster: a master and two
workers started from the pyspark install on loopback (`$SPARK_HOME/sbin/spark-daemon.sh`; the
pip install has no start-master.sh), so the executors — and the Python workers that frame and
write Redis — are separate processes. The driver (this process) holds the lease and flips; the
suite's real Redis receives the writes. Checked: every value, no orphan key (SCAN), a failed
task retried, a failed job that leaves the old generation served and nothing the next load
cannot find.

Needs Java >= 17 and the spark extra: on a laptop without them the tests skip saying so; under
CI=true they fail instead (`_require_spark`). The cluster is stopped in teardown.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from test_integration_spark import _require_spark, forget_local_spark

from skewless.definitions import Feature, FeatureView
from skewless.definitions.registry import Registry
from skewless.errors import OnlineStoreError
from skewless.online import keys
from skewless.online.connection import connect
from skewless.online.local_redis import free_port
from skewless.online.store import FeatureStore

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("spark")]

UTC = timezone.utc
ENTITIES = 20_000
ROWS = 60_000  # three rows per entity: the latest of entity e is i = 40000 + e (0: i = 60000)
NOW = datetime(2099, 1, 2, tzinfo=UTC)
MASTER = "org.apache.spark.deploy.master.Master"
WORKER = "org.apache.spark.deploy.worker.Worker"


def spark_home() -> Path:
    """The pyspark install: it carries bin/spark-class and sbin/spark-daemon.sh."""
    import pyspark

    return Path(pyspark.__file__).parent


class StandaloneCluster:
    """A Spark standalone master and `workers` workers on 127.0.0.1, from the pyspark install.

    Logs, pid files and work dirs live in `base`; the daemons get a per-run identity, so
    several clusters (a test, a benchmark) never share pid files. `stop()` stops exactly the
    daemons this object started (by their pid files).
    """

    def __init__(self, base: Path, workers: int = 2, cores: int = 1, memory: str = "1g"):
        self.base = base
        self.workers = workers
        self.cores = cores
        self.memory = memory
        self.port = free_port()
        self.ui_port = free_port()
        self.started: list[tuple[str, int]] = []
        self.env = {
            **os.environ,
            "SPARK_HOME": str(spark_home()),
            "SPARK_LOG_DIR": str(base / "logs"),
            "SPARK_PID_DIR": str(base / "pids"),
            "SPARK_WORKER_DIR": str(base / "work"),
            "SPARK_CONF_DIR": str(base / "conf"),
            "SPARK_IDENT_STRING": f"skewless{os.getpid()}x{self.port}",
            "SPARK_DAEMON_MEMORY": "256m",
            "SPARK_LOCAL_IP": "127.0.0.1",
            "SPARK_MASTER_HOST": "127.0.0.1",
        }
        (base / "conf").mkdir(parents=True, exist_ok=True)

    @property
    def url(self) -> str:
        return f"spark://127.0.0.1:{self.port}"

    def _daemon(self, action: str, cls: str, instance: int, *args: str) -> None:
        script = spark_home() / "sbin" / "spark-daemon.sh"
        proc = subprocess.run(
            ["bash", str(script), action, cls, str(instance), *args],
            env=self.env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        if proc.returncode != 0:
            raise RuntimeError(f"spark-daemon.sh {action} {cls} {instance}: {proc.stderr}")

    def state(self) -> dict[str, Any]:
        """The master's JSON status (workers, applications)."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.ui_port}/json/", timeout=5) as r:
            return json.loads(r.read())  # type: ignore[no-any-return]

    def start(self, timeout: float = 120) -> StandaloneCluster:
        self._daemon("start", MASTER, 1, "--host", "127.0.0.1", "--port", str(self.port),
                     "--webui-port", str(self.ui_port))  # fmt: skip
        self.started.append((MASTER, 1))
        for i in range(1, self.workers + 1):
            self._daemon("start", WORKER, i, "--host", "127.0.0.1", "--cores", str(self.cores),
                         "--memory", self.memory, "--webui-port", str(free_port()),
                         "--work-dir", str(self.base / "work" / str(i)), self.url)  # fmt: skip
            self.started.append((WORKER, i))
        deadline = time.monotonic() + timeout
        while True:
            try:
                if self.state().get("aliveworkers") == self.workers:
                    return self
            except OSError:
                pass
            if time.monotonic() > deadline:
                logs = "\n".join(p.read_text()[-2000:] for p in (self.base / "logs").glob("*"))
                self.stop()
                raise RuntimeError(f"the standalone cluster did not come up:\n{logs}")
            time.sleep(0.5)

    def stop(self) -> None:
        for cls, i in reversed(self.started):
            try:
                self._daemon("stop", cls, i)
            except Exception:
                pass
        self.started = []


def cluster_profile(project: Path, master: str, spark_dir: Path, **extra: str) -> None:
    """A dbt project folder whose `cluster` target is a dbt-spark session on `master`."""
    project.mkdir(parents=True, exist_ok=True)
    (project / "dbt_project.yml").write_text(
        "name: spark_cluster\nversion: '1.0.0'\nconfig-version: 2\nprofile: spark_cluster\n"
    )
    params = {
        "spark.master": master,
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.warehouse.dir": f"{spark_dir}/warehouse",
        "spark.hadoop.javax.jdo.option.ConnectionURL": (
            f"jdbc:derby:;databaseName={spark_dir}/metastore_db;create=true"
        ),
        "spark.driver.extraJavaOptions": f"-Dderby.system.home={spark_dir}",
        "spark.driver.host": "127.0.0.1",
        "spark.driver.bindAddress": "127.0.0.1",
        "spark.driver.memory": "1g",
        "spark.executor.memory": "512m",
        "spark.sql.shuffle.partitions": "2",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.legacy.createHiveTableByDefault": "false",
        **extra,
    }
    lines = "\n".join(f'        {k}: "{v}"' for k, v in params.items())
    (project / "profiles.yml").write_text(
        "spark_cluster:\n  target: cluster\n  outputs:\n    cluster:\n      type: spark\n"
        "      method: session\n      host: localhost\n      schema: skw_cluster\n"
        f"      server_side_parameters:\n{lines}\n"
    )


def cluster_view(
    name: str = "cluster_stats", relation: str = "skw_cluster.cluster_stats"
) -> FeatureView:
    """The view the cluster tests load: no ttl (the unfinished-generation guard and its
    persist run for every key), a bigint key, bigint/double/string features."""
    feats = (("v", "bigint"), ("d", "double"), ("s", "string"))
    return FeatureView(
        name=name,
        unique_id=f"model.spark_cluster.{name}",
        relation_name=relation,
        entity=("user_id",),
        entity_types=("bigint",),
        timestamp="ts",
        ttl=None,
        available_after=timedelta(0),
        freshness=None,
        on_stale="serve",
        features=tuple(Feature(view=name, name=n, data_type=t) for n, t in feats),
        version=f"{name}-v1",
        database=None,
        schema="skw_cluster",
        alias=name,
    )


@dataclass
class Cluster:
    cluster: StandaloneCluster
    reader: Any
    registry: Registry
    view: FeatureView


@pytest.fixture(scope="module")
def on_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    _require_spark()
    from skewless.offline import reader_from_profile

    forget_local_spark()  # one SparkContext per process: a session-mode one would be joined
    base = tmp_path_factory.mktemp("spark-cluster")
    cluster = StandaloneCluster(base / "cluster", workers=2, cores=1, memory="1g").start()
    reader = None
    try:
        project = base / "project"
        # two attempts per task: the failed-job case gives up after its second attempt
        cluster_profile(project, cluster.url, base / "spark", **{"spark.task.maxFailures": "2"})
        view = cluster_view()
        reader = reader_from_profile(project, project, "cluster", [view])
        # the workers' executors register with the driver a moment after the session starts
        # (seconds on a loaded machine): wait for both before any test counts them
        status = reader.spark.sparkContext._jsc.sc().getExecutorMemoryStatus
        deadline = time.monotonic() + 120
        while status().size() < 3 and time.monotonic() < deadline:  # the driver + 2 executors
            time.sleep(0.2)
        reader.spark.sql("create schema if not exists skw_cluster")
        reader.spark.sql(
            "create table skw_cluster.cluster_stats using parquet as "
            f"select cast(id % {ENTITIES} as bigint) as user_id, "
            "timestamp_seconds(4070908800 + id) as ts, id * 3 as v, cast(id as double) / 4 as d, "
            f"concat('s-', cast(id as string), ' ü}}') as s from range(1, {ROWS + 1})"
        )
        yield Cluster(cluster, reader, Registry({view.name: view}), view)
    finally:
        if reader is not None:
            reader.close()
        cluster.stop()


def _expected(e: int) -> dict[str, Any]:
    i = ROWS if e == 0 else ROWS - ENTITIES + e
    return {"v": 3 * i, "d": i / 4, "s": f"s-{i} ü}}"}


def _check_every_value(url: str, c: Cluster) -> None:
    store = FeatureStore(c.registry, connect(url), url)
    refs = [f"{c.view.name}.{f}" for f in ("v", "d", "s")]
    for start in range(0, ENTITIES, 5000):
        ents = [{"user_id": e} for e in range(start, start + 5000)]
        got = store.get_online_features(refs, ents, now=NOW).to_dicts()
        for e, row in zip(range(start, start + 5000), got, strict=True):
            want = _expected(e)
            assert {k.split(".")[1]: v for k, v in row.items()} == want, e
            assert type(row[refs[0]]) is int and type(row[refs[1]]) is float
    absent = store.get_online_features(refs, [{"user_id": ENTITIES}], now=NOW)
    assert absent.statuses[0][refs[0]] == "missing"


def _keyspace(url: str, view: str) -> tuple[set[bytes], dict[bytes, list[bytes]]]:
    """(every data key of `view` in Redis, SCANned; every generation's key list)."""
    client = connect(url)
    data: set[bytes] = set()
    lists: dict[bytes, list[bytes]] = {}
    for k in client.scan_iter(count=10_000):
        if k.startswith(b"skw:{") and k.split(b"}:", 1)[1].startswith(view.encode() + b":"):
            data.add(k)
        elif k.startswith(b"skw:gen:") and k.endswith(b":keys"):
            lists[k.split(b":")[-2]] = client.lrange(k, 0, -1)
    return data, lists


def _assert_no_orphans(url: str, c: Cluster) -> bytes:
    """Every data key is listed by its generation, every listed key of the served generation
    exists: nothing a load wrote is out of the cleanup's reach. → the served generation."""
    client = connect(url)
    gen = client.get(keys.pointer_key(c.view.name, c.view.version))
    data, lists = _keyspace(url, c.view.name)
    listed = {k for ks in lists.values() for k in ks}
    assert data - listed == set(), f"{len(data - listed)} orphan keys"
    served = {k for k in lists[gen] if k.startswith(b"skw:{")}
    assert len(served) == ENTITIES and served <= data
    return bytes(gen)


def test_executors_write_every_value_on_a_two_worker_cluster(
    on_cluster: Cluster, redis_url: str, record_property: Any
) -> None:
    from skewless.online.spark import materialize

    reader = on_cluster.reader
    assert reader.is_cluster and reader.master == on_cluster.cluster.url
    sc = reader.spark.sparkContext
    assert sc.defaultParallelism == 2  # one core on each of the two workers
    client = connect(redis_url)
    t0 = time.perf_counter()
    (first,) = materialize(
        on_cluster.registry, client, reader, url=redis_url, now=NOW, write="auto"
    )
    seconds = time.perf_counter() - t0
    assert (first.rows, first.mode) == (ENTITIES, "full")
    assert first.watermark == datetime.fromtimestamp(4070908800 + ROWS, UTC)
    # the two executors are separate JVMs on the two workers (the driver is this process)
    state = on_cluster.cluster.state()
    assert [w["coresused"] for w in state["workers"]] == [1, 1]
    assert sc._jsc.sc().getExecutorMemoryStatus().size() == 3  # driver + 2 executors
    _check_every_value(redis_url, on_cluster)
    gen = _assert_no_orphans(redis_url, on_cluster)
    # no ttl: the unfinished-generation guard was cleared from every key before the flip
    data, lists = _keyspace(redis_url, on_cluster.view.name)
    pipe = client.pipeline(transaction=False)
    for k in data:
        pipe.pttl(k)
    assert set(pipe.execute()) == {-1}
    assert len(lists[gen]) == len(set(lists[gen]))
    meta = client.hgetall(keys.meta_key(on_cluster.view.name))
    assert meta[b"rows"] == str(ENTITIES).encode() and meta[b"generation"] == gen

    (second,) = materialize(on_cluster.registry, client, reader, url=redis_url, now=NOW)
    assert second.rows == ENTITIES and int(second.generation) > int(first.generation)
    _check_every_value(redis_url, on_cluster)
    assert _assert_no_orphans(redis_url, on_cluster) == second.generation.encode()
    record_property(
        "summary",
        f"spark standalone cluster (2 workers x 1 core): {ENTITIES:,} entities from {ROWS:,} "
        f"rows written by the executors in {seconds:.1f}s ({ENTITIES / seconds:,.0f} rows/s "
        "incl. the window)",
    )


def test_a_failed_task_is_retried_and_leaves_nothing_behind(
    on_cluster: Cluster, redis_url: str
) -> None:
    """Partition 0 fails after its first buffer on its first attempt; Spark retries it. The
    load succeeds, every value is right, the retry's repeated keys are listed once."""
    from skewless.online.spark import materialize

    (res,) = materialize(
        on_cluster.registry, connect(redis_url), on_cluster.reader, url=redis_url, now=NOW,
        write="executors", _fault=(0, 1, 1),
    )  # fmt: skip
    assert res.rows == ENTITIES
    _check_every_value(redis_url, on_cluster)
    gen = _assert_no_orphans(redis_url, on_cluster)
    _, lists = _keyspace(redis_url, on_cluster.view.name)
    assert len(lists[gen]) == len(set(lists[gen]))  # the repeats were removed before persist


def test_a_failed_job_leaves_the_old_generation_served(on_cluster: Cluster, redis_url: str) -> None:
    """Partition 0 fails after its first buffer on every attempt: the job fails. Nothing is
    flipped (the previous generation is served), every key the failed job wrote is listed, and
    the next load deletes them all."""
    from skewless.online.spark import materialize

    client = connect(redis_url)
    reader = on_cluster.reader
    (good,) = materialize(on_cluster.registry, client, reader, url=redis_url, now=NOW)
    with pytest.raises(OnlineStoreError) as e:
        materialize(
            on_cluster.registry, client, reader, url=redis_url, now=NOW, write="executors",
            _fault=(0, 1, 99),
        )  # fmt: skip
    msg = str(e.value)
    assert "`cluster_stats`" in msg and "injected fault" in msg and on_cluster.cluster.url in msg
    assert "previous generation is still served" in msg and e.value.view == "cluster_stats"
    pointer = keys.pointer_key(on_cluster.view.name, on_cluster.view.version)
    assert client.get(pointer) == good.generation.encode()
    _check_every_value(redis_url, on_cluster)
    failed = [g for g in client.smembers(keys.loading_key(on_cluster.view.name))]
    assert len(failed) == 1 and failed[0] != good.generation.encode()
    data, lists = _keyspace(redis_url, on_cluster.view.name)
    written = {k for k in data if k.endswith(b":" + failed[0])}
    assert written, "the failed job wrote nothing: the case would prove nothing"
    assert written <= set(lists[failed[0]])  # no key written before it was recorded

    (after,) = materialize(on_cluster.registry, client, reader, url=redis_url, now=NOW)
    assert failed[0].decode() in after.deleted_generations
    data, _ = _keyspace(redis_url, on_cluster.view.name)
    assert not {k for k in data if k.endswith(b":" + failed[0])}
    assert client.smembers(keys.loading_key(on_cluster.view.name)) == set()
    assert _assert_no_orphans(redis_url, on_cluster) == after.generation.encode()
    _check_every_value(redis_url, on_cluster)
