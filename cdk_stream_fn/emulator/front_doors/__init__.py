"""The ways a caller reaches a function: its function URL and the Lambda API (Invoke, InvokeWithResponseStream)."""
