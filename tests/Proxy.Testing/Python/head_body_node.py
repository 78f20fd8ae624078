#!/usr/bin/env python3
"""A keep-alive HTTP/1.1 node that breaks the protocol after HEAD: it sends a body, and that body is
a whole HTTP answer ("STOLEN"), which a proxy reusing the connection would hand to the next client.
GET answers its own path. Prints "ready <port>" once listening on 127.0.0.1."""
import sys
from http.server import ThreadingHTTPServer, BaseHTTPRequestHandler


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def handle(self):
        try:
            super().handle()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the proxy closed a connection it will not reuse

    def do_HEAD(self):
        fake = b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nSTOLEN"
        self.send_response(200)
        self.send_header("Content-Length", str(len(fake)))
        self.end_headers()
        self.wfile.write(fake)

    def do_GET(self):
        body = self.path.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
print(f"ready {server.server_address[1]}", flush=True)
server.serve_forever()
