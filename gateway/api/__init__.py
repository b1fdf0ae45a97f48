"""HTTP routers: read the request, answer the client."""
