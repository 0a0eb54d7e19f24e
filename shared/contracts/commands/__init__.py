"""Commands the services accept: the request models that are the contract between the gateway (and
other RPC callers) and each service, validated at the edge (field errors in Thai and English)."""
