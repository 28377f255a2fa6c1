from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from .auth import client_of
from .base import V1


class WhoAmI(V1, APIView):
    """The calling client's name and scopes (none without a key): a client checks its key."""

    @extend_schema(description="The calling client's name and scopes (null and none without "
                               "a key).", responses=inline_serializer("WhoAmI", {
                                   "client": serializers.CharField(allow_null=True),
                                   "scopes": serializers.ListField(child=serializers.CharField()),
                               }))
    def get(self, request):
        client = client_of(request)
        if client is None:
            return Response({"client": None, "scopes": []})
        return Response({"client": client.name, "scopes": sorted(client.scopes)})
