"""Tips from public sources on the desk (issue 17, docs/sources.md).

An admin adds sources (the police's events, Krisinformation, Sveriges Radio's VMA, any RSS or Atom feed); one
node at a time polls them (``poller``, holding ``lease``), politely and through the guarded fetcher
(ticker.net.fetch); each kind's parser turns an answer into ``Found`` items, the source's filters keep the
desk's few, and ``store`` keeps each once, marking the ones the source changed. ``panel`` tells every open
"Händelser" panel, on every node, within a moment of the poll that found them.
"""
