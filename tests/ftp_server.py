"""An anonymous, read-only FTP server for tests (pyftpdlib), bound to 127.0.0.1.

    with FtpServer(root) as server:
        server.url("pxelinux.cfg/default")    # ftp://127.0.0.1:PORT/pxelinux.cfg/default

Passive mode only, as busybox wget uses it; busybox connects the data channel to the
control connection's host (it ignores the address in the PASV reply), so a QEMU guest
reaching the host as 10.0.2.2 works although the server announces 127.0.0.1.
"""

from __future__ import annotations

import threading
from pathlib import Path
from types import TracebackType

from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import FTPHandler
from pyftpdlib.servers import FTPServer


class FtpServer:
    def __init__(self, root: Path) -> None:
        authorizer = DummyAuthorizer()
        authorizer.add_anonymous(str(root.resolve()))  # read-only permissions
        handler = type("Handler", (FTPHandler,), {"authorizer": authorizer,
                                                  "log_prefix": ""})
        self._server = FTPServer(("127.0.0.1", 0), handler)
        self.port = self._server.socket.getsockname()[1]
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"timeout": 0.2, "blocking": True},
                                        daemon=True)

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"ftp://{host}:{self.port}/{path.lstrip('/')}"

    def __enter__(self) -> FtpServer:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self._server.close_all()
