"""`GET /api/openapi.json`: the OpenAPI 3.1 document of the HTTP API, as committed beside this module.

The document is the contract tests hold the app to (tests/unit/test_openapi_document.py): every HTTP function
is in it, and its link schemas are the link model's.
"""

from pathlib import Path

import azure.functions as func

bp = func.Blueprint()
DOCUMENT = Path(__file__).with_name("openapi.json")


@bp.function_name("openapi")
@bp.route(route="openapi.json", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
def openapi(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(DOCUMENT.read_bytes(), status_code=200, mimetype="application/json")
