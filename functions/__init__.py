"""Thin trigger adapters: decode the trigger, call shared/, shape the response.

Modules import only `azure.functions` at import time; the library in shared/ is imported inside the
handlers so that a cold start loads only what the first request needs.
"""
