"""Lifecycle: the decisions (policies, expiry, conflicts, decay, prune, promote) over the store."""
