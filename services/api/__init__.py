"""The tenant's versioned open API, /api/v1/ (government as a platform).

Public read-only endpoints (the service catalogue, offices, news) need no key; everything
else is called by a registered **API client** with a key and the scopes its administrator
granted (models.py, auth.py). Errors are `application/problem+json` (problems.py).
"""
