"""The ceiling: a bare Flask endpoint under waitress, with Roster's thread count.

``python bench/hello.py --port N`` serves ``/hello`` (GET and POST; a POST body is read) until
killed. The benchmark drives it with the same client as Roster, so every Roster throughput
can be printed as a fraction of what Flask + waitress manage with no work at all."""

from __future__ import annotations

import argparse

from flask import Flask, request
from waitress import serve


def create_app() -> Flask:
    app = Flask(__name__)

    @app.route("/hello", methods=["GET", "POST"])
    def hello():
        request.get_data()
        return "hello"

    return app


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    print("serving", flush=True)
    serve(create_app(), host="127.0.0.1", port=args.port, threads=args.threads, ident="hello")
