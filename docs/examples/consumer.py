#!/usr/bin/env python3
"""Follow Roster's change feed: keep a copy of every user and group, act on each deactivation,
and never miss a change, across restarts of either side (docs/consumer.md explains why each
step is there).

    python docs/examples/consumer.py http://127.0.0.1:8080 "$ROSTER_API_KEY" --state copy.json

The first run reads the state (``/api/v1/users``, ``/api/v1/groups`` and their members), then
follows ``/api/v1/events`` from the ``seq`` that read carried, long-polling. Every handled event
moves the cursor, saved in the state file with the copy, so a restart goes on from there.
``--once`` stops once it has caught up. Standard library only.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path


class Gone(Exception):
    """410: the cursor is older than what the feed keeps; read the state again."""


class Roster:
    """GETs against the application API with an API key; waits out 429 and 503."""

    def __init__(self, base_url: str, key: str):
        self.base = base_url.rstrip("/")
        self.headers = {"Authorization": f"Bearer {key}", "Accept": "application/json"}

    def get(self, path: str) -> dict:
        while True:
            request = urllib.request.Request(self.base + path, headers=self.headers)
            try:
                with urllib.request.urlopen(request, timeout=60) as response:
                    return json.load(response)
            except urllib.error.HTTPError as error:
                if error.code == 410:
                    raise Gone(json.load(error)["detail"]) from None
                if error.code not in (429, 503):
                    raise
                time.sleep(int(error.headers.get("Retry-After", "1")))

    def pages(self, path: str, seqs: list[int]):
        """Yield every item of a list, page by page; note each page's ``seq``."""
        cursor = None
        while True:
            query = f"?limit=500&cursor={cursor}" if cursor else "?limit=500"
            page = self.get(path + query)
            seqs.append(page["seq"])
            yield from page["data"]
            cursor = page["next_cursor"]
            if not page["has_more"]:
                return


def read_state(api: Roster) -> dict:
    """Read every user and group. Each list answer's ``seq`` was taken before its data: the
    feed followed from the smallest one misses nothing, and its events that the read already
    reflects are those whose version the read saw (``known``), which ``handle`` drops."""
    seqs: list[int] = []
    users, groups, known = {}, {}, {}
    for user in api.pages("/api/v1/users", seqs):
        users[user["id"]] = {"username": user["username"], "active": user["active"]}
        known[user["id"]] = user["scim"]["meta"]["version"]
    for group in api.pages("/api/v1/groups", seqs):
        members = api.pages(f"/api/v1/groups/{group['id']}/members", seqs)
        groups[group["id"]] = {"name": group["name"], "members": sorted(m["id"] for m in members)}
        known[group["id"]] = group["scim"]["meta"]["version"]
    return {"cursor": min(seqs), "users": users, "groups": groups, "known": known}


def handle(state: dict, event: dict) -> None:
    """Apply one event to the copy (and act on it: here, say who lost access)."""
    rid, kind = event["resource"]["id"], event["type"]
    if state["known"].get(rid) == event["resource"]["version"]:
        return  # the state read already had this version
    data = event["data"]
    if kind == "user.deactivated":
        print(f"deactivated {data['username']}", flush=True)  # revoke sessions here
    if kind == "user.deleted":
        state["users"].pop(rid, None)
    elif kind.startswith("user."):
        state["users"][rid] = {"username": data["username"], "active": data["active"]}
    elif kind == "group.deleted":
        state["groups"].pop(rid, None)
    else:
        group = state["groups"].setdefault(rid, {"name": data["name"], "members": []})
        group["name"] = data["name"]
        members = set(group["members"])
        if kind == "group.members_added":
            members |= set(event["member_ids"])
        elif kind == "group.members_removed":
            members -= set(event["member_ids"])
        group["members"] = sorted(members)


def save(path: Path, state: dict) -> None:
    """Write the state file whole or not at all (a crash leaves the previous one)."""
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(state))
    os.replace(temporary, path)


def follow(api: Roster, path: Path, once: bool) -> None:
    state = json.loads(path.read_text()) if path.exists() else None
    wait = 0 if once else 25  # seconds an empty answer waits for the next event
    while True:
        if state is None:
            state = read_state(api)
            save(path, state)
            print(f"read the state; following the feed from {state['cursor']}", flush=True)
        try:
            page = api.get(f"/api/v1/events?after={state['cursor']}&limit=100&wait={wait}")
        except Gone as gone:
            print(f"re-reading the state: {gone}", file=sys.stderr)
            state = None
            continue
        for event in page["data"]:
            handle(state, event)
            state["cursor"] = event["seq"]
            save(path, state)  # handled, then remembered: a crash repeats at most this one
        state["cursor"] = page["next_after"]
        save(path, state)
        if once and not page["has_more"] and not page["data"]:
            return


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Follow Roster's change feed.")
    parser.add_argument("base_url", help="Roster's URL, e.g. https://roster.example.com")
    parser.add_argument("key", help="an API key (flask --app app apikey create --name NAME)")
    parser.add_argument("--state", default="roster-copy.json", help="the state file")
    parser.add_argument("--once", action="store_true", help="stop once caught up")
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C: the state file is whole
        follow(Roster(args.base_url, args.key), Path(args.state), args.once)
    return 0


if __name__ == "__main__":
    sys.exit(main())
