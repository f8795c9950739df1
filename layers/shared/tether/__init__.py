"""Tether: the shared package of every Lambda function (the `shared` layer)."""
