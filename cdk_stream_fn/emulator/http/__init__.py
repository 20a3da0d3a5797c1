"""HTTP/1.1 for the emulator's three servers, in the parts uvicorn splits it into.

- parsing.py: bytes in, request events out (httptools);
- exchange.py: one request and its response, and the bytes that frame it (sans IO);
- flow.py: backpressure both ways;
- connection.py: one connection (the asyncio protocol: transport, keep-alive, closing);
- server.py: the listener and its connections.
"""
