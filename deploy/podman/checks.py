#!/usr/bin/env python3
"""HTTP checks for deploy/verify.sh and deploy/verify-scale.sh, against a running board (or the compose proxy)
and Prometheus.

Standard library only. Each subcommand prints what it saw and exits non-zero with a reason on failure.

  checks.py signup URL NAME PASSWORD            sign up; prints the new user's id
  checks.py login URL NAME PASSWORD USER_ID     log in; the user must be USER_ID
  checks.py write-read URL READS                sign up, post into a seeded category through URL, read it back
                                                READS times (each read must see it); prints the post id
  checks.py failover URL POST_ID -- CMD...      requests through URL, one at a time (reads of POST_ID, and a
                                                vote or unvote of it every fifth request) before, while and after CMD
                                                runs; any failed request fails the check
  checks.py prometheus URL JOB TARGETS          Prometheus at URL reports every target of JOB up and has
                                                scraped board's own metrics from each
  checks.py wait-http URL SECONDS               poll URL until it answers 200
  checks.py subscribe URL POST_ID SOCKETS       open SOCKETS graphql-ws subscriptions to commentAdded(POST_ID)
                                                through URL (the proxy spreads them over the replicas), write a
                                                comment over HTTP, and see it reach every socket
  checks.py author URL                          sign up and post through URL; prints "TOKEN POST_ID"
  checks.py edit-read WRITE READ TOKEN POST_ID  read the post through READ (so it holds the current title), give
                                                it a new title through WRITE, then read it through READ at once:
                                                the new title or a failure
  checks.py ready URL                           URL/readyz answers 200 with every part ok; prints what it reports
"""

import base64
import json
import os
import secrets
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request


class CheckFailed(Exception):
    pass


def http(url, body=None, headers=None, timeout=10):
    """(status, text) of a GET (body None) or a POST; HTTP errors are answers too, not exceptions."""
    data = None if body is None else body.encode()
    request = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")


def graphql(base, query, variables=None, token=None):
    """The `data` of a GraphQL POST; a non-200 answer or any `errors` entry is a failure."""
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    body = json.dumps({"query": query, "variables": variables or {}})
    status, text = http(f"{base}/graphql", body, headers)
    if status != 200:
        raise CheckFailed(f"HTTP {status}: {text[:300]}")
    answer = json.loads(text)
    if answer.get("errors"):
        raise CheckFailed(f"GraphQL errors: {json.dumps(answer['errors'])[:300]}")
    return answer["data"]


SIGN_UP = """mutation ($name: String!, $email: String!, $password: String!) {
  signUp(input: { name: $name, email: $email, password: $password }) { accessToken user { id name } }
}"""
LOGIN = """mutation ($login: String!, $password: String!) {
  login(input: { login: $login, password: $password }) { accessToken user { id name } }
}"""
CATEGORIES = "{ categories { id name children { id name } } }"
CREATE_POST = """mutation ($categoryId: ID!, $title: String!, $content: String!) {
  createPost(input: { categoryId: $categoryId, title: $title, content: $content }) { post { id title } }
}"""
POST = "query ($id: ID!) { post(id: $id) { id title author { name } } }"
VOTE = "mutation ($id: ID!) { votePost(input: { postId: $id }) { post { id voteCount } } }"
UNVOTE = "mutation ($id: ID!) { unvotePost(input: { postId: $id }) { post { id voteCount } } }"


def sign_up(base, name, password):
    data = graphql(
        base, SIGN_UP, {"name": name, "email": f"{name}@example.com", "password": password}
    )
    return data["signUp"]


def a_category(base):
    """The id of a seeded leaf category."""
    for root in graphql(base, CATEGORIES)["categories"]:
        for child in root["children"]:
            return child["id"]
    raise CheckFailed("no seeded category")


def create_post(base, token, category, title):
    data = graphql(
        base, CREATE_POST, {"categoryId": category, "title": title, "content": "written by verify"}, token
    )
    return data["createPost"]["post"]


def cmd_signup(base, name, password):
    user = sign_up(base, name, password)["user"]
    print(user["id"])


def cmd_login(base, name, password, user_id):
    user = graphql(base, LOGIN, {"login": name, "password": password})["login"]["user"]
    if user["id"] != user_id:
        raise CheckFailed(f"logged in as {user['id']}, expected {user_id}")
    print(f"logged in as {user['name']} ({user['id']})", file=sys.stderr)


def cmd_write_read(base, reads):
    name = "verify_" + secrets.token_hex(4)
    auth = sign_up(base, name, "verify-" + secrets.token_hex(8))
    title = "through the proxy " + secrets.token_hex(4)
    post = create_post(base, auth["accessToken"], a_category(base), title)
    for i in range(int(reads)):
        seen = graphql(base, POST, {"id": post["id"]})["post"]
        if not seen or seen["title"] != title or seen["author"]["name"] != name:
            raise CheckFailed(f"read {i + 1} of post {post['id']} saw {seen!r}")
    print(f"wrote post {post['id']} as {name}, read it back {reads} times", file=sys.stderr)
    print(post["id"])


def cmd_failover(base, post_id, command):
    name = "verify_" + secrets.token_hex(4)
    token = sign_up(base, name, "verify-" + secrets.token_hex(8))["accessToken"]
    stop = threading.Event()
    done = []  # monotonic time at which each successful request finished
    failures = []
    counts = {"reads": 0, "writes": 0}

    def load():
        # Bounded: at most 20 000 requests and 90 s, one at a time.
        deadline = time.monotonic() + 90
        for i in range(20000):
            if stop.is_set() or time.monotonic() > deadline:
                return
            try:
                if i % 5 == 4:
                    # A vote and its withdrawal, in turn: a write every time, and none of the per-user limits
                    # on new posts and comments (creates_per_user) that a long run would reach.
                    vote = VOTE if i % 10 == 4 else UNVOTE
                    graphql(base, vote, {"id": post_id}, token)
                    counts["writes"] += 1
                else:
                    seen = graphql(base, POST, {"id": post_id})["post"]
                    if not seen or seen["id"] != post_id:
                        raise CheckFailed(f"post {post_id} read as {seen!r}")
                    counts["reads"] += 1
                done.append(time.monotonic())
            except Exception as error:  # noqa: BLE001 - every failure counts
                failures.append(f"request {i}: {error}")

    worker = threading.Thread(target=load)
    worker.start()
    time.sleep(2)
    started = time.monotonic()
    result = subprocess.run(command, check=False)
    ended = time.monotonic()
    time.sleep(3)
    stop.set()
    worker.join()
    before = sum(1 for t in done if t < started)
    during = sum(1 for t in done if started <= t <= ended)
    after = sum(1 for t in done if t > ended)
    print(
        f"{counts['reads']} reads and {counts['writes']} writes through the proxy: {before} before "
        f"`{' '.join(command)}`, {during} while it ran ({ended - started:.1f} s, exit {result.returncode}), "
        f"{after} after; {len(failures)} failed",
        file=sys.stderr,
    )
    if result.returncode != 0:
        raise CheckFailed(f"`{' '.join(command)}` exited {result.returncode}")
    if failures:
        raise CheckFailed("failed requests:\n  " + "\n  ".join(failures[:20]))
    if not (before and during and after):
        raise CheckFailed("the load did not cover the time before, during and after the command")


def prometheus_query(base, query):
    status, text = http(f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": query}))
    if status != 200:
        raise CheckFailed(f"Prometheus query {query!r}: HTTP {status}: {text[:300]}")
    return json.loads(text)["data"]["result"]


def cmd_prometheus(base, job, targets, timeout=120):
    wanted = set(targets.split(","))
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        up = {r["metric"]["instance"]: r["value"][1] for r in prometheus_query(base, f'up{{job="{job}"}}')}
        scraped = {
            r["metric"]["instance"]
            for r in prometheus_query(base, f'board_build_info{{job="{job}"}}')
        }
        last = (up, scraped)
        if set(up) == wanted and all(v == "1" for v in up.values()) and scraped == wanted:
            print(f"Prometheus: job {job} up on {sorted(wanted)}, board_build_info scraped from each", file=sys.stderr)
            return
        time.sleep(3)
    raise CheckFailed(f"Prometheus after {timeout} s: up={last[0]}, board_build_info from {sorted(last[1])}")


def cmd_wait_http(url, seconds):
    deadline = time.monotonic() + float(seconds)
    last = None
    while time.monotonic() < deadline:
        try:
            status, _ = http(url, timeout=3)
            if status == 200:
                return
            last = f"HTTP {status}"
        except OSError as error:
            last = str(error)
        time.sleep(1)
    raise CheckFailed(f"{url} did not answer 200 within {seconds} s (last: {last})")


class WebSocket:
    """The client side of RFC 6455, enough for graphql-ws text messages (standard library only)."""

    def __init__(self, base, path, protocol, timeout=10):
        url = urllib.parse.urlsplit(base)
        self.sock = socket.create_connection((url.hostname, url.port or 80), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        request = (
            f"GET {path} HTTP/1.1\r\nHost: {url.netloc}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: {protocol}\r\n\r\n"
        )
        self.sock.sendall(request.encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise CheckFailed(f"the upgrade was answered {head[:200]!r} and the connection closed")
            head += chunk
        head, self.pending = head.split(b"\r\n\r\n", 1)
        status = head.split(b"\r\n", 1)[0].decode(errors="replace")
        if " 101 " not in status + " ":
            raise CheckFailed(f"the upgrade through {base} was answered {status!r}")

    def _read(self, n):
        while len(self.pending) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise CheckFailed("the socket closed")
            self.pending += chunk
        data, self.pending = self.pending[:n], self.pending[n:]
        return data

    def send(self, message):
        payload = json.dumps(message).encode()
        mask = os.urandom(4)
        header = bytes([0x81])
        if len(payload) < 126:
            header += bytes([0x80 | len(payload)])
        else:
            header += bytes([0x80 | 126]) + struct.pack("!H", len(payload))
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(header + mask + masked)

    def receive(self):
        """The next graphql-ws message; answers its pings."""
        while True:
            first, second = self._read(2)
            length = second & 0x7F
            if length == 126:
                length = struct.unpack("!H", self._read(2))[0]
            elif length == 127:
                length = struct.unpack("!Q", self._read(8))[0]
            payload = self._read(length)
            opcode = first & 0x0F
            if opcode == 8:
                code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
                raise CheckFailed(f"closed by the server: {code} {payload[2:].decode(errors='replace')}")
            if opcode != 1:
                continue
            message = json.loads(payload)
            if message.get("type") == "ping":
                self.send({"type": "pong"})
                continue
            return message

    def close(self):
        self.sock.close()


CREATE_COMMENT = """mutation ($postId: ID!, $content: String!) {
  createComment(input: { postId: $postId, content: $content }) { comment { id } }
}"""


def cmd_subscribe(base, post_id, sockets):
    sockets = [WebSocket(base, "/graphql", "graphql-transport-ws") for _ in range(int(sockets))]
    for ws in sockets:
        ws.send({"type": "connection_init", "payload": {}})
        ack = ws.receive()
        if ack.get("type") != "connection_ack":
            raise CheckFailed(f"expected connection_ack, got {ack!r}")
        ws.send({
            "id": "1",
            "type": "subscribe",
            "payload": {
                "query": "subscription ($p: ID!) { commentAdded(postId: $p) { id content } }",
                "variables": {"p": post_id},
            },
        })
    # The subscriptions register asynchronously; give them a moment before the write.
    time.sleep(1)
    name = "verify_" + secrets.token_hex(4)
    auth = sign_up(base, name, "verify-" + secrets.token_hex(8))
    content = "heard everywhere " + secrets.token_hex(4)
    comment = graphql(base, CREATE_COMMENT, {"postId": post_id, "content": content}, auth["accessToken"])
    comment_id = comment["createComment"]["comment"]["id"]
    for i, ws in enumerate(sockets):
        message = ws.receive()
        seen = ((message.get("payload") or {}).get("data") or {}).get("commentAdded") or {}
        if message.get("type") != "next" or seen.get("id") != comment_id or seen.get("content") != content:
            raise CheckFailed(f"socket {i + 1} received {message!r}, expected comment {comment_id}")
        ws.close()
    print(f"comment {comment_id} reached all {len(sockets)} subscription sockets through the proxy", file=sys.stderr)


def cmd_author(base):
    name = "verify_" + secrets.token_hex(4)
    auth = sign_up(base, name, "verify-" + secrets.token_hex(8))
    post = create_post(base, auth["accessToken"], a_category(base), "first title " + secrets.token_hex(4))
    print(f"{auth['accessToken']} {post['id']}")


UPDATE_POST = """mutation ($postId: ID!, $title: String!) {
  updatePost(input: { postId: $postId, title: $title, content: "edited by verify" }) { post { id title } }
}"""


def cmd_edit_read(write, read, token, post_id):
    before = graphql(read, POST, {"id": post_id})["post"]
    title = "edited " + secrets.token_hex(4)
    edited = graphql(write, UPDATE_POST, {"postId": post_id, "title": title}, token)["updatePost"]["post"]
    if edited["title"] != title:
        raise CheckFailed(f"the edit through {write} answered {edited!r}")
    seen = graphql(read, POST, {"id": post_id})["post"]
    if not seen or seen["title"] != title:
        raise CheckFailed(f"{read} read {seen!r} right after {write} set the title {title!r} (stale)")
    print(
        f"post {post_id}: {read} read {before['title']!r}, {write} set {title!r}, {read} read it at once",
        file=sys.stderr,
    )


def cmd_ready(base):
    status, text = http(f"{base}/readyz")
    try:
        report = json.loads(text)
    except ValueError:
        raise CheckFailed(f"{base}/readyz answered {status}: {text[:300]}") from None
    parts = {name: part.get("status") for name, part in report.items() if isinstance(part, dict)}
    if status != 200 or report.get("status") != "ok" or any(v != "ok" for v in parts.values()):
        raise CheckFailed(f"{base}/readyz answered {status}: {text[:300]}")
    kinds = ", ".join(f"{name} {part.get('kind', '')} {part['status']}".replace("  ", " ")
                      for name, part in report.items() if isinstance(part, dict))
    print(f"{base}/readyz: ready ({kinds})")


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    name, args = argv[1], argv[2:]
    try:
        if name == "signup":
            cmd_signup(*args)
        elif name == "login":
            cmd_login(*args)
        elif name == "write-read":
            cmd_write_read(*args)
        elif name == "failover":
            split = args.index("--")
            cmd_failover(*args[:split], args[split + 1 :])
        elif name == "prometheus":
            cmd_prometheus(*args)
        elif name == "wait-http":
            cmd_wait_http(*args)
        elif name == "subscribe":
            cmd_subscribe(*args)
        elif name == "author":
            cmd_author(*args)
        elif name == "edit-read":
            cmd_edit_read(*args)
        elif name == "ready":
            cmd_ready(*args)
        else:
            print(__doc__, file=sys.stderr)
            return 2
    except CheckFailed as failure:
        print(f"check {name} failed: {failure}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
