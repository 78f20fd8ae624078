# Sets standard output non-blocking, as some supervisors leave it, then runs the command given in
# its place: writes to a full pipe then fail with EAGAIN instead of waiting for the reader.
import fcntl
import os
import sys

fcntl.fcntl(1, fcntl.F_SETFL, fcntl.fcntl(1, fcntl.F_GETFL) | os.O_NONBLOCK)
os.execvp(sys.argv[1], sys.argv[1:])
