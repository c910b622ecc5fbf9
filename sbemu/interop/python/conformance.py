#!/usr/bin/python3
"""Conformance checks of a Service Bus endpoint (normally the licensefix
emulator, sbemu) with Microsoft's Python SDK as Debian ships it
(python3-azure: azure-servicebus 7.8.x on uamqp 1.5.x). Standard library and
that SDK only; run it with /usr/bin/python3, which sees Debian's packages.

This SDK version has no emulator mode: it always opens TLS to port 5671 of
the Endpoint's host (the port of the Endpoint is ignored), so the endpoint
must serve amqps there with a certificate the client trusts.

Environment:
  SERVICEBUS_CONNECTION_STRING  connection string (required; never printed)
  SERVICEBUS_CA_FILE            PEM file of the certificate(s) to trust
                                (connection_verify); default: certifi's bundle
  SERVICEBUS_QUEUE              queue the checks use (required)
  SERVICEBUS_QUEUE_PER_CHECK    "true": check NAME uses queue "<SERVICEBUS_QUEUE>-NAME"
                                instead (isolation; the queues must exist)
  INTEROP_FROM_GO_QUEUE         if set, check "receive-from-go" reads the
                                message the Go test sent there
  INTEROP_TO_GO_QUEUE           if set, check "send-to-go" sends a message
                                there for the Go test to read
  SERVICEBUS_MAX_DELIVERY_COUNT if set, check "max-delivery-dead-letter" expects
                                exactly that many deliveries
  SBEMU_CONTROL                 "stdio": the emulator's test harness answers fault
                                requests; enables the fault checks (see control())
  SERVICEBUS_TOPIC              if set, the topic checks (topic-*) use this topic
                                ("<SERVICEBUS_TOPIC>-NAME" with SERVICEBUS_QUEUE_PER_CHECK),
                                laid out as sbemu/testdata/topics.json: subscriptions
                                "all" (no rule, MaxDeliveryCount 3), "corr" (correlation
                                rule: subject "orders", region "eu"), "sql" (subject "orders"
                                and qty > 10), "action" (region "eu"; sets to and stage,
                                removes region), "none" (matches nothing)
  CHECKS                        optional comma-separated list of checks to run
  CHECK_TIMEOUT                 seconds one check may take (default 30); on
                                timeout the stacks go to stderr and the script
                                exits 1 (a blocked uamqp call cannot be cancelled)

With one shared queue, start with it empty: checks that pass leave it empty,
and "lock-expiry" and "receiver-close-redelivers-after-expiry" need a
LockDuration under 15 s.

Output: one JSON line per check on stdout, {"name","ok","error","ms"}, and
control requests {"control": ...}. Exit status 0 when every check passed,
1 when one failed, 2 on bad settings. SDK log records of level WARNING and
above go to stderr.
"""

import datetime
import faulthandler
import json
import logging
import os
import sys
import threading
import time
import uuid

from azure.servicebus import (
    ServiceBusClient,
    ServiceBusMessage,
    ServiceBusMessageState,
    ServiceBusReceiveMode,
    ServiceBusSubQueue,
)
from azure.servicebus.amqp import AmqpAnnotatedMessage, AmqpMessageBodyType
from azure.servicebus.exceptions import (
    MessageLockLostError,
    MessagingEntityNotFoundError,
    ServiceBusAuthenticationError,
    ServiceBusError,
)

CONNECTION_STRING = os.environ.get("SERVICEBUS_CONNECTION_STRING", "")
CA_FILE = os.environ.get("SERVICEBUS_CA_FILE") or None
BASE_QUEUE = os.environ.get("SERVICEBUS_QUEUE", "")
BASE_TOPIC = os.environ.get("SERVICEBUS_TOPIC", "")
PER_CHECK = os.environ.get("SERVICEBUS_QUEUE_PER_CHECK") == "true"
FROM_GO_QUEUE = os.environ.get("INTEROP_FROM_GO_QUEUE", "")
TO_GO_QUEUE = os.environ.get("INTEROP_TO_GO_QUEUE", "")
CONTROL = os.environ.get("SBEMU_CONTROL") == "stdio"
ONLY = [c.strip() for c in os.environ.get("CHECKS", "").split(",") if c.strip()]
CHECK_TIMEOUT = float(os.environ.get("CHECK_TIMEOUT", "30"))

if not CONNECTION_STRING or not BASE_QUEUE:
    print("conformance: SERVICEBUS_CONNECTION_STRING and SERVICEBUS_QUEUE must be set", file=sys.stderr)
    sys.exit(2)

# The properties both interop directions use; the Go side checks them.
INTEROP_LABEL = "ünïcode ✓"
INTEROP_WHEN = datetime.datetime.fromtimestamp(1700000000, tz=datetime.timezone.utc)


# ---------------------------------------------------------------- SDK log

class _Capture(logging.Handler):
    """Keeps every SDK log record, so that checks can assert that an
    injected fault reached the SDK."""

    def __init__(self):
        super().__init__(level=logging.DEBUG)
        self.lines = []
        self._mu = threading.Lock()

    def emit(self, record):
        try:
            line = record.getMessage()
        except Exception:  # a record whose arguments do not format
            line = str(record.msg)
        with self._mu:
            self.lines.append(line)

    def mark(self):
        with self._mu:
            return len(self.lines)

    def since(self, mark):
        with self._mu:
            return list(self.lines[mark:])


SDK_LOG = _Capture()
_stderr = logging.StreamHandler(sys.stderr)
_stderr.setLevel(logging.WARNING)
for _name in ("azure.servicebus", "uamqp"):
    _logger = logging.getLogger(_name)
    _logger.setLevel(logging.INFO)
    _logger.addHandler(SDK_LOG)
    _logger.addHandler(_stderr)
    _logger.propagate = False


# ---------------------------------------------------------------- helpers

class CheckError(Exception):
    """A check's expectation did not hold."""


def check_true(cond, message):
    if not cond:
        raise CheckError(message)


def check_equal(got, want, what):
    if got != want:
        raise CheckError("{}: got {!r}, want {!r}".format(what, got, want))


def new_client(conn_str=CONNECTION_STRING, **kwargs):
    """A client with quick retries: a misbehaving broker should fail a check
    in seconds, not minutes."""
    options = dict(retry_total=2, retry_backoff_factor=0.1, retry_backoff_max=1)
    options.update(kwargs)
    return ServiceBusClient.from_connection_string(conn_str, connection_verify=CA_FILE, **options)


CLIENT = new_client()


class Handlers:
    """Opens senders and receivers on one queue and closes them all."""

    def __init__(self, queue):
        self.queue = queue
        self.opened = []

    def sender(self, queue=None):
        s = CLIENT.get_queue_sender(queue or self.queue)
        self.opened.append(s)
        return s

    def receiver(self, **kwargs):
        r = CLIENT.get_queue_receiver(self.queue, **kwargs)
        self.opened.append(r)
        return r

    def dlq_receiver(self):
        return self.receiver(sub_queue=ServiceBusSubQueue.DEAD_LETTER)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for h in reversed(self.opened):
            try:
                h.close()
            except Exception:  # closing after a failure must not hide it
                pass
        return False


def receive_exactly(receiver, n, timeout=10.0):
    """Calls receive_messages until n messages arrived or timeout passed."""
    deadline = time.monotonic() + timeout
    got = []
    while len(got) < n:
        left = deadline - time.monotonic()
        check_true(left > 0, "received {} of {} messages before the timeout".format(len(got), n))
        got.extend(receiver.receive_messages(max_message_count=n - len(got), max_wait_time=min(left, 3.0)))
    return got


def expect_empty(receiver, what, wait=0.5):
    msgs = receiver.receive_messages(max_message_count=1, max_wait_time=wait)
    check_equal(len(msgs), 0, "{}: messages received".format(what))


def body_bytes(msg):
    """The data body of a received message as one bytes value."""
    return b"".join(msg.body)


def text(v):
    """uamqp hands some strings back as bytes."""
    return v.decode("utf-8") if isinstance(v, bytes) else v


def props(msg):
    """Application properties with text keys and text string values."""
    return {text(k): text(v) for k, v in (msg.application_properties or {}).items()}


def utc_ms(dt):
    return int(dt.timestamp() * 1000)


# ---------------------------------------------------------------- checks

CHECKS = []


def check(name, topic=False):
    """Registers a check; a topic check gets a topic instead of a queue."""
    def register(fn):
        CHECKS.append((name, fn, topic))
        return fn
    return register


@check("send-receive-complete")
def _(q):
    with Handlers(q) as h:
        sender, receiver = h.sender(), h.receiver()
        before = datetime.datetime.now(datetime.timezone.utc)
        sender.send_messages(ServiceBusMessage(
            b'{"user_id":"u-1"}', message_id="m-send-1", content_type="application/json",
            application_properties={"user_id": "u-1"}))
        [msg] = receive_exactly(receiver, 1)
        check_equal(msg.message_id, "m-send-1", "message_id")
        check_equal(body_bytes(msg), b'{"user_id":"u-1"}', "body")
        check_equal(msg.content_type, "application/json", "content_type")
        check_equal(props(msg).get("user_id"), "u-1", "application_properties user_id")
        check_equal(msg.delivery_count, 0, "delivery_count (raw header value) on first delivery")
        check_true(isinstance(msg.lock_token, uuid.UUID), "lock_token {!r} is not a UUID".format(msg.lock_token))
        check_true(isinstance(msg.sequence_number, int) and msg.sequence_number >= 1,
                   "sequence_number {!r}".format(msg.sequence_number))
        check_true(msg.enqueued_time_utc is not None and msg.enqueued_time_utc >= before - datetime.timedelta(seconds=5),
                   "enqueued_time_utc {}".format(msg.enqueued_time_utc))
        check_true(msg.locked_until_utc is not None and msg.locked_until_utc > datetime.datetime.now(datetime.timezone.utc),
                   "locked_until_utc {}".format(msg.locked_until_utc))
        check_equal(msg.state, ServiceBusMessageState.ACTIVE, "state")
        receiver.complete_message(msg)
        expect_empty(receiver, "after complete")


@check("receive-empty")
def _(q):
    with Handlers(q) as h:
        sender, receiver = h.sender(), h.receiver()
        for i in range(3):
            msgs = receiver.receive_messages(max_message_count=5, max_wait_time=0.3)
            check_equal(len(msgs), 0, "empty receive {}: messages".format(i + 1))
        sender.send_messages(ServiceBusMessage("after-empty", message_id="m-empty-1"))
        [msg] = receive_exactly(receiver, 1)
        check_equal(msg.message_id, "m-empty-1", "message_id after the empty receives")
        receiver.complete_message(msg)


@check("batch-50")
def _(q):
    with Handlers(q) as h:
        sender, receiver = h.sender(), h.receiver()
        batch = sender.create_message_batch()
        check_true(batch.max_size_in_bytes > 0, "batch.max_size_in_bytes {}".format(batch.max_size_in_bytes))
        for i in range(50):
            batch.add_message(ServiceBusMessage(json.dumps({"i": i}), message_id="m-batch-{}".format(i),
                                                application_properties={"index": i}))
        check_equal(len(batch), 50, "messages in the batch")
        sender.send_messages(batch)
        msgs = receive_exactly(receiver, 50, timeout=15)
        by_index = {}
        for m in msgs:
            i = props(m).get("index")
            check_equal(m.message_id, "m-batch-{}".format(i), "message_id of index {}".format(i))
            check_equal(json.loads(body_bytes(m)), {"i": i}, "body of index {}".format(i))
            check_true(i not in by_index, "index {} delivered twice".format(i))
            by_index[i] = m
        check_equal(len(by_index), 50, "distinct messages")
        check_equal(len({m.sequence_number for m in msgs}), 50, "distinct sequence numbers")
        for i in range(1, 50):
            check_true(by_index[i].sequence_number > by_index[i - 1].sequence_number,
                       "sequence number of message {} is not above message {}'s".format(i, i - 1))
        for m in msgs:
            receiver.complete_message(m)
        expect_empty(receiver, "after completing the batch")


@check("abandon-redelivers")
def _(q):
    with Handlers(q) as h:
        sender, receiver = h.sender(), h.receiver()
        sender.send_messages(ServiceBusMessage("abandon-me", message_id="m-abandon-1"))
        [first] = receive_exactly(receiver, 1)
        check_equal(first.delivery_count, 0, "delivery_count on first delivery")
        first_token, first_seq = first.lock_token, first.sequence_number
        receiver.abandon_message(first)
        [second] = receive_exactly(receiver, 1)
        check_equal(second.message_id, "m-abandon-1", "message_id of the redelivery")
        check_equal(second.delivery_count, 1, "delivery_count after one abandon")
        check_equal(second.sequence_number, first_seq, "sequence_number of the redelivery")
        check_true(second.lock_token != first_token, "the redelivery reuses the old lock token")
        receiver.complete_message(second)
        expect_empty(receiver, "after complete")


@check("deadletter-with-reason")
def _(q):
    with Handlers(q) as h:
        sender, receiver, dlq = h.sender(), h.receiver(), h.dlq_receiver()
        sender.send_messages(ServiceBusMessage("poison", message_id="m-dlq-1", application_properties={"user_id": "u-dlq"}))
        [msg] = receive_exactly(receiver, 1)
        receiver.dead_letter_message(msg, reason="InvalidMessage", error_description="user id is not a GUID")
        expect_empty(receiver, "main queue after dead-lettering")
        [dead] = receive_exactly(dlq, 1)
        check_equal(dead.message_id, "m-dlq-1", "DLQ message_id")
        check_equal(body_bytes(dead), b"poison", "DLQ body")
        check_equal(props(dead).get("user_id"), "u-dlq", "DLQ application_properties user_id")
        check_equal(dead.dead_letter_reason, "InvalidMessage", "dead_letter_reason")
        check_equal(dead.dead_letter_error_description, "user id is not a GUID", "dead_letter_error_description")
        check_equal(dead.dead_letter_source, q, "dead_letter_source")
        dlq.complete_message(dead)
        expect_empty(dlq, "DLQ after complete")


@check("defer-receive-deferred-complete")
def _(q):
    with Handlers(q) as h:
        sender, receiver = h.sender(), h.receiver()
        sender.send_messages(ServiceBusMessage("later", message_id="m-defer-1"))
        [msg] = receive_exactly(receiver, 1)
        seq = msg.sequence_number
        receiver.defer_message(msg)
        expect_empty(receiver, "normal receive after defer")
        peeked = receiver.peek_messages(1, sequence_number=seq)
        check_equal(len(peeked), 1, "peek of the deferred message")
        check_equal(peeked[0].state, ServiceBusMessageState.DEFERRED, "peeked state")
        deferred = receiver.receive_deferred_messages([seq])
        check_equal(len(deferred), 1, "receive_deferred_messages count")
        d = deferred[0]
        check_equal(d.message_id, "m-defer-1", "deferred message_id")
        check_equal(d.sequence_number, seq, "deferred sequence_number")
        check_true(d.lock_token is not None, "the deferred message has no lock token")
        receiver.complete_message(d)
        after = receiver.peek_messages(1, sequence_number=seq)
        check_equal(len(after), 0, "peek after completing the deferred message")


@check("peek")
def _(q):
    with Handlers(q) as h:
        sender, receiver = h.sender(), h.receiver()
        sender.send_messages([ServiceBusMessage("peek-{}".format(i), message_id="m-peek-{}".format(i)) for i in range(3)])
        peeked = receiver.peek_messages(10)
        check_equal([m.message_id for m in peeked], ["m-peek-0", "m-peek-1", "m-peek-2"], "peeked message_ids")
        for m in peeked:
            check_equal(m.state, ServiceBusMessageState.ACTIVE, "state of {}".format(m.message_id))
            check_true(m.locked_until_utc is None, "peeked {} carries a lock".format(m.message_id))
        from_second = receiver.peek_messages(10, sequence_number=peeked[1].sequence_number)
        check_equal([m.message_id for m in from_second], ["m-peek-1", "m-peek-2"],
                    "message_ids peeked from the second sequence number")
        past = receiver.peek_messages(10, sequence_number=peeked[2].sequence_number + 1)
        check_equal(len(past), 0, "messages peeked past the end")
        # Peeking locks nothing: all three are there with delivery count 0.
        for m in receive_exactly(receiver, 3):
            check_equal(m.delivery_count, 0, "delivery_count of {} after peeking".format(m.message_id))
            receiver.complete_message(m)


@check("schedule-cancel")
def _(q):
    with Handlers(q) as h:
        sender, receiver = h.sender(), h.receiver()
        far = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=10)).replace(microsecond=0)
        seqs = sender.schedule_messages(ServiceBusMessage("far", message_id="m-sched-far"), far)
        check_equal(len(seqs), 1, "sequence numbers returned by schedule_messages")
        peeked = receiver.peek_messages(1, sequence_number=seqs[0])
        check_equal(len(peeked), 1, "peek of the scheduled message")
        check_equal(peeked[0].message_id, "m-sched-far", "peeked message_id")
        check_equal(peeked[0].state, ServiceBusMessageState.SCHEDULED, "peeked state")
        check_equal(peeked[0].scheduled_enqueue_time_utc, far, "scheduled_enqueue_time_utc")
        expect_empty(receiver, "receive while the message is scheduled")
        sender.cancel_scheduled_messages(seqs)
        check_equal(len(receiver.peek_messages(1, sequence_number=seqs[0])), 0, "peek after cancel_scheduled_messages")
        # A message scheduled a moment ahead arrives once due.
        soon = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=1.5)
        [soon_seq] = sender.schedule_messages(ServiceBusMessage("soon", message_id="m-sched-soon"), soon)
        [msg] = receive_exactly(receiver, 1, timeout=15)
        check_equal(msg.message_id, "m-sched-soon", "message_id of the due message")
        check_equal(msg.sequence_number, soon_seq, "sequence_number of the due message")
        check_true(datetime.datetime.now(datetime.timezone.utc) >= soon - datetime.timedelta(milliseconds=50),
                   "the scheduled message arrived before its time")
        receiver.complete_message(msg)


@check("renew-lock")
def _(q):
    with Handlers(q) as h:
        sender, receiver = h.sender(), h.receiver()
        sender.send_messages(ServiceBusMessage("renew", message_id="m-renew-1"))
        [msg] = receive_exactly(receiver, 1)
        before = msg.locked_until_utc
        time.sleep(0.05)  # let the clock move so the renewed lock is strictly later
        renewed = receiver.renew_message_lock(msg)
        check_true(isinstance(renewed, datetime.datetime), "renew_message_lock returned {!r}".format(renewed))
        check_true(renewed > before, "renewed lock {} is not after {}".format(renewed, before))
        check_equal(msg.locked_until_utc, renewed, "message.locked_until_utc after renew")
        receiver.complete_message(msg)
        expect_empty(receiver, "after complete")


@check("lock-expiry")
def _(q):
    with Handlers(q) as h:
        sender, receiver = h.sender(), h.receiver()
        sender.send_messages(ServiceBusMessage("expire", message_id="m-expire-1"))
        [msg] = receive_exactly(receiver, 1)
        wait = (msg.locked_until_utc - datetime.datetime.now(datetime.timezone.utc)).total_seconds()
        check_true(wait < 15, "lock duration of queue {} is too long for this check (lock ends in {:.1f} s)".format(q, wait))
        # The redelivery after expiry is the signal that the lock is gone.
        [again] = receive_exactly(receiver, 1, timeout=wait + 10)
        check_equal(again.message_id, "m-expire-1", "message_id of the redelivery")
        check_equal(again.delivery_count, 1, "delivery_count after the lock expired")
        check_true(again.lock_token != msg.lock_token, "the redelivery reuses the expired lock token")
        # This SDK refuses to settle a message whose locked_until_utc has
        # passed without asking the broker; renewing does ask it, and the
        # broker must answer 410 com.microsoft:message-lock-lost.
        try:
            receiver.renew_message_lock(msg)
        except MessageLockLostError:
            pass
        else:
            raise CheckError("renewing the expired lock succeeded")
        receiver.complete_message(again)
        expect_empty(receiver, "after complete")


# Link loss (sbemu/LINKLOSS.md): Service Bus keeps a message locked when the
# receive link it went out on closes; this SDK renews such a message through
# $management, and settles it there after the closed link refuses.
@check("receiver-close-keeps-lock")
def _(q):
    with Handlers(q) as h:
        sender, first = h.sender(), h.receiver()
        sender.send_messages(ServiceBusMessage("held", message_id="m-held-1"))
        [msg] = receive_exactly(first, 1)
        before = msg.locked_until_utc
        first.close()
        other = h.receiver()
        expect_empty(other, "after the first receiver closed (the lock still holds the message)")
        renewed = other.renew_message_lock(msg)
        check_true(renewed >= before, "renewed lock {} ends before the first one ({})".format(renewed, before))
        other.complete_message(msg)
        # Peek shows locked messages too: nothing left means it was completed.
        check_equal(len(other.peek_messages(max_message_count=5)), 0, "messages left after complete")


@check("receiver-close-redelivers-after-expiry")
def _(q):
    with Handlers(q) as h:
        sender, first = h.sender(), h.receiver()
        sender.send_messages(ServiceBusMessage("comes back", message_id="m-back-1"))
        [msg] = receive_exactly(first, 1)
        lock_end = msg.locked_until_utc
        wait = (lock_end - datetime.datetime.now(datetime.timezone.utc)).total_seconds()
        check_true(wait < 15, "lock duration of queue {} is too long for this check".format(q))
        first.close()
        other = h.receiver()
        [again] = receive_exactly(other, 1, timeout=wait + 10)
        early = (lock_end - datetime.datetime.now(datetime.timezone.utc)).total_seconds()
        check_true(early < 0.1, "redelivered {:.2f} s before the closed receiver's lock ended".format(early))
        check_equal(again.message_id, "m-back-1", "message_id of the redelivery")
        check_equal(again.delivery_count, 1, "delivery_count after the lapsed lock")
        check_true(again.lock_token != msg.lock_token, "the redelivery reuses the lapsed lock token")
        try:
            other.renew_message_lock(msg)
        except MessageLockLostError:
            pass
        else:
            raise CheckError("renewing the lapsed lock succeeded")
        other.complete_message(again)
        expect_empty(other, "after complete")


@check("receive-and-delete")
def _(q):
    with Handlers(q) as h:
        sender = h.sender()
        receiver = h.receiver(receive_mode=ServiceBusReceiveMode.RECEIVE_AND_DELETE)
        sender.send_messages([ServiceBusMessage("rad-{}".format(i), message_id="m-rad-{}".format(i)) for i in range(2)])
        got = receive_exactly(receiver, 2)
        check_equal(sorted(m.message_id for m in got), ["m-rad-0", "m-rad-1"], "message_ids")
        for m in got:
            check_true(m.lock_token is None, "receive-and-delete message {} has lock token {}".format(m.message_id, m.lock_token))
        check_equal(len(receiver.peek_messages(10)), 0, "messages left after receive-and-delete")


@check("iterate-receiver")
def _(q):
    # Python's streaming receive: iterating the receiver until max_wait_time
    # passes without a message.
    n = 10
    with Handlers(q) as h:
        sender, receiver = h.sender(), h.receiver(max_wait_time=2)
        sender.send_messages([ServiceBusMessage(str(i), message_id="m-iter-{}".format(i)) for i in range(n)])
        seen = []
        for m in receiver:
            receiver.complete_message(m)
            seen.append(m.message_id)
            if len(seen) == n:
                break
        check_equal(sorted(seen), sorted("m-iter-{}".format(i) for i in range(n)), "message_ids processed")
        check_equal(len(receiver.peek_messages(n)), 0, "messages left after the iteration")


@check("large-message")
def _(q):
    with Handlers(q) as h:
        sender, receiver = h.sender(), h.receiver()
        # 200 KB: several transfer frames towards the broker.
        body = bytes((i * 31 + 7) % 251 for i in range(200 * 1024))
        sender.send_messages(ServiceBusMessage(body, message_id="m-large-1"))
        [msg] = receive_exactly(receiver, 1)
        check_equal(msg.message_id, "m-large-1", "message_id")
        got = body_bytes(msg)
        check_equal(len(got), len(body), "body length")
        check_true(got == body, "body bytes differ")
        receiver.complete_message(msg)


@check("unknown-queue-not-found")
def _(q):
    sender = CLIENT.get_queue_sender(q + "-missing")
    try:
        sender.send_messages(ServiceBusMessage("nowhere"))
    except MessagingEntityNotFoundError:
        pass
    except ServiceBusAuthenticationError as e:
        # azure-servicebus 7.8 on uamqp reports the CBS 404 of an unknown
        # entity as an authentication error (Azure/azure-sdk-for-python#23487)
        # and keeps the status code only in its text.
        check_true("Status code: 404" in str(e), "an authentication error without status 404: {}".format(e))
    else:
        raise CheckError("sending to a queue that does not exist succeeded")
    finally:
        sender.close()


@check("properties-roundtrip")
def _(q):
    with Handlers(q) as h:
        sender, receiver = h.sender(), h.receiver()
        when = datetime.datetime.fromtimestamp(1700000000.123, tz=datetime.timezone.utc)
        sent_props = {"s": "x", "n": 12, "big": 2 ** 40, "neg": -3, "f": 2.5, "b": False, "d": when, "nothing": None}
        sender.send_messages(ServiceBusMessage(
            "props", message_id="m-props-1", correlation_id="corr-props-1", content_type="text/plain",
            subject="license-fixed", to="licensefix", reply_to="replies",
            time_to_live=datetime.timedelta(hours=1), application_properties=sent_props))
        [msg] = receive_exactly(receiver, 1)
        for attr, want in [("message_id", "m-props-1"), ("correlation_id", "corr-props-1"),
                           ("content_type", "text/plain"), ("subject", "license-fixed"), ("to", "licensefix"),
                           ("reply_to", "replies"), ("time_to_live", datetime.timedelta(hours=1))]:
            check_equal(getattr(msg, attr), want, attr)
        check_equal(body_bytes(msg), b"props", "body")
        p = props(msg)
        for k, v in sent_props.items():
            if isinstance(v, datetime.datetime):
                # uamqp sends a datetime as an AMQP timestamp and hands it
                # back as milliseconds since the epoch.
                check_equal(p.get(k), utc_ms(v), "application_properties {} (ms)".format(k))
            else:
                check_equal(p.get(k), v, "application_properties {}".format(k))
        check_equal(sorted(p), sorted(sent_props), "application_properties keys")
        check_equal(msg.expires_at_utc, msg.enqueued_time_utc + datetime.timedelta(hours=1),
                    "expires_at_utc = enqueued_time_utc + time_to_live")
        receiver.complete_message(msg)


@check("body-types")
def _(q):
    with Handlers(q) as h:
        sender, receiver = h.sender(), h.receiver()
        binary = bytes([0, 1, 2, 0xFE, 0xFF])
        sender.send_messages(ServiceBusMessage("text", message_id="m-body-string"))
        sender.send_messages(ServiceBusMessage(binary, message_id="m-body-binary"))
        # Bodies that are not one data section: amqp-value and amqp-sequence.
        sender.send_messages(AmqpAnnotatedMessage(value_body={"k": "v", "n": 7}, properties={"message_id": "m-body-value"}))
        sender.send_messages(AmqpAnnotatedMessage(sequence_body=[[1, "two"], [3]], properties={"message_id": "m-body-sequence"}))
        got = {m.message_id: m for m in receive_exactly(receiver, 4)}
        check_equal(body_bytes(got["m-body-string"]), b"text", "m-body-string body")
        check_equal(body_bytes(got["m-body-binary"]), binary, "m-body-binary body")
        value = got["m-body-value"]
        check_equal(value.body_type, AmqpMessageBodyType.VALUE, "body_type of m-body-value")
        check_equal({text(k): text(v) for k, v in value.body.items()}, {"k": "v", "n": 7}, "m-body-value body")
        seq = got["m-body-sequence"]
        check_equal(seq.body_type, AmqpMessageBodyType.SEQUENCE, "body_type of m-body-sequence")
        check_equal([[text(x) for x in s] for s in seq.body], [[1, "two"], [3]], "m-body-sequence body")
        for m in got.values():
            receiver.complete_message(m)


@check("max-delivery-dead-letter")
def _(q):
    with Handlers(q) as h:
        sender, receiver, dlq = h.sender(), h.receiver(), h.dlq_receiver()
        sender.send_messages(ServiceBusMessage("keeps-failing", message_id="m-maxdel-1"))
        counts = []
        while True:
            msgs = receiver.receive_messages(max_message_count=1, max_wait_time=5 if not counts else 1)
            if not msgs:
                break
            check_true(len(counts) < 20, "still delivered after 20 abandons")
            check_equal(msgs[0].message_id, "m-maxdel-1", "message_id")
            counts.append(msgs[0].delivery_count)
            receiver.abandon_message(msgs[0])
        check_true(counts, "the message was never delivered")
        check_equal(counts, list(range(len(counts))), "delivery_count of the successive deliveries")
        want = int(os.environ.get("SERVICEBUS_MAX_DELIVERY_COUNT", "0"))
        if want > 0:
            check_equal(len(counts), want, "deliveries before dead-lettering (MaxDeliveryCount)")
        [dead] = receive_exactly(dlq, 1)
        check_equal(dead.message_id, "m-maxdel-1", "DLQ message_id")
        check_equal(dead.dead_letter_reason, "MaxDeliveryCountExceeded", "dead_letter_reason")
        check_equal(dead.dead_letter_source, q, "dead_letter_source")
        dlq.complete_message(dead)


@check("competing-receivers")
def _(q):
    n = 20
    with Handlers(q) as h:
        sender = h.sender()
        receivers = [h.receiver(), h.receiver()]
        sender.send_messages([ServiceBusMessage(str(i), message_id="m-compete-{}".format(i)) for i in range(n)])
        seen, errors, lock = {}, [], threading.Lock()
        deadline = time.monotonic() + 15

        def drain(ri, r):
            try:
                while time.monotonic() < deadline:
                    with lock:
                        if len(seen) >= n:
                            return
                    for m in r.receive_messages(max_message_count=5, max_wait_time=1):
                        with lock:
                            if m.message_id in seen:
                                errors.append("{} delivered to receiver {} and {} while locked".format(
                                    m.message_id, seen[m.message_id], ri))
                            seen[m.message_id] = ri
                        r.complete_message(m)
            except Exception as e:  # reported by the check, not lost in the thread
                errors.append("receiver {}: {!r}".format(ri, e))

        threads = [threading.Thread(target=drain, args=(i, r)) for i, r in enumerate(receivers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        check_equal(errors, [], "errors")
        check_equal(len(seen), n, "messages received by the two receivers together")


@check("wrong-key-unauthorized")
def _(q):
    parts = [p for p in CONNECTION_STRING.split(";") if p and not p.lower().startswith("sharedaccesskey=")]
    check_true(len(parts) < len([p for p in CONNECTION_STRING.split(";") if p]),
               "the connection string has no SharedAccessKey to replace")
    bad = ";".join(parts + ["SharedAccessKey=not-the-key"])
    with new_client(bad, retry_total=0) as bad_client:
        sender = bad_client.get_queue_sender(q)
        try:
            sender.send_messages(ServiceBusMessage("should not arrive"))
        except ServiceBusAuthenticationError as e:
            # The text is often unreadable: after uamqp's put-token retries
            # it decodes a freed status description ("'utf-8' codec can't
            # decode byte ..."), so only the type is checked.
            check_true("not-the-key" not in str(e), "the error message repeats the key")
        else:
            raise CheckError("sending with a wrong key succeeded")
        finally:
            sender.close()


@check("session-receiver-refused")
def _(q):
    # The emulator does not support sessions and says so: a session
    # receiver on a queue is refused, not left hanging.
    receiver = CLIENT.get_queue_receiver(q, session_id="s1", max_wait_time=2)
    try:
        receiver.receive_messages(max_message_count=1, max_wait_time=2)
    except ServiceBusError:
        pass
    else:
        raise CheckError("a session receiver on a queue without sessions was accepted")
    finally:
        receiver.close()


# ---------------------------------------------------------------- topic checks

class TopicHandlers:
    """Opens senders and subscription receivers on one topic and closes them all."""

    def __init__(self, topic):
        self.topic = topic
        self.opened = []

    def sender(self):
        s = CLIENT.get_topic_sender(topic_name=self.topic)
        self.opened.append(s)
        return s

    def receiver(self, sub, **kwargs):
        r = CLIENT.get_subscription_receiver(topic_name=self.topic, subscription_name=sub, **kwargs)
        self.opened.append(r)
        return r

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for h in reversed(self.opened):
            try:
                h.close()
            except Exception:  # closing after a failure must not hide it
                pass
        return False


def eu_order(mid):
    """Matches subscription "corr"; us_order and plain_message do not."""
    return ServiceBusMessage(mid, message_id=mid, subject="orders", application_properties={"region": "eu"})


def us_order(mid):
    return ServiceBusMessage(mid, message_id=mid, subject="orders", application_properties={"region": "us"})


def plain_message(mid):
    return ServiceBusMessage(mid, message_id=mid)


def refusal(fn):
    """Runs fn and returns the ServiceBusError it raised, or None."""
    try:
        fn()
    except ServiceBusError as e:
        return e
    return None


if BASE_TOPIC:
    @check("topic-send-reaches-matching-subscriptions", topic=True)
    def _(t):
        with TopicHandlers(t) as h:
            h.sender().send_messages([eu_order("eu-1"), us_order("us-1"), plain_message("plain-1")])
            got = receive_exactly(h.receiver("all", receive_mode=ServiceBusReceiveMode.RECEIVE_AND_DELETE), 3)
            check_equal([m.message_id for m in got], ["eu-1", "us-1", "plain-1"], "messages in subscription all (no rule)")
            check_equal([m.sequence_number for m in got], [1, 2, 3], "sequence numbers in all")
            corr = h.receiver("corr")
            [m] = receive_exactly(corr, 1)
            check_equal(m.message_id, "eu-1", "message in subscription corr (correlation rule)")
            check_equal(body_bytes(m), b"eu-1", "body in corr")
            check_equal(props(m).get("region"), "eu", "region in corr")
            check_equal(m.sequence_number, 1, "sequence number in corr (each subscription numbers its copies)")
            corr.complete_message(m)
            expect_empty(corr, "corr after complete")
            check_equal(len(h.receiver("none").peek_messages(max_message_count=10)), 0,
                        "messages in subscription none (its rule matches nothing)")

    @check("topic-sql-filter-and-evaluation-error", topic=True)
    def _(t):
        def order(mid, subject, qty):
            return ServiceBusMessage(mid, message_id=mid, subject=subject, application_properties={"qty": qty})
        with TopicHandlers(t) as h:
            sender = h.sender()
            for m in (order("big", "orders", 12), order("small", "orders", 3), order("misc", "other", 50), order("bad", "orders", "many")):
                sender.send_messages(m)
            sql = h.receiver("sql")
            [m] = receive_exactly(sql, 1)
            check_equal(m.message_id, "big", "message in subscription sql (the one its filter is true for)")
            sql.complete_message(m)
            expect_empty(sql, "sql after complete", wait=0.3)
            [d] = receive_exactly(h.receiver("sql", sub_queue=ServiceBusSubQueue.DEAD_LETTER), 1)
            check_equal(d.message_id, "bad", "message dead-lettered in sql ('many' > 10 cannot be evaluated)")
            check_equal(d.dead_letter_reason, "FilterEvaluationException", "dead_letter_reason")
            check_true('rule "big-orders"' in (d.dead_letter_error_description or ""),
                       "dead_letter_error_description {!r}".format(d.dead_letter_error_description))
            check_equal(len(h.receiver("all").peek_messages(max_message_count=10)), 4, "messages in all (no rule)")

    @check("topic-sql-action-changes-the-copy", topic=True)
    def _(t):
        with TopicHandlers(t) as h:
            h.sender().send_messages([eu_order("eu-1"), us_order("us-1")])
            action = h.receiver("action")
            [m] = receive_exactly(action, 1)
            check_equal(m.message_id, "eu-1", "message in subscription action")
            check_equal(text(m.to), "eu-desk", "to (SET sys.To)")
            p = props(m)
            check_equal(p.get("stage"), "routed", "stage (SET stage)")
            check_true("region" not in p, "region still there after REMOVE region: {!r}".format(p))
            check_equal(p.get("RuleName"), "stamp", "RuleName on the copy of a rule with an action")
            action.complete_message(m)
            expect_empty(action, "action after complete", wait=0.3)
            [a] = receive_exactly(h.receiver("all"), 1)
            check_equal(a.message_id, "eu-1", "first message in all")
            check_equal(a.to, None, "to of all's copy (the action changed only its own)")
            check_equal(props(a).get("region"), "eu", "region of all's copy")

    @check("topic-subscriptions-settle-independently", topic=True)
    def _(t):
        with TopicHandlers(t) as h:
            h.sender().send_messages(eu_order("eu-1"))
            all_, corr = h.receiver("all"), h.receiver("corr")
            [a] = receive_exactly(all_, 1)
            [c] = receive_exactly(corr, 1)
            all_.abandon_message(a)
            corr.complete_message(c)
            [a2] = receive_exactly(all_, 1)
            check_equal(a2.delivery_count, 1, "delivery_count in all after one abandon")
            check_true(a2.lock_token != a.lock_token, "the redelivery reuses the old lock token")
            all_.complete_message(a2)
            expect_empty(all_, "all after complete")
            expect_empty(corr, "corr after complete")

    @check("topic-subscription-dead-letter-queue", topic=True)
    def _(t):
        with TopicHandlers(t) as h:
            h.sender().send_messages(eu_order("poison"))
            all_ = h.receiver("all")
            for i in range(3):  # MaxDeliveryCount 3
                [m] = receive_exactly(all_, 1)
                check_equal(m.delivery_count, i, "delivery_count of delivery {} in all".format(i + 1))
                all_.abandon_message(m)
            dlq = h.receiver("all", sub_queue=ServiceBusSubQueue.DEAD_LETTER)
            [d] = receive_exactly(dlq, 1)
            check_equal(d.message_id, "poison", "message_id in all's DLQ")
            check_equal(d.dead_letter_reason, "MaxDeliveryCountExceeded", "dead_letter_reason")
            check_equal(d.dead_letter_source, t + "/Subscriptions/all", "dead_letter_source")
            dlq.complete_message(d)
            corr = h.receiver("corr")
            [c] = receive_exactly(corr, 1)
            check_equal(c.delivery_count, 0, "delivery_count of corr's copy")
            corr.dead_letter_message(c, reason="NotForUs", error_description="wrong region")
            cdlq = h.receiver("corr", sub_queue=ServiceBusSubQueue.DEAD_LETTER)
            [cd] = receive_exactly(cdlq, 1)
            check_equal(cd.dead_letter_reason, "NotForUs", "dead_letter_reason in corr's DLQ")
            check_equal(cd.dead_letter_error_description, "wrong region", "dead_letter_error_description in corr's DLQ")
            cdlq.complete_message(cd)
            expect_empty(all_, "all after dead-lettering")
            expect_empty(dlq, "all's DLQ after complete")

    @check("topic-subscription-management-peek-renew-defer", topic=True)
    def _(t):
        with TopicHandlers(t) as h:
            h.sender().send_messages([plain_message("m-1"), plain_message("m-2")])
            all_ = h.receiver("all")
            peeked = all_.peek_messages(max_message_count=10)
            check_equal([m.message_id for m in peeked], ["m-1", "m-2"], "messages peeked in all")
            [m] = receive_exactly(all_, 1)
            before = m.locked_until_utc
            time.sleep(0.05)  # let the clock move so the renewed lock is strictly later
            renewed = all_.renew_message_lock(m)
            check_true(renewed > before, "renewed lock {} is not after {}".format(renewed, before))
            all_.defer_message(m)
            [d] = all_.receive_deferred_messages([m.sequence_number])
            check_equal(d.message_id, m.message_id, "deferred message received by sequence number")
            all_.complete_message(d)
            [m2] = receive_exactly(all_, 1)
            all_.complete_message(m2)
            check_equal(len(all_.peek_messages(max_message_count=10)), 0, "messages peeked in all after completing both")

    @check("topic-schedule-reaches-subscriptions-when-due", topic=True)
    def _(t):
        with TopicHandlers(t) as h:
            sender = h.sender()
            due = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=1.5)
            seqs = sender.schedule_messages(eu_order("soon"), due)
            check_equal(len(seqs), 1, "sequence numbers returned by schedule_messages")
            far = sender.schedule_messages(eu_order("never"), due + datetime.timedelta(hours=1))
            sender.cancel_scheduled_messages(far)
            check_equal(len(h.receiver("all").peek_messages(max_message_count=10)), 0,
                        "messages in all before the scheduled time (it waits in the topic)")
            for sub in ("all", "corr"):
                r = h.receiver(sub)
                [m] = receive_exactly(r, 1, timeout=15)
                check_equal(m.message_id, "soon", "message_id in " + sub)
                check_true(datetime.datetime.now(datetime.timezone.utc) >= due - datetime.timedelta(milliseconds=100),
                           sub + ": received before it was due")
                r.complete_message(m)
                expect_empty(r, sub + " after the scheduled message (the cancelled one never comes)", wait=0.3)
            check_equal(len(h.receiver("none").peek_messages(max_message_count=10)), 0, "messages in none")

    @check("topic-duplicate-detection", topic=True)
    def _(t):
        with TopicHandlers(t) as h:
            sender = h.sender()
            for mid in ("dup-1", "dup-1", "dup-2"):
                sender.send_messages(eu_order(mid))
            for sub in ("all", "corr"):
                r = h.receiver(sub, receive_mode=ServiceBusReceiveMode.RECEIVE_AND_DELETE)
                got = receive_exactly(r, 2)
                check_equal([m.message_id for m in got], ["dup-1", "dup-2"], "messages in " + sub)
                expect_empty(r, sub + " after the duplicate", wait=0.3)

    @check("topic-wrong-direction-refused", topic=True)
    def _(t):
        to_sub = CLIENT.get_queue_sender(t + "/Subscriptions/all")
        try:
            err = refusal(lambda: to_sub.send_messages(plain_message("x")))
            check_true(err is not None, "sending to a subscription succeeded")
            check_true("send to its topic" in str(err), "error of a send to a subscription: {}".format(err))
        finally:
            to_sub.close()
        from_topic = CLIENT.get_queue_receiver(t)  # a topic is not received from
        try:
            err = refusal(lambda: from_topic.receive_messages(max_message_count=1, max_wait_time=2))
            check_true(err is not None, "receiving from a topic succeeded")
            check_true("receive from one of its subscriptions" in str(err), "error of a receive from a topic: {}".format(err))
        finally:
            from_topic.close()

    @check("topic-session-receiver-refused", topic=True)
    def _(t):
        receiver = CLIENT.get_subscription_receiver(topic_name=t, subscription_name="all", session_id="s1", max_wait_time=2)
        try:
            err = refusal(lambda: receiver.receive_messages(max_message_count=1, max_wait_time=2))
            check_true(err is not None, "a session receiver on a subscription without sessions was accepted")
            check_true("sessions are not supported" in str(err), "error: {}".format(err))
        finally:
            receiver.close()


if FROM_GO_QUEUE:
    @check("receive-from-go")
    def _(q):
        with Handlers(FROM_GO_QUEUE) as h:
            receiver = h.receiver()
            [msg] = receive_exactly(receiver, 1)
            check_equal(msg.message_id, "go-to-python-1", "message_id")
            check_equal(msg.content_type, "application/json", "content_type")
            check_equal(msg.subject, "license-fixed", "subject")
            check_equal(msg.correlation_id, "corr-go-1", "correlation_id")
            check_equal(json.loads(body_bytes(msg)), {"user_id": "go-user-1", "source": "go"}, "body")
            p = props(msg)
            check_equal(p.get("user_id"), "go-user-1", "application_properties user_id")
            check_equal(p.get("attempt"), 3, "application_properties attempt (Go int64)")
            check_equal(p.get("big"), 2 ** 40, "application_properties big (Go int64 2^40)")
            check_equal(p.get("neg"), -7, "application_properties neg (Go int32)")
            check_equal(p.get("ratio"), 0.25, "application_properties ratio (Go float64)")
            check_equal(p.get("flag"), True, "application_properties flag (Go bool)")
            check_equal(p.get("label"), INTEROP_LABEL, "application_properties label (Go string)")
            check_equal(p.get("when"), utc_ms(INTEROP_WHEN), "application_properties when (Go time.Time, as ms)")
            check_equal(msg.delivery_count, 0, "delivery_count")
            receiver.complete_message(msg)

if TO_GO_QUEUE:
    @check("send-to-go")
    def _(q):
        with Handlers(TO_GO_QUEUE) as h:
            h.sender().send_messages(ServiceBusMessage(
                json.dumps({"user_id": "python-user-1", "source": "python"}),
                message_id="python-to-go-1", content_type="application/json", subject="license-fixed",
                correlation_id="corr-python-1",
                application_properties={"user_id": "python-user-1", "attempt": 3, "big": 2 ** 40, "neg": -7,
                                        "ratio": 0.25, "flag": True, "label": INTEROP_LABEL, "when": INTEROP_WHEN}))


# ---------------------------------------------------------------- fault checks

def control(request):
    """Asks the harness that started this script (TestPythonSDKConformance)
    to inject a fault into the emulator: prints {"control": request} and
    waits for one line on stdin, "ok" or an error text."""
    emit({"control": request})
    answer = sys.stdin.readline()
    check_true(answer != "", "no answer to control request {}: stdin closed".format(request))
    check_equal(answer.strip(), "ok", "answer to control request {}".format(request))


def assert_logged(mark, needle, message):
    check_true(any(needle in line for line in SDK_LOG.since(mark)), message)


def round_trip(sender, receiver, msg_id):
    sender.send_messages(ServiceBusMessage(msg_id, message_id=msg_id))
    [msg] = receive_exactly(receiver, 1, timeout=20)
    check_equal(msg.message_id, msg_id, "message_id")
    receiver.complete_message(msg)


if CONTROL:
    @check("reconnect-after-drop")
    def _(q):
        with Handlers(q) as h:
            sender, receiver = h.sender(), h.receiver()
            round_trip(sender, receiver, "m-drop-before")
            control("drop-connections")
            # The same sender and receiver recover on a new connection (with
            # a new CBS put-token).
            round_trip(sender, receiver, "m-drop-after")

    @check("relink-after-detach-forced")
    def _(q):
        with Handlers(q) as h:
            sender, receiver = h.sender(), h.receiver()
            round_trip(sender, receiver, "m-detach-before")
            mark = SDK_LOG.mark()
            control("detach-forced:" + q)
            round_trip(sender, receiver, "m-detach-after")
            assert_logged(mark, "detach-forced", "the SDK logged no detach-forced")

    @check("management-server-busy-retried")
    def _(q):
        with Handlers(q) as h:
            sender, receiver = h.sender(), h.receiver()
            sender.send_messages(ServiceBusMessage("busy", message_id="m-busy-1"))
            # The next $management request answers 503 com.microsoft:server-busy;
            # the SDK retries and the peek succeeds.
            control("server-busy-once")
            peeked = receiver.peek_messages(1)
            check_equal(len(peeked), 1, "messages peeked after the retry")
            check_equal(peeked[0].message_id, "m-busy-1", "peeked message_id")
            [msg] = receive_exactly(receiver, 1)
            receiver.complete_message(msg)


# ---------------------------------------------------------------- runner

_out_lock = threading.Lock()


def emit(obj):
    with _out_lock:
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()


def _timed_out(name, start):
    """Runs on the watchdog thread when a check takes too long: the blocked
    SDK call cannot be interrupted, so report, dump the stacks and leave."""
    emit({"name": name, "ok": False, "error": "timed out after {:.0f} s".format(CHECK_TIMEOUT),
          "ms": int((time.monotonic() - start) * 1000)})
    faulthandler.dump_traceback(file=sys.stderr, all_threads=True)
    os._exit(1)


def main():
    faulthandler.enable(file=sys.stderr)  # a crash in uamqp's C code prints the Python stacks
    failed = 0
    for name, fn, topic in CHECKS:
        if ONLY and name not in ONLY:
            continue
        base = BASE_TOPIC if topic else BASE_QUEUE
        queue = "{}-{}".format(base, name) if PER_CHECK else base
        start = time.monotonic()
        watchdog = threading.Timer(CHECK_TIMEOUT, _timed_out, args=(name, start))
        watchdog.daemon = True
        watchdog.start()
        error = None
        try:
            fn(queue)
        except CheckError as e:
            error = str(e)
        except Exception as e:  # any SDK failure fails the check, with its type
            error = "{}: {}".format(type(e).__name__, e)
        finally:
            watchdog.cancel()
        if error is not None:
            failed += 1
        emit({"name": name, "ok": error is None, "error": error, "ms": int((time.monotonic() - start) * 1000)})
    CLIENT.close()
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
