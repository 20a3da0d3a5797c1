"""The `StreamingFunction` construct and its helpers: the only modules of cdk_stream_fn that import aws_cdk.

Import the construct from the package root (`from cdk_stream_fn import StreamingFunction`); this package
imports nothing itself, so a local tool that needs one stdlib-only module from here pays for no more.
"""
