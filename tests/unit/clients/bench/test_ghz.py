"""Tests for clients.bench.ghz: the descriptor set it is given and how its report is read."""

from __future__ import annotations

from pathlib import Path

from adplatform.v1 import feedback_service_pb2
from google.protobuf import descriptor_pb2
from grpc_health.v1 import health_pb2

from clients.bench.ghz import read_report, write_protoset


def test_the_protoset_holds_the_files_after_everything_they_import(tmp_path: Path) -> None:
    path = write_protoset(
        tmp_path / "set.protoset",
        health_pb2.DESCRIPTOR,
        feedback_service_pb2.DESCRIPTOR,
        feedback_service_pb2.DESCRIPTOR,  # named twice, written once
    )
    protoset = descriptor_pb2.FileDescriptorSet.FromString(path.read_bytes())
    names = [file.name for file in protoset.file]
    assert len(names) == len(set(names))
    assert {health_pb2.DESCRIPTOR.name, feedback_service_pb2.DESCRIPTOR.name} <= set(names)
    assert "google/api/annotations.proto" in names
    for position, file in enumerate(protoset.file):
        assert set(file.dependency) <= set(names[:position])  # imports come first


def test_the_report_counts_ok_calls_and_every_other_status_as_an_error() -> None:
    report = {
        "total": 10_000_000_000,
        "statusCodeDistribution": {"OK": 2_900, "DeadlineExceeded": 3, "Unavailable": 1},
        "latencyDistribution": [
            {"percentage": 50, "latency": 9_310_000},
            {"percentage": 99, "latency": 34_630_000},
        ],
    }
    measurement = read_report(report, "noop-grpc")
    assert (measurement.requests, measurement.errors) == (2_900, 4)
    assert measurement.seconds == 10.0
    assert (measurement.p50_ms, measurement.p99_ms) == (9.31, 34.63)
    assert measurement.throughput == 290.0


def test_a_report_without_calls_is_zero_not_a_crash() -> None:
    measurement = read_report({"total": 1_000_000_000}, "empty")
    assert (measurement.requests, measurement.errors, measurement.p99_ms) == (0, 0, 0.0)
