"""The same order as JSON text and as Protocol Buffers wire bytes (hand-encoded)."""
import json

order = {
    "orderId": "ord-98017",
    "status": "PAID",
    "items": [
        {"sku": "KB-101", "qty": 1, "priceCents": 4999},
        {"sku": "MS-220", "qty": 2, "priceCents": 1999},
        {"sku": "CB-007", "qty": 3, "priceCents": 499},
    ],
}


def varint(n):
    out = bytearray()
    while True:
        low, n = n & 0x7F, n >> 7
        out.append(low | (0x80 if n else 0))
        if not n:
            return bytes(out)


def field(number, value):
    # The wire carries field numbers from the .proto contract, never field names.
    if isinstance(value, int):
        return varint(number << 3 | 0) + varint(value)          # wire type 0: varint
    data = value.encode() if isinstance(value, str) else value
    return varint(number << 3 | 2) + varint(len(data)) + data  # wire type 2: length-delimited


def encode_item(item):   # message Item { string sku = 1; int32 qty = 2; int64 price_cents = 3; }
    return field(1, item["sku"]) + field(2, item["qty"]) + field(3, item["priceCents"])


def encode_order(o):     # message Order { string order_id = 1; string status = 2; repeated Item items = 3; }
    body = field(1, o["orderId"]) + field(2, o["status"])
    for item in o["items"]:
        body += field(3, encode_item(item))
    return body


as_json = json.dumps(order).encode()
as_proto = encode_order(order)
print(f"JSON:     {len(as_json)} bytes")
print(f"protobuf: {len(as_proto)} bytes ({len(as_proto) / len(as_json):.0%} of JSON)")
print("first item on the wire:", encode_item(order["items"][0]).hex(" "))
