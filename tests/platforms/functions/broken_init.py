"""A module that fails while it is imported: Lambda reports Runtime.ImportModuleError... or the error itself."""

raise RuntimeError("the module cannot start")


def handler(event, context):
    return "never reached"
