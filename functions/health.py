"""`GET /api/health`: the app is up and its settings are valid (no secret in the answer)."""

import json

import azure.functions as func

bp = func.Blueprint()


@bp.function_name("health")
@bp.route(route="health", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
def health(req: func.HttpRequest) -> func.HttpResponse:
    from shared.settings import Settings, SettingsError

    try:
        settings = Settings.from_mapping()
    except SettingsError as error:
        body = {
            "status": "misconfigured",
            "error": {"code": "InvalidAppSetting", "message": str(error), "target": error.name},
        }
        return func.HttpResponse(json.dumps(body), status_code=503, mimetype="application/json")
    body = {"status": "ok", "registrationMode": settings.registration_mode.value}
    return func.HttpResponse(json.dumps(body), status_code=200, mimetype="application/json")
