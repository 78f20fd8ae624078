#!/usr/bin/env python3
"""A client on Python's own xmlrpc.client: makes COUNT calls of METHOD (with integer ARGS) at URL
and prints one JSON line per call: {"result": ...} or {"fault": code, "faultString": ...} or
{"error": ...}. xmlrpc.client sends Accept-Encoding: gzip and decodes gzip answers itself.
An https:// URL is verified against the PEM bundle CLIENT_CA_FILE names (else the system store)."""
import json, os, ssl, sys, xmlrpc.client

url, method, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
args = [int(a) for a in sys.argv[4:]]
context = ssl.create_default_context(cafile=os.environ.get("CLIENT_CA_FILE")) if url.startswith("https:") else None
proxy = xmlrpc.client.ServerProxy(url, context=context)
for _ in range(count):
    try:
        result = getattr(proxy, method)(*args)
        print(json.dumps({"result": result if len(str(result)) < 200 else str(result)[:200]}), flush=True)
    except xmlrpc.client.Fault as fault:
        print(json.dumps({"fault": fault.faultCode, "faultString": fault.faultString[:200]}), flush=True)
    except Exception as ex:  # a protocol error, a refused connection: reported, not raised
        print(json.dumps({"error": f"{type(ex).__name__}: {ex}"}), flush=True)
