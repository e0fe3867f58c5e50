"""Kafka transactions on one partition, seen by two consumers.

Payment Service writes its output inside transactions: T1 commits, T2 aborts
(the instance crashed), T3 is still open. A non-transactional producer writes
x1 after T3 began. Control markers (COMMIT/ABORT) sit in the log too.
"""
log = [  # (offset, transaction or None, value)
    (0, "T1", "payment p1"), (1, "T1", "payment p2"), (2, "T1", "COMMIT"),
    (3, "T2", "payment p3"), (4, "T3", "payment p4"), (5, None, "audit x1"),
    (6, "T2", "ABORT"),
]


def read(isolation, log):
    finished = {txn: value for _, txn, value in log if value in ("COMMIT", "ABORT")}
    seen = []
    for offset, txn, value in log:
        if value in ("COMMIT", "ABORT"):
            continue                               # markers are never handed to the app
        if isolation == "read_committed":
            if txn and txn not in finished:
                break                              # last stable offset: wait for the outcome
            if txn and finished[txn] == "ABORT":
                continue                           # aborted records are filtered out
        seen.append(value)
    return seen


for isolation in ("read_uncommitted", "read_committed"):
    print(f"{isolation:<17} sees {read(isolation, log)}")
log.append((7, "T3", "COMMIT"))
print(f"after T3 commits, read_committed sees {read('read_committed', log)}")

# Zombie fencing: a restarted instance registers the same transactional.id.
epochs = {"payments-0": 0}                         # the old instance started at epoch 0
epochs["payments-0"] += 1                          # initTransactions() by the new instance
for who, epoch in (("old instance", 0), ("new instance", 1)):
    verdict = "commit accepted" if epoch == epochs["payments-0"] else "fenced (ProducerFencedException)"
    print(f"{who} commits with epoch {epoch}: {verdict}")
