"""The ground floor every technique stands on: hook names and tokenizing, readouts (what a view
colours a token by), the prefix runner (re-running edited prompts from a cached clean prefix),
cached decoding, the fast linear kernel and plain descriptions of a model. Nothing here imports a
technique package; every technique package may import from here.
"""
