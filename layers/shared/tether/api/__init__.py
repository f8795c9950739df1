"""The management API (issue 8): Powertools' REST resolver, a Router per area, pydantic
models for every request and response, and the OpenAPI document they make. The api
function (functions/api/app.py) only hands events to `tether.api.resolver.serve`."""
