"""Scenario h of deploy/scale/scenarios.py: comments, deletions and posts raced through two nodes, then
every kept counter they moved compared with the rows it counts, on every node (docs/galera.md, "Counters").
"""

from collections import Counter

from gql import CREATE_POST, patient, race, raw_id

CREATE_COMMENT = ("mutation($p: ID!, $c: String!, $r: ID) { createComment(input: {postId: $p, content: $c, "
                  "parentId: $r}) { comment { id } } }")
DELETE_COMMENT = "mutation($id: ID!) { deleteComment(input: {commentId: $id}) { deletedId } }"

# Each counter beside the rows it counts, for the rows of one post ({post}) and one category ({category}).
APART = {
    "post.comment_count / top_comment_count":
        "SELECT p.id, p.comment_count, p.top_comment_count, "
        "(SELECT COUNT(*) FROM comment c WHERE c.post_id = p.id AND c.is_active), "
        "(SELECT COUNT(*) FROM comment c WHERE c.post_id = p.id AND c.is_active AND c.depth = 0) "
        "FROM post p WHERE p.id = {post}",
    "comment.reply_count":
        "SELECT c.id, c.reply_count, (SELECT COUNT(*) FROM comment r WHERE r.parent_id = c.id AND r.is_active) "
        "FROM comment c WHERE c.post_id = {post}",
    "user.comment_count / post_count":
        "SELECT u.id, u.comment_count, u.post_count, "
        "(SELECT COUNT(*) FROM comment c WHERE c.user_id = u.id AND c.is_active), "
        "(SELECT COUNT(*) FROM post p WHERE p.user_id = u.id AND p.is_active) "
        "FROM `user` u WHERE u.id IN (SELECT user_id FROM comment WHERE post_id = {post})",
    "category.post_count":
        "SELECT g.id, g.post_count, (SELECT COUNT(*) FROM post p WHERE p.category_id = g.id AND p.is_active) "
        "FROM category g WHERE g.id = {category}",
}


def apart(sql, post, category):
    """The rows whose counters are not what they count: (counter, row) pairs."""
    found = []
    for name, statement in APART.items():
        for row in sql.rows(statement.format(post=post, category=category)):
            values = [int(v) for v in row[1:]]
            half = len(values) // 2
            if values[:half] != values[half:]:
                found.append((name, row))
    return found


def comment_counters(run, rounds, deletions=6, posters=4):
    """Per round: a new post, its author's first comment and `deletions` more; then at once, alternately
    through A and B, every other member comments (even: top level, odd: a reply to the first comment),
    the author deletes the `deletions` comments, and `posters` members post in the run's category. Then on
    every node each counter those writes moved equals its rows, and the live comments are what the
    acknowledged writes left."""
    codes, lat, acked = Counter(), [], 0
    before = len(run.failures)
    writers = run.members[1:]
    for r in range(rounds):
        post = run.new_post(f"counters {r}")
        firsts = []
        for n in range(1 + deletions):
            data, code, _, _, message = patient(
                run.a, CREATE_COMMENT, {"p": post, "c": f"first {n}", "r": None}, run.author)
            if code:
                raise SystemExit(f"{run.label}: createComment failed: {code} {message}")
            firsts.append(data["createComment"]["comment"]["id"])
        head, doomed = firsts[0], firsts[1:]
        calls = [(CREATE_COMMENT, {"p": post, "c": f"race {r} {i}", "r": head if i % 2 else None}, token)
                 for i, token in enumerate(writers)]
        calls += [(DELETE_COMMENT, {"id": c}, run.author) for c in doomed]
        calls += [(CREATE_POST, {"c": run.category, "t": f"counters {r} {i}"}, writers[i])
                  for i in range(min(posters, len(writers)))]
        results = race([
            (lambda i=i, call=call: run.server(i).gql(*call)) for i, call in enumerate(calls)
        ])
        created = deleted = 0
        for i, ((query, variables, token), (_, code, took, _)) in enumerate(zip(calls, results)):
            codes[code or "ok"] += 1
            lat.append(took)
            if code == "SERVICE_UNAVAILABLE":
                # Not committed: the client tries again.
                _, code, _, _, _ = patient(run.server(i), query, variables, token)
            if code == "INTERNAL" or code == "TRANSPORT":
                run.fail(f"h. round {r}: a write answered {code}")
            if code is None:
                acked += 1
                created += query == CREATE_COMMENT
                deleted += query == DELETE_COMMENT
        expected = 1 + deletions + created - deleted
        for sql in run.sql:
            live = int(sql.one(f"SELECT COUNT(*) FROM comment WHERE post_id = {raw_id(post)} AND is_active"))
            wrong = apart(sql, raw_id(post), raw_id(run.category))
            if live != expected or wrong:
                run.fail(f"h. round {r}: {created} comments and {deleted} deletions acknowledged leave "
                         f"{expected} live, {live} stored; counters apart from their rows: {wrong}")
    run.row("h. comments, deletions, posts at once", rounds, acked, codes, lat,
            "every counter its rows" if len(run.failures) == before else "")
