"""localcloud: the stand-in cloud (Azure ARM, managed identity, Event Grid, EMQX Cloud, a Functions host).

Development, tests and the demo run against it; it is never deployed. Every stand-in is an ASGI app
served over real sockets (HTTPS where the real service is HTTPS) so the product's real SDK and
HTTP code paths run unchanged.
"""
