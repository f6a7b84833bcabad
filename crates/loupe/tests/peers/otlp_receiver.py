"""An OTLP receiver built on the official `opentelemetry-proto` Python package.

It decodes what Loupe's exporters send (gRPC, HTTP/protobuf, HTTP/JSON) with the official
generated message classes and prints one JSON line per request, so the Rust tests can
assert on what an independent implementation understood.

Usage: otlp_receiver.py grpc|http [--fail-first N] [--fail-status S] [--retry-after SECS]
                                  [--reject N] [--tls CERT KEY [--client-ca CA]]
                                  [--json-path PATH STATUS]
With --tls the receiver serves TLS with that certificate and key (Python's `ssl`, or
grpcio's own TLS); with --client-ca it also requires a client certificate issued by CA and
reports the client's common name with each request.
With --json-path, HTTP POSTs to PATH (a non-OTLP JSON API, such as Zipkin's
`/api/v2/spans`) are answered with STATUS and printed as a `json` event with the parsed
body, so the same TLS server can check the other HTTP exporters.
The first line printed is `PORT <n>`; then one JSON object per received request.
"""

import argparse
import base64
import gzip
import json
import ssl
import sys
import threading
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from google.protobuf import json_format
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

LOCK = threading.Lock()
STATE = {"seen": 0}


def emit(obj):
    with LOCK:
        sys.stdout.write(json.dumps(obj, sort_keys=True) + "\n")
        sys.stdout.flush()


def any_value(v):
    kind = v.WhichOneof("value")
    if kind == "array_value":
        return [any_value(x) for x in v.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: any_value(kv.value) for kv in v.kvlist_value.values}
    if kind == "bytes_value":
        return base64.b64encode(v.bytes_value).decode()
    if kind is None:
        return None
    return getattr(v, kind)


def attrs(kvs):
    return {kv.key: any_value(kv.value) for kv in kvs}


def scope(s):
    return {"name": s.name, "version": s.version, "attributes": attrs(s.attributes)}


def summarize_traces(req):
    out = []
    for rs in req.resource_spans:
        for ss in rs.scope_spans:
            for sp in ss.spans:
                out.append(
                    {
                        "resource": attrs(rs.resource.attributes),
                        "scope": scope(ss.scope),
                        "trace_id": sp.trace_id.hex(),
                        "span_id": sp.span_id.hex(),
                        "parent_span_id": sp.parent_span_id.hex(),
                        "trace_state": sp.trace_state,
                        "flags": sp.flags,
                        "name": sp.name,
                        "kind": sp.kind,
                        "start": sp.start_time_unix_nano,
                        "end": sp.end_time_unix_nano,
                        "attributes": attrs(sp.attributes),
                        "dropped_attributes_count": sp.dropped_attributes_count,
                        "events": [
                            {"name": e.name, "time": e.time_unix_nano, "attributes": attrs(e.attributes)}
                            for e in sp.events
                        ],
                        "links": [
                            {"trace_id": l.trace_id.hex(), "span_id": l.span_id.hex(),
                             "attributes": attrs(l.attributes)}
                            for l in sp.links
                        ],
                        "status": {"code": sp.status.code, "message": sp.status.message},
                    }
                )
    return {"signal": "traces", "spans": out}


def summarize_logs(req):
    out = []
    for rl in req.resource_logs:
        for sl in rl.scope_logs:
            for r in sl.log_records:
                kind = r.body.WhichOneof("value")
                out.append({
                    "resource": attrs(rl.resource.attributes),
                    "scope": scope(sl.scope),
                    "time": r.time_unix_nano,
                    "observed_time": r.observed_time_unix_nano,
                    "severity_number": r.severity_number,
                    "severity_text": r.severity_text,
                    "body": any_value(r.body) if kind else None,
                    "attributes": attrs(r.attributes),
                    "trace_id": r.trace_id.hex(),
                    "span_id": r.span_id.hex(),
                    "flags": r.flags,
                    "event_name": r.event_name,
                })
    return {"signal": "logs", "records": out}


def number(p):
    return p.as_int if p.WhichOneof("value") == "as_int" else p.as_double


def summarize_metrics(req):
    out = []
    for rm in req.resource_metrics:
        for sm in rm.scope_metrics:
            for m in sm.metrics:
                kind = m.WhichOneof("data")
                entry = {
                    "resource": attrs(rm.resource.attributes),
                    "scope": scope(sm.scope),
                    "name": m.name,
                    "unit": m.unit,
                    "description": m.description,
                    "type": kind,
                }
                data = getattr(m, kind)
                if kind in ("sum", "histogram", "exponential_histogram"):
                    entry["temporality"] = data.aggregation_temporality
                if kind == "sum":
                    entry["monotonic"] = data.is_monotonic
                points = []
                for p in data.data_points:
                    point = {"attributes": attrs(p.attributes)}
                    if kind in ("sum", "gauge"):
                        point["value"] = number(p)
                    elif kind == "histogram":
                        point.update(count=p.count, sum=p.sum, bounds=list(p.explicit_bounds),
                                     buckets=list(p.bucket_counts))
                    else:
                        point.update(count=p.count, sum=p.sum, scale=p.scale,
                                     zero_count=p.zero_count,
                                     positive_offset=p.positive.offset,
                                     positive=list(p.positive.bucket_counts))
                    points.append(point)
                entry["points"] = points
                out.append(entry)
    return {"signal": "metrics", "metrics": out}


# Per signal: request class, response class, summary, the partial-success rejected field.
SIGNALS = {
    "traces": (trace_service_pb2.ExportTraceServiceRequest,
               trace_service_pb2.ExportTraceServiceResponse,
               lambda r: summarize_traces(r), "rejected_spans"),
    "metrics": (metrics_service_pb2.ExportMetricsServiceRequest,
                metrics_service_pb2.ExportMetricsServiceResponse,
                lambda r: summarize_metrics(r), "rejected_data_points"),
    "logs": (logs_service_pb2.ExportLogsServiceRequest,
             logs_service_pb2.ExportLogsServiceResponse,
             lambda r: summarize_logs(r), "rejected_log_records"),
}


def response_for(signal, args):
    """The Export response, with the partial success --reject asks for."""
    _, response_cls, _, rejected_field = SIGNALS[signal]
    resp = response_cls()
    if args.reject:
        setattr(resp.partial_success, rejected_field, args.reject)
        resp.partial_success.error_message = "too old"
    return resp


HEX_FIELDS = ("traceId", "spanId", "parentSpanId")


def hex_to_base64(node):
    """OTLP/JSON writes ids as hex; protobuf's JSON mapping expects base64."""
    if isinstance(node, dict):
        for k, v in node.items():
            if k in HEX_FIELDS and isinstance(v, str):
                node[k] = base64.b64encode(bytes.fromhex(v)).decode()
            else:
                hex_to_base64(v)
    elif isinstance(node, list):
        for v in node:
            hex_to_base64(v)


def decide(args):
    """Returns a failure status for this request, or None to accept it."""
    with LOCK:
        STATE["seen"] += 1
        n = STATE["seen"]
    if n <= args.fail_first:
        return args.fail_status
    return None


def make_http_handler(args):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_POST(self):
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            encoding = self.headers.get("Content-Encoding", "")
            ctype = self.headers.get("Content-Type", "")
            failure = decide(args)
            emit({"event": "request", "path": self.path, "content_type": ctype,
                  "content_encoding": encoding, "failed_with": failure,
                  "api_key": self.headers.get("api-key"),
                  "client_cn": http_client_cn(self.connection)})
            if failure is not None:
                self.send_response(failure)
                if args.retry_after is not None:
                    self.send_header("Retry-After", str(args.retry_after))
                msg = b"injected failure"
                self.send_header("Content-Length", str(len(msg)))
                self.end_headers()
                self.wfile.write(msg)
                return
            if encoding == "gzip":
                body = gzip.decompress(body)
            if args.json_path and self.path == args.json_path[0]:
                emit({"event": "json", "path": self.path, "body": json.loads(body),
                      "client_cn": http_client_cn(self.connection)})
                self.send_response(int(args.json_path[1]))
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            signal = self.path[len("/v1/"):] if self.path.startswith("/v1/") else None
            if signal not in SIGNALS:
                self.send_response(404)
                self.end_headers()
                return
            req = SIGNALS[signal][0]()
            resp = response_for(signal, args)
            summarize = SIGNALS[signal][2]
            try:
                if ctype.startswith("application/json"):
                    doc = json.loads(body)
                    hex_to_base64(doc)
                    json_format.ParseDict(doc, req)
                    payload = json_format.MessageToJson(resp).encode()
                    out_type = "application/json"
                else:
                    req.ParseFromString(body)
                    payload = resp.SerializeToString()
                    out_type = "application/x-protobuf"
            except Exception as e:  # a decoding failure is what the test must see
                emit({"event": "decode_error", "error": str(e)})
                self.send_response(400)
                self.end_headers()
                return
            emit({"event": "decoded", **summarize(req)})
            self.send_response(200)
            self.send_header("Content-Type", out_type)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    return Handler


def http_client_cn(conn):
    """The common name of the TLS client's certificate, if it presented one."""
    peer = conn.getpeercert() if isinstance(conn, ssl.SSLSocket) else None
    for rdn in (peer or {}).get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                return value
    return None


def grpc_client_cn(context):
    names = context.auth_context().get("x509_common_name") or []
    return names[0].decode() if names else None


def read(path):
    with open(path, "rb") as f:
        return f.read()


def serve_grpc(args):
    import grpc
    from opentelemetry.proto.collector.logs.v1 import logs_service_pb2_grpc
    from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2_grpc
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc

    def check(context):
        failure = decide(args)
        md = dict(context.invocation_metadata())
        emit({"event": "request", "path": "grpc", "failed_with": failure,
              "api_key": md.get("api-key"), "content_encoding": md.get("grpc-encoding"),
              "client_cn": grpc_client_cn(context)})
        if failure is not None:
            context.abort(failure_code(failure), "injected failure")

    def servicer(base, signal):
        class Servicer(base):
            def Export(self, request, context):
                check(context)
                emit({"event": "decoded", **SIGNALS[signal][2](request)})
                return response_for(signal, args)
        return Servicer()

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(
        servicer(trace_service_pb2_grpc.TraceServiceServicer, "traces"), server)
    metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(
        servicer(metrics_service_pb2_grpc.MetricsServiceServicer, "metrics"), server)
    logs_service_pb2_grpc.add_LogsServiceServicer_to_server(
        servicer(logs_service_pb2_grpc.LogsServiceServicer, "logs"), server)
    if args.tls:
        cert, key = args.tls
        creds = grpc.ssl_server_credentials(
            [(read(key), read(cert))],
            root_certificates=read(args.client_ca) if args.client_ca else None,
            require_client_auth=bool(args.client_ca))
        port = server.add_secure_port(f"127.0.0.1:{args.port}", creds)
    else:
        port = server.add_insecure_port(f"127.0.0.1:{args.port}")
    server.start()
    emit_port(port)
    server.wait_for_termination()


def failure_code(http_like):
    """Maps --fail-status to a gRPC status: 503 → UNAVAILABLE, 400 → INVALID_ARGUMENT."""
    import grpc
    table = {503: grpc.StatusCode.UNAVAILABLE, 400: grpc.StatusCode.INVALID_ARGUMENT,
             429: grpc.StatusCode.RESOURCE_EXHAUSTED}
    return table.get(http_like, grpc.StatusCode.UNAVAILABLE)


def emit_port(port):
    with LOCK:
        sys.stdout.write(f"PORT {port}\n")
        sys.stdout.flush()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["grpc", "http"])
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--fail-first", type=int, default=0)
    p.add_argument("--fail-status", type=int, default=503)
    p.add_argument("--retry-after", type=int, default=None)
    p.add_argument("--reject", type=int, default=0)
    p.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"), default=None)
    p.add_argument("--client-ca", default=None)
    p.add_argument("--json-path", nargs=2, metavar=("PATH", "STATUS"), default=None)
    args = p.parse_args()
    if args.mode == "grpc":
        serve_grpc(args)
        return
    server = ThreadingHTTPServer(("127.0.0.1", args.port), make_http_handler(args))
    if args.tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(*args.tls)
        if args.client_ca:
            ctx.verify_mode = ssl.CERT_REQUIRED
            ctx.load_verify_locations(args.client_ca)
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
    emit_port(server.server_address[1])
    server.serve_forever()


if __name__ == "__main__":
    main()
