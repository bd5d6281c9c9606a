"""The HTTP collector as clients see it: every body shape lands, nothing invalid lands,
every refusal has its status, and an answer 200 means the records are on the bus."""

from __future__ import annotations

import gzip
import json
import subprocess
from pathlib import Path

import pytest
import zstandard

from bdp.bus import partition_for_key
from bdp.collect import id_key, record_id

from .http_harness import Stack, read_topic, web


def test_one_object_lands_with_its_partition_key(running: Stack) -> None:
    answer = running.served.post("weblogs", web(1))
    assert (answer.status, answer.body) == (200, {"accepted": 1})
    [(partition, key, value)] = read_topic(running.bus, "weblogs")
    assert value == web(1)
    assert key == b"s1"
    assert partition == partition_for_key(b"s1", 2)


def test_an_array_lands_each_record_as_sent(running: Stack) -> None:
    records = [web(i) for i in range(10)]
    body = b"[" + b" ,\n  ".join(records) + b"]"
    answer = running.served.post("weblogs", body)
    assert (answer.status, answer.body) == (200, {"accepted": 10})
    landed = read_topic(running.bus, "weblogs")
    assert sorted(value for _, _, value in landed) == sorted(records)
    for partition, key, _ in landed:
        assert key is not None
        assert partition == partition_for_key(key, 2)


def test_ndjson_is_read_from_the_body_whatever_its_label(running: Stack) -> None:
    records = [web(i) for i in range(5)]
    body = b"\r\n".join(records) + b"\n\n"
    for content_type in ("application/x-ndjson", "application/json", "text/plain"):
        answer = running.served.post("weblogs", body, Content_Type=content_type)
        assert (answer.status, answer.body) == (200, {"accepted": 5}), content_type
    assert len(read_topic(running.bus, "weblogs")) == 15


def test_a_pretty_printed_record_lands_on_one_line(running: Stack) -> None:
    pretty = json.dumps(json.loads(web(1)), indent=2).encode()
    assert (
        running.served.post("weblogs", b"[" + pretty + b"]").status,
        running.served.post("weblogs", pretty).status,
    ) == (200, 200)
    values = [value for _, _, value in read_topic(running.bus, "weblogs")]
    assert all(b"\n" not in value for value in values)
    assert [json.loads(value) for value in values] == [json.loads(web(1))] * 2


def test_gzip_and_zstd_bodies(running: Stack) -> None:
    body = b"\n".join(web(i) for i in range(20))
    zipped = running.served.post("weblogs", gzip.compress(body), Content_Encoding="gzip")
    squeezed = running.served.post(
        "weblogs", zstandard.ZstdCompressor().compress(body), Content_Encoding="zstd"
    )
    assert (zipped.status, squeezed.status) == (200, 200)
    assert len(read_topic(running.bus, "weblogs")) == 40


def test_a_batch_with_one_invalid_record_writes_nothing(running: Stack) -> None:
    bad = web(3).replace(b'"responseCode":200', b'"responseCode":"abc"')
    body = b"\n".join([web(0), web(1), web(2), bad, b"{not json", web(5)])
    answer = running.served.post("weblogs", body)
    assert answer.status == 400
    assert answer.body["rejected"] == 2
    assert [(r["index"], r["line"], r["reason"]) for r in answer.body["records"]] == [
        (3, 4, "wrong_type"),
        (4, 5, "invalid_json"),
    ]
    assert read_topic(running.bus, "weblogs") == []


def test_a_long_list_of_errors_is_capped_but_counted(running: Stack) -> None:
    body = b"[" + b",".join([b'{"ip": 1}'] * 250) + b"]"
    answer = running.served.post("weblogs", body)
    assert answer.status == 400
    assert answer.body["rejected"] == 250
    assert len(answer.body["records"]) == 100


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'[{"a": 1},\n {"b": }]', "line 2, column 8"),
        (b'{"a": 1', "not valid JSON"),
        (b"   ", "empty"),
        (b"42", "must be a JSON object"),
    ],
)
def test_malformed_bodies_say_where(running: Stack, body: bytes, expected: str) -> None:
    answer = running.served.post("weblogs", body)
    assert answer.status == 400
    assert expected in answer.body["error"]


def test_unknown_dataset_gets_the_closest_name(running: Stack) -> None:
    answer = running.served.post("weblog", web(1))
    assert answer.status == 404
    assert "'weblogs'" in answer.body["error"]


def test_wrong_method_and_unknown_path(running: Stack) -> None:
    answer = running.served.request("/v1/events/weblogs", method="GET")
    assert (answer.status, answer.headers["Allow"]) == (405, "POST")
    assert running.served.request("/healthz", b"{}", method="POST").status == 405
    assert running.served.request("/nowhere").status == 404


def test_a_body_over_the_limit_is_refused(tmp_path: Path) -> None:
    from .http_harness import stack, write_settings

    settings = write_settings(tmp_path, "max_body_bytes = 4096\n")
    with stack(settings) as running:
        big = b"\n".join(web(i) for i in range(100))
        assert running.served.post("weblogs", big).status == 413
        bomb = gzip.compress(b"\n".join([web(1)] * 1000))
        assert len(bomb) < 4096
        answer = running.served.post("weblogs", bomb, Content_Encoding="gzip")
        assert answer.status == 413
        answer = running.served.post(
            "weblogs",
            zstandard.ZstdCompressor().compress(b" " * 10_000_000),
            Content_Encoding="zstd",
        )
        assert answer.status == 413
        # Without Content-Length (chunked), the server counts as it reads.
        chunked = subprocess.run(
            [
                "curl",
                "-s",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "-H",
                "Transfer-Encoding: chunked",
                "-H",
                "Content-Type: application/json",
                "--data-binary",
                "@-",
                f"{running.served.url}/v1/events/weblogs",
            ],
            input=big,
            capture_output=True,
            check=True,
            timeout=30,
        )
        assert chunked.stdout == b"413"
        assert read_topic(running.bus, "weblogs") == []


def test_an_unknown_encoding_is_415(running: Stack) -> None:
    answer = running.served.post("weblogs", web(1), Content_Encoding="br")
    assert answer.status == 415


def test_idempotency_key_gives_each_record_a_stable_id(running: Stack) -> None:
    body = b"\n".join(web(i) for i in range(3))
    for _ in range(2):  # a client's retry
        assert running.served.post("weblogs", body, Idempotency_Key="batch-7").status == 200
    landed = read_topic(running.bus, "weblogs")
    ids = sorted(record_id(key) for _, key, _ in landed if key is not None)
    assert ids == sorted([b"h:batch-7:0", b"h:batch-7:1", b"h:batch-7:2"] * 2)
    for partition, key, value in landed:
        session = json.loads(value)["sessionID"].encode()
        assert partition == partition_for_key(session, 2), "the id keeps the key's partition"
        assert key is not None and key.startswith(id_key(b""))


@pytest.mark.parametrize("key", ["", "x" * 201, "naïve"])
def test_a_bad_idempotency_key_is_400(running: Stack, key: str) -> None:
    answer = running.served.request(
        "/v1/events/weblogs", web(1), {"Idempotency-Key": key.encode().decode("latin-1")}
    )
    assert answer.status == 400
    assert "Idempotency-Key" in answer.body["error"]


def test_curl_posts_a_file(running: Stack, tmp_path: Path) -> None:
    path = tmp_path / "events.ndjson"
    path.write_bytes(b"\n".join(web(i) for i in range(7)) + b"\n")
    done = subprocess.run(
        [
            "curl",
            "-sS",
            "-v",
            "-H",
            "Expect: 100-continue",  # curl waits for leave to send the body
            "-H",
            "Content-Type: application/x-ndjson",
            "--data-binary",
            f"@{path}",
            f"{running.served.url}/v1/events/weblogs",
        ],
        capture_output=True,
        check=True,
        timeout=30,
    )
    assert json.loads(done.stdout) == {"accepted": 7}
    assert b"< HTTP/1.1 100 Continue" in done.stderr
    assert len(read_topic(running.bus, "weblogs")) == 7


def test_health_readiness_and_the_document(running: Stack) -> None:
    assert running.served.request("/healthz").body == {"status": "ok"}
    assert running.served.request("/readyz").body == {"status": "ready", "reasons": []}
    document = running.served.request("/openapi.json").body
    assert document["openapi"].startswith("3.1")
    assert "/v1/events/weblogs" in document["paths"]
    assert running.served.collector.ready
