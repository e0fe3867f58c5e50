"""A count-based circuit breaker using resilience4j's knob names."""
from collections import deque

CONFIG = {
    "failureRateThreshold": 50,  # percent of failed calls that opens the breaker
    "slidingWindowSize": 10,  # last N calls considered while CLOSED
    "minimumNumberOfCalls": 5,  # no verdict before this many calls are recorded
    "waitDurationInOpenState": 5000,  # ms to reject calls before probing
    "permittedNumberOfCallsInHalfOpenState": 3,  # probe calls allowed through
}


class CircuitBreaker:
    def __init__(self, cfg):
        self.cfg, self.state, self.opened_at = cfg, "CLOSED", None
        self.window = deque(maxlen=cfg["slidingWindowSize"])

    def allow(self, now):
        if self.state == "OPEN":
            if now - self.opened_at < self.cfg["waitDurationInOpenState"]:
                return False  # fail fast: the dependency is not called at all
            self.move("HALF_OPEN", now, "wait elapsed")
        return True

    def record(self, ok, now):
        self.window.append(ok)
        needed = (self.cfg["permittedNumberOfCallsInHalfOpenState"]
                  if self.state == "HALF_OPEN" else self.cfg["minimumNumberOfCalls"])
        if len(self.window) < needed:
            return
        rate = 100 * self.window.count(False) / len(self.window)
        if rate >= self.cfg["failureRateThreshold"]:
            self.move("OPEN", now, f"failure rate {rate:.0f}%")
        elif self.state == "HALF_OPEN":
            self.move("CLOSED", now, f"failure rate {rate:.0f}%")

    def move(self, state, now, why):
        print(f"t={now:>5} ms  {self.state:>9} -> {state:<9} ({why})")
        self.state, self.window = state, deque(maxlen=self.cfg["slidingWindowSize"])
        self.opened_at = now if state == "OPEN" else self.opened_at


breaker, timeline, sent_while_open = CircuitBreaker(CONFIG), "", 0
for now in range(0, 16000, 500):  # one call every 500 ms
    healthy = not 2000 <= now < 10000  # inventory fails from 2 s to 10 s
    if not breaker.allow(now):
        timeline += "-"
        continue
    sent_while_open += breaker.state == "OPEN"
    breaker.record(healthy, now)
    timeline += "." if healthy else "x"
print("calls (. ok, x failed, - rejected):", timeline)
print(f"sent {timeline.count('.') + timeline.count('x')}, rejected {timeline.count('-')},"
      f" sent while open {sent_while_open}")
