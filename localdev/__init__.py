"""The local stack: Azurite, blob-created event delivery to the Function handler, and a worker, on one machine."""
