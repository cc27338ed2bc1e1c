"""Analytics over the store: the ``stats`` figures (``figures``) and the daily snapshots
(``snapshots``). Read-mostly: the only write is a snapshot's rows and its log entry."""
