from rest_framework.response import Response
from rest_framework.views import APIView

from .auth import client_of
from .base import V1


class WhoAmI(V1, APIView):
    """The calling client's name and scopes (none without a key): a client checks its key."""

    def get(self, request):
        client = client_of(request)
        if client is None:
            return Response({"client": None, "scopes": []})
        return Response({"client": client.name, "scopes": sorted(client.scopes)})
