#!/usr/bin/env python3
"""A stand-in OTLP/HTTP collector for the trace benchmark: accepts every POST (to /v1/traces), answers 200
with an empty protobuf body, and counts requests and bytes. It decodes nothing: it is there so the server
exports as it would to a collector, at the cost of building, encoding and sending every span.

    python3 bench/otlp_sink.py PORT STATS_FILE

STATS_FILE is rewritten after every POST: `<posts> <bytes>`.
"""
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT = int(sys.argv[1])
STATS = sys.argv[2]
lock = threading.Lock()
posts = 0
received = 0


class Sink(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        global posts, received
        length = int(self.headers.get("content-length", 0))
        body = self.rfile.read(length)
        with lock:
            posts += 1
            received += len(body)
            with open(STATS, "w") as out:
                out.write(f"{posts} {received}\n")
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


ThreadingHTTPServer(("127.0.0.1", PORT), Sink).serve_forever()
