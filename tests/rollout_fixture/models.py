from django.db import models


class Marker(models.Model):
    """A row in a tenant schema; duplicate codes make migrations_v2/0002 fail there."""

    code = models.CharField(max_length=20)
    note = models.CharField(max_length=100, blank=True)

    def __str__(self):
        return self.code
