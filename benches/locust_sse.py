# Locust reading server-sent events with FastHttpUser's streaming (client.iter_lines), for
# benches/streams.sh: each user reads SSE_PATH in turn and counts its `data:` lines; the
# count is printed when Locust quits.
import os

from locust import FastHttpUser, constant, events, task

PATH = os.environ.get("SSE_PATH", "/events?first_ms=50&gap_ms=50&n=40")
EVENTS = 0


class SseUser(FastHttpUser):
    wait_time = constant(0)

    @task
    def stream(self):
        global EVENTS
        for line in self.client.iter_lines(PATH):
            if line.startswith("data:"):
                EVENTS += 1


@events.quitting.add_listener
def report(environment, **kwargs):
    print(f"SSE_EVENTS {EVENTS}", flush=True)
