"""HTTP/1.1 for the emulator's three servers: request parsing, response framing, the connection."""
