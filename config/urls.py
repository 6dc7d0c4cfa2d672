from django.http import HttpRequest, JsonResponse
from django.urls import URLPattern, URLResolver, include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView


def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness for load balancers and compose health checks; touches nothing tenant-owned."""
    return JsonResponse({"status": "ok"})


api_v1: list[URLPattern | URLResolver] = [
    path("", include("tenancy.urls")),
    path("", include("projects.urls")),
    path("", include("llm.urls")),
    path("", include("annotation.urls")),
    path("", include("audit.urls")),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api:schema"), name="docs"),
]

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("api/v1/", include((api_v1, "api"))),
    path("", include("tenancy.ui_urls")),
    path("", include("audit.ui_urls")),
    path("", include("projects.ui_urls")),
    path("", include("llm.ui_urls")),
    path("", include("annotation.ui_urls")),
]

# Under /api/ Django's own errors (no route, a host not served, an exception no view handled) answer in the API's
# JSON error shape; the web pages keep Django's HTML ones.
handler400 = "core.api.exceptions.bad_request"
handler403 = "core.api.exceptions.permission_denied"
handler404 = "core.api.exceptions.not_found"
handler500 = "core.api.exceptions.server_error"
