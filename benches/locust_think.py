"""Locust's side of benches/run.sh's think-time section: the same two endpoints as
swarm's scenario (3:1), 1-3 s think time, Locust's fast client (FastHttpUser).

    locust -f benches/locust_think.py --headless -u 5000 -r 5000 -t 40s -H http://127.0.0.1:8080
"""
from locust import FastHttpUser, between, task


class ThinkUser(FastHttpUser):
    wait_time = between(1, 3)

    @task(3)
    def home(self):
        self.client.get("/")

    @task(1)
    def item(self):
        self.client.get("/item")
