"""What a room hears: built from committed facts, never by projectors.

`presenters` turns a committed message or event into the JSON clients see (one place for
the socket, the history and the HTTP answer); `recent` keeps what this node pushed lately,
so a join's history has no gap while the read model catches up; `feed` merges the three
ways a message reaches this node (its own commit, another node's live copy, the relayed
event) into one ordered, de-duplicated stream of room updates.
"""
