"""An orchestrator runs local steps in order and compensates the finished ones."""

state = {"order": None, "stock": 5, "charged": 0, "refund_attempts": 0}
provider_refunds = {}  # kept by the payment provider: idempotency key -> refund id


def book_courier():
    raise RuntimeError("no courier slot in region")


def refund_card():
    state["refund_attempts"] += 1
    key = "refund-ord-98017"  # the same idempotency key on every attempt
    if key not in provider_refunds:  # the provider refunds once per key
        provider_refunds[key] = f"re-{len(provider_refunds) + 1}"
        state["charged"] -= 4999
    if state["refund_attempts"] == 1:  # the refund went through, but its reply was lost
        raise TimeoutError("reply from payment provider lost")  # compensations get retried


STEPS = [  # (name, local transaction, compensating transaction)
    ("create order", lambda: state.update(order="PENDING"),  # visible, marked not final
     lambda: state.update(order="CANCELLED")),
    ("reserve stock", lambda: state.update(stock=state["stock"] - 2),
     lambda: state.update(stock=state["stock"] + 2)),
    ("charge card", lambda: state.update(charged=4999), refund_card),
    ("book courier", book_courier, None),  # fails, so it never needs undoing
]


def run_saga():
    done = []  # in production this list is the saga log, saved after every step
    for name, action, compensate in STEPS:
        try:
            action()
            done.append((name, compensate))
            print(f"ok    {name}")
        except RuntimeError as err:  # a business failure, not a crash
            print(f"FAIL  {name}: {err}")
            for undo_name, undo in reversed(done):  # only steps that really happened
                while True:
                    try:
                        undo()
                        print(f"undo  {undo_name}")
                        break
                    except TimeoutError as e:
                        print(f"retry undo {undo_name}: {e}")
            return "compensated"
    state["order"] = "CONFIRMED"
    return "completed"


print("saga", run_saga(), "->", state)
print("refunds made by the provider:", len(provider_refunds))
