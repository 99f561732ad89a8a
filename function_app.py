"""The Function App: registers one blueprint per module of functions/. No logic lives here.

Function names are explicit and stable: the Event Grid subscription URL contains them.
"""

import azure.functions as func

from functions import approve, health, links, monitor

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)
for module in (links, approve, monitor, health):
    app.register_functions(module.bp)
