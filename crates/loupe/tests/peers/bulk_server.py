"""A small Elasticsearch stand-in that speaks the `_bulk` protocol strictly.

It validates each bulk request as Elasticsearch does (NDJSON content type, an action line
followed by a source line, every line newline-terminated), stores the documents per index,
and answers like Elasticsearch: `{"took", "errors", "items": [{"index": {"_index", "_id",
"status", "result"}}]}`. Stored documents can be read back with `GET /<index>/_count` and
`GET /<index>/_search` (the index may be a comma-separated list with `*` wildcards, or
`_all`), and `GET /_cat/indices?format=json` lists the indices.

Faults, for testing clients:
  --unavailable-first N    answer the first N bulk requests 503 (with `Retry-After: 0`)
  --api-key KEY            require `Authorization: ApiKey KEY`, else 401
A document whose `fields.fault` is `throttle-once` is answered 429 the first time it is
seen (keyed by its `fields.seq`) and stored when sent again; one whose `fields.fault` is
`reject` is answered 400 `mapper_parsing_exception` every time.

  --tls CERT KEY           serve HTTPS with this certificate and key (Python's `ssl`)

Usage: bulk_server.py [--unavailable-first N] [--api-key KEY] [--tls CERT KEY]
Prints `PORT <n>` first, then one JSON line per bulk request:
`{"bulk": <items>, "statuses": [...], "status": <http status>, "content_type": ...}`.
"""

import argparse
import fnmatch
import json
import ssl
import sys
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

LOCK = threading.Lock()
INDICES = {}  # index name -> list of (id, source)
THROTTLED = set()  # seq values already answered 429 once
STATE = {"bulk_requests": 0}
ARGS = None


def emit(obj):
    with LOCK:
        sys.stdout.write(json.dumps(obj, sort_keys=True) + "\n")
        sys.stdout.flush()


class BadRequest(Exception):
    pass


def parse_bulk(body):
    """Returns [(action, meta, source)] or raises BadRequest like Elasticsearch would."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as e:
        raise BadRequest(f"body is not UTF-8: {e}")
    if not text:
        raise BadRequest("request body is required")
    if not text.endswith("\n"):
        raise BadRequest("The bulk request must be terminated by a newline [\\n]")
    lines = text[:-1].split("\n")
    ops = []
    i = 0
    while i < len(lines):
        try:
            action_line = json.loads(lines[i])
        except ValueError as e:
            raise BadRequest(f"line {i + 1}: action is not JSON: {e}")
        if not isinstance(action_line, dict) or len(action_line) != 1:
            raise BadRequest(f"line {i + 1}: Malformed action/metadata line, expected a single action")
        (action, meta), = action_line.items()
        if action not in ("index", "create"):
            raise BadRequest(f"line {i + 1}: Unsupported action [{action}]")
        if not isinstance(meta, dict) or not isinstance(meta.get("_index"), str):
            raise BadRequest(f"line {i + 1}: action has no _index")
        if i + 1 >= len(lines):
            raise BadRequest(f"line {i + 1}: action without a source line")
        try:
            source = json.loads(lines[i + 1])
        except ValueError as e:
            raise BadRequest(f"line {i + 2}: source is not JSON: {e}")
        if not isinstance(source, dict):
            raise BadRequest(f"line {i + 2}: source is not an object")
        ops.append((action, meta, source))
        i += 2
    return ops


def matching_indices(expr):
    names = sorted(INDICES)
    if expr in ("_all", "*"):
        return names
    out = []
    for part in expr.split(","):
        out.extend(n for n in names if fnmatch.fnmatchcase(n, part) and n not in out)
    return out


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *_):
        pass

    def reply(self, status, obj, headers=()):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def error(self, status, kind, reason, headers=()):
        self.reply(status, {"error": {"type": kind, "reason": reason}, "status": status}, headers)

    def authorized(self):
        if ARGS.api_key is None:
            return True
        if self.headers.get("Authorization") == f"ApiKey {ARGS.api_key}":
            return True
        self.error(401, "security_exception", "missing authentication credentials for REST request [/_bulk]")
        return False

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        path = urlsplit(self.path).path
        if path != "/_bulk":
            return self.error(404, "no_handler", f"no handler for POST {path}")
        content_type = self.headers.get("Content-Type", "")
        report = {"bulk": 0, "statuses": [], "content_type": content_type}
        with LOCK:
            STATE["bulk_requests"] += 1
            n = STATE["bulk_requests"]
        if not self.authorized():
            report["status"] = 401
            return emit(report)
        if n <= ARGS.unavailable_first:
            report["status"] = 503
            emit(report)
            return self.error(503, "unavailable_shards_exception", "try again", [("Retry-After", "0")])
        if content_type.split(";")[0].strip() != "application/x-ndjson":
            report["status"] = 406
            emit(report)
            return self.error(
                406, "illegal_argument_exception", f"Content-Type header [{content_type}] is not supported"
            )
        try:
            ops = parse_bulk(body)
        except BadRequest as e:
            report["status"] = 400
            report["reason"] = str(e)
            emit(report)
            return self.error(400, "illegal_argument_exception", str(e))
        items = []
        errors = False
        with LOCK:
            for action, meta, source in ops:
                index = meta["_index"]
                fields = source.get("fields", {}) if isinstance(source.get("fields"), dict) else {}
                fault = fields.get("fault")
                seq = fields.get("seq")
                doc_id = uuid.uuid4().hex[:20]
                item = {"_index": index, "_id": doc_id}
                if fault == "throttle-once" and seq not in THROTTLED:
                    THROTTLED.add(seq)
                    item.update(
                        status=429,
                        error={"type": "es_rejected_execution_exception", "reason": "rejected execution (queue full)"},
                    )
                    errors = True
                elif fault == "reject":
                    item.update(
                        status=400,
                        error={
                            "type": "document_parsing_exception",
                            "reason": "[1:2] failed to parse field [fields.fault]",
                        },
                    )
                    errors = True
                else:
                    INDICES.setdefault(index, []).append((doc_id, source))
                    item.update(status=201, result="created", _version=1)
                items.append({action: item})
        report.update(bulk=len(ops), statuses=[next(iter(i.values()))["status"] for i in items], status=200)
        emit(report)
        self.reply(200, {"took": 1, "errors": errors, "items": items})

    def do_GET(self):
        parts = urlsplit(self.path)
        segments = [s for s in parts.path.split("/") if s]
        query = parse_qs(parts.query)
        with LOCK:
            if segments == ["_cat", "indices"]:
                rows = [{"index": n, "docs.count": str(len(d))} for n, d in sorted(INDICES.items())]
                if query.get("format") == ["json"]:
                    return self.reply(200, rows)
                return self.error(400, "illegal_argument_exception", "only format=json is served")
            if len(segments) == 2 and segments[1] in ("_count", "_search"):
                names = matching_indices(segments[0])
                if not names and "*" not in segments[0] and segments[0] != "_all":
                    return self.error(404, "index_not_found_exception", f"no such index [{segments[0]}]")
                docs = [(n, i, s) for n in names for (i, s) in INDICES[n]]
                if segments[1] == "_count":
                    return self.reply(200, {"count": len(docs), "_shards": {"total": 1, "successful": 1}})
                hits = [{"_index": n, "_id": i, "_score": 1.0, "_source": s} for (n, i, s) in docs]
                return self.reply(
                    200,
                    {
                        "took": 1,
                        "timed_out": False,
                        "hits": {"total": {"value": len(hits), "relation": "eq"}, "hits": hits},
                    },
                )
        self.error(404, "no_handler", f"no handler for GET {parts.path}")


def main():
    global ARGS
    parser = argparse.ArgumentParser()
    parser.add_argument("--unavailable-first", type=int, default=0)
    parser.add_argument("--api-key", default=None)
    parser.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"), default=None)
    ARGS = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    if ARGS.tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(*ARGS.tls)
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
    server.daemon_threads = True
    print(f"PORT {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
