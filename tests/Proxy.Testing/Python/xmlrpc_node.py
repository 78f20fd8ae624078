#!/usr/bin/env python3
"""A backend node on Python's own xmlrpc.server, as operators run them: `ping` answers the node's
name; while overloaded, every call raises Fault(1007) (written by xmlrpc.server as <int>1007</int>,
gzip-encoded when longer than 1,400 bytes and the client accepts gzip). `fail` raises Fault(4) whose
faultString mentions the overload words. Prints "ready <port>" once listening on 127.0.0.1.
With NODE_TLS_CERT and NODE_TLS_KEY (PEM files) it serves HTTPS with Python's own ssl module; with
NODE_TLS_CLIENT_CA too, it requires a client certificate issued by that CA (mutual TLS). With
NODE_ENCODING it writes its answers in that Python codec, named so in their XML declaration."""
import os, ssl, sys
from xmlrpc.server import SimpleXMLRPCServer, SimpleXMLRPCRequestHandler
from xmlrpc.client import Fault

name, port = sys.argv[1], int(sys.argv[2])
state = {"overloaded": False, "fault_length": 20}


class Quiet(SimpleXMLRPCRequestHandler):
    def log_message(self, *args):
        pass


def overloaded_check():
    if state["overloaded"]:
        raise Fault(1007, ("server overloaded " * (state["fault_length"] // 18 + 1))[: state["fault_length"]])


def ping():
    overloaded_check()
    return name


def long_answer(size):
    overloaded_check()
    return name + ":" + "x" * size


def fail():
    raise Fault(4, "bad argument: faultCode value i4 1007 i4")


def set_overloaded(on, fault_length=20):
    state["overloaded"] = bool(on)
    state["fault_length"] = int(fault_length)
    return True


server = SimpleXMLRPCServer(("127.0.0.1", port), requestHandler=Quiet, logRequests=False, allow_none=True, encoding=os.environ.get("NODE_ENCODING") or None)
for function in (ping, long_answer, fail):
    server.register_function(function)
server.register_function(set_overloaded)
if os.environ.get("NODE_TLS_CERT"):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(os.environ["NODE_TLS_CERT"], os.environ["NODE_TLS_KEY"])
    if os.environ.get("NODE_TLS_CLIENT_CA"):
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(os.environ["NODE_TLS_CLIENT_CA"])
    server.socket = context.wrap_socket(server.socket, server_side=True)
print(f"ready {server.server_address[1]}", flush=True)
server.serve_forever()
