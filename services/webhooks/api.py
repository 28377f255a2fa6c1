"""An API client's own webhook subscriptions over /api/v1/ (docs/webhooks.md, "Subscribing
over the API").

GET/POST /api/v1/webhooks/subscriptions, GET/PATCH/DELETE …/subscriptions/{id}, POST
…/{id}/rotate-secret and GET …/{id}/deliveries. Writes go through actions.py, like the
administrator's pages: the same URL rules (targets.py, SSRF, the name resolved), the same
audit, with the client named as the actor.

- Who: a client with `applications:read` or `cases:work` (one that can receive events); it
  may ask only for events it could receive (`case.note_added` needs `cases:work`).
- What it sees: its own subscriptions, nothing else. Another client's id is a 404, as an id
  that does not exist; another tenant's key is a 401 before any of this runs.
- The secret is in the body of the 201 that creates a subscription and of the 200 of
  rotate-secret, never anywhere else; every answer here is `Cache-Control: no-store`.
- The delivery log is what was (or will be) posted to the client's own URL: the payload it
  receives anyway, and how sending went.
"""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.pagination import CursorPagination
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from tenants.audit.context import Actor

from ..api.applications import JsonBody, ProblemSerializer
from ..api.auth import client_of
from ..api.base import V1
from ..api.problems import PROBLEM
from ..api.scopes import Scope
from . import actions, targets
from .events import PUBLIC_EVENTS, EventType
from .forms import RECEIVING_SCOPES
from .models import Delivery, Subscription

#: Subscriptions one client may hold (each event is one delivery per subscription).
MAX_PER_CLIENT = 20
NO_STORE = "no-store"


class ReceivesEvents(BasePermission):
    """A client that could receive events: `applications:read` or `cases:work`."""

    message = gettext_lazy(
        "This API client has neither the scope “applications:read” nor “cases:work”, so it "
        "would receive no events. Ask the administrator for one of them.")

    def has_permission(self, request, view):
        client = client_of(request)
        if client is None:
            raise exceptions.NotAuthenticated(_("This call needs an API key."))
        return any(client.has_scope(scope) for scope in RECEIVING_SCOPES)


def receivable(client) -> set[str]:
    """The event types `client` could receive with its scopes."""
    if client.has_scope(Scope.CASE_WORK):
        return set(EventType.values)
    if client.has_scope(Scope.READ_OWN_SUBMISSIONS):
        return set(PUBLIC_EVENTS)
    return set()


# --- Shapes -----------------------------------------------------------------------------------


class SubscriptionSerializer(serializers.ModelSerializer):
    """A subscription as its client sees it (never the secret)."""

    event_types = serializers.ListField(child=serializers.ChoiceField(EventType.values))

    class Meta:
        model = Subscription
        fields = ["id", "target_url", "event_types", "is_active", "consecutive_failures",
                  "disabled_at", "created_at", "updated_at"]
        read_only_fields = fields


class SubscriptionWithSecretSerializer(SubscriptionSerializer):
    """Once only: when the subscription is made and when its secret is rotated."""

    secret = serializers.CharField(help_text="The signing secret (whsec_…). Shown this once: "
                                             "store it now; rotate to get a new one.")

    class Meta(SubscriptionSerializer.Meta):
        fields = [*SubscriptionSerializer.Meta.fields, "secret"]
        read_only_fields = fields


class SubscriptionRequest(serializers.Serializer):
    """What a client sends to subscribe, or (every field optional) to change a subscription."""

    target_url = serializers.CharField(
        max_length=targets.MAX_LENGTH, trim_whitespace=True,
        help_text="An https:// address on the public internet.")
    event_types = serializers.ListField(
        child=serializers.ChoiceField(EventType.values), min_length=1,
        max_length=len(EventType.values),
        help_text="The events to receive; case.note_added needs the scope cases:work.")
    is_active = serializers.BooleanField(
        required=False, default=True,
        help_text="false pauses deliveries; true also re-enables a subscription disabled "
                  "after failures.")

    def validate_target_url(self, value):
        try:
            targets.check(value, resolve=True)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.messages) from exc
        return value

    def validate_event_types(self, value):
        client = self.context["client"]
        refused = sorted(set(value) - receivable(client))
        if refused:
            raise serializers.ValidationError(_(
                "This client cannot receive %(events)s: it needs the scope “%(scope)s”.")
                % {"events": ", ".join(refused), "scope": Scope.CASE_WORK.value})
        return sorted(set(value), key=EventType.values.index)


class DeliverySerializer(serializers.ModelSerializer):
    """One entry of the delivery log: the payload the client's URL receives and how sending
    it went."""

    payload = serializers.DictField()

    class Meta:
        model = Delivery
        fields = ["id", "event_id", "event_type", "status", "attempts", "next_attempt_at",
                  "last_attempt_at", "last_status_code", "last_error", "delivered_at",
                  "created_at", "payload"]
        read_only_fields = fields


def _problems(**described):
    return {(int(code[1:]), PROBLEM): OpenApiResponse(response=ProblemSerializer,
                                                       description=text)
            for code, text in described.items()}


COMMON = {"s401": "No key, or a key this tenant does not know.",
          "s403": "The client has neither applications:read nor cases:work.",
          "s429": "Too many calls from this client."}
NOT_FOUND = "No subscription with this id belongs to this client."
BAD_BODY = ("Invalid fields (`errors`): a URL that is not https on the public internet, an "
            "event the client cannot receive, or too many subscriptions.")
ID_PARAMETER = OpenApiParameter(
    "id", {"type": "integer", "minimum": 1, "maximum": 999_999_999_999_999_999},
    OpenApiParameter.PATH, description="The subscription's id.")


# --- Views ------------------------------------------------------------------------------------


class OwnSubscriptions(V1):
    """Mix into the views below (first): key, scopes, JSON bodies, never stored by caches."""

    permission_classes = [ReceivesEvents]
    parser_classes = [JsonBody]

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        response["Cache-Control"] = NO_STORE
        return response

    def actor(self):
        client = client_of(self.request)
        return Actor(client.service_user_id, f"API client: {client.name}"[:200])

    def own(self):
        return Subscription.objects.filter(client=client_of(self.request))

    def get_subscription(self, pk):
        found = self.own().select_related("client").filter(pk=pk).first()
        if found is None:
            raise exceptions.NotFound(_("This client has no webhook subscription with this "
                                        "id."))
        return found


class SubscriptionList(OwnSubscriptions, APIView):
    """This client's webhook subscriptions; POST subscribes (the secret is in the answer,
    once)."""

    @extend_schema(operation_id="webhook_subscriptions_list", tags=["webhooks"],
                   summary="List own webhook subscriptions",
                   responses={200: SubscriptionSerializer(many=True), **_problems(**COMMON)})
    def get(self, request):
        rows = self.own().order_by("pk")
        return Response(SubscriptionSerializer(rows, many=True).data)

    @extend_schema(operation_id="webhook_subscriptions_create", tags=["webhooks"],
                   summary="Subscribe to case events", request=SubscriptionRequest,
                   responses={201: SubscriptionWithSecretSerializer,
                              **_problems(s400=BAD_BODY, **COMMON,
                                          s415="The body is not JSON.")})
    def post(self, request):
        client = client_of(request)
        body = SubscriptionRequest(data=request.data, context={"client": client})
        body.is_valid(raise_exception=True)
        if self.own().count() >= MAX_PER_CLIENT:
            raise exceptions.ValidationError({"non_field_errors": [_(
                "This client already has %(max)s webhook subscriptions, the most it may "
                "have. Delete one, or subscribe one URL to more events.")
                % {"max": MAX_PER_CLIENT}]})
        data = body.validated_data
        subscription = actions.create(
            Subscription(client=client, target_url=data["target_url"],
                         event_types=data["event_types"], is_active=data["is_active"]),
            actor=self.actor())
        response = Response(SubscriptionWithSecretSerializer(subscription).data,
                            status=status.HTTP_201_CREATED)
        response["Location"] = request.build_absolute_uri(
            f"/api/v1/webhooks/subscriptions/{subscription.pk}")
        return response


class SubscriptionDetail(OwnSubscriptions, APIView):
    """One of this client's subscriptions: read, change, delete (with its delivery log)."""

    @extend_schema(operation_id="webhook_subscriptions_read", tags=["webhooks"],
                   summary="Read an own webhook subscription", parameters=[ID_PARAMETER],
                   responses={200: SubscriptionSerializer,
                              **_problems(**COMMON, s404=NOT_FOUND)})
    def get(self, request, id):
        return Response(SubscriptionSerializer(self.get_subscription(id)).data)

    @extend_schema(operation_id="webhook_subscriptions_change", tags=["webhooks"],
                   summary="Change an own webhook subscription", parameters=[ID_PARAMETER],
                   request=SubscriptionRequest(partial=True),
                   responses={200: SubscriptionSerializer,
                              **_problems(s400=BAD_BODY, **COMMON, s404=NOT_FOUND,
                                          s415="The body is not JSON.")})
    def patch(self, request, id):
        subscription = self.get_subscription(id)
        body = SubscriptionRequest(data=request.data, partial=True,
                                   context={"client": subscription.client})
        body.is_valid(raise_exception=True)
        changed = []
        for field, value in body.validated_data.items():
            if field == "is_active" and "is_active" not in request.data:
                continue  # the serializer's default, not something the client sent
            if getattr(subscription, field) != value:
                setattr(subscription, field, value)
                changed.append(field)
        if "is_active" in changed and subscription.is_active:
            # Re-enabled by its client: the failure count starts again (delivery.enable).
            subscription.consecutive_failures = 0
            subscription.disabled_at = None
        if changed:
            actions.change(subscription, changed, actor=self.actor())
        return Response(SubscriptionSerializer(subscription).data)

    @extend_schema(operation_id="webhook_subscriptions_delete", tags=["webhooks"],
                   summary="Delete an own webhook subscription", parameters=[ID_PARAMETER],
                   responses={204: OpenApiResponse(description="Deleted, with its delivery "
                                                               "log."),
                              **_problems(**COMMON, s404=NOT_FOUND)})
    def delete(self, request, id):
        actions.delete(self.get_subscription(id), actor=self.actor())
        return Response(status=status.HTTP_204_NO_CONTENT)


class RotateSecret(OwnSubscriptions, APIView):
    """A new signing secret, in this answer only; the old one stops signing at once."""

    @extend_schema(operation_id="webhook_subscriptions_rotate_secret", tags=["webhooks"],
                   summary="Rotate a subscription's signing secret", parameters=[ID_PARAMETER],
                   request=None,
                   responses={200: SubscriptionWithSecretSerializer,
                              **_problems(**COMMON, s404=NOT_FOUND)})
    def post(self, request, id):
        subscription = self.get_subscription(id)
        actions.rotate_secret(subscription, actor=self.actor())
        return Response(SubscriptionWithSecretSerializer(subscription).data)


class DeliveryPages(CursorPagination):
    """Newest first; `cursor` from `next`/`previous`, `limit` up to 100."""

    ordering = "-id"
    page_size = 50
    page_size_query_param = "limit"
    max_page_size = 100


class DeliveryLog(OwnSubscriptions, ListAPIView):
    """The delivery log of one of this client's subscriptions, newest first."""

    serializer_class = DeliverySerializer
    pagination_class = DeliveryPages

    def get_queryset(self):
        return Delivery.objects.filter(subscription=self.get_subscription(self.kwargs["id"]))

    @extend_schema(operation_id="webhook_subscriptions_deliveries", tags=["webhooks"],
                   summary="Read an own subscription's delivery log", parameters=[ID_PARAMETER],
                   responses={200: DeliverySerializer(many=True),
                              **_problems(**COMMON, s404=f"{NOT_FOUND} Or an invalid cursor.")})
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)
