"""The `queue_simulator` tool of the `queues` example pack.

Runs inside the sandbox (stochbox never imports this file in the host); only
the standard library is used. `random` is seeded by the sandbox per call.
"""

import heapq
import random


def queue_simulator(arrival_rate: float, service_rate: float, until: float, servers: int = 1) -> dict:
    """Simulate an M/M/c queue that starts empty at time 0 and stop at time `until`.

    Args:
        arrival_rate: mean number of arrivals per unit of time (Poisson process).
        service_rate: mean number of services one server completes per unit of time.
        until: the time at which the state is reported.
        servers: number of servers working in parallel.
    """
    if arrival_rate <= 0 or service_rate <= 0 or until <= 0 or servers < 1:
        raise ValueError("rates and until must be positive and servers at least 1")
    t = 0.0
    busy = []  # completion times of customers in service (heap)
    waiting = []  # arrival times of customers in line
    arrivals = served = 0
    waits = []
    next_arrival = random.expovariate(arrival_rate)
    while True:
        next_done = busy[0] if busy else float("inf")
        t = min(next_arrival, next_done)
        if t > until:
            break
        if t == next_arrival:
            arrivals += 1
            if len(busy) < servers:
                heapq.heappush(busy, t + random.expovariate(service_rate))
                waits.append(0.0)
            else:
                waiting.append(t)
            next_arrival = t + random.expovariate(arrival_rate)
        else:
            heapq.heappop(busy)
            served += 1
            if waiting:
                arrived = waiting.pop(0)
                waits.append(t - arrived)
                heapq.heappush(busy, t + random.expovariate(service_rate))
    return {
        "in_system": len(busy) + len(waiting),
        "in_line": len(waiting),
        "arrivals": arrivals,
        "served": served,
        "first_waits": [round(w, 6) for w in waits[:10]],
    }
