"""Which records survive a leader failure? A 3-replica Kafka partition, leader B1.

Scenario A: B3 is down (out of the ISR). r1 is replicated to B2; then B1 appends
r2 and dies before B2 fetches it. B2, which is in the ISR, becomes leader.
Scenario B: B2 and B3 are both out of the ISR when r3 is sent; B1's disk is then
lost and B2 takes over once it is back (an unclean election).
"""


def produce(logs, isr, record, acks, min_isr):
    """What the producer hears back for one record."""
    if acks == "all" and len(isr) < min_isr:
        return "refused (NOT_ENOUGH_REPLICAS)"
    logs["B1"].append(record)
    return {"0": "sent, no reply awaited", "1": "acked by leader"}.get(acks, "pending")


def settle(heard, logs, isr):
    """acks=all: a pending record is acknowledged once every ISR member has it."""
    for record, state in heard.items():
        if state == "pending" and all(record in logs[b] for b in isr):
            heard[record] = "acked by ISR"


def scenario_a(acks):
    logs, isr, heard = {"B1": [], "B2": [], "B3": []}, {"B1", "B2"}, {}
    heard["r1"] = produce(logs, isr, "r1", acks, 2)
    logs["B2"] = list(logs["B1"])                     # B2 fetches r1
    settle(heard, logs, isr)
    heard["r2"] = produce(logs, isr, "r2", acks, 2)   # ...and B1 crashes now
    survivors = logs["B2"]                            # clean election: B2 leads
    if heard["r2"] == "pending":                      # no answer: the producer retries
        survivors.append("r2")
        heard["r2"] = "retried, acked by new leader"
    return heard, survivors


for acks in ("0", "1", "all"):
    heard, log = scenario_a(acks)
    lost = [r for r, state in heard.items() if not state.startswith("refused") and r not in log]
    print(f"A  acks={acks:<3}  r1: {heard['r1']:<24} r2: {heard['r2']:<29} lost: {lost or '-'}")

for min_isr in (1, 2):
    logs = {"B1": [], "B2": [], "B3": []}
    heard = produce(logs, {"B1"}, "r3", "all", min_isr)
    settle(h := {"r3": heard}, logs, {"B1"})
    lost = ["r3"] if h["r3"].startswith("acked") else []  # only B1 had it
    print(f"B  acks=all, min.insync.replicas={min_isr}  r3: {h['r3']:<30} lost: {lost or '-'}")
