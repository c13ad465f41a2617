class SetupError(RuntimeError):
    """This machine lacks something rendering needs (a font, a browser); the message says how to install it."""
