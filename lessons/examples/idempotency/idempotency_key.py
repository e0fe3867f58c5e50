"""An API that honours an Idempotency-Key header, so client retries are safe."""
import hashlib
import json

responses = {}  # key -> (request fingerprint, stored response); keep for e.g. 24 h
charges = []


def post_charge(headers, body):
    key = headers.get("Idempotency-Key")
    fingerprint = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
    if key in responses:
        seen_fingerprint, stored = responses[key]
        if seen_fingerprint != fingerprint:
            return 422, {"error": "key reused with a different request"}
        return stored  # replay the first answer; charge nothing new
    charges.append(body["cents"])
    result = (201, {"charge": f"ch_{len(charges)}", "cents": body["cents"]})
    if key:
        responses[key] = (fingerprint, result)
    return result


attempts = [
    ("first try (reply lost to a timeout)", {"Idempotency-Key": "k-7f3a"}, {"cents": 4999}),
    ("client retries, same key", {"Idempotency-Key": "k-7f3a"}, {"cents": 4999}),
    ("bug: same key, other amount", {"Idempotency-Key": "k-7f3a"}, {"cents": 100}),
    ("retry without any key", {}, {"cents": 4999}),
    ("and again without a key", {}, {"cents": 4999}),
]
for label, headers, body in attempts:
    status, reply = post_charge(headers, body)
    print(f"{label:<37} -> {status} {reply}")
print(f"money taken: {sum(charges)} cents in {len(charges)} charges")
