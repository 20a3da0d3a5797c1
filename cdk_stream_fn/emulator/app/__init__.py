"""The local service as `serve` runs it: functions read from a CDK cloud assembly (synthesized on demand),
prepared to run here (their Python, their code, their dependencies installed for it) and served together,
following edits."""
