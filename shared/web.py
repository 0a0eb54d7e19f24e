"""nameko's HTTP entrypoint, except that routing errors (unknown path, wrong method, a path
parameter of the wrong type) answer application/problem+json like every other error."""
from __future__ import annotations

import json

from nameko.web.handlers import HttpRequestHandler
from nameko.web.server import WebServer, WsgiApp
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Request, Response

from shared.observability import lifecycle

ROUTING_MESSAGES = {
    404: ("ไม่พบที่อยู่นี้", "no such resource"),
    405: ("ไม่รองรับวิธีเรียกนี้ที่ที่อยู่นี้", "method not allowed here"),
}


class ProblemWsgiApp(WsgiApp):
    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO") == "/health" and not lifecycle.serving():
            return self._not_serving(environ, start_response)
        request = Request(environ, shallow=True)
        adapter = self.url_map.bind_to_environ(environ)
        try:
            provider, values = adapter.match()
            request.path_values = values
            response = provider.handle_request(request)
        except HTTPException as exc:
            message_th, message_en = ROUTING_MESSAGES.get(exc.code, ("คำขอไม่ถูกต้อง", exc.name.lower()))
            body = {"type": f"urn:thongthin:problem:http_{exc.code}", "title": message_en, "status": exc.code,
                    "code": f"http_{exc.code}", "field": "path", "message_th": message_th,
                    "message_en": message_en, "detail": f"{message_th} / {message_en}"}
            response = Response(json.dumps(body, ensure_ascii=False), status=exc.code,
                                content_type="application/problem+json; charset=utf-8")
            for name, value in exc.get_headers(environ):
                if name.lower() == "allow":
                    response.headers[name] = value
        return response(environ, start_response)


    def _not_serving(self, environ, start_response):
        """503 at once while the process starts or stops: no worker, no database, no wait."""
        body = {"service": self.server.container.service_name, "status": lifecycle.state(),
                "for_s": round(lifecycle.seconds_in_state(), 1)}
        response = Response(json.dumps(body), status=503, content_type="application/json; charset=utf-8",
                            headers={"Retry-After": "1"})
        return response(environ, start_response)


class ProblemWebServer(WebServer):
    def get_wsgi_app(self):
        return ProblemWsgiApp(self)


class HttpEntrypoint(HttpRequestHandler):
    server = ProblemWebServer()


http = HttpEntrypoint.decorator
