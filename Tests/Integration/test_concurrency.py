"""The gateway's threads at work at once: two workers relaying calls from many client connections
while the admin endpoint is scraped and the routes file is reloaded. Run in CI against the release
build and, in the sanitizer step of scripts/test, against the ThreadSanitizer build, where it is
the test that makes the worker threads and the main (admin, reload) thread touch shared state at
the same time: every other relay test drives one connection, which one worker serves."""
import json
import os
import signal
import threading
import time
import urllib.request

import harness
from testing_stubs import messages_pb2, test_pb2_grpc

WAIT = 10


def admin_get(admin, path):
    with urllib.request.urlopen(f"http://127.0.0.1:{admin}{path}", timeout=WAIT) as response:
        return response.read().decode()


def test_h2_grpc_calls_on_two_workers_during_scrapes_and_reloads(upstream, gateway):
    up = upstream()
    admin = harness.free_port()
    config = harness.routes([up.port], workers=2)
    config["admin"] = {"address": f"127.0.0.1:{admin}"}
    gw = gateway(config)
    errors = []
    done = threading.Event()

    def client(index):
        try:
            for _ in range(3):  # a fresh connection each round: the workers share them out
                with harness.channel(gw.port) as ch:
                    stub = test_pb2_grpc.TestServiceStub(ch)
                    for n in range(4):
                        reply = stub.UnaryCall(messages_pb2.SimpleRequest(response_size=n + index), timeout=WAIT)
                        assert len(reply.payload.body) == n + index
                    request = messages_pb2.StreamingOutputCallRequest(
                        response_parameters=[messages_pb2.ResponseParameters(size=1000) for _ in range(5)])
                    assert len(list(stub.StreamingOutputCall(request, timeout=WAIT))) == 5
        except Exception as error:  # reported by the main thread
            errors.append(repr(error))

    def scraper():
        while not done.is_set():
            admin_get(admin, "/metrics")
            json.loads(admin_get(admin, "/config"))
            done.wait(0.01)  # the scrape interval

    clients = [threading.Thread(target=client, args=(i,)) for i in range(8)]
    scrape = threading.Thread(target=scraper)
    for t in clients + [scrape]:
        t.start()
    # Two reloads while the calls run: each worker takes the new snapshot from the main thread.
    for generation in (2, 3):
        config = dict(config, routes=[dict(config["routes"][0], timeout=f"{20 + generation}s")])
        harness.write_routes(config, gw.config_path)
        os.kill(gw.pid, signal.SIGHUP)
        deadline = time.monotonic() + WAIT
        while json.loads(admin_get(admin, "/config"))["applied_generation"] != generation:
            assert time.monotonic() < deadline, f"config {generation} not applied"
            time.sleep(0.01)  # polling for the observed state
    for t in clients:
        t.join(60)
    done.set()
    scrape.join(WAIT)
    assert not errors, errors
    body = admin_get(admin, "/metrics")
    started = int(next(line.split()[1] for line in body.splitlines() if line.startswith("trestle_calls_started_total ")))
    assert started == 8 * 3 * 5
