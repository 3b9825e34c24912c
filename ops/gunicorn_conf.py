"""gunicorn's settings for leadflow, read from the environment: what ``flask
serve`` starts, and what a supervisor runs on its own (README, ``Procfile``)::

    gunicorn -c python:ops.gunicorn_conf 'app:create_app()'

Only names gunicorn knows are settings; the underscored ones are helpers.
"""

import os

from ops.serve import DEFAULT_HOST, DEFAULT_PORT, DEFAULT_STOP_TIMEOUT, DEFAULT_WEB_WORKERS

_host = os.environ.get("HOST") or DEFAULT_HOST
_port = int(os.environ.get("PORT") or DEFAULT_PORT)

bind = [f"[{_host}]:{_port}" if ":" in _host else f"{_host}:{_port}"]
workers = int(os.environ.get("WEB_CONCURRENCY") or DEFAULT_WEB_WORKERS)
# The sync worker ignores keep-alive (one request per connection); gthread keeps
# idle connections in its poller, so a browser or a proxy reuses them.
worker_class = "gthread"
threads = int(os.environ.get("WEB_THREADS") or 4)
# Seconds an idle connection stays open. Behind a reverse proxy that reuses
# upstream connections, set it above the proxy's idle timeout (nginx: 60 s), so
# gunicorn never closes one the proxy is about to send on (a 502).
keepalive = int(os.environ.get("KEEP_ALIVE") or 5)
# SIGTERM: requests in flight get this long to finish (``flask serve --stop-timeout``)
graceful_timeout = int(os.environ.get("STOP_TIMEOUT") or DEFAULT_STOP_TIMEOUT)
timeout = 60  # a worker silent for this long is killed and replaced
control_socket_disable = True  # gunicorn 25+ listens on ~/.gunicorn/gunicorn.ctl by default: one path for every install of the host
