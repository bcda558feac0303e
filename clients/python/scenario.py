"""Python's `gql` against a live board: its default WebSocket transport (graphql-transport-ws, schema fetched
over the socket), queries, mutations and a subscription on one socket, and errors as gql reports them.

    python clients/python/scenario.py      # BOARD_BIN names the binary (default: target/debug/board)
"""

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

from gql import Client, gql
from gql.transport.aiohttp import AIOHTTPTransport
from gql.transport.exceptions import TransportQueryError
from gql.transport.websockets import WebsocketsTransport

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_board():
    """`board serve` on SQLite in a directory of its own; answers (process, base URL, directory)."""
    binary = os.environ.get("BOARD_BIN", str(ROOT / "target" / "debug" / "board"))
    directory = tempfile.mkdtemp(prefix="board-gql-")
    port = free_port()
    env = dict(
        os.environ,
        DATABASE_URL=f"sqlite://{directory}/board.db",
        BOARD_BIND=f"127.0.0.1:{port}",
        RUST_LOG=os.environ.get("RUST_LOG", "warn"),
    )
    process = subprocess.Popen([binary, "serve"], env=env)
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        if process.poll() is not None:
            raise SystemExit(f"board exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=1):
                return process, base, directory
        except OSError:
            time.sleep(0.1)
    raise SystemExit("board did not come up")


def check(condition: bool, what: str) -> None:
    if not condition:
        raise SystemExit(f"FAILED: {what}")
    print(f"ok - {what}")


async def scenario(base: str) -> None:
    ws_url = base.replace("http://", "ws://") + "/graphql"
    name = f"파이썬{uuid.uuid4().hex[:6]}"

    # 1. The default WebSocket transport, schema fetched over the socket: every operation runs on it.
    anonymous = WebsocketsTransport(url=ws_url)
    async with Client(transport=anonymous, fetch_schema_from_transport=True) as session:
        check(anonymous.subprotocol == "graphql-transport-ws", "the socket speaks graphql-transport-ws")
        check(session.client.schema is not None, "the schema came over the socket")
        tree = await session.execute(gql("{ categories { id name children { id name } } }"))
        check(len(tree["categories"]) >= 1, "a query over the socket")
        signed = await session.execute(
            gql(
                "mutation($i: SignUpInput!) { signUp(input: $i) { accessToken user { name } } }"
            ),
            variable_values={
                "i": {"name": name, "email": f"{uuid.uuid4().hex[:8]}@example.com", "password": "correct horse"}
            },
        )
        check(signed["signUp"]["user"]["name"] == name, "a mutation over the socket (a Hangul name)")
        token = signed["signUp"]["accessToken"]
        try:
            await session.execute(gql("query($n: Int!) { posts(first: $n) { totalCount } }"), variable_values={"n": -1})
            check(False, "a bad argument is refused")
        except TransportQueryError as error:
            code = (error.errors or [{}])[0].get("extensions", {}).get("code")
            check(code == "BAD_USER_INPUT", f"a bad argument is refused with a code ({code})")

    category = tree["categories"][0]["id"]

    # 2. Signed in over the socket (connection_init payload): a subscription and a mutation side by side.
    member = WebsocketsTransport(url=ws_url, init_payload={"Authorization": f"Bearer {token}"})
    http = AIOHTTPTransport(url=base + "/graphql", headers={"Authorization": f"Bearer {token}"})
    async with Client(transport=member) as socket_session, Client(transport=http) as http_session:
        added = socket_session.subscribe(
            gql("subscription($c: ID) { postAdded(categoryId: $c) { title author { name } } }"),
            variable_values={"c": category},
        )
        first = asyncio.ensure_future(added.__anext__())
        await asyncio.sleep(0.5)
        viewer = await socket_session.execute(gql("{ viewer { name } }"))
        check(viewer["viewer"]["name"] == name, "the socket's credentials sign its queries in")
        await http_session.execute(
            gql("mutation($i: CreatePostInput!) { createPost(input: $i) { post { id } } }"),
            variable_values={"i": {"categoryId": category, "title": "gql에서 hello", "content": "본문"}},
        )
        event = await asyncio.wait_for(first, timeout=30)
        check(event["postAdded"]["title"] == "gql에서 hello", "the subscription heard the post made over HTTP")
        check(event["postAdded"]["author"]["name"] == name, "with its author")


def main() -> None:
    process, base, directory = start_board()
    try:
        asyncio.run(scenario(base))
    finally:
        process.terminate()
        process.wait(timeout=30)
        shutil.rmtree(directory, ignore_errors=True)
    print("python gql scenario: passed")


if __name__ == "__main__":
    sys.exit(main())
