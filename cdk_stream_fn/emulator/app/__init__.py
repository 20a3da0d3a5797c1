"""The local service as `serve` runs it: functions read from a CDK cloud assembly (synthesized on demand)
and served together."""
