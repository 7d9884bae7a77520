"""imageauth at serving time: decode an image, run the LiteRT detector, say "real" or "fake".

The package is the core that every entry point shares (HTTP API, blob trigger,
CLI, local server); it lives inside `function_app/` so that the folder the
deploy workflow ships is self-contained.
"""
