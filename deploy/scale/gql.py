"""What the scale scenarios share: a GraphQL client per `board serve`, a client's patient retry, a
barrier race, the mariadb client that reads the ground truth, and the operations they send.
Python 3 standard library only."""

import base64
import http.client
import json
import shlex
import subprocess
import threading
import time
import urllib.parse
from collections import Counter

BUDGET_SECS = 10.0  # a client's patience for one operation, retries included


def b64id(kind, n):
    return base64.b64encode(f"{kind}:{n}".encode()).decode()


def raw_id(gid):
    return int(base64.b64decode(gid).decode().split(":")[1])


class Server:
    """One `board serve`; one HTTP connection per thread."""

    def __init__(self, url, name):
        parsed = urllib.parse.urlparse(url)
        self.host, self.port, self.name = parsed.hostname, parsed.port, name
        self.local = threading.local()

    def _conn(self):
        conn = getattr(self.local, "conn", None)
        if conn is None:
            conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
            self.local.conn = conn
        return conn

    def gql(self, query, variables=None, token=None):
        """(data, error code or None, seconds). A transport failure is the code 'TRANSPORT'."""
        body = json.dumps({"query": query, "variables": variables or {}})
        headers = {"content-type": "application/json"}
        if token:
            headers["authorization"] = f"Bearer {token}"
        started = time.monotonic()
        try:
            conn = self._conn()
            conn.request("POST", "/graphql", body, headers)
            answer = conn.getresponse()
            payload = json.loads(answer.read() or b"{}")
        except (OSError, http.client.HTTPException, ValueError) as err:
            self.local.conn = None
            return None, "TRANSPORT", time.monotonic() - started, str(err)
        took = time.monotonic() - started
        errors = payload.get("errors")
        if errors:
            ext = errors[0].get("extensions") or {}
            return payload.get("data"), ext.get("code", "NO_CODE"), took, errors[0].get("message")
        return payload.get("data"), None, took, None


def patient(server, query, variables, token, stats=None):
    """Sends until an answer that is not SERVICE_UNAVAILABLE or a transport failure, within the budget,
    waiting retryAfterSeconds (at most 1 s) in between. Returns (data, code, first try's seconds, tries)."""
    deadline = time.monotonic() + BUDGET_SECS
    tries = 0
    first = None
    while True:
        tries += 1
        data, code, took, message = server.gql(query, variables, token)
        if first is None:
            first = took
        if stats is not None:
            stats.setdefault("codes_seen", Counter())[code or "ok"] += 1
        if code not in ("SERVICE_UNAVAILABLE", "TRANSPORT") or time.monotonic() > deadline:
            return data, code, first, tries, message
        time.sleep(0.2 if code == "TRANSPORT" else 1.0)


def percentile(values, p):
    if not values:
        return None
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, int(round(p / 100 * (len(ordered) - 1)))))
    return ordered[k]


def ms(v):
    return "-" if v is None else f"{v * 1000:.1f}"


def race(calls):
    """Runs every callable in its own thread, released together by a barrier; returns their results."""
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def run(i, call):
        barrier.wait()
        results[i] = call()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


class Sql:
    """The mariadb client on one node; on a Galera node each read first waits until the node has applied
    every write the cluster committed before it (wsrep_sync_wait), so it reads the cluster's truth."""

    def __init__(self, command, causal=False):
        self.argv = shlex.split(command)
        self.prefix = "SET SESSION wsrep_sync_wait = 1; " if causal else ""

    def rows(self, statement):
        out = subprocess.run(self.argv + ["-e", self.prefix + statement], check=True, capture_output=True,
                             text=True)
        return [line.split("\t") for line in out.stdout.splitlines() if line]

    def one(self, statement):
        rows = self.rows(statement)
        return rows[0][0] if rows else None


LOGIN = "mutation($l: String!, $p: String!) { login(input: {login: $l, password: $p}) { accessToken user { id } } }"
SIGN_UP = "mutation($n: String!, $e: String!, $p: String!) { signUp(input: {name: $n, email: $e, password: $p}) { user { id } } }"
CREATE_CATEGORY = "mutation($n: String!, $p: ID) { createCategory(input: {name: $n, parentId: $p}) { category { id } } }"
MOVE = "mutation($c: ID!, $p: ID) { updateCategory(input: {categoryId: $c, parentId: $p}) { category { id parent { id } } } }"
CREATE_POST = "mutation($c: ID!, $t: String!) { createPost(input: {categoryId: $c, title: $t, content: \"content\"}) { post { id } } }"
EDIT = "mutation($id: ID!, $t: String!) { updatePost(input: {postId: $id, title: $t, content: \"edited\"}) { post { version } } }"
VOTE = "mutation($id: ID!) { votePost(input: {postId: $id}) { post { voteCount } } }"
UNVOTE = "mutation($id: ID!) { unvotePost(input: {postId: $id}) { post { voteCount } } }"
BAN = "mutation($c: ID!, $u: ID!) { banFromCategory(input: {categoryId: $c, userId: $u, reason: \"scale\"}) { ban { reason } } }"
UNBAN = "mutation($c: ID!, $u: ID!) { unbanFromCategory(input: {categoryId: $c, userId: $u}) { success } }"
VIEWER = "{ viewer { id } }"
READ_POST = "query($id: ID!) { post(id: $id) { title version voteCount viewerHasVoted revisions { version title } } }"
