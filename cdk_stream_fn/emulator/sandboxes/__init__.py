"""The execution side of the local Lambda service: the Runtime API of each sandbox, the runtime
processes it serves, the invocations that travel between them, and the pool of sandboxes per function."""
