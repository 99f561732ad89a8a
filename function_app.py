"""The Function App: registers one blueprint per module of functions/. No logic lives here.

Function names are explicit and stable: the Event Grid subscription URL contains them.
"""

import os

import azure.functions as func

from functions import approve, health, links, monitor, openapi
from shared.telemetry import configure_telemetry

# Before the app is built, so that every record from start-up on is filtered for secrets.
configure_telemetry(os.environ)

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)
for module in (links, approve, monitor, health, openapi):
    app.register_functions(module.bp)
