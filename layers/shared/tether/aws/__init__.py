"""AWS adapters: the only modules that import boto3 (and the Powertools utilities that
wrap it). Clients come from cached getters on first use, never at import."""
