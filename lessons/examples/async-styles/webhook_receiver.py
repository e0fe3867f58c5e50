"""A webhook receiver that checks the signature, the age and duplicates."""
import hashlib
import hmac
import json

SECRET = b"whsec_demo"  # shared once, out of band, when the webhook is registered
TOLERANCE = 300  # seconds; older deliveries are rejected as possible replays
seen_event_ids = set()


def sign(timestamp, body):
    msg = f"{timestamp}.{body}".encode()
    return hmac.new(SECRET, msg, hashlib.sha256).hexdigest()


def receive(headers, body, now):
    ts, sig = int(headers["X-Timestamp"]), headers["X-Signature"]
    if not hmac.compare_digest(sig, sign(ts, body)):  # constant-time compare
        return 400, "bad signature"
    if now - ts > TOLERANCE:
        return 400, "too old"
    event = json.loads(body)
    if event["id"] in seen_event_ids:  # senders retry, so duplicates are normal
        return 200, "duplicate, ignored"
    seen_event_ids.add(event["id"])
    return 200, f"processed {event['type']} for {event['order']}"


def delivery(event, ts, tamper=False):
    body = json.dumps(event)
    sig = sign(ts, body)
    if tamper:
        body = body.replace("49.00", "0.01")
    return {"X-Timestamp": str(ts), "X-Signature": sig}, body


paid = {"id": "evt_1", "type": "payment.succeeded", "order": "o-17", "amount": "49.00"}
now = 1_700_000_000
cases = [
    ("first delivery", delivery(paid, now - 2)),
    ("retry of the same event", delivery(paid, now + 60)),
    ("body altered in transit", delivery(paid, now, tamper=True)),
    ("captured and replayed 1 h later", delivery(paid, now - 3600)),
]
for label, (headers, body) in cases:
    status, outcome = receive(headers, body, now + 60)
    print(f"{label:<32} -> {status} {outcome}")
