"""POST /api/run/<id>/share: a share link to a run's HTML report (reports/sharing.py), shown once."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from reports.sharing import LinkRefused, SharingOff, create_link, share_path
from runs.api.apikeys import request_key
from runs.api.errors import ApiError
from runs.selectors import runs_visible_to


class ShareSerializer(serializers.Serializer):
    hours = serializers.IntegerField(min_value=1, default=72, help_text="how long it works (at most SHARE_LINK_MAX_HOURS)")


class ShareView(APIView):
    @extend_schema(
        request=ShareSerializer,
        responses={201: OpenApiTypes.OBJECT},
        summary="A signed, expiring, read-only link to the run's HTML report, for people without an account",
    )
    def post(self, request: Request, run_id: Any) -> Response:
        form = ShareSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        key = request_key(request)
        run = runs_visible_to(key).filter(pk=run_id).first()
        if run is None:
            raise ApiError(404, "not_found", f"No run {run_id} that this API key can see.")
        try:
            link, token = create_link(run, f"API key {key.name} ({key.prefix}…)", form.validated_data["hours"])
        except SharingOff as exc:
            raise ApiError(403, "sharing_off", str(exc)) from None
        except LinkRefused as exc:
            raise ApiError(409, "not_ready", str(exc)) from None
        except ValueError as exc:
            raise ApiError(400, "invalid", str(exc), {"hours": [str(exc)]}) from None
        body = {"url": share_path(token), "expires_at": link.expires_at.isoformat(), "link_id": str(link.pk)}
        return Response(body, status=status.HTTP_201_CREATED)
