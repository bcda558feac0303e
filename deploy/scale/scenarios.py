#!/usr/bin/env python3
"""Races requests through two `board serve` processes that write through different Galera nodes, and
checks what must hold. Started by deploy/scale/galera.sh, which brings up the cluster and the servers.

Python 3 standard library only: threads, http.client, barriers (so the requests of a round really leave
together), subprocess for the mariadb client that reads the ground truth from the nodes.

Scenarios (each also on the single MariaDB when --single-a/--single-b are given, for the latencies):
  a. 20 votes for one post at once, split across A and B: the stored count equals the acknowledged votes.
  b. 16 edits of one post at once across A and B: the versions are 1..16 without a gap, none lost.
  c. one new name signed up through A and B at once, ROUNDS rounds: one success, the other CONFLICT.
  d. ROUNDS rounds of opposite category moves (X under Y through A, Y under X through B): never both.
  e. read-your-writes: an edit through A read at once through B (and a vote read back likewise).
  f. node 3 SIGKILLed while a third server (C, through HAProxy) takes votes, unvotes and reads from 8
     members going round 20 posts: no failed request
     (a SERVICE_UNAVAILABLE is retried after its retryAfterSeconds, within a 10 s budget, as a client
     would), the stored counts and voter rows are what the acknowledged writes left; then node 3 rejoins
     and holds the same counts.
  g. a member's vote through A racing the member's category ban through B (rounds: ROUNDS / 5, at least
     10): the ban never fails, the vote is either counted (ordered first) or FORBIDDEN, the voter rows and
     the count agree with that answer on every node, and once the ban is acknowledged a vote through A is
     FORBIDDEN. Run before f.
  h. comments (top level and replies), deletions and posts at once through A and B (ROUNDS / 10 rounds,
     at least 3): every kept counter they moved equals its rows on every node (deploy/scale/counters.py).
     Run before f.
Exits 1 when an expectation fails.
"""

import argparse
import json
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections import Counter

import counters
from gql import (BAN, CREATE_CATEGORY, CREATE_POST, EDIT, LOGIN, MOVE, READ_POST, SIGN_UP, UNBAN, UNVOTE,
                 VIEWER, VOTE, Server, Sql, ms, patient, percentile, race, raw_id)


class Run:
    def __init__(self, label, a, b, args, admin, sql, tag):
        self.label, self.a, self.b, self.args, self.sql, self.tag = label, a, b, args, sql, tag
        self.failures = []
        self.rows = []  # summary rows: scenario, rounds, ok, codes, write p50, write p99
        self.tokens = {}
        prefix = admin.rsplit("-", 1)[0]
        for n in range(1, args.users + 1):
            name = f"{prefix}-{n}"
            data, code, _, _, message = patient(a, LOGIN, {"l": name, "p": args.password}, None)
            if code:
                raise SystemExit(f"{label}: login of {name} failed: {code} {message}")
            self.tokens[n] = data["login"]["accessToken"]
        admin_n = int(admin.rsplit("-", 1)[1])
        self.admin = self.tokens[admin_n]
        self.members = [self.tokens[n] for n in sorted(self.tokens) if n != admin_n]
        self.author = self.members[0]
        data, code, _, _, message = patient(
            a, CREATE_CATEGORY, {"n": f"scale-{tag}", "p": None}, self.admin)
        if code:
            raise SystemExit(f"{label}: createCategory failed: {code} {message}")
        self.category = data["createCategory"]["category"]["id"]

    def fail(self, what):
        self.failures.append(f"{self.label}: {what}")

    def row(self, scenario, rounds, ok, codes, latencies, note=""):
        self.rows.append({
            "run": self.label, "scenario": scenario, "rounds": rounds, "ok": ok,
            "codes": dict(codes), "p50_ms": percentile(latencies, 50), "p99_ms": percentile(latencies, 99),
            "note": note,
        })

    def new_post(self, title):
        data, code, _, _, message = patient(
            self.a, CREATE_POST, {"c": self.category, "t": title}, self.author)
        if code:
            raise SystemExit(f"{self.label}: createPost failed: {code} {message}")
        return data["createPost"]["post"]["id"]

    def server(self, i):
        return self.a if i % 2 == 0 else self.b

    # a. votes
    def votes(self, rounds=3, voters=20):
        codes, lat, ok_total = Counter(), [], 0
        for r in range(rounds):
            post = self.new_post(f"votes {r}")
            results = race([
                (lambda i=i: self.server(i).gql(VOTE, {"id": post}, self.members[1 + i]))
                for i in range(voters)
            ])
            ok = 0
            for i, (_, code, took, _) in enumerate(results):
                codes[code or "ok"] += 1
                lat.append(took)
                if code is None:
                    ok += 1
                elif code in ("SERVICE_UNAVAILABLE", "TRANSPORT"):
                    # The client tries again (idempotent: voting twice counts once).
                    _, code, _, _, _ = patient(self.server(i), VOTE, {"id": post}, self.members[1 + i])
                    ok += code is None
                if code == "INTERNAL":
                    self.fail(f"a. vote answered INTERNAL")
            ok_total += ok
            stored = [int(s.one(f"SELECT vote_count FROM post WHERE id = {raw_id(post)}")) for s in self.sql]
            rows = [int(s.one(f"SELECT COUNT(*) FROM voter_post WHERE post_id = {raw_id(post)}")) for s in self.sql]
            shown = [srv.gql(READ_POST, {"id": post})[0]["post"]["voteCount"] for srv in (self.a, self.b)]
            if ok != voters or any(v != voters for v in stored + rows + shown):
                self.fail(f"a. round {r}: {ok} acknowledged of {voters}, stored {stored}, voter rows {rows}, "
                          f"read through A/B {shown}")
        self.row("a. 20 votes, one post", rounds, ok_total, codes, lat, "count exact" if not self.failures else "")

    # b. edits
    def edits(self, rounds=2, editors=16):
        codes, lat, ok_total = Counter(), [], 0
        before = len(self.failures)
        for r in range(rounds):
            post = self.new_post(f"edits {r}")
            results = race([
                (lambda i=i: self.server(i).gql(EDIT, {"id": post, "t": f"edit {i}"}, self.author))
                for i in range(editors)
            ])
            versions = []
            for i, (data, code, took, _) in enumerate(results):
                codes[code or "ok"] += 1
                lat.append(took)
                if code in ("SERVICE_UNAVAILABLE", "TRANSPORT"):
                    data, code, _, _, _ = patient(self.server(i), EDIT, {"id": post, "t": f"edit {i}"}, self.author)
                if code is None:
                    versions.append(data["updatePost"]["post"]["version"])
                elif code == "INTERNAL":
                    self.fail("b. edit answered INTERNAL")
            ok_total += len(versions)
            stored = [int(v) for (v,) in self.sql[0].rows(
                f"SELECT version FROM post_content WHERE post_id = {raw_id(post)} ORDER BY version")]
            titles = {t for (t,) in self.sql[0].rows(
                f"SELECT title FROM post_content WHERE post_id = {raw_id(post)} AND version > 0")}
            # The payload shows the post as it is when the answer is read, which may be a later edit's version
            # (on one server too): judged are the stored versions, one per acknowledged edit, and its title.
            if len(versions) != editors or stored != list(range(0, editors + 1)) \
                    or titles != {f"edit {i}" for i in range(editors)}:
                self.fail(f"b. round {r}: {len(versions)} edits acknowledged, stored versions {stored}, "
                          f"{len(titles)} distinct titles")
        self.row("b. 16 edits, one post", rounds, ok_total, codes, lat,
                 "versions 1..16, gap-free" if len(self.failures) == before else "")

    # c. one name, two sign-ups
    def sign_ups(self, rounds):
        codes, lat, winners = Counter(), [], 0
        before = len(self.failures)
        for r in range(rounds):
            name = f"race{self.tag}x{r}"
            results = race([
                (lambda: self.a.gql(SIGN_UP, {"n": name, "e": f"{name}a@example.com", "p": "password-123"})),
                (lambda: self.b.gql(SIGN_UP, {"n": name, "e": f"{name}b@example.com", "p": "password-123"})),
            ])
            got = [code or "ok" for (_, code, _, _) in results]
            for (_, code, took, message) in results:
                codes[code or "ok"] += 1
                lat.append(took)
            stored = int(self.sql[0].one(f"SELECT COUNT(*) FROM `user` WHERE name = '{name}'"))
            winners += got.count("ok")
            if sorted(got) != ["CONFLICT", "ok"] or stored != 1:
                detail = [m for (_, c, _, m) in results if c]
                self.fail(f"c. round {r}: answers {got} {detail}, {stored} stored")
        self.row("c. one name, A and B at once", rounds, winners, codes, lat,
                 "one winner, loser CONFLICT" if len(self.failures) == before else "")

    # d. opposite moves
    def moves(self, rounds):
        x = self._category(f"x{self.tag}")
        y = self._category(f"y{self.tag}")
        codes, lat, both, accepted = Counter(), [], 0, 0
        for r in range(rounds):
            for c in (x, y):
                _, code, _, _, message = patient(self.a, MOVE, {"c": c, "p": None}, self.admin)
                if code:
                    raise SystemExit(f"{self.label}: d. reset failed: {code} {message}")
            results = race([
                (lambda: self.a.gql(MOVE, {"c": x, "p": y}, self.admin)),
                (lambda: self.b.gql(MOVE, {"c": y, "p": x}, self.admin)),
            ])
            got = [code or "ok" for (_, code, _, _) in results]
            for (_, code, took, _) in results:
                codes[code or "ok"] += 1
                lat.append(took)
            accepted += got.count("ok")
            parents = dict(self.sql[0].rows(
                f"SELECT id, COALESCE(parent_id, 0) FROM category WHERE id IN ({raw_id(x)}, {raw_id(y)})"))
            cycle = parents.get(str(raw_id(x))) == str(raw_id(y)) and parents.get(str(raw_id(y))) == str(raw_id(x))
            if got == ["ok", "ok"] or cycle:
                both += 1
                self.fail(f"d. round {r}: both moves accepted ({got}), stored parents {parents}")
            for code in got:
                if code not in ("ok", "CONFLICT", "BAD_USER_INPUT", "SERVICE_UNAVAILABLE"):
                    self.fail(f"d. round {r}: answered {code}")
        self.row("d. opposite category moves", rounds, accepted, codes, lat, f"{both} cycles")

    def _category(self, name):
        data, code, _, _, message = patient(self.a, CREATE_CATEGORY, {"n": name, "p": None}, self.admin)
        if code:
            raise SystemExit(f"{self.label}: createCategory failed: {code} {message}")
        return data["createCategory"]["category"]["id"]

    # e. read-your-writes across nodes
    def read_your_writes(self, rounds):
        post = self.new_post("ryw")
        stale, lat, codes, reads = 0, [], Counter(), []
        for r in range(rounds):
            title = f"ryw {r}"
            data, code, took, _, message = patient(self.a, EDIT, {"id": post, "t": title}, self.author)
            codes[code or "ok"] += 1
            lat.append(took)
            if code:
                self.fail(f"e. edit {r}: {code} {message}")
                continue
            version = data["updatePost"]["post"]["version"]
            for token in (self.author, None):
                data, code, took, _ = self.b.gql(READ_POST, {"id": post}, token)
                reads.append(took)
                if code or data["post"]["title"] != title or data["post"]["version"] != version:
                    stale += 1
        # A vote through A, read at once through B by the voter.
        for r, token in enumerate(self.members[1:1 + min(rounds, len(self.members) - 1)]):
            data, code, took, _, _ = patient(self.a, VOTE, {"id": post}, token)
            lat.append(took)
            codes[code or "ok"] += 1
            data, code, took, _ = self.b.gql(READ_POST, {"id": post}, token)
            reads.append(took)
            if code or not data["post"]["viewerHasVoted"] or data["post"]["voteCount"] != r + 1:
                stale += 1
        if stale:
            self.fail(f"e. {stale} reads through B did not see the write just acknowledged through A")
        self.row("e. write via A, read via B", rounds * 3, rounds * 3 - stale, codes, lat,
                 f"{stale} stale reads; read p50 {ms(percentile(reads, 50))} ms, p99 {ms(percentile(reads, 99))} ms")

    # g. a vote racing a ban of its voter, through the other node
    def ban_race(self, rounds=20):
        member = self.members[-1]
        data, code, _, _, message = patient(self.a, VIEWER, {}, member)
        if code:
            raise SystemExit(f"{self.label}: viewer failed: {code} {message}")
        user = data["viewer"]["id"]
        user_raw = raw_id(user)
        codes, lat = Counter(), []
        voted_first = refused = later_refused = 0
        for r in range(rounds):
            post = self.new_post(f"ban race {r}")
            results = race([
                lambda: self.b.gql(BAN, {"c": self.category, "u": user}, self.admin),
                lambda: self.a.gql(VOTE, {"id": post}, member),
            ])
            (_, ban_code, ban_took, ban_message), (_, vote_code, vote_took, _) = results
            lat += [ban_took, vote_took]
            if ban_code in ("SERVICE_UNAVAILABLE", "TRANSPORT"):
                _, ban_code, _, _, ban_message = patient(self.b, BAN, {"c": self.category, "u": user}, self.admin)
            if vote_code in ("SERVICE_UNAVAILABLE", "TRANSPORT"):
                _, vote_code, _, _, _ = patient(self.a, VOTE, {"id": post}, member)
            codes[f"ban {ban_code or 'ok'}"] += 1
            codes[f"vote {vote_code or 'ok'}"] += 1
            if ban_code:
                self.fail(f"g. round {r}: the ban answered {ban_code}: {ban_message}")
            if vote_code not in (None, "FORBIDDEN"):
                self.fail(f"g. round {r}: the vote answered {vote_code}")
            voted_first += vote_code is None
            refused += vote_code == "FORBIDDEN"
            # What is stored agrees with what was answered.
            for s in self.sql:
                rows = int(s.one(f"SELECT COUNT(*) FROM voter_post WHERE post_id = {raw_id(post)} AND user_id = {user_raw}"))
                count = int(s.one(f"SELECT vote_count FROM post WHERE id = {raw_id(post)}"))
                if rows != (vote_code is None) or count != rows:
                    self.fail(f"g. round {r}: vote answered {vote_code or 'ok'}, stored voter rows {rows}, count {count}")
            # Once the ban is acknowledged, a vote through the other node is refused.
            after = self.new_post(f"ban race {r}, after")
            _, code, took, _, _ = patient(self.a, VOTE, {"id": after}, member)
            lat.append(took)
            if code == "FORBIDDEN":
                later_refused += 1
            else:
                self.fail(f"g. round {r}: a vote after the acknowledged ban answered {code or 'ok'}")
            _, code, _, _, message = patient(self.a, UNBAN, {"c": self.category, "u": user}, self.admin)
            if code:
                self.fail(f"g. round {r}: unban failed: {code} {message}")
        self.row("g. vote via A racing a ban via B", rounds, rounds, codes, lat,
                 f"vote first {voted_first}, refused {refused}; after the ban {later_refused} of {rounds} refused")

    # f. a node killed under load through HAProxy
    def node_kill(self, c, seconds, pid_file, rejoin, sql3):
        posts = [self.new_post(f"load {k}") for k in range(20)]
        stop = threading.Event()
        lock = threading.Lock()
        voted = {}  # (worker, post) -> whether the last acknowledged write left a vote
        acked, failed, lat, codes, retried = [0], [], [], Counter(), [0]

        def worker(w):
            # Each worker is one member going round the posts, voting and taking the vote back in turn.
            token = self.members[1 + w]
            k = 0
            while not stop.is_set():
                post = posts[k % len(posts)]
                vote = not voted.get((w, post), False)
                stats = {}
                data, code, took, tries, message = patient(c, VOTE if vote else UNVOTE, {"id": post}, token, stats)
                with lock:
                    codes.update(stats["codes_seen"])
                    retried[0] += tries - 1
                    lat.append(took)
                    if code is None:
                        voted[(w, post)] = vote
                        acked[0] += 1
                    else:
                        failed.append(f"vote: {code} {message}")
                stats = {}
                data, code, took, tries, message = patient(c, READ_POST, {"id": post}, token, stats)
                with lock:
                    codes.update(stats["codes_seen"])
                    retried[0] += tries - 1
                    if code is not None:
                        failed.append(f"read: {code} {message}")
                k += 1
                time.sleep(0.01)

        workers = [threading.Thread(target=worker, args=(w,)) for w in range(8)]
        for t in workers:
            t.start()
        time.sleep(min(3.0, seconds / 3))
        with open(pid_file) as f:
            pid = int(f.read().strip())
        killed_at = time.monotonic()
        os.kill(pid, signal.SIGKILL)
        time.sleep(max(0.0, seconds - min(3.0, seconds / 3)))
        stop.set()
        for t in workers:
            t.join()
        # The survivors go on once they have evicted node 3.
        for _ in range(60):
            if self.sql[0].rows("SHOW STATUS LIKE 'wsrep_cluster_size'")[0][1] == "2":
                break
            time.sleep(0.5)
        ids = ", ".join(str(raw_id(p)) for p in posts)
        totals = []
        for s in self.sql:
            totals.append(int(s.one(f"SELECT COALESCE(SUM(vote_count), 0) FROM post WHERE id IN ({ids})")))
            rows = int(s.one(f"SELECT COUNT(*) FROM voter_post WHERE post_id IN ({ids})"))
            totals.append(rows)
        if failed:
            self.fail(f"f. {len(failed)} requests failed for the client: {failed[:3]}")
        expected = sum(1 for v in voted.values() if v)
        if any(t != expected for t in totals):
            apart = self.sql[0].rows(
                f"SELECT p.id, p.vote_count, (SELECT COUNT(*) FROM voter_post v WHERE v.post_id = p.id) AS voters "
                f"FROM post p WHERE p.id IN ({ids}) HAVING p.vote_count <> voters")
            self.fail(f"f. {acked[0]} votes and unvotes acknowledged leave {expected} votes; nodes 1 and 2 "
                      f"store (count, rows) {totals}; posts whose count is not their rows: {apart}")
        rejoin_secs = None
        if rejoin:
            t0 = time.monotonic()
            done = subprocess.run(shlex.split(rejoin), capture_output=True, text=True)
            rejoin_secs = time.monotonic() - t0
            if done.returncode != 0:
                self.fail(f"f. node 3 did not rejoin: {done.stderr[-500:]}")
            elif sql3:
                on3 = int(Sql(sql3, True).one(f"SELECT COALESCE(SUM(vote_count), 0) FROM post WHERE id IN ({ids})"))
                if on3 != expected:
                    self.fail(f"f. node 3 after rejoining stores {on3} votes, {expected} expected")
        note = (f"{acked[0]} acked writes leave {expected} votes, stored {totals[0]}; {retried[0]} client retries; "
                f"{len(failed)} failed; slowest vote {ms(max(lat) if lat else None)} ms" + (f"; node 3 rejoined in {rejoin_secs:.0f} s" if rejoin_secs else ""))
        self.row("f. node 3 SIGKILLed, load via HAProxy", acked[0] + len(failed), acked[0], codes, lat, note)


def print_rows(rows):
    print()
    print(f"{'run':<8} {'scenario':<38} {'rounds':>6} {'ok':>5}  {'write p50 ms':>12} {'p99 ms':>8}  codes / note")
    for r in rows:
        codes = " ".join(f"{k}={v}" for k, v in sorted(r["codes"].items()))
        print(f"{r['run']:<8} {r['scenario']:<38} {r['rounds']:>6} {r['ok']:>5}  {ms(r['p50_ms']):>12} "
              f"{ms(r['p99_ms']):>8}  {codes}  {r['note']}")


def main():
    p = argparse.ArgumentParser()
    for name in ("a", "b", "c", "admin", "password", "sql1", "sql2", "kill_pid_file"):
        p.add_argument("--" + name.replace("_", "-"), required=True)
    p.add_argument("--users", type=int, default=40)
    p.add_argument("--rounds", type=int, default=100)
    p.add_argument("--load-secs", type=float, default=15)
    p.add_argument("--rejoin")
    p.add_argument("--sql3")
    p.add_argument("--cluster-secs")
    p.add_argument("--summary")
    p.add_argument("--single-a")
    p.add_argument("--single-b")
    p.add_argument("--single-admin")
    p.add_argument("--single-sql")
    p.add_argument("--only", default="abcdefgh")
    p.add_argument("--vote-rounds", type=int, default=3)
    args = p.parse_args()
    tag = str(int(time.time()) % 100000)

    runs = []
    galera = Run("galera", Server(args.a, "A"), Server(args.b, "B"), args, args.admin,
                 [Sql(args.sql1, True), Sql(args.sql2, True)], tag)
    runs.append(galera)
    single = None
    if args.single_a:
        single = Run("single", Server(args.single_a, "SA"), Server(args.single_b, "SB"), args,
                     args.single_admin, [Sql(args.single_sql)], tag)
        runs.append(single)
    for run in runs:
        steps = {
            "a": lambda run=run: run.votes(args.vote_rounds), "b": run.edits,
            "c": lambda run=run: run.sign_ups(max(10, args.rounds // 3)),
            "d": lambda run=run: run.moves(args.rounds),
            "e": lambda run=run: run.read_your_writes(20),
            "g": lambda run=run: run.ban_race(max(10, args.rounds // 5)),
            "h": lambda run=run: counters.comment_counters(run, max(3, args.rounds // 10)),
        }
        for key, step in steps.items():
            if key in args.only:
                started = time.monotonic()
                step()
                print(f"[{run.label}] {key} done in {time.monotonic() - started:.1f} s", file=sys.stderr, flush=True)
    if "f" in args.only:
        galera.node_kill(Server(args.c, "C"), args.load_secs, args.kill_pid_file, args.rejoin, args.sql3)

    rows = [r for run in runs for r in run.rows]
    print_rows(rows)
    failures = [f for run in runs for f in run.failures]
    if args.summary:
        with open(args.summary, "w") as f:
            json.dump({"rows": rows, "failures": failures, "cluster_secs": args.cluster_secs}, f, indent=1)
    print()
    if failures:
        print(f"{len(failures)} expectation(s) failed:")
        for f in failures[:40]:
            print("  FAIL " + f)
        sys.exit(1)
    print("every expectation held")


if __name__ == "__main__":
    main()
