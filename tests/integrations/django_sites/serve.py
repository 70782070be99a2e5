"""Run one of the test Django sites in this process: ``python -m
tests.integrations.django_sites.serve <site> <dir>``.

Migrates its SQLite database in ``<dir>`` (copied from ``<dir>/../<site>-template.sqlite3``
when that exists, which is much faster than migrating), runs the site's ``setup()``,
serves it with a threading WSGI server on 127.0.0.1 and a free port, and prints one
JSON line ``{"url": ...}``. Then it reads JSON commands from stdin, one per line
(``{"cmd": "add_user", "args": {...}}``), runs the site's fixture command of that name
and prints ``{"ok": result}`` or ``{"error": text}``. Stdin closing stops the server.
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import sys
import threading
import traceback
from pathlib import Path
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        sys.stderr.write(f"{self.address_string()} {format % args}\n")


def main() -> None:
    site, folder = sys.argv[1], Path(sys.argv[2])
    folder.mkdir(parents=True, exist_ok=True)
    os.environ["CLEARPANE_DJANGO_DIR"] = str(folder)
    os.environ["DJANGO_SETTINGS_MODULE"] = f"tests.integrations.django_sites.{site}.settings"
    template = Path(os.environ.get("CLEARPANE_DJANGO_TEMPLATE", "/nonexistent"))
    if template.is_file() and not (folder / "db.sqlite3").exists():
        shutil.copyfile(template, folder / "db.sqlite3")
    import django
    from django.core.handlers.wsgi import WSGIHandler
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0, interactive=False)
    commands = importlib.import_module(f"tests.integrations.django_sites.{site}.commands")
    commands.setup()
    server = make_server(
        "127.0.0.1", 0, WSGIHandler(), server_class=_Server, handler_class=_QuietHandler
    )
    port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(json.dumps({"url": f"http://127.0.0.1:{port}"}), flush=True)
    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        try:
            result = getattr(commands, request["cmd"])(**request.get("args", {}))
            print(json.dumps({"ok": result}), flush=True)
        except Exception:  # the test sees the traceback as the command's answer
            print(json.dumps({"error": traceback.format_exc()}), flush=True)
    server.shutdown()


if __name__ == "__main__":
    main()
