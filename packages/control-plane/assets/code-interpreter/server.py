#!/usr/bin/env python3
"""The code interpreter of Wrenn's `code-interpreter` template: the HTTP API that the
@e2b/code-interpreter package calls on port 49999, in front of Jupyter kernels.

  GET    /health                 200 once the server listens (kernels start on first use)
  POST   /execute                {code, context_id?, language?, env_vars?} -> NDJSON stream of
                                 {"type": "stdout"|"stderr", "text"}, {"type": "result", ...formats,
                                 "is_main_result"}, {"type": "error", "name", "value", "traceback"},
                                 {"type": "number_of_executions", "execution_count"}
  GET    /contexts               [{id, language, cwd}]
  POST   /contexts               {language?, cwd?} -> {id, language, cwd}
  DELETE /contexts/{id}
  POST   /contexts/{id}/restart

Only Python kernels (Debian's python3-ipykernel). State lives in the kernel, so a variable
set in one call is there in the next call to the same context.
"""
import json
import os
import queue
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT = int(os.environ.get("WRENN_CODE_INTERPRETER_PORT", "49999"))
DEFAULT_CWD = os.path.expanduser("~") if os.path.isdir(os.path.expanduser("~")) else "/"
LANGUAGES = {"python", "python3", ""}
# MIME types of Jupyter display data -> the field names @e2b/code-interpreter reads.
FORMATS = {
    "text/plain": "text",
    "text/html": "html",
    "text/markdown": "markdown",
    "image/svg+xml": "svg",
    "image/png": "png",
    "image/jpeg": "jpeg",
    "application/pdf": "pdf",
    "text/latex": "latex",
    "application/json": "json",
    "application/javascript": "javascript",
}


class Context:
    def __init__(self, cwd):
        self.id = str(uuid.uuid4())
        self.cwd = cwd or DEFAULT_CWD
        self.lock = threading.Lock()
        self.km = None
        self.kc = None

    def view(self):
        return {"id": self.id, "language": "python", "cwd": self.cwd}

    def start(self):
        # Imported on first use: the server itself starts in well under a second.
        from jupyter_client import KernelManager

        env = dict(os.environ)
        env.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
        self.km = KernelManager(kernel_name="python3")
        self.km.start_kernel(cwd=self.cwd, env=env)
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=120)
        # Figures are shown as PNG when a cell ends, as in a notebook.
        self.run_silent("try:\n    import matplotlib\n    matplotlib.use('module://matplotlib_inline.backend_inline')\nexcept Exception:\n    pass\n")

    def ensure(self):
        if self.kc is None:
            self.start()

    def run_silent(self, code):
        msg_id = self.kc.execute(code, silent=True, store_history=False)
        while True:
            msg = self.kc.get_iopub_msg(timeout=300)
            if msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                return

    def shutdown(self):
        if self.kc is not None:
            try:
                self.kc.stop_channels()
                self.km.shutdown_kernel(now=True)
            except Exception:
                pass
        self.kc = None
        self.km = None

    def execute(self, code, env_vars, emit):
        with self.lock:
            self.ensure()
            if env_vars:
                self.run_silent("import os as __wrenn_os\n__wrenn_os.environ.update(%s)\ndel __wrenn_os\n" % json.dumps({str(k): str(v) for k, v in env_vars.items()}))
            msg_id = self.kc.execute(code, store_history=True)
            while True:
                try:
                    msg = self.kc.get_iopub_msg(timeout=3600)
                except queue.Empty:
                    emit({"type": "error", "name": "TimeoutError", "value": "the kernel did not answer", "traceback": ""})
                    return
                if msg["parent_header"].get("msg_id") != msg_id:
                    continue
                kind, content = msg["msg_type"], msg["content"]
                if kind == "stream":
                    emit({"type": "stdout" if content["name"] == "stdout" else "stderr", "text": content["text"]})
                elif kind in ("execute_result", "display_data"):
                    out = {"type": "result", "is_main_result": kind == "execute_result"}
                    for mime, value in content.get("data", {}).items():
                        out[FORMATS.get(mime, mime)] = value
                    emit(out)
                elif kind == "error":
                    emit({"type": "error", "name": content["ename"], "value": content["evalue"], "traceback": "\n".join(content["traceback"])})
                elif kind == "execute_input":
                    emit({"type": "number_of_executions", "execution_count": content.get("execution_count")})
                elif kind == "status" and content["execution_state"] == "idle":
                    return


contexts = {}
contexts_lock = threading.Lock()
default_context = Context(DEFAULT_CWD)


class Handler(BaseHTTPRequestHandler):
    server_version = "wrenn-code-interpreter"

    def log_message(self, fmt, *args):
        pass

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n == 0:
            return {}
        data = json.loads(self.rfile.read(n) or b"{}")
        if not isinstance(data, dict):
            raise ValueError("the body must be a JSON object")
        return data

    def answer(self, status, value=None):
        data = b"" if value is None else json.dumps(value).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def fail(self, status, message):
        self.answer(status, {"error": message})

    def path_parts(self):
        return [p for p in self.path.split("?", 1)[0].split("/") if p]

    def do_GET(self):
        parts = self.path_parts()
        if parts == ["health"]:
            return self.answer(200, "OK")
        if parts == ["contexts"]:
            with contexts_lock:
                return self.answer(200, [c.view() for c in contexts.values()])
        self.fail(404, "not found")

    def do_DELETE(self):
        parts = self.path_parts()
        if len(parts) == 2 and parts[0] == "contexts":
            with contexts_lock:
                ctx = contexts.pop(parts[1], None)
            if ctx is None:
                return self.fail(404, "context %s not found" % parts[1])
            ctx.shutdown()
            return self.answer(204)
        self.fail(404, "not found")

    def do_POST(self):
        parts = self.path_parts()
        try:
            req = self.body()
        except ValueError as e:
            return self.fail(400, str(e))
        if parts == ["contexts"]:
            if (req.get("language") or "") not in LANGUAGES:
                return self.fail(400, "language %r is not supported here: only python" % req.get("language"))
            ctx = Context(req.get("cwd"))
            ctx.ensure()
            with contexts_lock:
                contexts[ctx.id] = ctx
            return self.answer(200, ctx.view())
        if len(parts) == 3 and parts[0] == "contexts" and parts[2] == "restart":
            with contexts_lock:
                ctx = contexts.get(parts[1])
            if ctx is None:
                return self.fail(404, "context %s not found" % parts[1])
            with ctx.lock:
                ctx.shutdown()
                ctx.start()
            return self.answer(204)
        if parts == ["execute"]:
            return self.execute(req)
        self.fail(404, "not found")

    def execute(self, req):
        code = req.get("code")
        if not isinstance(code, str):
            return self.fail(400, "code must be a string")
        if req.get("context_id"):
            with contexts_lock:
                ctx = contexts.get(req["context_id"])
            if ctx is None:
                return self.fail(404, "context %s not found" % req["context_id"])
        else:
            if (req.get("language") or "") not in LANGUAGES:
                return self.fail(400, "language %r is not supported here: only python" % req.get("language"))
            ctx = default_context
        # Streamed as lines; the end of the response (connection close) ends the execution.
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.send_header("Connection", "close")
        self.end_headers()

        def emit(obj):
            self.wfile.write((json.dumps(obj) + "\n").encode())
            self.wfile.flush()

        try:
            ctx.execute(code, req.get("env_vars") or {}, emit)
        except (BrokenPipeError, ConnectionResetError):
            pass
        except Exception as e:  # the kernel could not start or died: said on the stream
            try:
                emit({"type": "error", "name": type(e).__name__, "value": str(e), "traceback": ""})
            except Exception:
                pass
        self.close_connection = True


def main():
    server = ThreadingHTTPServer(("0.0.0.0", PORT), Handler)
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
