// Conformance checks of a Service Bus endpoint (normally the licensefix
// emulator, sbemu) with the official Node.js SDK, @azure/service-bus.
//
// Environment:
//   SERVICEBUS_CONNECTION_STRING  connection string (required; never printed)
//   SERVICEBUS_QUEUE              queue the checks use (required)
//   SERVICEBUS_QUEUE_PER_CHECK    "true": check NAME uses queue "<SERVICEBUS_QUEUE>-NAME"
//                                 instead (isolation; the queues must exist)
//   INTEROP_FROM_GO_QUEUE         if set, check "receive-from-go" reads the
//                                 message the Go test sent there
//   INTEROP_TO_GO_QUEUE           if set, check "send-to-go" sends a message
//                                 there for the Go test to read
//   SERVICEBUS_MAX_DELIVERY_COUNT if set, check "max-delivery-dead-letter" expects
//                                 exactly that many deliveries (the queue's MaxDeliveryCount)
//   SERVICEBUS_TOPIC              if set, the topic checks (topic-*) use this topic
//                                 ("<SERVICEBUS_TOPIC>-NAME" with SERVICEBUS_QUEUE_PER_CHECK),
//                                 laid out as sbemu/testdata/topics.json: subscriptions
//                                 "all" (no rule, MaxDeliveryCount 3), "corr" (correlation
//                                 rule: subject "orders", region "eu"), "sql" (subject "orders"
//                                 and qty > 10), "action" (region "eu"; sets to and stage,
//                                 removes region), "none" (matches nothing)
//   CHECKS                        optional comma-separated list of checks to run
//
// With one shared queue, start with it empty: checks that pass leave it empty,
// and "lock-expiry" and "receiver-close-redelivers-after-expiry" need a
// LockDuration under 15 s.
//   SBEMU_CONTROL                 "stdio": the emulator's test harness answers fault
//                                 requests; enables the fault checks (see control())
//
// Output: one JSON line per check on stdout, {"name","ok","error","ms"}.
// Exit status 0 when every check passed, 1 when one failed, 2 on bad settings.
// SDK warnings (AZURE_LOG_LEVEL, default "warning") go to stderr.

process.env.AZURE_LOG_LEVEL ??= "warning";

// The SDK writes its log lines to stderr. Keep a copy so checks can assert
// that no warning was logged (for example "Time out ... when draining
// credits. Closing receiver...", which means the broker did not answer a drain).
const sdkLog = [];
const writeStderr = process.stderr.write.bind(process.stderr);
process.stderr.write = (chunk, ...rest) => {
  sdkLog.push(String(chunk));
  return writeStderr(chunk, ...rest);
};

const { ServiceBusClient, isServiceBusError } = await import("@azure/service-bus");

const connectionString = process.env.SERVICEBUS_CONNECTION_STRING ?? "";
const baseQueue = process.env.SERVICEBUS_QUEUE ?? "";
const baseTopic = process.env.SERVICEBUS_TOPIC ?? "";
const perCheck = process.env.SERVICEBUS_QUEUE_PER_CHECK === "true";
const fromGoQueue = process.env.INTEROP_FROM_GO_QUEUE ?? "";
const toGoQueue = process.env.INTEROP_TO_GO_QUEUE ?? "";
const controlEnabled = process.env.SBEMU_CONTROL === "stdio";
const only = (process.env.CHECKS ?? "").split(",").map((s) => s.trim()).filter(Boolean);

if (connectionString === "" || baseQueue === "") {
  console.error("conformance: SERVICEBUS_CONNECTION_STRING and SERVICEBUS_QUEUE must be set");
  process.exit(2);
}

// Fast retries: a misbehaving broker should fail a check in seconds, not minutes.
const retryOptions = { maxRetries: 2, retryDelayInMs: 100, maxRetryDelayInMs: 500, timeoutInMs: 10000 };
const client = new ServiceBusClient(connectionString, { retryOptions });

const checkTimeoutMs = 25000;

// The properties both interop directions use. Integers that rhea encodes as
// uint/int, a double, a bool, a non-ASCII string and a timestamp.
const interopProps = {
  user_id: "",
  attempt: 3,
  neg: -7,
  ratio: 0.25,
  flag: true,
  label: "ünïcode ✓",
  when: new Date(1700000000000),
};

// ---------------------------------------------------------------- helpers

class CheckError extends Error {}

function assert(cond, message) {
  if (!cond) throw new CheckError(message);
}

function assertEqual(got, want, what) {
  if (got !== want) {
    throw new CheckError(`${what}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
  }
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function seqStr(seq) {
  return seq === undefined || seq === null ? "undefined" : seq.toString();
}

function drainWarnings(since) {
  return sdkLog.slice(since).filter((l) => /drain/i.test(l) && /time ?out/i.test(l));
}

// receiveExactly keeps calling receiveMessages until n messages arrived or
// the deadline passed.
async function receiveExactly(receiver, n, timeoutMs = 10000) {
  const deadline = Date.now() + timeoutMs;
  const got = [];
  while (got.length < n) {
    const left = deadline - Date.now();
    assert(left > 0, `received ${got.length} of ${n} messages before the timeout`);
    const batch = await receiver.receiveMessages(n - got.length, { maxWaitTimeInMs: Math.min(left, 3000) });
    got.push(...batch);
  }
  return got;
}

// expectEmpty asserts that a short receive returns nothing.
async function expectEmpty(receiver, what, waitMs = 500) {
  const msgs = await receiver.receiveMessages(1, { maxWaitTimeInMs: waitMs });
  assertEqual(msgs.length, 0, `${what}: messages received`);
}

async function withClients(queue, fn) {
  const closers = [];
  const open = {
    sender: () => {
      const s = client.createSender(queue);
      closers.push(() => s.close());
      return s;
    },
    receiver: (options) => {
      const r = client.createReceiver(queue, options);
      closers.push(() => r.close());
      return r;
    },
  };
  try {
    return await fn(open);
  } finally {
    for (const close of closers.reverse()) {
      await close().catch(() => {});
    }
  }
}

// ---------------------------------------------------------------- checks

const checks = [];
function check(name, fn) {
  checks.push({ name, fn });
}
// topicCheck registers a check that gets a topic instead of a queue.
function topicCheck(name, fn) {
  checks.push({ name, fn, topic: true });
}

check("send-receive-complete", async (q) =>
  withClients(q, async (open) => {
    const sender = open.sender();
    const receiver = open.receiver();
    const before = Date.now();
    await sender.sendMessages({
      body: { user_id: "u-1" },
      messageId: "m-send-1",
      contentType: "application/json",
      applicationProperties: { user_id: "u-1" },
    });
    const [msg] = await receiveExactly(receiver, 1);
    assertEqual(msg.messageId, "m-send-1", "messageId");
    assertEqual(msg.body?.user_id, "u-1", "body.user_id");
    assertEqual(msg.applicationProperties?.user_id, "u-1", "applicationProperties.user_id");
    assertEqual(msg.deliveryCount, 0, "deliveryCount (raw header value) on first delivery");
    assert(typeof msg.lockToken === "string" && msg.lockToken.length === 36, `lockToken ${msg.lockToken}`);
    assert(msg.sequenceNumber !== undefined && msg.sequenceNumber.toNumber() >= 1, `sequenceNumber ${seqStr(msg.sequenceNumber)}`);
    assert(msg.enqueuedTimeUtc instanceof Date && msg.enqueuedTimeUtc.getTime() >= before - 5000, `enqueuedTimeUtc ${msg.enqueuedTimeUtc}`);
    assert(msg.lockedUntilUtc instanceof Date && msg.lockedUntilUtc.getTime() > Date.now(), `lockedUntilUtc ${msg.lockedUntilUtc}`);
    assertEqual(msg.state, "active", "state");
    await receiver.completeMessage(msg);
    await expectEmpty(receiver, "after complete");
  }),
);

check("receive-empty-drain", async (q) =>
  withClients(q, async (open) => {
    const sender = open.sender();
    const receiver = open.receiver();
    const logMark = sdkLog.length;
    for (let i = 0; i < 3; i++) {
      const msgs = await receiver.receiveMessages(5, { maxWaitTimeInMs: 300 });
      assertEqual(msgs.length, 0, `empty receive ${i + 1}: messages`);
      const warned = drainWarnings(logMark);
      assert(warned.length === 0, `the drain was not answered, the SDK closed the link: ${warned[0]?.trim()}`);
    }
    await sender.sendMessages({ body: "after-drain", messageId: "m-drain-1" });
    const [msg] = await receiveExactly(receiver, 1);
    assertEqual(msg.messageId, "m-drain-1", "messageId after the empty receives");
    await receiver.completeMessage(msg);
    const warned = drainWarnings(logMark);
    assert(warned.length === 0, `the drain was not answered, the SDK closed the link: ${warned[0]?.trim()}`);
  }),
);

check("batch-50", async (q) =>
  withClients(q, async (open) => {
    const sender = open.sender();
    const receiver = open.receiver();
    const batch = await sender.createMessageBatch();
    assert(batch.maxSizeInBytes > 0, `batch.maxSizeInBytes ${batch.maxSizeInBytes}`);
    for (let i = 0; i < 50; i++) {
      const added = batch.tryAddMessage({ body: { i }, messageId: `m-batch-${i}`, applicationProperties: { index: i } });
      assert(added, `tryAddMessage refused message ${i} (maxSizeInBytes ${batch.maxSizeInBytes})`);
    }
    assertEqual(batch.count, 50, "batch.count");
    await sender.sendMessages(batch);
    const msgs = await receiveExactly(receiver, 50, 15000);
    const byIndex = new Map();
    const seqs = new Set();
    for (const m of msgs) {
      const i = m.applicationProperties?.index;
      assertEqual(m.messageId, `m-batch-${i}`, `messageId of index ${i}`);
      assertEqual(m.body?.i, i, `body of index ${i}`);
      assert(!byIndex.has(i), `index ${i} delivered twice`);
      byIndex.set(i, m);
      seqs.add(seqStr(m.sequenceNumber));
    }
    assertEqual(byIndex.size, 50, "distinct messages");
    assertEqual(seqs.size, 50, "distinct sequence numbers");
    for (let i = 1; i < 50; i++) {
      const prev = byIndex.get(i - 1).sequenceNumber;
      const cur = byIndex.get(i).sequenceNumber;
      assert(cur.greaterThan(prev), `sequence number of message ${i} (${seqStr(cur)}) is not above message ${i - 1}'s (${seqStr(prev)})`);
    }
    for (const m of msgs) {
      await receiver.completeMessage(m);
    }
    await expectEmpty(receiver, "after completing the batch");
  }),
);

check("abandon-redelivers", async (q) =>
  withClients(q, async (open) => {
    const sender = open.sender();
    const receiver = open.receiver();
    await sender.sendMessages({ body: "abandon-me", messageId: "m-abandon-1" });
    const [first] = await receiveExactly(receiver, 1);
    assertEqual(first.deliveryCount, 0, "deliveryCount on first delivery");
    await receiver.abandonMessage(first, { abandoned_by: "node", tries: 1 });
    const [second] = await receiveExactly(receiver, 1);
    assertEqual(second.messageId, "m-abandon-1", "messageId of the redelivery");
    assertEqual(second.applicationProperties?.abandoned_by, "node", "propertiesToModify abandoned_by on the redelivery");
    assertEqual(second.applicationProperties?.tries, 1, "propertiesToModify tries on the redelivery");
    assertEqual(second.deliveryCount, 1, "deliveryCount after one abandon");
    assertEqual(seqStr(second.sequenceNumber), seqStr(first.sequenceNumber), "sequenceNumber of the redelivery");
    assert(second.lockToken !== first.lockToken, "the redelivery reuses the old lock token");
    await receiver.completeMessage(second);
    await expectEmpty(receiver, "after complete");
  }),
);

check("deadletter-with-reason", async (q) =>
  withClients(q, async (open) => {
    const sender = open.sender();
    const receiver = open.receiver();
    const dlq = open.receiver({ subQueueType: "deadLetter" });
    await sender.sendMessages({ body: "poison", messageId: "m-dlq-1", applicationProperties: { user_id: "u-dlq" } });
    const [msg] = await receiveExactly(receiver, 1);
    await receiver.deadLetterMessage(msg, {
      deadLetterReason: "InvalidMessage",
      deadLetterErrorDescription: "user id is not a GUID",
      checked_by: "node",
    });
    await expectEmpty(receiver, "main queue after dead-lettering");
    const [dead] = await receiveExactly(dlq, 1);
    assertEqual(dead.messageId, "m-dlq-1", "DLQ messageId");
    assertEqual(dead.body, "poison", "DLQ body");
    assertEqual(dead.applicationProperties?.user_id, "u-dlq", "DLQ applicationProperties.user_id");
    assertEqual(dead.deadLetterReason, "InvalidMessage", "deadLetterReason");
    assertEqual(dead.deadLetterErrorDescription, "user id is not a GUID", "deadLetterErrorDescription");
    assertEqual(dead.deadLetterSource, q, "deadLetterSource");
    assertEqual(dead.applicationProperties?.checked_by, "node", "propertiesToModify checked_by in the DLQ");
    await dlq.completeMessage(dead);
    await expectEmpty(dlq, "DLQ after complete");
  }),
);

check("defer-receive-deferred-complete", async (q) =>
  withClients(q, async (open) => {
    const sender = open.sender();
    const receiver = open.receiver();
    await sender.sendMessages({ body: "later", messageId: "m-defer-1" });
    const [msg] = await receiveExactly(receiver, 1);
    const seq = msg.sequenceNumber;
    await receiver.deferMessage(msg);
    await expectEmpty(receiver, "normal receive after defer");
    const peeked = await receiver.peekMessages(1, { fromSequenceNumber: seq });
    assertEqual(peeked.length, 1, "peek of the deferred message");
    assertEqual(peeked[0].state, "deferred", "peeked state");
    const deferred = await receiver.receiveDeferredMessages(seq);
    assertEqual(deferred.length, 1, "receiveDeferredMessages count");
    const d = deferred[0];
    assertEqual(d.messageId, "m-defer-1", "deferred messageId");
    assertEqual(seqStr(d.sequenceNumber), seqStr(seq), "deferred sequenceNumber");
    assert(typeof d.lockToken === "string" && d.lockToken.length === 36, `deferred lockToken ${d.lockToken}`);
    await receiver.completeMessage(d);
    const after = await receiver.peekMessages(1, { fromSequenceNumber: seq });
    assertEqual(after.length, 0, "peek after completing the deferred message");
  }),
);

check("peek", async (q) =>
  withClients(q, async (open) => {
    const sender = open.sender();
    const receiver = open.receiver();
    await sender.sendMessages([0, 1, 2].map((i) => ({ body: `peek-${i}`, messageId: `m-peek-${i}` })));
    const all = await receiver.peekMessages(10);
    assertEqual(all.map((m) => m.messageId).join(","), "m-peek-0,m-peek-1,m-peek-2", "peeked messageIds");
    for (const m of all) {
      assertEqual(m.state, "active", `state of ${m.messageId}`);
      assert(m.lockToken === undefined, `peeked ${m.messageId} carries a lock token`);
    }
    const from = await receiver.peekMessages(10, { fromSequenceNumber: all[1].sequenceNumber });
    assertEqual(from.map((m) => m.messageId).join(","), "m-peek-1,m-peek-2", "messageIds peeked from the second sequence number");
    const past = await receiver.peekMessages(10, { fromSequenceNumber: all[2].sequenceNumber.add(1) });
    assertEqual(past.length, 0, "messages peeked past the end");
    // Peeking locks nothing: all three are still there with delivery count 0.
    const got = await receiveExactly(receiver, 3);
    for (const m of got) {
      assertEqual(m.deliveryCount, 0, `deliveryCount of ${m.messageId} after peeking`);
      await receiver.completeMessage(m);
    }
  }),
);

check("schedule-cancel", async (q) =>
  withClients(q, async (open) => {
    const sender = open.sender();
    const receiver = open.receiver();
    const far = new Date(Date.now() + 10 * 60 * 1000);
    const seqs = await sender.scheduleMessages([{ body: "far", messageId: "m-sched-far" }], far);
    assertEqual(seqs.length, 1, "sequence numbers returned by scheduleMessages");
    const peeked = await receiver.peekMessages(1, { fromSequenceNumber: seqs[0] });
    assertEqual(peeked.length, 1, "peek of the scheduled message");
    assertEqual(peeked[0].messageId, "m-sched-far", "peeked messageId");
    assertEqual(peeked[0].state, "scheduled", "peeked state");
    assertEqual(peeked[0].scheduledEnqueueTimeUtc?.getTime(), far.getTime(), "scheduledEnqueueTimeUtc");
    await expectEmpty(receiver, "receive while the message is scheduled");
    await sender.cancelScheduledMessages(seqs);
    const afterCancel = await receiver.peekMessages(1, { fromSequenceNumber: seqs[0] });
    assertEqual(afterCancel.length, 0, "peek after cancelScheduledMessages");
    // A message scheduled a moment ahead arrives once due.
    const soon = new Date(Date.now() + 1500);
    const [soonSeq] = await sender.scheduleMessages([{ body: "soon", messageId: "m-sched-soon" }], soon);
    const [msg] = await receiveExactly(receiver, 1, 15000);
    assertEqual(msg.messageId, "m-sched-soon", "messageId of the due message");
    assertEqual(seqStr(msg.sequenceNumber), seqStr(soonSeq), "sequenceNumber of the due message");
    assert(Date.now() >= soon.getTime() - 50, "the scheduled message arrived before its time");
    await receiver.completeMessage(msg);
  }),
);

check("renew-lock", async (q) =>
  withClients(q, async (open) => {
    const sender = open.sender();
    const receiver = open.receiver();
    await sender.sendMessages({ body: "renew", messageId: "m-renew-1" });
    const [msg] = await receiveExactly(receiver, 1);
    const before = msg.lockedUntilUtc.getTime();
    await sleep(50); // let the clock move so the renewed lock is strictly later
    const renewed = await receiver.renewMessageLock(msg);
    assert(renewed instanceof Date, `renewMessageLock returned ${renewed}`);
    assert(renewed.getTime() > before, `renewed lock ${renewed.toISOString()} is not after ${new Date(before).toISOString()}`);
    assertEqual(msg.lockedUntilUtc.getTime(), renewed.getTime(), "message.lockedUntilUtc after renew");
    await receiver.completeMessage(msg);
    await expectEmpty(receiver, "after complete");
  }),
);

check("lock-expiry", async (q) =>
  withClients(q, async (open) => {
    const sender = open.sender();
    // No automatic renewal, so the lock really runs out. The queue needs a
    // short LockDuration (the Go test gives this check's queue 2 s).
    const receiver = open.receiver({ maxAutoLockRenewalDurationInMs: 0 });
    await sender.sendMessages({ body: "expire", messageId: "m-expire-1" });
    const [msg] = await receiveExactly(receiver, 1);
    const wait = msg.lockedUntilUtc.getTime() - Date.now();
    assert(wait < 15000, `lock duration of queue ${q} is too long for this check (lock ends in ${wait} ms)`);
    // The redelivery after expiry is the signal that the lock is gone.
    const [again] = await receiveExactly(receiver, 1, wait + 10000);
    assertEqual(again.messageId, "m-expire-1", "messageId of the redelivery");
    assertEqual(again.deliveryCount, 1, "deliveryCount after the lock expired");
    assert(again.lockToken !== msg.lockToken, "the redelivery reuses the expired lock token");
    let err;
    try {
      await receiver.completeMessage(msg);
    } catch (e) {
      err = e;
    }
    assert(err !== undefined, "completing with the expired lock token succeeded");
    assertEqual(err.code, "MessageLockLost", "error code of complete with the expired lock");
    await receiver.completeMessage(again);
    await expectEmpty(receiver, "after complete");
  }),
);

// Link loss (sbemu/LINKLOSS.md): Service Bus keeps a message locked when the
// receive link it went out on closes; the SDK settles and renews such a
// message through $management, by lock token.
check("receiver-close-keeps-lock", async (q) =>
  withClients(q, async (open) => {
    const sender = open.sender();
    const first = open.receiver();
    await sender.sendMessages({ body: "held", messageId: "m-held-1" });
    const [msg] = await receiveExactly(first, 1);
    const firstLockEnd = msg.lockedUntilUtc.getTime();
    await first.close();
    const other = open.receiver();
    await expectEmpty(other, "after the first receiver closed (the lock still holds the message)");
    const until = await other.renewMessageLock(msg);
    assert(until instanceof Date && until.getTime() >= firstLockEnd, `renewed lock ends ${until}, before the first one (${new Date(firstLockEnd)})`);
    await other.completeMessage(msg);
    // Peek shows locked messages too: nothing left means it was completed.
    assertEqual((await other.peekMessages(10)).length, 0, "messages left after complete");
  }),
);

check("receiver-close-redelivers-after-expiry", async (q) =>
  withClients(q, async (open) => {
    const sender = open.sender();
    // The queue needs a short LockDuration (the Go test gives this check's queue 2 s).
    const first = open.receiver({ maxAutoLockRenewalDurationInMs: 0 });
    await sender.sendMessages({ body: "comes back", messageId: "m-back-1" });
    const [msg] = await receiveExactly(first, 1);
    const lockEnd = msg.lockedUntilUtc.getTime();
    assert(lockEnd - Date.now() < 15000, `lock duration of queue ${q} is too long for this check`);
    await first.close();
    const other = open.receiver({ maxAutoLockRenewalDurationInMs: 0 });
    const [again] = await receiveExactly(other, 1, lockEnd - Date.now() + 10000);
    assert(Date.now() >= lockEnd - 100, `redelivered ${lockEnd - Date.now()} ms before the closed receiver's lock ended`);
    assertEqual(again.messageId, "m-back-1", "messageId of the redelivery");
    assertEqual(again.deliveryCount, 1, "deliveryCount (raw header value) after the lapsed lock");
    assert(again.lockToken !== msg.lockToken, "the redelivery reuses the lapsed lock token");
    let err;
    try {
      await other.completeMessage(msg);
    } catch (e) {
      err = e;
    }
    assert(err !== undefined, "completing with the lapsed lock token succeeded");
    assertEqual(err.code, "MessageLockLost", "error code of complete with the lapsed lock");
    await other.completeMessage(again);
    await expectEmpty(other, "after complete");
  }),
);

check("receive-and-delete", async (q) =>
  withClients(q, async (open) => {
    const sender = open.sender();
    const receiver = open.receiver({ receiveMode: "receiveAndDelete" });
    await sender.sendMessages([0, 1].map((i) => ({ body: `rad-${i}`, messageId: `m-rad-${i}` })));
    const got = await receiveExactly(receiver, 2);
    assertEqual(got.map((m) => m.messageId).sort().join(","), "m-rad-0,m-rad-1", "messageIds");
    for (const m of got) {
      assert(m.lockToken === undefined, `receive-and-delete message ${m.messageId} has lock token ${m.lockToken}`);
    }
    const left = await receiver.peekMessages(10);
    assertEqual(left.length, 0, "messages left after receive-and-delete");
  }),
);

check("subscribe-close", async (q) =>
  withClients(q, async (open) => {
    const n = 10;
    const sender = open.sender();
    const receiver = open.receiver();
    await sender.sendMessages(Array.from({ length: n }, (_, i) => ({ body: i, messageId: `m-sub-${i}` })));
    const logMark = sdkLog.length;
    const seen = new Set();
    const errors = [];
    let done;
    const allSeen = new Promise((resolve) => (done = resolve));
    const subscription = receiver.subscribe(
      {
        processMessage: async (m) => {
          await receiver.completeMessage(m);
          seen.add(m.messageId);
          if (seen.size === n) done();
        },
        processError: async (args) => {
          errors.push(`${args.errorSource}: ${args.error?.code ?? ""} ${args.error?.message}`);
        },
      },
      { autoCompleteMessages: false, maxConcurrentCalls: 3 },
    );
    const timeout = sleep(15000).then(() => "timeout");
    const outcome = await Promise.race([allSeen, timeout]);
    await subscription.close();
    assert(outcome !== "timeout", `processed ${seen.size} of ${n} messages; errors: ${errors.join("; ")}`);
    assert(errors.length === 0, `processError called: ${errors.join("; ")}`);
    const warned = drainWarnings(logMark);
    assert(warned.length === 0, `close() did not drain cleanly: ${warned[0]?.trim()}`);
    const left = await receiver.peekMessages(n);
    assertEqual(left.length, 0, "messages left after subscribe processed all");
  }),
);

check("large-message", async (q) =>
  withClients(q, async (open) => {
    const sender = open.sender();
    const receiver = open.receiver();
    // 200 KB: several transfer frames towards the broker (it announces a
    // max-frame-size far below that), one large frame back to rhea.
    const body = Buffer.alloc(200 * 1024);
    for (let i = 0; i < body.length; i++) body[i] = (i * 31 + 7) % 251;
    await sender.sendMessages({ body, messageId: "m-large-1" });
    const [msg] = await receiveExactly(receiver, 1);
    assertEqual(msg.messageId, "m-large-1", "messageId");
    assert(Buffer.isBuffer(msg.body), `body is ${typeof msg.body}, want a Buffer`);
    assertEqual(msg.body.length, body.length, "body length");
    assert(msg.body.equals(body), "body bytes differ");
    await receiver.completeMessage(msg);
  }),
);

check("unknown-queue-not-found", async (q) => {
  const sender = client.createSender(`${q}-missing`);
  try {
    let err;
    try {
      await sender.sendMessages({ body: "nowhere" });
    } catch (e) {
      err = e;
    }
    assert(err !== undefined, "sending to a queue that does not exist succeeded");
    assertEqual(err.code, "MessagingEntityNotFound", "error code");
  } finally {
    await sender.close().catch(() => {});
  }
});

check("properties-roundtrip", async (q) =>
  withClients(q, async (open) => {
    const sender = open.sender();
    const receiver = open.receiver();
    const sent = {
      body: "props",
      messageId: "m-props-1",
      correlationId: "corr-props-1",
      contentType: "text/plain",
      subject: "license-fixed",
      to: "licensefix",
      replyTo: "replies",
      timeToLive: 3600000,
      applicationProperties: { s: "x", n: 12, big: 2 ** 40, neg: -3, f: 2.5, b: false, d: new Date(1700000000123), nothing: null },
    };
    await sender.sendMessages(sent);
    const [msg] = await receiveExactly(receiver, 1);
    for (const k of ["messageId", "correlationId", "contentType", "subject", "to", "replyTo", "timeToLive", "body"]) {
      assertEqual(msg[k], sent[k], k);
    }
    const p = msg.applicationProperties ?? {};
    for (const [k, v] of Object.entries(sent.applicationProperties)) {
      assertEqual(p[k], v instanceof Date ? v.getTime() : v, `applicationProperties.${k}`);
    }
    assertEqual(Object.keys(p).sort().join(","), Object.keys(sent.applicationProperties).sort().join(","), "applicationProperties keys");
    assertEqual(msg.expiresAtUtc?.getTime(), msg.enqueuedTimeUtc.getTime() + sent.timeToLive, "expiresAtUtc = enqueuedTimeUtc + timeToLive");
    await receiver.completeMessage(msg);
  }),
);

check("body-types", async (q) =>
  withClients(q, async (open) => {
    const sender = open.sender();
    const receiver = open.receiver();
    const binary = Buffer.from([0, 1, 2, 0xfe, 0xff]);
    const plain = [
      ["m-body-string", "text"],
      ["m-body-number", 42],
      ["m-body-array", [1, "a", true]],
      ["m-body-object", { a: { b: [1, 2] }, c: null }],
      ["m-body-binary", binary],
    ];
    for (const [id, body] of plain) {
      await sender.sendMessages({ body, messageId: id });
    }
    // Bodies that are not one data section: amqp-value and amqp-sequence.
    await sender.sendMessages({ body: { k: "v", n: 7 }, bodyType: "value", properties: { messageId: "m-body-value" } });
    await sender.sendMessages({ body: [[1, "two"], [3]], bodyType: "sequence", properties: { messageId: "m-body-sequence" } });
    const got = new Map((await receiveExactly(receiver, plain.length + 2)).map((m) => [m.messageId, m]));
    for (const [id, body] of plain) {
      const m = got.get(id);
      assert(m !== undefined, `${id} not received`);
      if (Buffer.isBuffer(body)) {
        assert(Buffer.isBuffer(m.body) && m.body.equals(body), `${id}: body ${m.body?.toString("hex")}, want ${body.toString("hex")}`);
      } else {
        assertEqual(JSON.stringify(m.body), JSON.stringify(body), `${id} body`);
      }
    }
    const value = got.get("m-body-value");
    assert(value !== undefined, "m-body-value not received");
    assertEqual(value._rawAmqpMessage?.bodyType, "value", "bodyType of m-body-value");
    assertEqual(JSON.stringify(value.body), JSON.stringify({ k: "v", n: 7 }), "m-body-value body");
    const seq = got.get("m-body-sequence");
    assert(seq !== undefined, "m-body-sequence not received");
    assertEqual(seq._rawAmqpMessage?.bodyType, "sequence", "bodyType of m-body-sequence");
    assertEqual(JSON.stringify(seq.body), JSON.stringify([[1, "two"], [3]]), "m-body-sequence body");
    for (const m of got.values()) {
      await receiver.completeMessage(m);
    }
  }),
);

check("max-delivery-dead-letter", async (q) =>
  withClients(q, async (open) => {
    const sender = open.sender();
    const receiver = open.receiver();
    const dlq = open.receiver({ subQueueType: "deadLetter" });
    await sender.sendMessages({ body: "keeps-failing", messageId: "m-maxdel-1" });
    const counts = [];
    for (;;) {
      const msgs = await receiver.receiveMessages(1, { maxWaitTimeInMs: counts.length === 0 ? 5000 : 1000 });
      if (msgs.length === 0) break;
      assert(counts.length < 20, "still delivered after 20 abandons");
      assertEqual(msgs[0].messageId, "m-maxdel-1", "messageId");
      counts.push(msgs[0].deliveryCount);
      await receiver.abandonMessage(msgs[0]);
    }
    assert(counts.length > 0, "the message was never delivered");
    assertEqual(counts.join(","), counts.map((_, i) => i).join(","), "deliveryCount of the successive deliveries");
    const want = Number(process.env.SERVICEBUS_MAX_DELIVERY_COUNT ?? "0");
    if (want > 0) assertEqual(counts.length, want, "deliveries before dead-lettering (MaxDeliveryCount)");
    const [dead] = await receiveExactly(dlq, 1);
    assertEqual(dead.messageId, "m-maxdel-1", "DLQ messageId");
    assertEqual(dead.deadLetterReason, "MaxDeliveryCountExceeded", "deadLetterReason");
    assertEqual(dead.deadLetterSource, q, "deadLetterSource");
    await dlq.completeMessage(dead);
  }),
);

check("competing-receivers", async (q) =>
  withClients(q, async (open) => {
    const n = 20;
    const sender = open.sender();
    const receivers = [open.receiver(), open.receiver()];
    await sender.sendMessages(Array.from({ length: n }, (_, i) => ({ body: i, messageId: `m-compete-${i}` })));
    const seen = new Map();
    const deadline = Date.now() + 15000;
    await Promise.all(
      receivers.map(async (r, ri) => {
        while (seen.size < n && Date.now() < deadline) {
          const msgs = await r.receiveMessages(5, { maxWaitTimeInMs: 1000 });
          for (const m of msgs) {
            assert(!seen.has(m.messageId), `${m.messageId} delivered to receiver ${seen.get(m.messageId)} and ${ri} while locked`);
            seen.set(m.messageId, ri);
            await r.completeMessage(m);
          }
        }
      }),
    );
    assertEqual(seen.size, n, "messages received by the two receivers together");
  }),
);

check("wrong-key-unauthorized", async (q) => {
  const bad = connectionString.replace(/SharedAccessKey=[^;]*/i, "SharedAccessKey=not-the-key");
  assert(bad !== connectionString, "the connection string has no SharedAccessKey to replace");
  const badClient = new ServiceBusClient(bad, { retryOptions: { maxRetries: 0, timeoutInMs: 10000 } });
  try {
    const sender = badClient.createSender(q);
    let err;
    try {
      await sender.sendMessages({ body: "should not arrive" });
    } catch (e) {
      err = e;
    }
    assert(err !== undefined, "sending with a wrong key succeeded");
    assert(isServiceBusError(err) || err?.code !== undefined, `error is not a Service Bus error: ${err}`);
    assertEqual(err.code, "UnauthorizedAccess", "error code");
    assert(!String(err.message).includes("not-the-key"), "the error message repeats the key");
  } finally {
    await badClient.close();
  }
});

// ---------------------------------------------------------------- topic checks

// withTopic opens senders and subscription receivers on one topic and
// closes them all.
async function withTopic(topic, fn) {
  const closers = [];
  const open = {
    sender: (entity = topic) => {
      const s = client.createSender(entity);
      closers.push(() => s.close());
      return s;
    },
    receiver: (sub, options) => {
      const r = client.createReceiver(topic, sub, options);
      closers.push(() => r.close());
      return r;
    },
  };
  try {
    return await fn(open);
  } finally {
    for (const close of closers.reverse()) {
      await close().catch(() => {});
    }
  }
}

// euOrder matches subscription "corr"; usOrder and plainMessage do not.
const euOrder = (id) => ({ body: id, messageId: id, subject: "orders", applicationProperties: { region: "eu" } });
const usOrder = (id) => ({ body: id, messageId: id, subject: "orders", applicationProperties: { region: "us" } });
const plainMessage = (id) => ({ body: id, messageId: id });

async function peekCount(receiver) {
  return (await receiver.peekMessages(10)).length;
}

async function refusal(fn) {
  try {
    await fn();
  } catch (e) {
    return e;
  }
  return undefined;
}

if (baseTopic !== "") {
  topicCheck("topic-send-reaches-matching-subscriptions", async (t) =>
    withTopic(t, async (open) => {
      await open.sender().sendMessages([euOrder("eu-1"), usOrder("us-1"), plainMessage("plain-1")]);
      const all = await receiveExactly(open.receiver("all", { receiveMode: "receiveAndDelete" }), 3);
      assertEqual(all.map((m) => m.messageId).join(","), "eu-1,us-1,plain-1", "messages in subscription all (no rule)");
      assertEqual(all.map((m) => seqStr(m.sequenceNumber)).join(","), "1,2,3", "sequence numbers in all");
      const corr = open.receiver("corr");
      const [m] = await receiveExactly(corr, 1);
      assertEqual(m.messageId, "eu-1", "message in subscription corr (correlation rule)");
      assertEqual(m.body, "eu-1", "body in corr");
      assertEqual(m.applicationProperties?.region, "eu", "region in corr");
      assertEqual(seqStr(m.sequenceNumber), "1", "sequence number in corr (each subscription numbers its copies)");
      await corr.completeMessage(m);
      await expectEmpty(corr, "corr after complete");
      assertEqual(await peekCount(open.receiver("none")), 0, "messages in subscription none (its rule matches nothing)");
    }),
  );

  topicCheck("topic-sql-filter-and-evaluation-error", async (t) =>
    withTopic(t, async (open) => {
      const order = (id, subject, qty) => ({ body: id, messageId: id, subject, applicationProperties: { qty } });
      const sender = open.sender();
      for (const m of [order("big", "orders", 12), order("small", "orders", 3), order("misc", "other", 50), order("bad", "orders", "many")]) {
        await sender.sendMessages(m);
      }
      const sql = open.receiver("sql");
      const [m] = await receiveExactly(sql, 1);
      assertEqual(m.messageId, "big", "message in subscription sql (the one its filter is true for)");
      await sql.completeMessage(m);
      await expectEmpty(sql, "sql after complete", 300);
      const [d] = await receiveExactly(open.receiver("sql", { subQueueType: "deadLetter" }), 1);
      assertEqual(d.messageId, "bad", "message dead-lettered in sql ('many' > 10 cannot be evaluated)");
      assertEqual(d.deadLetterReason, "FilterEvaluationException", "deadLetterReason");
      assert(/rule "big-orders"/.test(d.deadLetterErrorDescription ?? ""), `deadLetterErrorDescription ${d.deadLetterErrorDescription}`);
      assertEqual(await peekCount(open.receiver("all")), 4, "messages in all (no rule)");
    }),
  );

  topicCheck("topic-sql-action-changes-the-copy", async (t) =>
    withTopic(t, async (open) => {
      await open.sender().sendMessages([euOrder("eu-1"), usOrder("us-1")]);
      const action = open.receiver("action");
      const [m] = await receiveExactly(action, 1);
      assertEqual(m.messageId, "eu-1", "message in subscription action");
      assertEqual(m.to, "eu-desk", "to (SET sys.To)");
      assertEqual(m.applicationProperties?.stage, "routed", "stage (SET stage)");
      assert(!("region" in (m.applicationProperties ?? {})), "region still there after REMOVE region");
      assertEqual(m.applicationProperties?.RuleName, "stamp", "RuleName on the copy of a rule with an action");
      await action.completeMessage(m);
      await expectEmpty(action, "action after complete", 300);
      const [a] = await receiveExactly(open.receiver("all"), 1);
      assertEqual(a.messageId, "eu-1", "first message in all");
      assertEqual(a.to, undefined, "to of all's copy (the action changed only its own)");
      assertEqual(a.applicationProperties?.region, "eu", "region of all's copy");
    }),
  );

  topicCheck("topic-subscriptions-settle-independently", async (t) =>
    withTopic(t, async (open) => {
      await open.sender().sendMessages(euOrder("eu-1"));
      const all = open.receiver("all");
      const corr = open.receiver("corr");
      const [a] = await receiveExactly(all, 1);
      const [c] = await receiveExactly(corr, 1);
      await all.abandonMessage(a);
      await corr.completeMessage(c);
      const [a2] = await receiveExactly(all, 1);
      assertEqual(a2.deliveryCount, 1, "deliveryCount in all after one abandon");
      assert(a2.lockToken !== a.lockToken, "the redelivery reuses the old lock token");
      await all.completeMessage(a2);
      await expectEmpty(all, "all after complete");
      await expectEmpty(corr, "corr after complete");
    }),
  );

  topicCheck("topic-subscription-dead-letter-queue", async (t) =>
    withTopic(t, async (open) => {
      await open.sender().sendMessages(euOrder("poison"));
      const all = open.receiver("all");
      for (let i = 0; i < 3; i++) {
        const [m] = await receiveExactly(all, 1);
        assertEqual(m.deliveryCount, i, `deliveryCount of delivery ${i + 1} in all`);
        await all.abandonMessage(m);
      }
      const dlq = open.receiver("all", { subQueueType: "deadLetter" });
      const [d] = await receiveExactly(dlq, 1);
      assertEqual(d.messageId, "poison", "messageId in all's DLQ");
      assertEqual(d.deadLetterReason, "MaxDeliveryCountExceeded", "deadLetterReason (MaxDeliveryCount 3)");
      assertEqual(d.deadLetterSource, `${t}/Subscriptions/all`, "deadLetterSource");
      await dlq.completeMessage(d);
      const corr = open.receiver("corr");
      const [c] = await receiveExactly(corr, 1);
      assertEqual(c.deliveryCount, 0, "deliveryCount of corr's copy");
      await corr.deadLetterMessage(c, { deadLetterReason: "NotForUs", deadLetterErrorDescription: "wrong region" });
      const cdlq = open.receiver("corr", { subQueueType: "deadLetter" });
      const [cd] = await receiveExactly(cdlq, 1);
      assertEqual(cd.deadLetterReason, "NotForUs", "deadLetterReason in corr's DLQ");
      assertEqual(cd.deadLetterErrorDescription, "wrong region", "deadLetterErrorDescription in corr's DLQ");
      await cdlq.completeMessage(cd);
      await expectEmpty(all, "all after dead-lettering");
      await expectEmpty(dlq, "all's DLQ after complete");
    }),
  );

  topicCheck("topic-subscription-management-peek-renew-defer", async (t) =>
    withTopic(t, async (open) => {
      await open.sender().sendMessages([plainMessage("m-1"), plainMessage("m-2")]);
      const all = open.receiver("all");
      const peeked = await all.peekMessages(10);
      assertEqual(peeked.map((m) => m.messageId).join(","), "m-1,m-2", "messages peeked in all");
      const [m] = await receiveExactly(all, 1);
      const before = m.lockedUntilUtc.getTime();
      await sleep(20);
      const until = await all.renewMessageLock(m);
      assert(until.getTime() > before, `renewed lock ${until.toISOString()} is not after ${new Date(before).toISOString()}`);
      await all.deferMessage(m);
      const [d] = await all.receiveDeferredMessages(m.sequenceNumber);
      assertEqual(d?.messageId, m.messageId, "deferred message received by sequence number");
      await all.completeMessage(d);
      const [m2] = await receiveExactly(all, 1);
      await all.completeMessage(m2);
      assertEqual(await peekCount(all), 0, "messages peeked in all after completing both");
    }),
  );

  topicCheck("topic-schedule-reaches-subscriptions-when-due", async (t) =>
    withTopic(t, async (open) => {
      const sender = open.sender();
      const due = new Date(Date.now() + 1500);
      const seqs = await sender.scheduleMessages([euOrder("soon")], due);
      assertEqual(seqs.length, 1, "sequence numbers returned by scheduleMessages");
      const far = await sender.scheduleMessages([euOrder("never")], new Date(Date.now() + 3600 * 1000));
      await sender.cancelScheduledMessages(far);
      assertEqual(await peekCount(open.receiver("all")), 0, "messages in all before the scheduled time (it waits in the topic)");
      for (const sub of ["all", "corr"]) {
        const r = open.receiver(sub);
        const [m] = await receiveExactly(r, 1);
        assertEqual(m.messageId, "soon", `messageId in ${sub}`);
        assert(Date.now() >= due.getTime() - 100, `${sub}: received before it was due`);
        await r.completeMessage(m);
        await expectEmpty(r, `${sub} after the scheduled message (the cancelled one never comes)`, 300);
      }
      assertEqual(await peekCount(open.receiver("none")), 0, "messages in none");
    }),
  );

  topicCheck("topic-duplicate-detection", async (t) =>
    withTopic(t, async (open) => {
      const sender = open.sender();
      for (const id of ["dup-1", "dup-1", "dup-2"]) {
        await sender.sendMessages(euOrder(id));
      }
      for (const sub of ["all", "corr"]) {
        const r = open.receiver(sub, { receiveMode: "receiveAndDelete" });
        const got = await receiveExactly(r, 2);
        assertEqual(got.map((m) => m.messageId).join(","), "dup-1,dup-2", `messages in ${sub}`);
        await expectEmpty(r, `${sub} after the duplicate`, 300);
      }
    }),
  );

  topicCheck("topic-wrong-direction-refused", async (t) =>
    withTopic(t, async (open) => {
      const toSub = open.sender(`${t}/Subscriptions/all`);
      const sendErr = await refusal(() => toSub.sendMessages(plainMessage("x")));
      assert(sendErr !== undefined, "sending to a subscription succeeded");
      assert(/send to its topic/.test(String(sendErr.message)), `error of a send to a subscription: ${sendErr.message}`);
      const fromTopic = client.createReceiver(t); // a topic is not received from
      try {
        const recvErr = await refusal(() => fromTopic.receiveMessages(1, { maxWaitTimeInMs: 2000 }));
        assert(recvErr !== undefined, "receiving from a topic succeeded");
        assert(/receive from one of its subscriptions/.test(String(recvErr.message)), `error of a receive from a topic: ${recvErr.message}`);
      } finally {
        await fromTopic.close().catch(() => {});
      }
    }),
  );

  topicCheck("topic-session-receiver-refused", async (t) => {
    const mark = sdkLog.length;
    const err = await refusal(async () => {
      const r = await client.acceptSession(t, "all", "s1");
      await r.close();
    });
    assert(err !== undefined, "a session receiver on a subscription without sessions was accepted");
    // The SDK throws its own "Failed to create a receiver for the requested
    // session" and logs the broker's detach error, which says why.
    const said = /sessions are not supported/.test(String(err.message)) || sdkLog.slice(mark).some((l) => /sessions are not supported/.test(l));
    assert(said, `neither the error nor the SDK log gives the emulator's reason: ${err.message}`);
  });
}

if (fromGoQueue !== "") {
  check("receive-from-go", async () =>
    withClients(fromGoQueue, async (open) => {
      const receiver = open.receiver();
      const [msg] = await receiveExactly(receiver, 1);
      assertEqual(msg.messageId, "go-to-node-1", "messageId");
      assertEqual(msg.contentType, "application/json", "contentType");
      assertEqual(msg.subject, "license-fixed", "subject");
      assertEqual(msg.correlationId, "corr-go-1", "correlationId");
      assertEqual(msg.body?.user_id, "go-user-1", "body.user_id (the Go body decoded as JSON)");
      assertEqual(msg.body?.source, "go", "body.source");
      const p = msg.applicationProperties ?? {};
      assertEqual(p.user_id, "go-user-1", "applicationProperties.user_id");
      assertEqual(p.attempt, 3, "applicationProperties.attempt (Go int64)");
      assertEqual(p.big, 1099511627776, "applicationProperties.big (Go int64 2^40)");
      assertEqual(p.neg, -7, "applicationProperties.neg (Go int32)");
      assertEqual(p.ratio, 0.25, "applicationProperties.ratio (Go float64)");
      assertEqual(p.flag, true, "applicationProperties.flag (Go bool)");
      assertEqual(p.label, interopProps.label, "applicationProperties.label (Go string)");
      assertEqual(p.when, interopProps.when.getTime(), "applicationProperties.when (Go time.Time, as ms)");
      assertEqual(msg.deliveryCount, 0, "deliveryCount");
      await receiver.completeMessage(msg);
    }),
  );
}

if (toGoQueue !== "") {
  check("send-to-go", async () =>
    withClients(toGoQueue, async (open) => {
      const sender = open.sender();
      await sender.sendMessages({
        body: { user_id: "node-user-1", source: "node" },
        messageId: "node-to-go-1",
        contentType: "application/json",
        subject: "license-fixed",
        correlationId: "corr-node-1",
        applicationProperties: { ...interopProps, user_id: "node-user-1" },
      });
    }),
  );
}

// ---------------------------------------------------------------- fault checks

// control asks the harness that started this script (TestNodeSDKConformance)
// to inject a fault into the emulator: it prints {"control": request} on
// stdout and waits for one line on stdin, "ok" or an error text.
let stdinLines;
async function control(request) {
  if (stdinLines === undefined) {
    const readline = await import("node:readline");
    stdinLines = readline.createInterface({ input: process.stdin })[Symbol.asyncIterator]();
  }
  process.stdout.write(JSON.stringify({ control: request }) + "\n");
  const { value, done } = await stdinLines.next();
  assert(!done, `no answer to control request ${request}: stdin closed`);
  assertEqual(value.trim(), "ok", `answer to control request ${request}`);
}

// assertLogged asserts that an SDK log line written since mark matches re:
// evidence that the injected fault reached the SDK.
function assertLogged(mark, re, message) {
  assert(sdkLog.slice(mark).some((l) => re.test(l)), message);
}

// roundTrip sends one message and receives and completes it.
async function roundTrip(sender, receiver, id) {
  await sender.sendMessages({ body: id, messageId: id });
  const [msg] = await receiveExactly(receiver, 1, 20000);
  assertEqual(msg.messageId, id, "messageId");
  await receiver.completeMessage(msg);
}

if (controlEnabled) {
  check("reconnect-after-drop", async (q) =>
    withClients(q, async (open) => {
      const sender = open.sender();
      const receiver = open.receiver();
      await roundTrip(sender, receiver, "m-drop-before");
      const mark = sdkLog.length;
      await control("drop-connections");
      // The same sender and receiver must recover on a new connection.
      await roundTrip(sender, receiver, "m-drop-after");
      assertLogged(mark, /ECONNRESET|EPIPE|disconnect/i, "the SDK logged no connection loss");
    }),
  );

  check("relink-after-detach-forced", async (q) =>
    withClients(q, async (open) => {
      const sender = open.sender();
      const receiver = open.receiver();
      await roundTrip(sender, receiver, "m-detach-before");
      const mark = sdkLog.length;
      await control(`detach-forced:${q}`);
      await roundTrip(sender, receiver, "m-detach-after");
      assertLogged(mark, /amqp:link:detach-forced/, "the SDK logged no detach-forced");
    }),
  );

  check("connection-drop-keeps-lock", async (q) =>
    withClients(q, async (open) => {
      // A client of its own whose connection the fault kills; the main
      // client (also dropped) reconnects and settles the message by token.
      const gone = new ServiceBusClient(connectionString, { retryOptions });
      try {
        const sender = open.sender();
        const first = gone.createReceiver(q);
        await sender.sendMessages({ body: "dropped", messageId: "m-dropped-1" });
        const [msg] = await receiveExactly(first, 1);
        const firstLockEnd = msg.lockedUntilUtc.getTime();
        await control("drop-connections");
        const other = open.receiver();
        await expectEmpty(other, "after the connection dropped (the lock still holds the message)");
        const until = await other.renewMessageLock(msg);
        assert(until.getTime() >= firstLockEnd, `renewed lock ends ${until}, before the first one`);
        await other.completeMessage(msg);
        assertEqual((await other.peekMessages(10)).length, 0, "messages left after complete");
      } finally {
        await gone.close().catch(() => {});
      }
    }),
  );

  check("management-server-busy-retried", async (q) =>
    withClients(q, async (open) => {
      const sender = open.sender();
      const receiver = open.receiver();
      await sender.sendMessages({ body: "busy", messageId: "m-busy-1" });
      // The next $management request answers 503 com.microsoft:server-busy;
      // the SDK retries and the peek succeeds.
      const mark = sdkLog.length;
      await control("server-busy-once");
      const peeked = await receiver.peekMessages(1);
      assertLogged(mark, /ServiceBusy/, "the SDK logged no ServiceBusy error (the fault was not hit)");
      assertEqual(peeked.length, 1, "messages peeked after the retry");
      assertEqual(peeked[0].messageId, "m-busy-1", "peeked messageId");
      const [msg] = await receiveExactly(receiver, 1);
      await receiver.completeMessage(msg);
    }),
  );
}

// ---------------------------------------------------------------- runner

let failed = 0;
const selected = checks.filter((c) => only.length === 0 || only.includes(c.name));
for (const c of selected) {
  const base = c.topic ? baseTopic : baseQueue;
  const queue = perCheck ? `${base}-${c.name}` : base;
  const start = Date.now();
  let error = null;
  let timer;
  try {
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new CheckError(`timed out after ${checkTimeoutMs} ms`)), checkTimeoutMs);
    });
    await Promise.race([c.fn(queue), timeout]);
  } catch (e) {
    error = e instanceof CheckError ? e.message : `${e?.name ?? "Error"}${e?.code ? ` (${e.code})` : ""}: ${e?.message ?? e}`;
  } finally {
    clearTimeout(timer);
  }
  if (error !== null) failed++;
  process.stdout.write(JSON.stringify({ name: c.name, ok: error === null, error, ms: Date.now() - start }) + "\n");
}

await client.close();
stdinLines?.return?.();
process.exit(failed === 0 ? 0 : 1);
