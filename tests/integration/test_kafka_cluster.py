"""`scripts/kafka start --brokers 3`: three KRaft nodes of one cluster, topics replicated three
times with min.insync.replicas=2, and a leader's crash costing no acknowledged message. The
cluster is the test's own (its own state dir and ports), never the shared broker."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import ConfigResource, ConfigResourceType
from kafka.structs import TopicPartition

from consumers.topics import Replication, all_topic_names, ensure_topics
from tests.integration.conftest import REPO

PORT = int(os.environ.get("NTD_TEST_CLUSTER_PORT", "19392"))
"""Node 1's client port; the nodes use PORT .. PORT + 5."""


class Cluster:
    """The test's three-node cluster, driven through scripts/kafka."""

    def __init__(self, state_dir: Path) -> None:
        self.env = {
            **os.environ,
            "NTD_SERVICES_DIR": str(state_dir),
            "NTD_KAFKA_PORT": str(PORT),
            "NTD_KAFKA_HEAP": "-Xms128m -Xmx320m",
        }
        self.state_dir = state_dir

    def script(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(REPO / "scripts" / "kafka"), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=240,
        )

    @property
    def bootstrap(self) -> str:
        return self.script("bootstrap").stdout.strip()

    def leader(self, topic: str, partition: int) -> int:
        admin = KafkaAdminClient(bootstrap_servers=self.bootstrap.split(","))
        try:
            (described,) = admin.describe_topics([topic])
        finally:
            admin.close()
        (found,) = [p for p in described["partitions"] if p["partition_index"] == partition]
        return int(found["leader_id"])


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    made = Cluster(tmp_path_factory.mktemp("cluster"))
    started = made.script("start", "--brokers", "3")
    assert started.returncode == 0, started.stderr
    yield made
    made.script("stop")


def test_three_nodes_of_one_cluster_run_each_with_its_own_port_and_directories(
    cluster: Cluster,
) -> None:
    status = cluster.script("status")
    assert status.returncode == 0, status.stdout + status.stderr
    assert status.stdout.count("running on 127.0.0.1:") == 3
    assert cluster.bootstrap == f"127.0.0.1:{PORT},127.0.0.1:{PORT + 2},127.0.0.1:{PORT + 4}"
    nodes = cluster.state_dir / "kafka" / "cluster"
    ids = {(nodes / f"node-{i}" / "data" / "meta.properties").read_text() for i in (1, 2, 3)}
    assert len({line for text in ids for line in text.splitlines() if "cluster.id" in line}) == 1
    admin = KafkaAdminClient(bootstrap_servers=cluster.bootstrap.split(","))
    try:
        assert len(admin.describe_cluster()["brokers"]) == 3
    finally:
        admin.close()


def test_the_catalogue_topics_get_three_replicas_and_min_insync_two(cluster: Cluster) -> None:
    names = ensure_topics(cluster.bootstrap, 3, "rf.")
    admin = KafkaAdminClient(bootstrap_servers=cluster.bootstrap.split(","))
    try:
        described = admin.describe_topics(names)
        resources = [ConfigResource(ConfigResourceType.TOPIC, name) for name in names]
        configs = admin.describe_configs(resources)
    finally:
        admin.close()
    assert names == all_topic_names("rf.")
    for topic in described:
        assert {len(p["replica_nodes"]) for p in topic["partitions"]} == {3}, topic["name"]
    assert _min_insync(configs) == {name: "2" for name in names}


def _min_insync(answer: Any) -> dict[str, str]:
    """min.insync.replicas per topic, from describe_configs' answer."""
    return {
        name: configs["min.insync.replicas"]["value"] for name, configs in answer["topic"].items()
    }


def test_a_leader_killed_mid_stream_loses_no_acknowledged_message(cluster: Cluster) -> None:
    topic = "rf.crash"
    ensure_topics(cluster.bootstrap, 1, "rf.")  # replication settles before this test's topic
    admin = KafkaAdminClient(bootstrap_servers=cluster.bootstrap.split(","))
    try:
        from kafka.admin import NewTopic

        replication = Replication.for_cluster(3)
        admin.create_topics(
            [NewTopic(topic, 1, replication.factor, topic_configs=replication.configs())]
        )
    finally:
        admin.close()
    producer = KafkaProducer(
        bootstrap_servers=cluster.bootstrap.split(","),
        acks="all",
        enable_idempotence=True,
        request_timeout_ms=10_000,
        delivery_timeout_ms=60_000,
    )
    acknowledged = [producer.send(topic, f"before-{n}".encode()) for n in range(200)]
    producer.flush(30)
    leader = cluster.leader(topic, 0)
    killed = cluster.script("kill-node", str(leader))
    assert killed.returncode == 0, killed.stderr
    acknowledged += [producer.send(topic, f"after-{n}".encode()) for n in range(200)]
    producer.flush(60)
    assert all(future.succeeded() for future in acknowledged)
    assert cluster.leader(topic, 0) != leader
    restarted = cluster.script("start-node", str(leader))
    assert restarted.returncode == 0, restarted.stderr
    producer.close()

    expected = [f"before-{n}" for n in range(200)] + [f"after-{n}" for n in range(200)]
    assert _read(cluster.bootstrap, topic, len(expected)) == expected


def _read(bootstrap: str, topic: str, count: int) -> list[str]:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap.split(","), group_id=None)
    try:
        partition = TopicPartition(topic, 0)
        consumer.assign([partition])
        consumer.seek_to_beginning(partition)
        found: list[str] = []
        deadline = time.monotonic() + 60
        while len(found) < count and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=1000).values():
                found += [record.value.decode() for record in records]
        return found
    finally:
        consumer.close()


def test_one_broker_keeps_one_copy_and_a_cluster_three_with_writes_surviving_one_loss() -> None:
    assert Replication.for_cluster(1) == Replication(1, 1)
    assert Replication.for_cluster(2) == Replication(2, 1)
    assert Replication.for_cluster(3) == Replication(3, 2)
    assert Replication.for_cluster(5) == Replication(3, 2)


def test_the_node_commands_refuse_a_node_the_cluster_does_not_have(cluster: Cluster) -> None:
    wrong = cluster.script("kill-node", "4")
    assert wrong.returncode == 2
    assert wrong.stderr.strip() == "kafka: error: node must be a number from 1 to 3, not '4'"
    busy = cluster.script("start")
    assert busy.returncode == 1 and "stop' it first" in busy.stderr
