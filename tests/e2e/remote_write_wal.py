"""Read the collector's remote-write write-ahead log from disk: which samples are queued for Prometheus.

The prometheus_remote_write exporter persists every request to a tidwall/wal log
(``<storage>/prometheus-wal/prom_remotewrite/<20-digit first index>[.START|.END]`` segments, each
entry ``uvarint(length) + protobuf prompb.WriteRequest``) and truncates it only after Prometheus
took the entries. While Prometheus is down the log therefore holds every point the collector
queued, which is what the outage test counts against what Prometheus stores afterwards: points
that were queued and never stored are lost; points that were never queued were never produced.

The protobuf wire format is decoded by hand (prompb is not a Python package; four message types,
three field kinds): WriteRequest{1: TimeSeries}, TimeSeries{1: Label, 2: Sample},
Label{1: name, 2: value}, Sample{1: double value, 2: int64 timestamp ms}.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class QueuedSample:
    """One sample of one series as it sits in the write-ahead log."""

    labels: dict[str, str]
    value: float
    timestamp_ms: int


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def _fields(data: bytes) -> Iterator[tuple[int, int | bytes]]:
    """(field number, value) of one message; length-delimited values as bytes, fixed64 as raw int."""
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire_type = key >> 3, key & 7
        if wire_type == 0:
            value, pos = _varint(data, pos)
            yield number, value
        elif wire_type == 1:
            yield number, int.from_bytes(data[pos : pos + 8], "little")
            pos += 8
        elif wire_type == 2:
            length, pos = _varint(data, pos)
            yield number, data[pos : pos + length]
            pos += length
        elif wire_type == 5:
            pos += 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire_type}")


def _time_series(data: bytes) -> Iterator[QueuedSample]:
    labels: dict[str, str] = {}
    samples: list[tuple[float, int]] = []
    for number, value in _fields(data):
        if number == 1 and isinstance(value, bytes):
            parts = dict(_fields(value))
            name, label_value = parts.get(1, b""), parts.get(2, b"")
            assert isinstance(name, bytes)
            assert isinstance(label_value, bytes)
            labels[name.decode()] = label_value.decode()
        elif number == 2 and isinstance(value, bytes):
            parts = dict(_fields(value))
            raw_value, timestamp = parts.get(1, 0), parts.get(2, 0)
            assert isinstance(raw_value, int)
            assert isinstance(timestamp, int)
            if timestamp >= 1 << 63:  # int64 as two's complement
                timestamp -= 1 << 64
            samples.append((struct.unpack("<d", raw_value.to_bytes(8, "little"))[0], timestamp))
    for sample_value, timestamp in samples:
        yield QueuedSample(labels=labels, value=sample_value, timestamp_ms=timestamp)


def _entries(segment: bytes) -> Iterator[bytes]:
    pos = 0
    while pos < len(segment):
        length, start = _varint(segment, pos)
        if start + length > len(segment):  # a write cut short (SIGKILL): tidwall/wal drops it too
            return
        yield segment[start : start + length]
        pos = start + length


def queued_samples(storage_dir: Path) -> list[QueuedSample]:
    """Every sample in the remote-write WAL under a collector storage directory, oldest first."""
    wal_dir = storage_dir / "prometheus-wal" / "prom_remotewrite"
    samples: list[QueuedSample] = []
    if not wal_dir.is_dir():
        return samples
    segments = sorted(path for path in wal_dir.iterdir() if path.name[:20].isdigit())
    for segment in segments:
        for entry in _entries(segment.read_bytes()):
            for number, value in _fields(entry):
                if number == 1 and isinstance(value, bytes):
                    samples.extend(_time_series(value))
    return samples
