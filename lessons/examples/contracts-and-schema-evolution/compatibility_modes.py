"""Check candidate schema changes the way a schema registry does, once per compatibility mode."""

REQUIRED = None  # a field whose default is REQUIRED has no default

# A schema maps field name -> (type, default). v1 and v2 are registered; each candidate would become v3.
V1 = {"order_id": ("string", REQUIRED), "amount_cents": ("int", REQUIRED)}
V2 = {**V1, "currency": ("string", "EUR")}
CANDIDATES = {
    "add optional coupon": {**V2, "coupon": ("string", "")},
    "remove optional currency": V1,
    "add required channel": {**V2, "channel": ("string", REQUIRED)},
    "remove required amount_cents": {"order_id": ("string", REQUIRED), "currency": ("string", "EUR")},
    "drop currency's default": {**V2, "currency": ("string", REQUIRED)},
    "amount_cents int -> string": {**V2, "amount_cents": ("string", REQUIRED)},
}


def can_read(reader, writer):
    """Can code built on `reader` decode data written with `writer`? (Avro-style resolution.)"""
    for name, (kind, default) in reader.items():
        if name not in writer and default is REQUIRED:
            return False  # the reader needs a value that the data does not carry
        if name in writer and writer[name][0] != kind:
            return False
    return True  # fields only the writer knows are skipped


def backward(new, old):  # new consumers read old data: upgrade consumers first
    return can_read(new, old)


def forward(new, old):  # old consumers read new data: upgrade producers first
    return can_read(old, new)


def full(new, old):
    return backward(new, old) and forward(new, old)


MODES = {"BACKWARD": (backward, False), "BACKWARD_TRANS": (backward, True), "FORWARD": (forward, False),
         "FULL": (full, False), "FULL_TRANS": (full, True)}

print(f"{'candidate v3':<30}" + "".join(f"{mode:>15}" for mode in MODES))
for label, new in CANDIDATES.items():
    row = ""
    for check, transitive in MODES.values():
        against = [V1, V2] if transitive else [V2]  # transitive: every registered version, not just the last
        row += f"{'ok' if all(check(new, old) for old in against) else 'REJECTED':>15}"
    print(f"{label:<30}{row}")
