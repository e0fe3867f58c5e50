# A consumer that applies one entity's events strictly by sequence number.
GAP_TIMEOUT_MS = 100
# (arrival_ms, seq): late, duplicated and missing messages, as a real network delivers them
ARRIVALS = [(0, 1), (5, 2), (9, 4), (12, 3), (15, 3), (20, 6), (24, 7), (60, 5), (70, 9), (200, 10)]

next_seq = 1
buffer = {}  # seq -> arrival time, for messages that came too early
applied, log = [], []


def release():
    global next_seq
    while next_seq in buffer:
        del buffer[next_seq]
        applied.append(next_seq)
        next_seq += 1


for now, seq in ARRIVALS:
    if seq < next_seq or seq in buffer:
        log.append(f"t={now:3} seq {seq}: duplicate, dropped")
        continue
    buffer[seq] = now
    before = len(applied)
    release()
    if len(applied) == before:
        log.append(f"t={now:3} seq {seq}: early, buffered (waiting for {next_seq})")
    else:
        log.append(f"t={now:3} seq {seq}: applied {applied[before:]}")
    oldest = min(buffer.values(), default=now)
    if buffer and now - oldest > GAP_TIMEOUT_MS:
        log.append(f"t={now:3} gap at seq {next_seq} open for {now - oldest} ms, declared lost")
        next_seq = min(buffer)  # skip the hole; alert or fetch it from the source
        before = len(applied)
        release()
        log.append(f"t={now:3} applied {applied[before:]}")

print("\n".join(log))
print("applied order:", applied)
