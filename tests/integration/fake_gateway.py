"""A fake SMS gateway for the tests of stepup-sender: an HTTP server on
127.0.0.1 (a free port) that records every request it gets and answers as
it is told.

In a test (in-process, a thread)::

    gw = FakeGateway().start()
    gw.url                          # http://127.0.0.1:PORT/sms
    gw.rule(status=500, times=2, message_id=mid)   # the next 2 requests for mid: 500
    gw.rule(delay=1.5)              # every request: wait 1.5 s, then 200
    gw.rule(delay=0.01, jitter=0.02)  # every request: wait 10 to 30 ms (uniformly), then 200
    gw.requests()                   # [{"to", "text", "messageId", "at", "status", ...}]
    gw.max_concurrent(ids)          # the most of those messages' requests it held at once
    gw.wait_for(lambda reqs: len(reqs) >= 3, timeout=10)
    gw.reset(); gw.stop()

Rules are tried in the order given; the first that matches a request (by
messageId and/or number) and has uses left decides the answer: its status
(2xx answers carry {"messageId": "gw-N"}), after its delay.  Without a
matching rule: 200 at once.  Every request is recorded when it arrives,
before any delay, with the status it is about to get; "answered" is set
once its answer has been written.  A request is held from its arrival
("at") until then.

Stand-alone (for trying a sender by hand)::

    python3 fake_gateway.py [--port N]

prints each request as a JSON line; POST /_control with {"status": 500,
"delay": 0.5, "jitter": 0.1, "times": 3, "messageId": "..."} adds a rule, DELETE /_control
clears them.
"""

import argparse
import json
import random
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _Rule:
    def __init__(self, status, delay, times, message_id, to, jitter=0.0):
        self.status = status
        self.delay = delay
        self.jitter = jitter
        self.times = times  # None: forever
        self.message_id = message_id
        self.to = to

    def matches(self, msg):
        if self.times is not None and self.times <= 0:
            return False
        if self.message_id is not None and msg.get("messageId") != self.message_id:
            return False
        if self.to is not None and msg.get("to") != self.to:
            return False
        return True


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 512  # a sender opens up to sends_in_flight connections at once

    def handle_error(self, request, client_address):
        # A client that goes away mid-request (a sender killed by a test) is
        # expected; anything else is printed as usual.
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)


class FakeGateway:
    """See the module docstring."""

    def __init__(self, path="/sms", echo=False):
        self.path = path
        self.echo = echo
        self._lock = threading.Condition()
        self._requests = []
        self._rules = []
        self._server = None
        self._thread = None
        self._count = 0

    # -- control ---------------------------------------------------------
    def start(self, port=0):
        gateway = self

        class Handler(_Handler):
            gw = gateway

        self._server = _Server(("127.0.0.1", port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-gateway",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self):
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def port(self):
        return self._server.server_address[1]

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}{self.path}"

    def rule(self, status=200, delay=0.0, times=None, message_id=None, to=None, jitter=0.0):
        """Add an answering rule (see the module docstring)."""
        with self._lock:
            self._rules.append(_Rule(status, delay, times, message_id, to, jitter))

    def clear_rules(self):
        with self._lock:
            self._rules.clear()

    def reset(self):
        """Forget the rules and the recorded requests."""
        with self._lock:
            self._rules.clear()
            self._requests.clear()

    def max_concurrent(self, message_ids=None):
        """The most requests (of the given messageIds) held at once: arrived
        and not yet answered (one still held counts as held until now)."""
        events = []
        for r in self.requests(message_ids):
            events.append((r["at"], 1))
            events.append((r.get("answered", float("inf")), -1))
        held = most = 0
        for _, step in sorted(events, key=lambda e: (e[0], e[1])):  # an answer before an arrival
            held += step
            most = max(most, held)
        return most

    # -- what arrived ----------------------------------------------------
    def requests(self, message_ids=None, to=None):
        """Copies of the recorded requests, oldest first (optionally only
        those for the given messageIds or number)."""
        with self._lock:
            reqs = [dict(r) for r in self._requests]
        if message_ids is not None:
            ids = set(message_ids)
            reqs = [r for r in reqs if r.get("messageId") in ids]
        if to is not None:
            reqs = [r for r in reqs if r.get("to") == to]
        return reqs

    def wait_for(self, predicate, timeout=10.0, message_ids=None, to=None):
        """Wait until predicate(requests) is true; return the requests.
        Raises AssertionError on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            reqs = self.requests(message_ids, to)
            if predicate(reqs):
                return reqs
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"fake gateway: condition not met within {timeout} s; "
                                     f"{len(reqs)} requests: {reqs[-5:]}")
            with self._lock:
                self._lock.wait(min(left, 0.05))

    # -- used by the handler ---------------------------------------------
    def _answered(self, msg):
        with self._lock:
            msg["answered"] = time.time()

    def _arrived(self, msg):
        """Record msg; return (status, delay) for it."""
        with self._lock:
            status, delay = 200, 0.0
            for r in self._rules:
                if r.matches(msg):
                    if r.times is not None:
                        r.times -= 1
                    status, delay = r.status, r.delay + random.uniform(0, r.jitter)
                    break
            self._count += 1
            msg["seq"] = self._count
            msg["status"] = status
            self._requests.append(msg)
            self._lock.notify_all()
        if self.echo:
            print(json.dumps(msg), flush=True)
        return status, delay


class _Handler(BaseHTTPRequestHandler):
    gw = None  # set by FakeGateway.start
    protocol_version = "HTTP/1.1"  # keep-alive, as a real gateway
    disable_nagle_algorithm = True  # no 40 ms delayed-ACK stall between header and body

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass

    def _body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def _answer(self, status, doc):
        raw = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def _message(self, raw):
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip()
        if ctype == "application/x-www-form-urlencoded":
            fields = {k: v[0] for k, v in urllib.parse.parse_qs(raw.decode()).items()}
        else:
            try:
                fields = json.loads(raw)
            except ValueError:
                fields = {"raw": raw.decode(errors="replace")}
        if not isinstance(fields, dict):
            fields = {"raw": fields}
        msg = dict(fields)
        msg.update(at=time.time(), method=self.command, path=self.path, contentType=ctype,
                   authorization=self.headers.get("Authorization"))
        return msg

    def _send(self):
        raw = self._body()
        if self.path == "/_control":
            return self._control(raw)
        msg = self._message(raw)
        status, delay = self.gw._arrived(msg)
        try:
            if delay:
                time.sleep(delay)
            if 200 <= status <= 299:
                self._answer(status, {"messageId": f"gw-{msg['seq']}", "status": "queued"})
            else:
                self._answer(status, {"error": f"fake gateway answers {status}"})
        finally:
            self.gw._answered(msg)

    def _control(self, raw):
        if self.command == "DELETE":
            self.gw.clear_rules()
        else:
            doc = json.loads(raw or b"{}")
            self.gw.rule(status=int(doc.get("status", 200)), delay=float(doc.get("delay", 0)),
                         times=doc.get("times"), message_id=doc.get("messageId"),
                         to=doc.get("to"), jitter=float(doc.get("jitter", 0)))
        self._answer(200, {"ok": True})

    do_POST = _send
    do_PUT = _send

    def do_DELETE(self):
        self._body()
        if self.path == "/_control":
            return self._control(b"")
        self._answer(404, {"error": "not found"})


def main():
    ap = argparse.ArgumentParser(description="A fake SMS gateway on 127.0.0.1.")
    ap.add_argument("--port", type=int, default=0)
    args = ap.parse_args()
    gw = FakeGateway(echo=True).start(args.port)
    print(f"fake gateway listening on {gw.url}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        gw.stop()


if __name__ == "__main__":
    main()
