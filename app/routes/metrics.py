"""``GET /metrics``: Prometheus exposition of every server worker's counts and the shared figures."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from .. import metrics
from ..deps import ContextDep

router = APIRouter(tags=["health"])


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}, "description": "Metrics"}},
)
async def prometheus_metrics(ctx: ContextDep, request: Request) -> Response:
    """Requests and latency by route, harvests by member, index lag, jobs (Prometheus text format)."""
    leadership = getattr(request.app.state, "leadership", None)
    body, media_type = await metrics.render(ctx, leader=bool(leadership and leadership.is_leader))
    return Response(body, media_type=media_type)
