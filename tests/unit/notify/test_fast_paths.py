"""The send path's group commit, ids and timestamps, and the worker's directly built MIME."""

from __future__ import annotations

import dataclasses
import email
import email.policy
import os
import re
import threading
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage as ParsedMessage

import pytest

from services.notify.adapters.email_smtp import fast_mime
from services.notify.adapters.group_commit import GroupWriter
from services.notify.api.messages import notification_message
from services.notify.domain.notifications import Notification
from services.notify.domain.providers import EmailMessage
from services.runtime.ids import new_id
from services.runtime.timestamps import timestamp

SENDER = "GaaP Notify <notify@gaap.localhost>"


def parsed(raw: bytes) -> ParsedMessage:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, ParsedMessage)
    return message


def test_fast_mime_is_the_same_multipart_message() -> None:
    text = "Hello Ada <b>\n\nRenew at GOV: https://gov.example/renew " + "x" * 300 + " \n. end"
    html = "<p>Ada &lt;b&gt; café</p>\n<p>" + "y" * 300 + "</p>"
    message = EmailMessage("ntf_1", "a@example.com", "Your licence", text, html, "help@gov.example")
    raw = fast_mime(message, SENDER, "<1@gaap.localhost>")
    assert raw is not None
    assert raw.isascii()
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))
    got = parsed(raw)
    assert (got["From"], got["To"], got["Subject"]) == (SENDER, "a@example.com", "Your licence")
    assert (got["Reply-To"], got["Message-ID"]) == ("help@gov.example", "<1@gaap.localhost>")
    assert got["X-GaaP-Notification-Id"] == "ntf_1"
    assert got["Date"]
    assert got.get_content_type() == "multipart/alternative"
    plain, rich = got.get_body(("plain",)), got.get_body(("html",))
    assert plain is not None
    assert rich is not None
    assert plain.get_content().replace("\r\n", "\n") == text
    assert rich.get_content().replace("\r\n", "\n") == html


@pytest.mark.parametrize(
    ("to", "subject", "reply_to"),
    [
        ("a@bücher.example", "Hello", ""),
        ("a@example.com", "您的执照", ""),
        ("a@example.com", "x" * 1000, ""),
        ("a@example.com", "Hello", "hélp@gov.example"),
    ],
)
def test_headers_needing_encoding_or_folding_are_left_to_the_email_package(
    to: str, subject: str, reply_to: str
) -> None:
    message = EmailMessage("ntf_1", to, subject, "text", "<p>html</p>", reply_to)
    assert fast_mime(message, SENDER, "<1@gaap.localhost>") is None


def test_no_reply_to_header_without_a_reply_to() -> None:
    message = EmailMessage("ntf_1", "a@example.com", "Hi", "text", "<p>html</p>", "")
    raw = fast_mime(message, SENDER, "<1@gaap.localhost>")
    assert raw is not None
    assert "Reply-To" not in parsed(raw)


def test_group_writer_gives_each_caller_its_own_result_and_batches_under_load() -> None:
    batches: list[list[int]] = []
    inside = threading.Event()
    release = threading.Event()

    def write(items: Sequence[int]) -> list[int]:
        batches.append(list(items))
        if len(batches) == 1:
            inside.set()
            release.wait(5)
        return [i * 10 for i in items]

    writer: GroupWriter[int, int] = GroupWriter(write)
    results: dict[int, int] = {}

    def call(i: int) -> None:
        results[i] = writer.submit(i)

    first = threading.Thread(target=call, args=(0,))
    first.start()
    assert inside.wait(5)
    others = [threading.Thread(target=call, args=(i,)) for i in range(1, 6)]
    for t in others:
        t.start()
    while sum(1 for _ in writer._queue) < 5:  # all five queued behind the first write
        threading.Event().wait(0.001)
    release.set()
    for t in [first, *others]:
        t.join(5)
    assert results == {i: i * 10 for i in range(6)}
    assert batches[0] == [0]
    assert sorted(batches[1]) == [1, 2, 3, 4, 5]  # one transaction for everyone who waited


def test_group_writer_hands_a_failed_write_to_every_caller_of_that_batch_only() -> None:
    def write(items: Sequence[int]) -> list[int]:
        if 13 in items:
            raise RuntimeError("database away")
        return list(items)

    writer: GroupWriter[int, int] = GroupWriter(write)
    with pytest.raises(RuntimeError, match="database away"):
        writer.submit(13)
    assert writer.submit(7) == 7  # the writer is free again


def test_group_writer_wakes_each_waiter_once_with_its_own_result() -> None:
    writer: GroupWriter[int, int] = GroupWriter(lambda items: [i + 1 for i in items], max_batch=2)
    results: dict[int, int] = {}
    threads = [
        threading.Thread(target=lambda i=i: results.__setitem__(i, writer.submit(i)))
        for i in range(20)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(5)
    assert results == {i: i + 1 for i in range(20)}
    assert writer.submit(100) == 101  # nothing left holding the writer


def test_new_ids_are_random_hex_and_unique_across_threads() -> None:
    found: list[str] = []
    lock = threading.Lock()

    def make() -> None:
        ids = [new_id("ntf") for _ in range(500)]  # several refills of a thread's stock
        with lock:
            found.extend(ids)

    threads = [threading.Thread(target=make) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(5)
    assert len(set(found)) == len(found) == 2000
    assert all(re.fullmatch(r"ntf_[0-9a-f]{32}", i) for i in found)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_does_not_reuse_its_parents_stock_of_ids() -> None:
    new_id("x")  # this thread now holds a stock
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report its next id and leave at once
        os.write(write, new_id("x").encode())
        os._exit(0)
    os.waitpid(pid, 0)
    child = os.read(read, 100).decode()
    os.close(read)
    os.close(write)
    assert child != new_id("x")


def test_a_notification_message_sets_only_the_times_it_has() -> None:
    created = datetime(2025, 6, 1, 12, 30, 1, 123456, tzinfo=UTC)
    n = Notification(
        "ntf_1", "a", "live", "email", "created", "tpl_1", 1, "a@example.com", "S", "B", "",
        "en", "", {}, created, None, None, None, 0, None, None,
    )  # fmt: skip
    message = notification_message(n)
    assert message.create_time == message.scheduled_for == timestamp(created)
    assert not message.HasField("sent_time")
    assert not message.HasField("completed_time")
    sent = notification_message(dataclasses.replace(n, sent_at=created + timedelta(seconds=1)))
    assert sent.sent_time.ToDatetime(tzinfo=UTC) == created + timedelta(seconds=1)
