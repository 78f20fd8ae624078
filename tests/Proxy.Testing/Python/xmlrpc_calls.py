#!/usr/bin/env python3
"""A client on Python's own xmlrpc.client: makes COUNT calls of METHOD (with integer ARGS) at URL
and prints one JSON line per call: {"result": ...} or {"fault": code, "faultString": ...} or
{"error": ...}. xmlrpc.client sends Accept-Encoding: gzip and decodes gzip answers itself.
An https:// URL is verified against the PEM bundle CLIENT_CA_FILE names (else the system store).
With CALL_THREADS=N the calls are made from N threads at once, each thread on its own connection."""
import concurrent.futures, json, os, ssl, sys, threading, xmlrpc.client

url, method, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
args = [int(a) for a in sys.argv[4:]]
context = ssl.create_default_context(cafile=os.environ.get("CLIENT_CA_FILE")) if url.startswith("https:") else None
local = threading.local()


def call(_):
    if not hasattr(local, "proxy"):
        local.proxy = xmlrpc.client.ServerProxy(url, context=context)
    try:
        result = getattr(local.proxy, method)(*args)
        return json.dumps({"result": result if len(str(result)) < 200 else str(result)[:200]})
    except xmlrpc.client.Fault as fault:
        return json.dumps({"fault": fault.faultCode, "faultString": fault.faultString[:200]})
    except Exception as ex:  # a protocol error, a refused connection: reported, not raised
        return json.dumps({"error": f"{type(ex).__name__}: {ex}"})


threads = int(os.environ.get("CALL_THREADS", "1"))
with concurrent.futures.ThreadPoolExecutor(threads) as pool:
    for line in pool.map(call, range(count)):
        print(line, flush=True)
