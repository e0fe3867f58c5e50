"""A toy RPC: client stub, marshalling, server skeleton, and a reply the network loses."""
import json

ledger = []      # server side: every charge the payment provider has made
results = {}     # server side: idempotency key -> result already returned


def charge(order_id, cents, key=None):
    if key in results:
        return results[key]              # same key: return the first result, charge nothing
    ledger.append((order_id, cents))
    result = {"charge_id": f"ch-{len(ledger)}", "cents": cents}
    if key:
        results[key] = result
    return result


def skeleton(request_bytes):             # server stub: unmarshal, dispatch, marshal
    call = json.loads(request_bytes)
    result = {"charge": charge}[call["method"]](**call["args"])
    return json.dumps({"id": call["id"], "result": result}).encode()


class Network:
    def __init__(self, replies_to_lose):
        self.replies_to_lose = replies_to_lose

    def round_trip(self, request_bytes):
        reply = skeleton(request_bytes)  # the request arrived and the server did the work...
        if self.replies_to_lose:         # ...but the reply never makes it back
            self.replies_to_lose -= 1
            raise TimeoutError("no reply within 2000 ms")
        return reply


class PaymentStub:                       # client stub: looks like a local object
    def __init__(self, network):
        self.network, self.next_id = network, 0

    def charge(self, **args):
        self.next_id += 1
        request = json.dumps({"id": self.next_id, "method": "charge", "args": args}).encode()
        print(f"  sends {len(request)} bytes: {request.decode()}")
        return json.loads(self.network.round_trip(request))["result"]


for label, extra in (("without a key", {}), ("with a key", {"key": "pay-ord-98017"})):
    ledger.clear()
    results.clear()
    stub = PaymentStub(Network(replies_to_lose=1))
    print(label)
    for attempt in (1, 2):
        try:
            print("  result:", stub.charge(order_id="ord-98017", cents=7497, **extra))
            break
        except TimeoutError as exc:
            print(f"  attempt {attempt}: {exc}, retrying")
    print(f"  card charged {len(ledger)} time(s)\n")
